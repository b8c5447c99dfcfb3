"""Delivery of traffic-signal commands to their controllers (the rules and the operator's
side are in ``cameras.services.signal_commands``): send, acknowledge with a read-back,
fail with an alert, revert an override that is due, and the periodic sweep of stuck
commands.

The controller is called outside any transaction (no lock is held on the network), over
``cameras.device_http``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from cameras.choices import CommandStatus, CommStatus, SignalAction, SignalMode
from cameras.device_http import ControllerError, controller_failure
from cameras.device_http import controller_request as device_controller_request
from cameras.models import SignalCommand, SignalDetail
from cameras.services.ingest.alert_texts import alert_title
from cameras.services.signal_commands import signal_command_enqueue, signal_command_record
from ioc.choices import AlertKind, Severity
from ioc.services.alerts import alert_clear, alert_raise

logger = logging.getLogger(__name__)

# The controller's own fallback comes this long after ours, so ours normally wins.
CONTROLLER_GRACE_SECONDS = 120
# A pending command is re-queued after this (the broker may have lost it) ...
REQUEUE_AFTER = timedelta(seconds=30)
# ... and given up after this; a sent one without an answer after STALE_SENT.
STALE_PENDING = timedelta(minutes=5)
STALE_SENT = timedelta(minutes=2)
REVERT_BUDGET_SECONDS = 10.0
CAUSE_DELIVERY = "signal_command:delivery"
CAUSE_REVERT = "signal_command:revert"
TITLE_DELIVERY = gettext_noop("Traffic-signal command failed at %(device)s")
TITLE_REVERT = gettext_noop("%(device)s did not return to automatic")


# --- Reading and writing the controller (over ``cameras.device_http``) ----------------------


def controller_request(
    signal: SignalDetail, method: str, leaf: str, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSON request to ``<controller_url>/<leaf>``, with the controller's basic auth."""
    auth = (signal.username, signal.password) if signal.username else None
    return device_controller_request(signal.controller_url, auth, method, leaf, payload)


def controller_command(signal: SignalDetail, payload: dict[str, Any]) -> None:
    """Send a command; ControllerError unless the controller accepts it."""
    answer = controller_request(signal, "POST", "command", payload)
    if answer.get("accepted") is False:
        # What the controller says is logged, not shown (operators get the phrase).
        logger.warning("controller of %s refused: %.200r", signal.device_id, answer.get("error"))
        raise controller_failure(gettext_noop("the controller refused the command"))


def controller_readback(signal: SignalDetail) -> tuple[dict[str, Any], str]:
    """The controller's state after a command, or ({}, why it could not be read)."""
    try:
        return controller_request(signal, "GET", "state"), ""
    except ControllerError as exc:
        return {}, f"read-back failed: {exc}"


def _store_state(signal: SignalDetail, state: dict[str, Any], at: datetime) -> None:
    """Record what the controller says it is doing (and that it answers)."""
    if isinstance(state.get("mode"), str) and state["mode"] in SignalMode.values:
        signal.mode = state["mode"]
    for name in ("plan", "phase"):
        if isinstance(state.get(name), str):
            setattr(signal, name, state[name][:32])
    if isinstance(state.get("faults"), list):
        signal.faults = [str(item)[:60] for item in state["faults"]][:20]
    signal.state_at = at
    signal.comm_status = CommStatus.OK
    signal.save(update_fields=["mode", "plan", "phase", "faults", "state_at", "comm_status"])


def _connection_lost(signal: SignalDetail) -> None:
    if signal.comm_status != CommStatus.LOST:
        signal.comm_status = CommStatus.LOST
        signal.save(update_fields=["comm_status"])


def _raise_alert(command: SignalCommand, cause: str, title: str, error: str) -> None:
    device = command.device
    alert_raise(
        ward=device.ward,
        device=device,
        kind=AlertKind.SIGNAL_COMMAND,
        cause=cause,
        severity=Severity.CRITICAL,
        title=alert_title(title, device=device.name),
        data={"command": command.pk, "action": command.action, "error": error[:300]},
    )


def _locked(command_id: int) -> SignalCommand | None:
    """The command, locked for this transaction, with what the steps need."""
    return (
        SignalCommand.objects.select_for_update(of=("self",))
        .select_related("device__ward", "device__signal", "requested_by")
        .filter(pk=command_id)
        .first()
    )


def signal_command_deliver(command_id: int) -> SignalCommand | None:
    """Send a pending command to its controller and record the answer and the read-back.

    Idempotent: a command that is no longer pending is left alone (returns None). The
    controller is called outside any transaction; no lock is held on the network.
    """
    with transaction.atomic():
        command = _locked(command_id)
        if command is None or command.status != CommandStatus.PENDING:
            return None
        command.status = CommandStatus.SENT
        command.sent_at = timezone.now()
        command.save(update_fields=["status", "sent_at"])
        signal_command_record(command, "sent", before=CommandStatus.PENDING)
    signal = command.device.signal
    payload: dict[str, Any] = {"action": command.action, "plan": command.plan}
    payload["command"] = command.pk
    if command.expires_at is not None:
        remaining = (command.expires_at - timezone.now()).total_seconds()
        payload["revert_after_seconds"] = max(int(remaining), 0) + CONTROLLER_GRACE_SECONDS
    try:
        controller_command(signal, payload)
    except ControllerError as exc:
        return _fail(command_id, str(exc), expected=CommandStatus.SENT)
    state, readback_error = controller_readback(signal)
    with transaction.atomic():
        command = _locked(command_id)
        if command is None or command.status != CommandStatus.SENT:
            return command  # cancelled meanwhile: the "auto" that cancelled it follows
        now = timezone.now()
        command.acknowledged_at = now
        if command.action == SignalAction.AUTO:
            command.status, command.ended_at = CommandStatus.REVERTED, now
        else:
            command.status = CommandStatus.ACTIVE
        command.readback = state
        command.error = readback_error
        command.save(update_fields=["acknowledged_at", "status", "ended_at", "readback", "error"])
        signal = command.device.signal
        if state:
            _store_state(signal, state, now)
            alert_clear(device=command.device, cause=CAUSE_DELIVERY, at=now)
        else:
            _connection_lost(signal)
            _raise_alert(command, CAUSE_DELIVERY, TITLE_DELIVERY, readback_error)
        signal_command_record(command, "acknowledged", before=CommandStatus.SENT)
        return command


