"""Celery tasks of the device registry: thin wrappers around services (house rule 6)."""

from celery import shared_task

from cameras import services
from cameras.services import history, polling, signal_command_delivery


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def ingest_batch_task(batch_id: int, retry: bool = False) -> bool:
    """Process one accepted batch (idempotent: a redelivery does nothing twice), together
    with those accepted within ``IOC_INGEST_WORKER_GATHER_MS`` after it."""
    return services.ingest_batch_process(batch_id, retry=retry, gather=not retry).processed


@shared_task(ignore_result=True)
def ingest_sweep_task() -> int:
    """Re-queue accepted batches that were not processed in time (setting aside those tried
    too often); purge old processed ones."""
    services.ingest_purge()
    return services.ingest_sweep()


@shared_task(ignore_result=True)
def devices_offline_sweep_task() -> int:
    """Mark silent devices offline (debounced by each device's tolerance)."""
    return len(services.devices_offline_sweep())


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def signal_command_send_task(command_id: int) -> bool:
    """Deliver one traffic-signal command (idempotent: only a pending command is sent)."""
    return signal_command_delivery.signal_command_deliver(command_id) is not None


@shared_task(ignore_result=True)
def signal_commands_expire_task() -> int:
    """Return expired overrides to automatic; re-queue or give up stuck commands."""
    return signal_command_delivery.signal_commands_expire()


@shared_task(ignore_result=True)
def cameras_poll_task() -> int:
    """Poll the cameras' health and snapshot URLs; returns how many answered."""
    return polling.cameras_poll().healthy


@shared_task(ignore_result=True)
def signals_poll_task() -> int:
    """Read the traffic-signal controllers' state; returns how many answered."""
    return polling.signals_poll().healthy


@shared_task(ignore_result=True)
def rollups_compute_task() -> bool:
    """Roll readings up per minute and hour, late ones included (every IOC_ROLLUP_SECONDS)."""
    return history.rollups_compute().caught_up


@shared_task(ignore_result=True)
def partitions_ensure_task() -> int:
    """Create the history tables' partitions from the retention cutoff to a week ahead."""
    return len(history.partitions_ensure().created)


@shared_task(ignore_result=True)
def history_retain_task() -> int:
    """Remove readings, events and rollups past their retention; returns the partitions
    dropped."""
    return len(history.history_retain().partitions)
