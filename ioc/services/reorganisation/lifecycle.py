"""The life of a reorganisation: checked (a dry run, stored as a draft for the admin's
confirmation), confirmed (applied at once when its day has come, else scheduled),
applied by the beat on its day, or cancelled. Every step is audited."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ioc.choices import ReorganisationState
from ioc.models import Reorganisation, User
from ioc.services.audit import audit_record
from ioc.services.reorganisation.apply import change_apply, change_plan, change_report
from ioc.services.reorganisation.change import change_build
from ioc.services.reorganisation.files import (
    MappingRow,
    ReorganisationError,
    mapping_read,
    plan_read,
    reorganisation_digest,
)

logger = logging.getLogger(__name__)

# The states whose reorganisation a second submission of the same files finds.
_LIVE_STATES = (ReorganisationState.SCHEDULED, ReorganisationState.APPLIED)


def _files(
    plan: bytes | str | dict[str, Any], mapping: bytes | str
) -> tuple[dict[str, Any], list[MappingRow], str]:
    """The plan, the mapping's rows and its text, read (ReorganisationError otherwise)."""
    problems: list[str] = []
    plan_data: dict[str, Any] = {}
    rows: list[MappingRow] = []
    try:
        plan_data = plan if isinstance(plan, dict) else plan_read(plan)
    except ReorganisationError as exc:
        problems += exc.problems
    try:
        rows = mapping_read(mapping)
    except ReorganisationError as exc:
        problems += exc.problems
    if problems:
        raise ReorganisationError(problems)
    text = mapping if isinstance(mapping, str) else mapping.decode("utf-8-sig")
    return plan_data, rows, text


def reorganisation_check(
    *, plan: bytes | str | dict[str, Any], mapping: bytes | str, effective: date
) -> dict[str, Any]:
    """The dry run: every check, and what would move where (``change_report``); changes
    nothing. ReorganisationError lists every problem."""
    plan_data, rows, _text = _files(plan, mapping)
    return change_report(
        change_plan(change_build(plan=plan_data, mapping=rows, effective=effective))
    )


def _audit(
    reorganisation: Reorganisation,
    action: str,
    actor: User | None,
    actor_label: str,
    before: dict[str, Any] | None,
    **after: Any,
) -> None:
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action=f"reorganisation.{action}",
        obj=reorganisation,
        before=before,
        after={"state": reorganisation.state, "effective": str(reorganisation.effective), **after},
    )


@transaction.atomic
def reorganisation_draft(
    *,
    plan: bytes | str | dict[str, Any],
    mapping: bytes | str,
    effective: date,
    actor: User | None = None,
    actor_label: str = "",
) -> Reorganisation:
    """Check a reorganisation and keep it, with its dry-run report, for someone to confirm
    (``reorganisation_confirm``). ReorganisationError, and nothing stored, when it fails a
    check."""
    plan_data, rows, text = _files(plan, mapping)
    change = change_plan(change_build(plan=plan_data, mapping=rows, effective=effective))
    reorganisation = Reorganisation(
        effective=effective,
        plan=plan_data,
        mapping=text,
        digest=reorganisation_digest(plan_data, rows, effective),
        state=ReorganisationState.DRAFT,
        report=change_report(change),
        created_by=actor,
        created_label=(actor_label or (actor.get_username() if actor else ""))[:150],
    )
    reorganisation.full_clean()
    reorganisation.save()
    _audit(reorganisation, "checked", actor, actor_label, None, digest=reorganisation.digest)
    return reorganisation


def reorganisation_confirm(
    *,
    reorganisation: Reorganisation,
    actor: User | None = None,
    actor_label: str = "",
    today: date | None = None,
) -> Reorganisation:
    """Confirm a checked reorganisation: applied at once when its day is today or past,
    otherwise scheduled for the beat to apply on that day."""
    today = today or timezone.localdate()
    if reorganisation.state != ReorganisationState.DRAFT:
        raise ValidationError(
            {
                "state": _(
                    "Only a checked reorganisation that is not confirmed yet can be confirmed."
                )
            }
        )
    if reorganisation.effective <= today:
        return reorganisation_apply(
            reorganisation=reorganisation, actor=actor, actor_label=actor_label
        )
    with transaction.atomic():
        locked = Reorganisation.objects.select_for_update().get(pk=reorganisation.pk)
        before = {"state": locked.state}
        locked.state = ReorganisationState.SCHEDULED
        locked.save(update_fields=["state"])
        _audit(locked, "scheduled", actor, actor_label, before)
    return locked


@transaction.atomic
def reorganisation_cancel(
    *, reorganisation: Reorganisation, actor: User | None = None, actor_label: str = ""
) -> Reorganisation:
    """Give up a reorganisation that is checked or scheduled (an applied one stays)."""
    locked = Reorganisation.objects.select_for_update().get(pk=reorganisation.pk)
    if locked.state not in (ReorganisationState.DRAFT, ReorganisationState.SCHEDULED):
        raise ValidationError(
            {"state": _("Only a reorganisation not yet applied can be cancelled.")}
        )
    before = {"state": locked.state}
    locked.state = ReorganisationState.CANCELLED
    locked.save(update_fields=["state"])
    _audit(locked, "cancelled", actor, actor_label, before)
    return locked


