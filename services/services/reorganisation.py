"""Citizen requests after a reorganisation of units (``ioc.services.reorganisation``): an
open request goes to the new unit that holds its place, keeps its deadline, and tells the
citizen on its public timeline; its deadline alert goes with it. Closed, resolved and
rejected requests stay with the unit of their time. Registered with the core by
``ServicesConfig.ready``."""

from __future__ import annotations

from ioc.choices import AlertStatus
from ioc.models import Alert
from ioc.services.reorganisation import Applying, Change, Move, moved_text, place_move
from services.choices import EntryKind
from services.models import OPEN_STATUSES, RequestEntry, ServiceRequest
from services.services.common import deadline_cause


class RequestsFollower:
    """Open requests by their place, with a public timeline line; each one's deadline
    alert follows it (claimed here, so the core's alerts follower leaves it)."""

    name = "requests"
    order = 30

    def plan(self, change: Change) -> list[Move]:
        rows = ServiceRequest.objects.filter(
            ward__in=list(change.old), status__in=OPEN_STATUSES
        ).order_by("code")
        moves: list[Move] = []
        by_cause: dict[str, Move] = {}
        for row in rows.values("pk", "code", "ward_id", "latitude", "longitude"):
            if not change.claim("request", row["pk"]):
                continue
            move = place_move(
                change,
                subject="request",
                pk=row["pk"],
                label=row["code"],
                source=change.old[row["ward_id"]],
                lon=row["longitude"],
                lat=row["latitude"],
            )
            moves.append(move)
            by_cause[deadline_cause(row["code"])] = move
        alerts = Alert.objects.filter(
            ward__in=list(change.old), device__isnull=True, cause__in=list(by_cause)
        ).exclude(status=AlertStatus.RESOLVED)
        for alert in alerts.values("pk", "ward_id", "title", "cause"):
            if change.claim("alert", alert["pk"]):
                request = by_cause[alert["cause"]]
                source = change.old[alert["ward_id"]]
                moves.append(
                    Move("alert", alert["pk"], alert["title"], source, list(request.targets))
                )
        return moves

    def apply(self, applying: Applying, moves: list[Move]) -> None:
        requests = [move for move in moves if move.subject == "request"]
        alerts = [move for move in moves if move.subject == "alert"]
        for code, group in applying.moved(requests).items():
            unit = applying.units[code]
            # The deadline stays: the citizen was promised it, whoever answers now.
            ServiceRequest.objects.filter(pk__in=[m.pk for m in group]).update(
                ward=unit, updated_at=applying.now
            )
            RequestEntry.objects.bulk_create(
                RequestEntry(
                    request_id=move.pk,
                    at=applying.now,
                    kind=EntryKind.MOVED,
                    public=True,
                    text=moved_text(move.source, unit),
                    data={"from": move.source.code, "to": unit.code},
                )
                for move in group
            )
            for move in group:
                applying.audit_move(move, "services.servicerequest")
        for code, group in applying.moved(alerts).items():
            Alert.objects.filter(pk__in=[m.pk for m in group]).update(ward=applying.units[code])
            for move in group:
                applying.audit_move(move, "ioc.alert")
