"""factory-boy factories, for the cases the demo city does not fit: an account with no role,
a gateway that is not the demo's, more devices than the demo has, an alert at a given time.

Prefer the demo's named examples (tests/support/examples.py) wherever they fit.
"""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from cameras.choices import DeviceKind
from cameras.models import Device, Gateway
from ioc.choices import AlertKind, Severity
from ioc.models import Alert, User


class UserFactory(DjangoModelFactory):
    """A staff account; with no ``role`` it may see nothing."""

    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("x-very-long-password-1")
    role = ""


class GatewayFactory(DjangoModelFactory):
    """A gateway of no ward, not one of the demo's."""

    class Meta:
        model = Gateway

    code = factory.Sequence(lambda n: f"TEST-GW-{n}")
    name = factory.LazyAttribute(lambda gateway: f"Gateway {gateway.code}")


class DeviceFactory(DjangoModelFactory):
    """A camera with no gateway; give it a ``ward`` and a place."""

    class Meta:
        model = Device

    code = factory.Sequence(lambda n: f"TEST-{n:04d}")
    name = factory.LazyAttribute(lambda device: f"Camera {device.code}")
    kind = DeviceKind.CAMERA


class AlertFactory(DjangoModelFactory):
    """An open fault alert on a device, in the device's ward, saved as it is (no service:
    no audit, no live event, no deduplication)."""

    class Meta:
        model = Alert

    device = None
    ward = factory.LazyAttribute(lambda alert: alert.device.ward)
    kind = AlertKind.FAULT
    cause = factory.Sequence(lambda n: f"fault:test-{n}")
    severity = Severity.CRITICAL
    title = "Kiểm thử"