def reorganisation_apply(
    *, reorganisation: Reorganisation, actor: User | None = None, actor_label: str = ""
) -> Reorganisation:
    """Apply a reorganisation (confirmed, or due): its checks run again on the units as
    they are now, then everything in one transaction. Applying one already applied
    changes nothing (unless something was left in its old units since that can move).

    When a check fails, the reorganisation is marked failed with the problems in its
    report (audited) and ReorganisationError is raised; nothing else changes."""
    label = actor_label or (actor.get_username() if actor else "system")
    try:
        with transaction.atomic():
            locked = Reorganisation.objects.select_for_update().get(pk=reorganisation.pk)
            if locked.state == ReorganisationState.CANCELLED:
                raise ValidationError({"state": _("This reorganisation was cancelled.")})
            plan, rows, _text = _files(locked.plan, locked.mapping)
            change = change_plan(
                change_build(plan=plan, mapping=rows, effective=locked.effective, lock=True)
            )
            report = change_report(change)
            changed = change_apply(change, reorganisation=locked, actor=actor, actor_label=label)
            if locked.state != ReorganisationState.APPLIED:
                before = {"state": locked.state}
                locked.state = ReorganisationState.APPLIED
                locked.report = {**report, "changed": changed}
                locked.applied_at = timezone.now()
                locked.save(update_fields=["state", "report", "applied_at"])
                _audit(locked, "applied", actor, label, before, counts=report["counts"])
            elif changed:
                # Applied again and something moved that was left since: the first report
                # stays, this run is added to it (its moves are in the audit log).
                later = {"at": timezone.now().isoformat(), "counts": report["counts"]}
                runs = [*locked.report.get("later", []), later]
                locked.report = {**locked.report, "later": runs, "changed": True}
                locked.save(update_fields=["report"])
                _audit(locked, "applied_again", actor, label, None, counts=report["counts"])
            else:
                locked.report = {**locked.report, "changed": False}
    except ReorganisationError as exc:
        _failed(reorganisation, exc.problems, actor, label)
        raise
    return locked


@transaction.atomic
def _failed(
    reorganisation: Reorganisation, problems: list[str], actor: User | None, label: str
) -> None:
    """Keep why a reorganisation could not be applied. One applied already stays as it
    was: the caller hears the problems of the run again, and nothing is recorded."""
    locked = Reorganisation.objects.select_for_update().get(pk=reorganisation.pk)
    if locked.state == ReorganisationState.APPLIED:
        return
    before = {"state": locked.state}
    locked.state = ReorganisationState.FAILED
    locked.report = {**locked.report, "problems": problems}
    locked.save(update_fields=["state", "report"])
    _audit(locked, "failed", actor, label, before, problems=problems)


def reorganisation_submit(
    *,
    plan: bytes | str | dict[str, Any],
    mapping: bytes | str,
    effective: date,
    actor: User | None = None,
    actor_label: str = "",
    today: date | None = None,
) -> Reorganisation:
    """Check and confirm in one step (the command): applied at once, or scheduled. The
    same files submitted again find their reorganisation: a scheduled one stays as it is,
    an applied one is applied again, which changes nothing."""
    plan_data, rows, _text = _files(plan, mapping)
    digest = reorganisation_digest(plan_data, rows, effective)
    known = Reorganisation.objects.filter(digest=digest, state__in=_LIVE_STATES).first()
    if known is not None and known.state == ReorganisationState.SCHEDULED:
        return known
    if known is not None:
        return reorganisation_apply(reorganisation=known, actor=actor, actor_label=actor_label)
    draft = reorganisation_draft(
        plan=plan_data, mapping=mapping, effective=effective, actor=actor, actor_label=actor_label
    )
    return reorganisation_confirm(
        reorganisation=draft, actor=actor, actor_label=actor_label, today=today
    )


def reorganisations_apply_due(*, today: date | None = None) -> list[int]:
    """Apply every scheduled reorganisation whose day has come (the beat, at midnight);
    the ids applied. One that fails its checks is marked failed and logged; the others
    still run."""
    today = today or timezone.localdate()
    applied = []
    due = Reorganisation.objects.filter(
        state=ReorganisationState.SCHEDULED, effective__lte=today
    ).order_by("effective", "id")
    for reorganisation in due:
        try:
            reorganisation_apply(reorganisation=reorganisation, actor_label="beat")
        except ReorganisationError as exc:
            logger.error(
                "reorganisation %s of %s failed its checks: %s",
                reorganisation.pk,
                reorganisation.effective,
                "; ".join(exc.problems),
            )
            continue
        applied.append(reorganisation.pk)
    return applied
