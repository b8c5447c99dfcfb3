"""Records made in the demo city through the platform's own services, as people would make
them: a citizen's filed request, an alert raised on a device, an incident opened by staff."""

from __future__ import annotations

from typing import Any

from cameras.models import Device
from ioc.choices import AlertKind, Severity
from ioc.models import Alert, Incident, IncidentType
from ioc.services import alert_raise, incident_create
from services import services as svc
from services.models import ServiceCategory, ServiceRequest
from tests.support.examples import OWN_WARD, example_device, example_place, example_user


def file_request(
    ward_code: str = OWN_WARD, category: str = "rac-thai", **extra: Any
) -> ServiceRequest:
    """A citizen's request filed at a place in a ward (official1's by default)."""
    lat, lon = example_place(ward_code)
    return svc.request_create(
        category=ServiceCategory.objects.get(code=category),
        description=extra.pop("description", "Rác tồn đọng ở đầu ngõ 12"),
        latitude=lat,
        longitude=lon,
        **extra,
    )


def raise_alert(
    where: str | Device,
    cause: str = "detection:fire",
    *,
    severity: str = Severity.WARNING,
) -> Alert:
    """A detection alert raised through ``alert_raise`` on a device, or on the first demo
    device of a ward when given a ward code."""
    if isinstance(where, Device):
        device = where
    else:
        found = Device.objects.filter(ward__code=where).order_by("code").first()
        assert found is not None, where
        device = found
    alert, _created = alert_raise(
        ward=device.ward,
        device=device,
        kind=AlertKind.DETECTION,
        cause=cause,
        severity=severity,
        title=f"{cause} tại {device.name}",
    )
    return alert


def open_at(ward_code: str, *, actor: str = "operator", **extra: Any) -> Incident:
    """An incident opened by a demo user at the ward's first camera; ``type`` and ``title``
    default to a flood."""
    device = example_device(ward_code)
    return incident_create(
        actor=example_user(actor),
        incident_type=IncidentType.objects.get(code=extra.pop("type", "flooding")),
        title=extra.pop("title", "Ngập sâu 40 cm"),
        latitude=device.latitude,
        longitude=device.longitude,
        **extra,
    )
