"""Planning and applying a checked reorganisation (``change.Change``): what moves where
(the followers' plans, the report a dry run prints), then, in one transaction, the old
units ended, the new ones created and linked, everything moved and audited, and the
screens told after commit.

Applying is idempotent: a second run finds the units already made and nothing left to
move (what needs a person stays where it is), and changes nothing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from ioc import realtime
from ioc.models import AuditEntry, Reorganisation, User, Ward, WardSuccession
from ioc.realtime import event_types
from ioc.services.audit import audit_entry, snapshot
from ioc.services.reorganisation.change import Change, Move
from ioc.services.reorganisation.followers import Applying, followers

# What moves, in the order a report lists it.
SUBJECTS = {
    "device": gettext_lazy("devices"),
    "gateway": gettext_lazy("gateways"),
    "official": gettext_lazy("officials"),
    "alert": gettext_lazy("open alerts"),
    "incident": gettext_lazy("open incidents"),
    "request": gettext_lazy("open citizen requests"),
}
# A ward's fields as its audit entries record them (the boundary is large).
_WARD_AUDIT_EXCLUDE = ("boundary",)


def change_plan(change: Change) -> Change:
    """Ask every follower, in order, where the old units' things go."""
    for follower in followers():
        change.moves[follower.name] = follower.plan(change)
    return change


def _link(code: str, title: str, transfer: str = "") -> dict[str, str]:
    link = {"code": code, "title": title}
    if transfer:
        link["transfer"] = transfer
    return link


def change_report(change: Change) -> dict[str, Any]:
    """What the reorganisation does (or would do), as plain JSON: the new units and where
    they come from, each old unit with what it holds and where each thing goes, and what
    needs a person. Titles in the platform's language (a report is stored)."""
    with translation.override(settings.LANGUAGE_CODE):
        titles = {code: unit.title for code, unit in change.units.items()}
        units = [
            {
                "code": code,
                "name": unit.values["name"],
                "title": titles[code],
                "existing": unit.existing is not None,
                "from": [_link(w.code, w.title, transfer) for w, transfer in unit.predecessors],
            }
            for code, unit in sorted(change.units.items())
        ]
        old = []
        needs_person = []
        moves_by_source: dict[int, list[Move]] = {}
        for moves in change.moves.values():
            for move in moves:
                moves_by_source.setdefault(move.source.pk, []).append(move)
        for ward in sorted(change.old.values(), key=lambda w: w.code):
            held: dict[str, list[dict[str, Any]]] = {subject: [] for subject in SUBJECTS}
            for move in moves_by_source.get(ward.pk, []):
                item = {
                    "label": move.label,
                    "to": [_link(code, titles[code]) for code in move.targets],
                    "reason": move.reason,
                }
                held.setdefault(move.subject, []).append(item)
                if move.needs_person:
                    needs_person.append(
                        {"subject": move.subject, "unit": _link(ward.code, ward.title), **item}
                    )
            old.append(
                {
                    "code": ward.code,
                    "title": ward.title,
                    "into": [
                        _link(code, titles[code], transfer)
                        for code, transfer in change.into.get(ward.pk, [])
                    ],
                    "moves": held,
                }
            )
    counts = Counter(move.subject for moves in change.moves.values() for move in moves)
    return {
        "effective": change.effective.isoformat(),
        "units": units,
        "old": old,
        "needs_person": needs_person,
        "counts": {subject: counts.get(subject, 0) for subject in {*SUBJECTS, *counts}},
        "already_applied": change.already_applied,
    }


def _province(unit_values: dict[str, Any], predecessors: list[Ward]) -> dict[str, Any]:
    """A new unit's province: the plan's, else its predecessors' when they share one."""
    if unit_values.get("province_code"):
        return unit_values
    provinces = {(w.province_code, w.province_name) for w in predecessors}
    if len(provinces) == 1:
        code, name = provinces.pop()
        return {**unit_values, "province_code": code, "province_name": name}
    return unit_values


def _ward_entry(applying: Applying, action: str, ward: Ward, before: Any, **after: Any) -> None:
    applying.entries.append(
        audit_entry(
            actor=applying.actor,
            actor_label=applying.actor_label,
            action=action,
            obj=ward,
            before=before,
            after={**snapshot(ward, exclude=_WARD_AUDIT_EXCLUDE), **after},
            ward_code=ward.code,
        )
    )


def _units_apply(applying: Applying) -> bool:
    """End the old units, create the new ones and link them; whether anything changed."""
    change, changed = applying.change, False
    for ward in change.old.values():
        if ward.valid_to is None:
            before = snapshot(ward, exclude=_WARD_AUDIT_EXCLUDE)
            ward.valid_to = change.effective
            ward.save(update_fields=["valid_to", "updated_at"])
            into = change.successors(ward.pk)
            _ward_entry(applying, "ward.retired", ward, before, successors=into)
            changed = True
    for code, unit in sorted(change.units.items()):
        if unit.existing is not None:
            applying.units[code] = unit.existing
            continue
        values = _province(unit.values, [ward for ward, _transfer in unit.predecessors])
        ward = Ward(**values)
        ward.full_clean()
        ward.save()
        applying.units[code] = ward
        origins = [f"{w.code} ({transfer})" for w, transfer in unit.predecessors]
        _ward_entry(applying, "ward.created", ward, None, predecessors=origins)
        changed = True
    known = set(
        WardSuccession.objects.filter(successor__in=list(applying.units.values())).values_list(
            "predecessor_id", "successor_id"
        )
    )
    edges = [
        WardSuccession(
            predecessor=ward,
            successor=applying.units[code],
            transfer=transfer,
            effective=change.effective,
        )
        for code, unit in change.units.items()
        for ward, transfer in unit.predecessors
        if (ward.pk, applying.units[code].pk) not in known
    ]
    WardSuccession.objects.bulk_create(edges)
    return changed or bool(edges)


def change_apply(
    change: Change,
    *,
    reorganisation: Reorganisation | None,
    actor: User | None,
    actor_label: str,
) -> bool:
    """Apply a checked and planned change in the caller's transaction; whether anything
    changed. The screens hear of it after commit (``units.reorganised``)."""
    applying = Applying(
        change=change,
        units={},
        reorganisation=reorganisation,
        actor=actor,
        actor_label=actor_label,
        now=timezone.now(),
    )
    changed = _units_apply(applying)
    for follower in followers():
        moves = change.moves.get(follower.name, [])
        if any(move.targets for move in moves):
            follower.apply(applying, moves)
            changed = True
    AuditEntry.objects.bulk_create(applying.entries)
    if changed:
        realtime.publish(
            event_types.units_reorganised(
                effective=change.effective,
                retired=[ward.code for ward in change.old.values()],
                units=list(change.units),
            )
        )
    return changed
