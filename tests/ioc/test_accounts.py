"""Accounts: the login locks after repeated failures, a second factor is required of the
roles that can change devices, accounts or signals (and checked at every door), and a
staff session lasts a working day."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ioc.models import AuditEntry, User
from tests.support import DEMO_PASSWORD, example_user

PASSWORD = "Mot-mat-khau-that-dai-2026"


@pytest.fixture
def real_operator(demo_city: Any) -> User:
    """The demo's operator as a real account would be: not exempt from the second factor."""
    user = example_user("operator")
    user.two_factor_exempt = False
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(username: str, password: str = PASSWORD, **extra: Any) -> tuple[Client, Any]:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}, **extra
    )
    return client, response


def code_for(device: TOTPDevice) -> str:
    """The code the authenticator app shows now."""
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"


def later(device: TOTPDevice) -> None:
    """As if a while had passed: django-otp slows tries after a wrong code, and refuses a
    code already used in its 30 seconds."""
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.last_t = -1
    device.save()


# --- Lockout --------------------------------------------------------------------------


def test_thirty_wrong_passwords_lock_the_account_even_for_the_right_one(demo_city: Any) -> None:
    for _ in range(30):
        log_in("official1", "sai-mat-khau", REMOTE_ADDR="10.0.0.5")
    client, response = log_in("official1", DEMO_PASSWORD, REMOTE_ADDR="10.0.0.5")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    html = response.content.decode()
    assert "data-locked-out" in html
    assert f"{settings.AXES_FAILURE_LIMIT}" in html


def test_lockout_is_per_account_from_any_address(demo_city: Any) -> None:
    for number in range(settings.AXES_FAILURE_LIMIT):
        log_in("official1", "sai", REMOTE_ADDR=f"10.0.1.{number}")
    _client, response = log_in("official1", DEMO_PASSWORD, REMOTE_ADDR="10.0.2.1")
    assert response.status_code == 429


def test_lockout_is_per_address_across_accounts(demo_city: Any) -> None:
    for name in ("a1", "a2", "a3", "a4", "a5", "a6")[: settings.AXES_FAILURE_LIMIT]:
        log_in(name, "sai", REMOTE_ADDR="10.0.3.3")
    _client, response = log_in("official2", DEMO_PASSWORD, REMOTE_ADDR="10.0.3.3")
    assert response.status_code == 429
    _client, elsewhere = log_in("official2", DEMO_PASSWORD, REMOTE_ADDR="10.0.3.4")
    assert elsewhere.status_code == 302


def test_a_locked_out_attempt_is_recorded_as_such(demo_city: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        log_in("official1", "sai", REMOTE_ADDR="10.0.4.4")
    assert AuditEntry.objects.filter(action="user.login_failed", after__locked_out=True).exists()


# --- Second factor ---------------------------------------------------------------------


def test_operator_without_a_device_must_enrol_before_any_staff_page(real_operator: User) -> None:
    client, response = log_in("operator")
    assert response.status_code == 302
    for path in ("/ops/", "/admin/", "/ops/devices/"):
        page = client.get(path)
        assert page.status_code == 302, path
        assert page["Location"].startswith("/accounts/two-factor/setup/"), path
    assert client.get("/api/v1/alerts/").status_code == 403


def test_enrolment_shows_a_qr_code_and_uri_and_a_first_code_confirms_it(
    real_operator: User,
) -> None:
    client, _response = log_in("operator")
    page = client.get("/accounts/two-factor/setup/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and "otpauth://totp/" in html
    device = TOTPDevice.objects.get(user=real_operator, confirmed=False)

    wrong = client.post("/accounts/two-factor/setup/", {"token": "000000"})
    assert "data-recovery-codes" not in wrong.content.decode()
    later(device)
    done = client.post("/accounts/two-factor/setup/", {"token": code_for(device), "next": "/ops/"})
    assert done.status_code == 200
    assert done.content.decode().count("<li><code>") == 10
    assert client.get("/ops/").status_code == 200
    assert AuditEntry.objects.filter(action="user.two_factor_enrolled").exists()


def enrolled(user: User) -> tuple[TOTPDevice, list[str]]:
    from ioc.services.two_factor import two_factor_enrolment_confirm, two_factor_enrolment_start

    device = two_factor_enrolment_start(user=user)
    confirmed = two_factor_enrolment_confirm(user=user, token=code_for(device))
    assert confirmed is not None
    return confirmed


def test_an_enrolled_operator_gives_a_code_after_the_password(real_operator: User) -> None:
    device, _codes = enrolled(real_operator)
    client, _response = log_in("operator")
    page = client.get("/ops/")
    assert page["Location"].startswith("/accounts/two-factor/?")
    assert client.post("/accounts/two-factor/", {"token": "123456"}).status_code == 200
    assert client.get("/ops/").status_code == 302
    later(device)
    verified = client.post("/accounts/two-factor/", {"token": code_for(device), "next": "/ops/"})
    assert verified.status_code == 302 and verified["Location"] == "/ops/"
    assert client.get("/ops/").status_code == 200
    assert client.get("/api/v1/alerts/").status_code == 200


def test_a_recovery_code_works_once(real_operator: User) -> None:
    _device, codes = enrolled(real_operator)
    first, _response = log_in("operator")
    assert first.post("/accounts/two-factor/", {"token": codes[0]}).status_code == 302
    again, _response = log_in("operator")
    assert again.post("/accounts/two-factor/", {"token": codes[0]}).status_code == 200
    assert again.get("/ops/").status_code == 302


def test_ward_official_may_log_in_without_a_second_factor(demo_city: Any) -> None:
    official = example_user("official1")
    official.two_factor_exempt = False
    official.save(update_fields=["two_factor_exempt"])
    client, _response = log_in("official1", DEMO_PASSWORD)
    assert client.get("/ops/requests/").status_code == 200


def test_demo_logins_are_password_only_and_the_login_page_says_so(demo_city: Any) -> None:
    assert "data-demo-logins" in Client().get("/accounts/login/").content.decode()
    client, _response = log_in("operator", DEMO_PASSWORD)
    assert client.get("/ops/").status_code == 200


def first_message(user: User, session: dict[str, Any]) -> str:
    """What the live channel's consumer answers first to a session of ``user``."""
    import asyncio

    from asgiref.testing import ApplicationCommunicator
    from channels.db import database_sync_to_async
    from django.db import connections

    from dashboards.consumers import OpsConsumer

    scope = {"type": "websocket", "path": "/ws/ops/", "user": user, "session": session}

    async def connect() -> str:
        communicator = ApplicationCommunicator(OpsConsumer.as_asgi(), scope)
        await communicator.send_input({"type": "websocket.connect"})
        message = await communicator.receive_output(timeout=5)
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=5)
        # The consumer's queries ran on the executor's thread: close its connection there,
        # or it stays open and blocks dropping the test database.
        await database_sync_to_async(connections.close_all)()
        return str(message["type"])

    return asyncio.run(connect())


def test_websocket_refuses_a_session_that_owes_its_second_factor(real_operator: User) -> None:
    from ioc.two_factor import STEP_SESSION_KEY

    assert first_message(real_operator, {STEP_SESSION_KEY: "enrol"}) == "websocket.close"
    # A session from before the second factor existed is judged by its account.
    assert first_message(real_operator, {}) == "websocket.close"


def test_a_staff_session_lasts_a_working_day() -> None:
    assert settings.SESSION_COOKIE_AGE == 10 * 3600
