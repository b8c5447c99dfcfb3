"""Writes of the second factor: enrolling a TOTP device (with recovery codes) and
verifying a code. Each is audited; codes and keys never reach the log."""

from __future__ import annotations

from django.db import transaction
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioc.models import User
from ioc.services.audit import audit_record

TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"
RECOVERY_CODES = 10


def two_factor_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed TOTP device this account is enrolling (made on first call, kept
    until confirmed so that a reload shows the same QR code)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


@transaction.atomic
def two_factor_enrolment_confirm(*, user: User, token: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the enrolling device with a first code from the authenticator app; returns
    the device and new recovery codes (each good once, shown once), or None when the code
    is wrong."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, confirmed=False)
        .order_by("pk")
        .first()
    )
    if device is None or not device.verify_token(token):
        audit_record(actor=user, action="user.two_factor_enrolment_failed", obj=user)
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    # One authenticator per account: an older one (a lost phone) stops working.
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    StaticDevice.objects.filter(user=user).delete()
    recovery = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    audit_record(
        actor=user,
        action="user.two_factor_enrolled",
        obj=user,
        after={"totp_device": device.pk, "recovery_codes": len(codes)},
    )
    return device, codes


@transaction.atomic
def two_factor_verify(*, user: User, token: str) -> Device | None:
    """The device (authenticator or recovery codes) that accepts ``token``, or None. A
    recovery code is used up; wrong codes slow further tries (django-otp's throttling)."""
    token = token.strip().replace(" ", "")
    accepted: Device | None = None
    if token:
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(token):
                accepted = device
                break
    audit_record(
        actor=user,
        action="user.two_factor_verified" if accepted else "user.two_factor_failed",
        obj=user,
        after={"device": type(accepted).__name__} if accepted else None,
    )
    return accepted
