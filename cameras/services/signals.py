"""Traffic-signal commands (DESIGN.md data flow): operator -> ``signal_command_create`` ->
task -> controller -> acknowledgement -> publish.

An override (run a timing plan, flash amber) is time-limited and reverts by itself: the
periodic ``signal_commands_expire`` sends "auto" to the controller when it is due, and the
controller is also told to fall back on its own a little later, should the platform be
gone. One live command per intersection (a database constraint on pending, sent and
active); "auto" is always allowed and ends the live override. Every step is audited and
published; a controller that cannot be reached or refuses fails the command, marks the
connection lost and raises an alert, never silently.

Who may command: administrators and city operators, any signal; a ward official only a
signal in their own ward, and only once an administrator has granted them the permission
``cameras.add_signalcommand`` ("Can add signal command") in the Django admin. That
permission stands for "may command signals": a dedicated ``cameras.command_signal`` would
need a model change.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from cameras.choices import CommandStatus, CommStatus, DeviceKind, SignalAction, SignalMode
from cameras.models import Device, SignalCommand, SignalDetail
from cameras.services.ingest import _title as alert_title
from ioc import realtime
from ioc.choices import AlertKind, Role, Severity
from ioc.models import User
from ioc.selectors import AnyUser, scope_by_ward
from ioc.services.alerts import alert_clear, alert_raise
from ioc.services.core import audit_record

logger = logging.getLogger(__name__)

OVERRIDE_ACTIONS = frozenset({SignalAction.SET_PLAN.value, SignalAction.FLASH.value})
LIVE_STATUSES = (CommandStatus.PENDING, CommandStatus.SENT, CommandStatus.ACTIVE)
DEFAULT_DURATION_MINUTES = 30
MIN_DURATION_MINUTES, MAX_DURATION_MINUTES = 1, 240
PLAN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
COMMAND_PERMISSION = "cameras.add_signalcommand"
# Controllers sit on the city network: answer fast or be reported unreachable.
CONNECT_TIMEOUT_SECONDS = 3.0
TIMEOUT_SECONDS = 5.0
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


class ControllerError(Exception):
    """The controller could not be reached, or refused, or answered nonsense."""


def controller_transport() -> Any:
    """The httpx transport for controller requests: None means the network. Tests replace
    this function to answer with a fake controller (``httpx.MockTransport``)."""
    return None


# --- Reading and writing the controller -----------------------------------------------------


def controller_request(
    signal: SignalDetail, method: str, leaf: str, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSON request to ``<controller_url>/<leaf>``, with the controller's basic auth."""
    if not signal.controller_url:
        raise ControllerError("the signal has no controller address")
    url = f"{signal.controller_url.rstrip('/')}/{leaf}"
    auth = (signal.username, signal.password) if signal.username else None
    timeout = httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
    try:
        with httpx.Client(timeout=timeout, auth=auth, transport=controller_transport()) as client:
            response = client.request(method, url, json=payload)
    except httpx.TimeoutException as exc:
        raise ControllerError(f"no answer from {url} within {TIMEOUT_SECONDS:g} s") from exc
    except httpx.HTTPError as exc:
        raise ControllerError(f"controller unreachable at {url}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        detail = body.get("error") if isinstance(body, dict) else response.text[:200]
        raise ControllerError(f"controller answered {response.status_code}: {detail}")
    if not isinstance(body, dict):
        raise ControllerError(f"controller answered {response.status_code} without a JSON object")
    return body


def controller_command(signal: SignalDetail, payload: dict[str, Any]) -> None:
    """Send a command; ControllerError unless the controller accepts it."""
    answer = controller_request(signal, "POST", "command", payload)
    if answer.get("accepted") is False:
        raise ControllerError(f"controller refused the command: {answer.get('error', '')}")


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


# --- Audit, live events ---------------------------------------------------------------------


def signal_command_payload(command: SignalCommand) -> dict[str, Any]:
    """The JSON-safe description of a command that live events and the API carry."""
    return {
        "device": command.device.code,
        "command": command.pk,
        "action": command.action,
        "plan": command.plan,
        "status": command.status,
        "reason": command.reason,
        "requested_by": command.requested_by.get_username(),
        "requested_at": command.requested_at,
        "expires_at": command.expires_at,
        "sent_at": command.sent_at,
        "acknowledged_at": command.acknowledged_at,
        "ended_at": command.ended_at,
        "error": command.error,
        "readback": command.readback,
    }


def _record(
    command: SignalCommand,
    step: str,
    *,
    before: str | None,
    actor: User | None = None,
    reason: str = "",
) -> None:
    """Audit one step of a command (as the actor, or as the system) and publish it."""
    after = {
        "status": command.status,
        "action": command.action,
        "plan": command.plan,
        "expires_at": command.expires_at.isoformat() if command.expires_at else None,
        "error": command.error,
    }
    audit_record(
        actor=actor,
        actor_label="" if actor is not None else "system",
        action=f"signal_command.{step}",
        obj=command,
        before={"status": before} if before is not None else None,
        after=after,
        ward_code=command.device.ward.code,
        reason=reason,
    )
    realtime.publish(
        realtime.Event(
            type=realtime.EventType.SIGNAL_COMMAND,
            ward=command.device.ward.code,
            data=signal_command_payload(command),
        )
    )


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


# --- Who may command ------------------------------------------------------------------------


def signal_command_allowed(user: AnyUser, device: Device) -> bool:
    """Whether ``user`` may command this traffic signal (see the module docstring)."""
    if not isinstance(user, User) or not user.is_staff_role or device.kind != DeviceKind.SIGNAL:
        return False
    if user.has_city_scope:
        return True
    return (
        user.role == Role.WARD_OFFICIAL
        and user.has_perm(COMMAND_PERMISSION)
        and scope_by_ward(Device.objects.filter(pk=device.pk), user).exists()
    )


# --- The steps ------------------------------------------------------------------------------


def _validated(
    action: str, plan: str, reason: str, duration_minutes: Any
) -> tuple[str, int | None]:
    """The cleaned plan and override duration; ValidationError lists every problem."""
    errors: dict[str, str] = {}
    if action not in SignalAction.values:
        errors["action"] = _("Choose an action: run a timing plan, flash amber, or automatic.")
    if not reason:
        errors["reason"] = _("Say why the signal is being commanded.")
    if action == SignalAction.SET_PLAN:
        if not plan:
            errors["plan"] = _("Name the timing plan to run, for example P2.")
        elif not PLAN_NAME.match(plan):
            errors["plan"] = _(
                "A plan name has up to 32 letters, digits, dots, dashes or underscores."
            )
    minutes: int | None = None
    if action in OVERRIDE_ACTIONS:
        try:
            minutes = int(
                DEFAULT_DURATION_MINUTES if duration_minutes in (None, "") else duration_minutes
            )
        except (TypeError, ValueError):
            minutes = None
        if minutes is None or not MIN_DURATION_MINUTES <= minutes <= MAX_DURATION_MINUTES:
            errors["duration_minutes"] = _("An override lasts from %(min)d to %(max)d minutes.") % {
                "min": MIN_DURATION_MINUTES,
                "max": MAX_DURATION_MINUTES,
            }
    if errors:
        raise ValidationError(errors)
    return (plan if action == SignalAction.SET_PLAN else ""), minutes


def _live_refusal(live: SignalCommand) -> ValidationError:
    """Why a new override cannot start while ``live`` is in force."""
    if live.expires_at is not None:
        until = formats.date_format(timezone.localtime(live.expires_at), "SHORT_DATETIME_FORMAT")
        text = _(
            "Command %(id)s (%(action)s) is in force on this intersection until %(until)s. "
            "Return the signal to automatic first."
        ) % {"id": live.pk, "action": live.get_action_display(), "until": until}
    else:
        text = _("Command %(id)s (%(action)s) is still being delivered to this intersection.") % {
            "id": live.pk,
            "action": live.get_action_display(),
        }
    return ValidationError({"action": text})


@transaction.atomic
def signal_command_create(
    *,
    actor: User,
    device: Device,
    action: str,
    plan: str = "",
    reason: str,
    duration_minutes: int | None = DEFAULT_DURATION_MINUTES,
) -> SignalCommand:
    """Command a traffic signal; delivery is queued after commit.

    Administrators and city operators may command any signal; a ward official only a
    signal in their own ward, and only once an administrator has granted them the
    permission "cameras.add_signalcommand" in the Django admin (PermissionDenied otherwise).
    "auto" ends the live override (cancelled) and returns the controller to its own
    schedule; any other action is refused while a command is live on the intersection.
    """
    if device.kind != DeviceKind.SIGNAL:
        raise ValidationError({"device": _("Only traffic signals take commands.")})
    if not signal_command_allowed(actor, device):
        raise PermissionDenied(_("You may not command this traffic signal."))
    reason, plan = (reason or "").strip(), (plan or "").strip()
    plan, minutes = _validated(action, plan, reason, duration_minutes)
    device = Device.objects.select_for_update().select_related("ward").get(pk=device.pk)
    if not SignalDetail.objects.filter(device=device).exclude(controller_url="").exists():
        raise ValidationError({"device": _("This traffic signal has no controller address.")})
    live = (
        SignalCommand.objects.select_for_update(of=("self",))
        .select_related("device__ward", "requested_by")
        .filter(device=device, status__in=LIVE_STATUSES)
        .first()
    )
    now = timezone.now()
    if live is not None:
        if action != SignalAction.AUTO:
            raise _live_refusal(live)
        before = live.status
        live.status = CommandStatus.CANCELLED
        live.ended_at = now
        live.save(update_fields=["status", "ended_at"])
        _record(live, "cancelled", before=before, actor=actor, reason=reason)
    command = SignalCommand(
        device=device,
        action=action,
        plan=plan,
        reason=reason,
        requested_by=actor,
        requested_at=now,
        expires_at=now + timedelta(minutes=minutes) if minutes else None,
        status=CommandStatus.PENDING,
    )
    command.full_clean()
    command.save()
    _record(command, "created", before=None, actor=actor, reason=reason)
    transaction.on_commit(functools.partial(signal_command_enqueue, command.pk))
    return command


def signal_command_enqueue(command_id: int) -> None:
    """Queue delivery. A broker outage is logged: the expiry sweep re-queues it."""
    from cameras.tasks import signal_command_send_task

    try:
        signal_command_send_task.delay(command_id)
    except Exception:  # broker down, or (embedded mode) delivery failed in-process
        logger.exception("signal command %s not delivered now; the sweep retries", command_id)


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
        _record(command, "sent", before=CommandStatus.PENDING)
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
        _record(command, "acknowledged", before=CommandStatus.SENT)
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
        _record(command, "failed", before=expected)
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
        _record(command, "reverted", before=CommandStatus.ACTIVE)
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
            _record(command, "revert_failed", before=CommandStatus.ACTIVE)
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
