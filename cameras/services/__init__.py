"""Writes of the device registry (house rule 2), one module per subject; the names other
apps and the tasks use are exported here."""

from cameras.services.device_state import device_status_change, device_status_event
from cameras.services.ingest.batch import ingest_batch_process, ingest_batches_process
from cameras.services.ingest.failures import ingest_batch_set_aside, ingest_failures_replay
from cameras.services.ingest.outbox import ingest_accept
from cameras.services.ingest.sweep import ingest_purge, ingest_sweep
from cameras.services.ingest.validation import IngestRejected, ingest_parse
from cameras.services.registry import (
    device_status_set,
    devices_offline_sweep,
    devices_register,
    token_issue,
)

__all__ = [
    "IngestRejected",
    "device_status_change",
    "device_status_event",
    "device_status_set",
    "devices_offline_sweep",
    "devices_register",
    "ingest_accept",
    "ingest_batch_process",
    "ingest_batch_set_aside",
    "ingest_batches_process",
    "ingest_failures_replay",
    "ingest_parse",
    "ingest_purge",
    "ingest_sweep",
    "token_issue",
]