def _fail(command_id: int, error: str, *, expected: str, lost: bool = True) -> SignalCommand | None:
    """The command did not get through: failed, alert, published; ``lost`` when the
    controller itself did not answer (not when the platform never sent the command)."""
    with transaction.atomic():
        command = _locked(command_id)
        if command is None or command.status != expected:
            return command
        command.status = CommandStatus.FAILED
        command.error = error[:1000]
        command.ended_at = timezone.now()
        command.save(update_fields=["status", "error", "ended_at"])
        if lost:
            _connection_lost(command.device.signal)
        _raise_alert(command, CAUSE_DELIVERY, TITLE_DELIVERY, error)
        signal_command_record(command, "failed", before=expected)
        logger.warning("signal command %s to %s failed: %s", command.pk, command.device, error)
        return command


def signal_command_revert(command_id: int, *, now: datetime | None = None) -> bool:
    """End an override that is due: the controller back to automatic, the command reverted.

    A controller that cannot be reached keeps the command active (the next sweep tries
    again) with the reason in ``error``, the connection marked lost and an alert.
    """
    now = now or timezone.now()
    with transaction.atomic():
        command = _locked(command_id)
        if (
            command is None
            or command.status != CommandStatus.ACTIVE
            or command.expires_at is None
            or command.expires_at > now
        ):
            return False
    signal = command.device.signal
    try:
        controller_command(signal, {"action": SignalAction.AUTO.value, "command": command.pk})
    except ControllerError as exc:
        _revert_failed(command_id, f"revert failed: {exc}")
        return False
    state, readback_error = controller_readback(signal)
    with transaction.atomic():
        command = _locked(command_id)
        if command is None or command.status != CommandStatus.ACTIVE:
            return False
        ended = timezone.now()
        command.status = CommandStatus.REVERTED
        command.ended_at = ended
        command.readback = state
        command.error = readback_error
        command.save(update_fields=["status", "ended_at", "readback", "error"])
        if state:
            _store_state(command.device.signal, state, ended)
        alert_clear(device=command.device, cause=CAUSE_REVERT, at=ended)
        signal_command_record(command, "reverted", before=CommandStatus.ACTIVE)
        return True


def _revert_failed(command_id: int, error: str) -> None:
    """Note a failed revert: once in the audit log and live, every time in the alert."""
    with transaction.atomic():
        command = _locked(command_id)
        if command is None or command.status != CommandStatus.ACTIVE:
            return
        first = not command.error.startswith("revert failed")
        command.error = error[:1000]
        command.save(update_fields=["error"])
        _connection_lost(command.device.signal)
        _raise_alert(command, CAUSE_REVERT, TITLE_REVERT, error)
        if first:
            signal_command_record(command, "revert_failed", before=CommandStatus.ACTIVE)
            logger.warning("signal command %s: %s", command.pk, error)


def signal_commands_expire(*, now: datetime | None = None) -> int:
    """Revert the overrides that are due; re-queue or give up commands stuck on the way.
    Returns how many overrides were reverted.

    Runs on the commands queue beside deliveries, so it stops reverting after
    REVERT_BUDGET_SECONDS (unreachable controllers each cost a timeout): the rest waits
    for the next run rather than holding up operators' commands.
    """
    now = now or timezone.now()
    due = list(
        SignalCommand.objects.filter(status=CommandStatus.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:200]
    )
    deadline = time.monotonic() + REVERT_BUDGET_SECONDS
    reverted = 0
    for pk in due:
        if time.monotonic() > deadline:
            break
        reverted += signal_command_revert(pk, now=now)
    pending = SignalCommand.objects.filter(status=CommandStatus.PENDING)
    for pk in pending.filter(requested_at__lt=now - STALE_PENDING).values_list("pk", flat=True):
        _fail(
            pk,
            "not delivered in time: is a worker consuming the commands queue?",
            expected=CommandStatus.PENDING,
            lost=False,
        )
    for pk in pending.filter(requested_at__lt=now - REQUEUE_AFTER).values_list("pk", flat=True):
        signal_command_enqueue(pk)
    stuck = SignalCommand.objects.filter(status=CommandStatus.SENT, sent_at__lt=now - STALE_SENT)
    for pk in stuck.values_list("pk", flat=True):
        _fail(pk, "no acknowledgement from the controller", expected=CommandStatus.SENT)
    return reverted
