"""Celery tasks of the device registry: thin wrappers around services (house rule 6)."""

from celery import shared_task

from cameras import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def ingest_batch_task(batch_id: int) -> bool:
    """Process one accepted batch (idempotent: a redelivery does nothing twice)."""
    return services.ingest_batch_process(batch_id).processed


@shared_task(ignore_result=True)
def ingest_sweep_task() -> int:
    """Re-queue accepted batches that were not processed in time; purge old processed ones."""
    services.ingest_purge()
    return services.ingest_sweep()


@shared_task(ignore_result=True)
def devices_offline_sweep_task() -> int:
    """Mark silent devices offline (debounced by each device's tolerance)."""
    return len(services.devices_offline_sweep())
