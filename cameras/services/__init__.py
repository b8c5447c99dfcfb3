"""Writes of the device registry (house rule 2), one module per subject."""

from cameras.services.ingest import (
    IngestRejected,
    Principal,
    ingest_accept,
    ingest_batch_process,
    ingest_parse,
    ingest_purge,
    ingest_sweep,
)
from cameras.services.registry import (
    device_status_event,
    device_status_set,
    devices_offline_sweep,
    devices_register,
    token_issue,
)

__all__ = [
    "IngestRejected",
    "Principal",
    "device_status_event",
    "device_status_set",
    "devices_offline_sweep",
    "devices_register",
    "ingest_accept",
    "ingest_batch_process",
    "ingest_parse",
    "ingest_purge",
    "ingest_sweep",
    "token_issue",
]
