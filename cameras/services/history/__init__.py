"""Readings and device events over time: partitions (PostgreSQL), rollups per minute and
hour, retention (``partitions``, ``rollups``, ``retention``)."""

from cameras.services.history.partitions import partitions_ensure
from cameras.services.history.retention import history_retain
from cameras.services.history.rollups import rollups_compute

__all__ = ["history_retain", "partitions_ensure", "rollups_compute"]
