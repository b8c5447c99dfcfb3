"""What follows a reorganisation, subject by subject: each *follower* plans where the open
things of the old units go (a ``Move`` each) and applies those moves.

The core knows no app (the layer rule), so the apps register their own followers when
they start (``AppConfig.ready``): ``cameras`` its devices and gateways, ``services`` its
open citizen requests. The core's own follow here: open incidents and alerts by their place,
officials by their units. Followers run in ``order``: a gateway follows its devices, an
alert its device or its request, so those move first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from ioc.choices import AlertStatus, IncidentEntryKind
from ioc.models import (
    Alert,
    AuditEntry,
    Incident,
    IncidentEntry,
    Reorganisation,
    ScopeReview,
    User,
    Ward,
)
from ioc.models.incidents import OPEN_STATUSES
from ioc.services.audit import audit_entry
from ioc.services.reorganisation.change import Change, Move


@dataclass
class Applying:
    """What a follower needs while a reorganisation is applied: the new units by code, who
    applies it, and the audit entries of every move (saved together at the end)."""

    change: Change
    units: dict[str, Ward]
    reorganisation: Reorganisation | None
    actor: User | None
    actor_label: str
    now: datetime
    entries: list[AuditEntry] = field(default_factory=list)

    def audit_move(self, move: Move, object_type: str) -> None:
        """The audit entry of one thing moved: its unit before and after."""
        targets = [self.units[code] for code in move.targets]
        self.entries.append(
            audit_entry(
                actor=self.actor,
                actor_label=self.actor_label,
                action=f"{object_type.rsplit('.', 1)[-1]}.moved",
                obj=None,
                object_type=object_type,
                object_id=str(move.pk),
                object_repr=move.label,
                before={"ward": move.source.code, "ward_id": move.source.pk},
                after={
                    "ward": ",".join(unit.code for unit in targets),
                    "ward_id": [unit.pk for unit in targets],
                    "reorganisation": self.reorganisation.pk if self.reorganisation else None,
                },
                ward_code=targets[0].code if targets else move.source.code,
            )
        )

    def moved(self, moves: list[Move]) -> dict[str, list[Move]]:
        """The moves that go somewhere, by target code (the others stay for a person)."""
        by_target: dict[str, list[Move]] = defaultdict(list)
        for move in moves:
            if len(move.targets) == 1:
                by_target[move.targets[0]].append(move)
        return by_target


class Follower(Protocol):
    """Plans and applies the moves of one kind of thing (see the module's docstring)."""

    name: str
    order: int

    def plan(self, change: Change) -> list[Move]:
        """Where each thing of the old units goes (claiming it: ``change.claim``)."""

    def apply(self, applying: Applying, moves: list[Move]) -> None:
        """Move what ``plan`` said, with its audit entries (``applying.audit_move``)."""


_registry: dict[str, Follower] = {}


def follower_register(follower: Follower) -> None:
    """Add a follower (an app's, from its ``AppConfig.ready``); the same name replaces."""
    _registry[follower.name] = follower


def followers() -> list[Follower]:
    """Every registered follower, in the order they run."""
    return sorted(_registry.values(), key=lambda follower: follower.order)


def moved_text(old: Ward, new: Ward) -> str:
    """The timeline line of a case moved by a reorganisation, in the platform's language
    (it is stored, and read later by everyone): "Chuyển từ Phường Trưng Vương sang Phường
    Phan Đình Phùng do sắp xếp đơn vị hành chính"."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("Moved from %(old)s to %(new)s by the reorganisation of administrative units") % {
            "old": old.title,
            "new": new.title,
        }


def place_move(
    change: Change, *, subject: str, pk: int, label: str, source: Ward, lon: Any, lat: Any
) -> Move:
    """The move of a thing with a place: into the new unit that holds it, else to a
    person (it stays where it is)."""
    code = change.locate(lon, lat)
    if code is not None:
        return Move(subject, pk, label, source, [code])
    return Move(subject, pk, label, source, [], _("its place lies in none of the new units"))


def unit_move(change: Change, *, subject: str, pk: int, label: str, source: Ward) -> Move:
    """The move of a thing without a place: with its unit if that goes into one new unit,
    else to a person."""
    code = change.sole_successor(source.pk)
    if code is not None:
        return Move(subject, pk, label, source, [code])
    return Move(
        subject, pk, label, source, [], _("it has no place, and its unit goes into several units")
    )


class IncidentsFollower:
    """Open incidents go to the new unit that holds their place, with a timeline line;
    resolved and closed ones stay with the unit of their time."""

    name = "incidents"
    order = 40

    def plan(self, change: Change) -> list[Move]:
        rows = Incident.objects.filter(ward__in=list(change.old), status__in=OPEN_STATUSES)
        moves = []
        for row in rows.values("pk", "ward_id", "title", "latitude", "longitude", "created_at"):
            if not change.claim("incident", row["pk"]):
                continue
            reference = Incident(pk=row["pk"], created_at=row["created_at"]).reference
            moves.append(
                place_move(
                    change,
                    subject="incident",
                    pk=row["pk"],
                    label=f"{reference} {row['title']}",
                    source=change.old[row["ward_id"]],
                    lon=row["longitude"],
                    lat=row["latitude"],
                )
            )
        return moves

    def apply(self, applying: Applying, moves: list[Move]) -> None:
        for code, group in applying.moved(moves).items():
            unit = applying.units[code]
            Incident.objects.filter(pk__in=[m.pk for m in group]).update(
                ward=unit, updated_at=applying.now
            )
            IncidentEntry.objects.bulk_create(
                IncidentEntry(
                    incident_id=move.pk,
                    at=applying.now,
                    kind=IncidentEntryKind.MOVED,
                    text=moved_text(move.source, unit),
                    data={"from": move.source.code, "to": unit.code},
                )
                for move in group
            )
            for move in group:
                applying.audit_move(move, "ioc.incident")


class AlertsFollower:
    """Open alerts follow their device (where the device goes), or without one their unit;
    alerts another follower claimed (a request's deadline alert) are left to it."""

    name = "alerts"
    order = 50

    def plan(self, change: Change) -> list[Move]:
        devices = {move.pk: move for move in change.moves_of("device")}
        rows = Alert.objects.filter(ward__in=list(change.old)).exclude(status=AlertStatus.RESOLVED)
        moves = []
        for row in rows.values(
            "pk", "ward_id", "title", "device_id", "device__latitude", "device__longitude"
        ):
            if not change.claim("alert", row["pk"]):
                continue
            pk, label, source = row["pk"], row["title"], change.old[row["ward_id"]]
            device = devices.get(row["device_id"])
            if device is not None:
                moves.append(Move("alert", pk, label, source, list(device.targets), device.reason))
            elif row["device_id"] is not None:
                lon, lat = row["device__longitude"], row["device__latitude"]
                moves.append(
                    place_move(
                        change, subject="alert", pk=pk, label=label, source=source, lon=lon, lat=lat
                    )
                )
            else:
                moves.append(unit_move(change, subject="alert", pk=pk, label=label, source=source))
        return moves

    def apply(self, applying: Applying, moves: list[Move]) -> None:
        for code, group in applying.moved(moves).items():
            Alert.objects.filter(pk__in=[m.pk for m in group]).update(ward=applying.units[code])
            for move in group:
                applying.audit_move(move, "ioc.alert")


class OfficialsFollower:
    """An official of an old unit gets the unit it went into; of a split unit, every unit
    it went into, with a scope for someone to review (``ScopeReview``)."""

    name = "officials"
    order = 60

    def plan(self, change: Change) -> list[Move]:
        through = User.wards.through.objects.filter(ward_id__in=list(change.old))
        moves = []
        for row in through.values("user_id", "ward_id", "user__username").order_by(
            "user__username", "ward_id"
        ):
            source = change.old[row["ward_id"]]
            targets = change.successors(source.pk)
            split = len(targets) > 1
            reason = _("its unit is split: keep only the units this official works for")
            moves.append(
                Move(
                    "official",
                    row["user_id"],
                    row["user__username"],
                    source,
                    targets,
                    reason=reason if split else "",
                    review=split,
                )
            )
        return moves

    def apply(self, applying: Applying, moves: list[Move]) -> None:
        through = User.wards.through
        by_user: dict[int, list[Move]] = defaultdict(list)
        for move in moves:
            by_user[move.pk].append(move)
        for user in User.objects.filter(pk__in=list(by_user)).prefetch_related("wards"):
            before = sorted(f"{w.code} {w.name}" for w in user.wards.all())
            user_moves = by_user[user.pk]
            through.objects.filter(
                Q(user_id=user.pk), Q(ward_id__in=[m.source.pk for m in user_moves])
            ).delete()
            targets = {applying.units[code] for move in user_moves for code in move.targets}
            through.objects.bulk_create(
                [through(user_id=user.pk, ward_id=unit.pk) for unit in targets],
                ignore_conflicts=True,
            )
            for move in user_moves:
                if move.review and applying.reorganisation is not None:
                    review, _created = ScopeReview.objects.get_or_create(
                        user=user,
                        former=move.source,
                        defaults={"reorganisation": applying.reorganisation},
                    )
                    review.units.set([applying.units[code] for code in move.targets])
            after = sorted(f"{w.code} {w.name}" for w in Ward.objects.filter(officials=user))
            applying.entries.append(
                audit_entry(
                    actor=applying.actor,
                    actor_label=applying.actor_label,
                    action="user.wards_reorganised",
                    obj=user,
                    before={"wards": before},
                    after={
                        "wards": after,
                        "to_review": [m.source.code for m in user_moves if m.review],
                    },
                )
            )


for _follower in (IncidentsFollower(), AlertsFollower(), OfficialsFollower()):
    follower_register(_follower)
