"""Devices and gateways after a reorganisation of units (``ioc.services.reorganisation``):
a device goes to the new unit that holds its place; a gateway, which has no place of its
own, where its devices go. Registered with the core by ``CamerasConfig.ready``."""

from __future__ import annotations

from django.utils.translation import gettext as _

from cameras.models import Device, Gateway
from ioc.services.reorganisation import Applying, Change, Move, place_move, unit_move


class DevicesFollower:
    """Every device of an old unit goes to the new unit that holds its place; one whose
    place lies in none stays for a person to place."""

    name = "devices"
    order = 10

    def plan(self, change: Change) -> list[Move]:
        rows = Device.objects.filter(ward__in=list(change.old)).order_by("code")
        moves = []
        for row in rows.values("pk", "code", "name", "ward_id", "latitude", "longitude"):
            if change.claim("device", row["pk"]):
                moves.append(
                    place_move(
                        change,
                        subject="device",
                        pk=row["pk"],
                        label=f"{row['code']} {row['name']}",
                        source=change.old[row["ward_id"]],
                        lon=row["longitude"],
                        lat=row["latitude"],
                    )
                )
        return moves

    def apply(self, applying: Applying, moves: list[Move]) -> None:
        for code, group in applying.moved(moves).items():
            # update() leaves auto_now alone, and on PostgreSQL the row's map feature is
            # rewritten by its trigger (cameras migration 0004) since the ward changed.
            Device.objects.filter(pk__in=[m.pk for m in group]).update(
                ward=applying.units[code], updated_at=applying.now
            )
            for move in group:
                applying.audit_move(move, "cameras.device")


class GatewaysFollower:
    """A gateway of an old unit goes where its devices go when they all go to one new
    unit; without devices, with its unit if that goes into one unit; otherwise a person
    decides."""

    name = "gateways"
    order = 20

    def plan(self, change: Change) -> list[Move]:
        devices = {move.pk: move.targets for move in change.moves_of("device")}
        gateways = Gateway.objects.filter(ward__in=list(change.old)).order_by("code")
        where: dict[int, set[str]] = {gateway.pk: set() for gateway in gateways}
        for device_id, gateway_id in Device.objects.filter(gateway__in=gateways).values_list(
            "pk", "gateway_id"
        ):
            where[gateway_id].update(devices.get(device_id, []))
        moves = []
        for gateway in gateways:
            if not change.claim("gateway", gateway.pk):
                continue
            label = f"{gateway.code} {gateway.name}"
            source = change.old[gateway.ward_id]  # type: ignore[index]
            codes = sorted(where[gateway.pk])
            if len(codes) == 1:
                moves.append(Move("gateway", gateway.pk, label, source, codes))
            elif codes:
                reason = _("its devices go into several units: %(codes)s") % {
                    "codes": ", ".join(codes)
                }
                moves.append(Move("gateway", gateway.pk, label, source, [], reason))
            else:
                moves.append(
                    unit_move(change, subject="gateway", pk=gateway.pk, label=label, source=source)
                )
        return moves

    def apply(self, applying: Applying, moves: list[Move]) -> None:
        for code, group in applying.moved(moves).items():
            Gateway.objects.filter(pk__in=[m.pk for m in group]).update(ward=applying.units[code])
            for move in group:
                applying.audit_move(move, "cameras.gateway")
