"""Traffic-signal commands (DESIGN.md data flow): operator -> ``signal_command_create`` ->
task -> controller -> acknowledgement -> publish. This module holds who may command, the
command's checks, its creation and its record (audit and live event); delivery to the
controller, reverts and the periodic sweep are ``signal_command_delivery``.

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
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from cameras.choices import CommandStatus, DeviceKind, SignalAction
from cameras.models import Device, SignalCommand, SignalDetail
from ioc import realtime
from ioc.choices import Role
from ioc.models import User
from ioc.realtime import event_types
from ioc.realtime.event_types import SignalCommandData
from ioc.selectors import AnyUser, scope_by_ward
from ioc.services.audit import audit_record

logger = logging.getLogger(__name__)

OVERRIDE_ACTIONS = frozenset({SignalAction.SET_PLAN.value, SignalAction.FLASH.value})
LIVE_STATUSES = (CommandStatus.PENDING, CommandStatus.SENT, CommandStatus.ACTIVE)
DEFAULT_DURATION_MINUTES = 30
MIN_DURATION_MINUTES, MAX_DURATION_MINUTES = 1, 240
PLAN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
COMMAND_PERMISSION = "cameras.add_signalcommand"


# --- Audit, live events ---------------------------------------------------------------------


def signal_command_data(command: SignalCommand) -> SignalCommandData:
    """A command as the ``signal.command`` live event (and the API) describe it."""
    return SignalCommandData(
        device=command.device.code,
        command=command.pk,
        action=command.action,
        plan=command.plan,
        status=command.status,
        reason=command.reason,
        requested_by=command.requested_by.get_username(),
        requested_at=command.requested_at,
        expires_at=command.expires_at,
        sent_at=command.sent_at,
        acknowledged_at=command.acknowledged_at,
        ended_at=command.ended_at,
        error=command.error,
        readback=command.readback,
    )


def signal_command_record(
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
        event_types.signal_command(
            ward=command.device.ward.code, command=signal_command_data(command)
        )
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
        signal_command_record(live, "cancelled", before=before, actor=actor, reason=reason)
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
    signal_command_record(command, "created", before=None, actor=actor, reason=reason)
    transaction.on_commit(functools.partial(signal_command_enqueue, command.pk))
    return command


def signal_command_enqueue(command_id: int) -> None:
    """Queue delivery. A broker outage is logged: the expiry sweep re-queues it."""
    from cameras.tasks import signal_command_send_task

    try:
        signal_command_send_task.delay(command_id)
    except Exception:  # broker down, or (embedded mode) delivery failed in-process
        logger.exception("signal command %s not delivered now; the sweep retries", command_id)
