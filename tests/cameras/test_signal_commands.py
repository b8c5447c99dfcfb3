"""Traffic-signal commands: who may send them, one live override per intersection, delivery
to the controller with acknowledgement and read-back, failures that alert, expiry that
reverts, the REST endpoint and the operators' form.

The controller is the simulator's own (cameras.simulator), reached through
``httpx.MockTransport`` in place of the network (``cameras.device_http.transport`` is
patched).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from cameras import device_http, tasks
from cameras.choices import CommandStatus, CommStatus, DeviceKind, SignalAction
from cameras.models import Device, SignalCommand, SignalDetail
from cameras.services import signal_commands as signal_services
from cameras.services.signal_command_delivery import (
    CAUSE_DELIVERY,
    CAUSE_REVERT,
    signal_command_deliver,
    signal_commands_expire,
)
from cameras.services.signal_commands import signal_command_create
from cameras.signal_views import signal_form_context
from cameras.simulator.app import DeviceEndpoints
from cameras.simulator.model import City, DeviceSpec
from ioc.choices import AlertKind, AlertStatus
from ioc.models import Alert, AuditEntry, User
from ioc.realtime import ward_group
from ioc.text import in_platform_language
from tests.support import OTHER_WARD, OWN_WARD, GroupListener, example_user

REASON = "Ùn tắc giờ cao điểm, công an đề nghị kéo dài pha xanh"


# --- Fixtures -------------------------------------------------------------------------------


class FakeController:
    """The simulator's controllers behind an httpx transport; records every request."""

    def __init__(self, codes: list[str]) -> None:
        specs = [DeviceSpec(code, "signal", "GW") for code in codes]
        self.city = City(specs, seed=1, happenings=False)
        self.app = DeviceEndpoints(self.city)
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.app.respond(request.method, request.url.path, request.content)
        return httpx.Response(
            answer.status, content=answer.body, headers={"content-type": answer.content_type}
        )

    def commands(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith("/command")]

    def state(self, code: str) -> dict[str, Any]:
        controller = self.city.signal(code)
        assert controller is not None
        return controller.state()


def use_transport(monkeypatch: pytest.MonkeyPatch, handler: Callable[..., Any]) -> None:
    monkeypatch.setattr(device_http, "transport", lambda: httpx.MockTransport(handler))


@pytest.fixture
def controller(demo_city: None, monkeypatch: pytest.MonkeyPatch) -> FakeController:
    codes = list(Device.objects.filter(kind=DeviceKind.SIGNAL).values_list("code", flat=True))
    fake = FakeController(codes)
    use_transport(monkeypatch, fake.handle)
    return fake


@pytest.fixture
def unreachable(demo_city: None, monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    attempts: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    use_transport(monkeypatch, refuse)
    return attempts


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Delivery tasks queued after commit (not run: the tests deliver explicitly)."""
    ids: list[int] = []
    monkeypatch.setattr(tasks.signal_command_send_task, "delay", ids.append)
    return ids


@pytest.fixture
def signal(demo_city: None) -> Device:
    """A traffic signal in official1's ward."""
    device = Device.objects.filter(kind=DeviceKind.SIGNAL, ward__code=OWN_WARD).first()
    assert device is not None
    return device


@pytest.fixture
def other_signal(demo_city: None) -> Device:
    """A traffic signal in official2's ward (not official1's)."""
    device = Device.objects.filter(kind=DeviceKind.SIGNAL, ward__code=OTHER_WARD).first()
    assert device is not None
    return device


def grant_command_permission(username: str) -> User:
    user = example_user(username)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="cameras", codename="add_signalcommand")
    )
    return User.objects.get(pk=user.pk)  # a fresh object: permissions are cached


def set_plan(actor: User, device: Device, **overrides: Any) -> SignalCommand:
    values: dict[str, Any] = {"action": SignalAction.SET_PLAN, "plan": "P2", "reason": REASON}
    values.update(overrides)
    return signal_command_create(actor=actor, device=device, **values)


def audits(command: SignalCommand) -> list[str]:
    return list(
        AuditEntry.objects.filter(
            object_type="cameras.signalcommand", object_id=str(command.pk)
        ).values_list("action", flat=True)
    )


# --- Creating -------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "  \n "])
def test_command_without_a_reason_is_refused_and_nothing_is_queued(
    reason: str, operator: User, signal: Device, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        pytest.raises(ValidationError) as raised,
    ):
        set_plan(operator, signal, reason=reason)

    assert set(raised.value.message_dict) == {"reason"}
    assert not SignalCommand.objects.filter(device=signal).exists()
    assert callbacks == []


def test_set_plan_without_a_plan_is_refused(operator: User, signal: Device) -> None:
    with pytest.raises(ValidationError) as raised:
        set_plan(operator, signal, plan="  ")

    assert set(raised.value.message_dict) == {"plan"}
    assert not SignalCommand.objects.filter(device=signal).exists()


@pytest.mark.parametrize("minutes", [0, 241, "abc"])
def test_override_duration_must_be_between_1_and_240_minutes(
    minutes: Any, operator: User, signal: Device
) -> None:
    with pytest.raises(ValidationError) as raised:
        set_plan(operator, signal, duration_minutes=minutes)

    assert set(raised.value.message_dict) == {"duration_minutes"}


def test_only_traffic_signals_take_commands(operator: User) -> None:
    camera = Device.objects.filter(kind=DeviceKind.CAMERA).first()
    assert camera is not None

    with pytest.raises(ValidationError) as raised:
        set_plan(operator, camera)

    assert set(raised.value.message_dict) == {"device"}


def test_new_command_is_pending_time_limited_audited_and_queued_after_commit(
    operator: User,
    signal: Device,
    queued: list[int],
    listener: GroupListener,
    django_capture_on_commit_callbacks: Any,
) -> None:
    channel = listener.join(ward_group(signal.ward.code))
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        command = set_plan(operator, signal, duration_minutes=45)
        assert queued == []  # nothing leaves before the commit

    assert queued == [command.pk]
    command.refresh_from_db()
    assert command.status == CommandStatus.PENDING
    assert command.requested_by == operator
    assert command.expires_at is not None
    assert timedelta(minutes=45) <= command.expires_at - before < timedelta(minutes=46)
    entry = AuditEntry.objects.get(action="signal_command.created", object_id=str(command.pk))
    assert entry.actor == operator
    assert entry.reason == REASON
    assert entry.ward_code == signal.ward.code
    event = listener.receive(channel)["event"]
    assert event["type"] == "signal.command"
    assert event["ward"] == signal.ward.code
    assert event["data"]["device"] == signal.code
    assert event["data"]["command"] == command.pk
    assert event["data"]["action"] == "set_plan"
    assert event["data"]["status"] == "pending"
    assert event["data"]["expires_at"] is not None
    assert event["data"]["error"] == ""


def test_default_override_lasts_30_minutes(operator: User, signal: Device) -> None:
    command = signal_command_create(
        actor=operator, device=signal, action=SignalAction.FLASH, reason=REASON
    )

    assert command.expires_at is not None
    assert command.expires_at - command.requested_at == timedelta(minutes=30)
    assert command.plan == ""


def test_only_one_live_override_per_intersection(
    operator: User, signal: Device, other_signal: Device
) -> None:
    first = set_plan(operator, signal)

    with pytest.raises(ValidationError) as raised:
        signal_command_create(
            actor=operator, device=signal, action=SignalAction.FLASH, reason=REASON
        )

    assert set(raised.value.message_dict) == {"action"}
    assert str(first.pk) in raised.value.message_dict["action"][0]
    assert list(SignalCommand.objects.filter(device=signal)) == [first]
    # Another intersection is not affected.
    assert set_plan(operator, other_signal).status == CommandStatus.PENDING


def test_auto_ends_the_live_override_and_returns_the_controller_to_automatic(
    operator: User, signal: Device, controller: FakeController
) -> None:
    override = set_plan(operator, signal)
    signal_command_deliver(override.pk)
    assert controller.state(signal.code)["mode"] == "manual"

    back = signal_command_create(
        actor=operator, device=signal, action=SignalAction.AUTO, reason="Hết ùn tắc"
    )
    override.refresh_from_db()
    assert override.status == CommandStatus.CANCELLED
    assert override.ended_at is not None
    assert "signal_command.cancelled" in audits(override)
    assert back.expires_at is None

    signal_command_deliver(back.pk)

    back.refresh_from_db()
    assert back.status == CommandStatus.REVERTED
    assert back.ended_at is not None
    assert controller.state(signal.code)["mode"] == "auto"
    assert SignalDetail.objects.get(device=signal).mode == "auto"
    assert not SignalCommand.objects.filter(
        device=signal, status__in=signal_services.LIVE_STATUSES
    ).exists()


# --- Who may command ------------------------------------------------------------------------


def test_ward_official_without_the_permission_is_refused(signal: Device) -> None:
    official = example_user("official1")
    assert official.wards.filter(code=signal.ward.code).exists()

    with pytest.raises(PermissionDenied):
        set_plan(official, signal)

    assert not SignalCommand.objects.filter(device=signal).exists()


def test_ward_official_with_the_permission_commands_own_ward_only(
    signal: Device, other_signal: Device
) -> None:
    official = grant_command_permission("official1")

    assert set_plan(official, signal).requested_by == official
    with pytest.raises(PermissionDenied):
        set_plan(official, other_signal)


def test_department_staff_may_not_command(signal: Device) -> None:
    with pytest.raises(PermissionDenied):
        set_plan(example_user("department1"), signal)


# --- Delivery -------------------------------------------------------------------------------


def test_delivery_records_acknowledgement_and_read_back(
    operator: User, signal: Device, controller: FakeController
) -> None:
    command = set_plan(operator, signal, plan="P4")

    signal_command_deliver(command.pk)

    command.refresh_from_db()
    assert command.status == CommandStatus.ACTIVE
    assert command.sent_at is not None
    assert command.acknowledged_at is not None
    assert command.error == ""
    assert command.readback["mode"] == "manual"
    assert command.readback["plan"] == "P4"
    detail = SignalDetail.objects.get(device=signal)
    assert (detail.mode, detail.plan, detail.comm_status) == ("manual", "P4", CommStatus.OK)
    assert detail.phase == command.readback["phase"]
    assert detail.state_at is not None
    sent = controller.commands()
    assert sent[0]["action"] == "set_plan"
    assert sent[0]["plan"] == "P4"
    assert sent[0]["revert_after_seconds"] > 30 * 60  # the controller's own fallback
    post = controller.requests[0]
    assert (
        post.headers["authorization"]
        == httpx.BasicAuth(detail.username, detail.password)._auth_header
    )
    assert [r.url.path for r in controller.requests] == [
        f"/signals/{signal.code}/command",
        f"/signals/{signal.code}/state",
    ]
    assert audits(command)[:3] == [
        "signal_command.acknowledged",
        "signal_command.sent",
        "signal_command.created",
    ]


def test_delivery_is_published(
    operator: User,
    signal: Device,
    controller: FakeController,
    listener: GroupListener,
    django_capture_on_commit_callbacks: Any,
) -> None:
    command = set_plan(operator, signal)
    channel = listener.join("city")

    with django_capture_on_commit_callbacks(execute=True):
        signal_command_deliver(command.pk)

    statuses = [listener.receive(channel)["event"]["data"]["status"] for _ in range(2)]
    assert statuses == ["sent", "active"]


def test_a_redelivered_task_does_nothing(
    operator: User, signal: Device, controller: FakeController
) -> None:
    command = set_plan(operator, signal)

    assert tasks.signal_command_send_task.run(command.pk) is True
    assert tasks.signal_command_send_task.run(command.pk) is False

    assert len(controller.commands()) == 1
    assert audits(command).count("signal_command.sent") == 1


def test_unreachable_controller_fails_the_command_with_reason_and_alert(
    operator: User, signal: Device, unreachable: list[httpx.Request]
) -> None:
    command = set_plan(operator, signal)

    signal_command_deliver(command.pk)

    command.refresh_from_db()
    assert command.status == CommandStatus.FAILED
    assert command.error == in_platform_language("the controller did not answer")
    assert command.ended_at is not None
    assert SignalDetail.objects.get(device=signal).comm_status == CommStatus.LOST
    alert = Alert.objects.get(device=signal, cause=CAUSE_DELIVERY)
    assert alert.kind == AlertKind.SIGNAL_COMMAND
    assert alert.status == AlertStatus.ACTIVE
    assert alert.data["command"] == command.pk
    assert "signal_command.failed" in audits(command)
    # A failed command is not live: a new one may be sent.
    assert set_plan(operator, signal).status == CommandStatus.PENDING


def test_an_error_answer_fails_the_command(
    operator: User, signal: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_transport(monkeypatch, lambda request: httpx.Response(500, json={"error": "lamp bus"}))
    command = set_plan(operator, signal)

    signal_command_deliver(command.pk)

    command.refresh_from_db()
    assert command.status == CommandStatus.FAILED
    # A short phrase for operators: what the controller sent stays in the logs.
    assert command.error == in_platform_language("the controller answered with an error")
    assert Alert.objects.filter(device=signal, cause=CAUSE_DELIVERY).exists()


def test_a_refusal_fails_the_command_without_showing_what_the_controller_said(
    operator: User, signal: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_transport(
        monkeypatch,
        lambda request: httpx.Response(
            200, json={"accepted": False, "error": "<b>firmware 2.1 debug: admin/admin</b>"}
        ),
    )
    command = set_plan(operator, signal)

    signal_command_deliver(command.pk)

    command.refresh_from_db()
    assert command.status == CommandStatus.FAILED
    assert command.error == in_platform_language("the controller refused the command")


def test_failed_delivery_is_published(
    operator: User,
    signal: Device,
    unreachable: list[httpx.Request],
    listener: GroupListener,
    django_capture_on_commit_callbacks: Any,
) -> None:
    command = set_plan(operator, signal)
    channel = listener.join(ward_group(signal.ward.code))

    with django_capture_on_commit_callbacks(execute=True):
        signal_command_deliver(command.pk)

    events = [listener.receive(channel)["event"] for _ in range(3)]
    by_type = {event["type"]: event for event in events}
    assert by_type["alert.raised"]["data"]["device"] == signal.code
    failed = [e for e in events if e["type"] == "signal.command"][-1]
    assert failed["data"]["status"] == "failed"
    assert failed["data"]["error"] == in_platform_language("the controller did not answer")


# --- Expiry ---------------------------------------------------------------------------------


def test_expired_override_is_reverted_by_the_system(
    operator: User, signal: Device, controller: FakeController
) -> None:
    command = set_plan(operator, signal, duration_minutes=5)
    signal_command_deliver(command.pk)
    command.refresh_from_db()
    assert command.expires_at is not None

    assert signal_commands_expire(now=command.expires_at - timedelta(seconds=1)) == 0
    assert signal_commands_expire(now=command.expires_at + timedelta(seconds=1)) == 1

    command.refresh_from_db()
    assert command.status == CommandStatus.REVERTED
    assert command.ended_at is not None
    assert controller.commands()[-1]["action"] == "auto"
    assert controller.state(signal.code)["mode"] == "auto"
    assert SignalDetail.objects.get(device=signal).mode == "auto"
    entry = AuditEntry.objects.get(action="signal_command.reverted", object_id=str(command.pk))
    assert entry.actor is None
    assert entry.actor_label == "system"
    # Nothing more to do next time.
    assert signal_commands_expire(now=command.expires_at + timedelta(minutes=1)) == 0


def test_revert_that_cannot_reach_the_controller_keeps_the_override_and_alerts(
    operator: User, signal: Device, controller: FakeController, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = set_plan(operator, signal, duration_minutes=5)
    signal_command_deliver(command.pk)
    command.refresh_from_db()
    assert command.expires_at is not None

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    use_transport(monkeypatch, refuse)
    later = command.expires_at + timedelta(seconds=1)
    assert signal_commands_expire(now=later) == 0
    assert signal_commands_expire(now=later + timedelta(seconds=15)) == 0

    command.refresh_from_db()
    assert command.status == CommandStatus.ACTIVE  # still in force: tried again next sweep
    assert command.error.startswith("revert failed")
    assert Alert.objects.get(device=signal, cause=CAUSE_REVERT).occurrences == 2
    assert audits(command).count("signal_command.revert_failed") == 1
    assert SignalDetail.objects.get(device=signal).comm_status == CommStatus.LOST


def test_stuck_commands_are_requeued_then_given_up(
    operator: User, signal: Device, queued: list[int]
) -> None:
    command = set_plan(operator, signal)

    signal_commands_expire(now=command.requested_at + timedelta(seconds=40))
    assert queued == [command.pk]

    signal_commands_expire(now=command.requested_at + timedelta(minutes=6))
    command.refresh_from_db()
    assert command.status == CommandStatus.FAILED
    assert "worker" in command.error
    assert Alert.objects.filter(device=signal, cause=CAUSE_DELIVERY).exists()


# --- REST API -------------------------------------------------------------------------------


def api_url(device: Device) -> str:
    return f"/api/v1/devices/{device.code}/commands"


def test_api_creates_a_command_and_lists_it(login: Any, signal: Device, queued: list[int]) -> None:
    client = login("operator")

    created = client.post(
        api_url(signal),
        {"action": "set_plan", "plan": "P2", "reason": REASON, "duration_minutes": 20},
        content_type="application/json",
    )
    listed = client.get(api_url(signal))

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["device"], body["action"], body["plan"]) == (signal.code, "set_plan", "P2")
    assert body["status"] == "pending"
    assert body["requested_by"] == "operator"
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [body["id"]]


def test_api_errors_are_json(login: Any, signal: Device) -> None:
    client = login("operator")

    response = client.post(
        api_url(signal), {"action": "set_plan", "reason": " "}, content_type="application/json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"reason", "plan"}


def test_api_refuses_a_second_override_with_400(login: Any, operator: User, signal: Device) -> None:
    set_plan(operator, signal)

    response = login("operator").post(
        api_url(signal), {"action": "flash", "reason": REASON}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "action" in response.json()


def test_api_official_of_another_ward_gets_404(login: Any, other_signal: Device) -> None:
    grant_command_permission("official1")
    client = login("official1")

    listed = client.get(api_url(other_signal))
    created = client.post(
        api_url(other_signal),
        {"action": "flash", "reason": REASON},
        content_type="application/json",
    )

    assert listed.status_code == 404
    assert created.status_code == 404
    assert not SignalCommand.objects.filter(device=other_signal).exists()


def test_api_official_without_permission_gets_403_on_own_ward(login: Any, signal: Device) -> None:
    client = login("official1")

    assert client.get(api_url(signal)).status_code == 200
    response = client.post(
        api_url(signal), {"action": "flash", "reason": REASON}, content_type="application/json"
    )

    assert response.status_code == 403
    assert "detail" in response.json()


def test_api_needs_a_staff_login(client: Any, signal: Device) -> None:
    assert client.get(api_url(signal)).status_code == 403


def test_api_list_runs_a_fixed_number_of_queries(
    login: Any,
    operator: User,
    signal: Device,
    controller: FakeController,
    django_assert_num_queries: Any,
) -> None:
    for _ in range(3):
        command = set_plan(operator, signal)
        signal_command_deliver(command.pk)
        back = signal_command_create(actor=operator, device=signal, action="auto", reason=REASON)
        signal_command_deliver(back.pk)
    client = login("operator")

    # session, user, device, count, page
    with django_assert_num_queries(5):
        response = client.get(api_url(signal))

    assert response.json()["count"] == 6


def test_command_endpoint_is_in_the_openapi_schema(demo_city: None, login: Any) -> None:
    schema = login("operator").get("/api/schema/?format=json").json()

    operations = schema["paths"]["/api/v1/devices/{code}/commands"]
    assert operations["get"]["operationId"] == "device_commands_list"
    assert operations["post"]["operationId"] == "device_command_create"


# --- The operators' form --------------------------------------------------------------------


def form_url(device: Device) -> str:
    return f"/ops/signals/{device.code}/command/"


def test_form_sends_the_command_and_goes_back_with_a_message(
    login: Any, signal: Device, queued: list[int]
) -> None:
    response = login("operator").post(
        form_url(signal),
        {
            "action": "flash",
            "plan": "",
            "reason": REASON,
            "duration_minutes": "15",
            "confirm": "1",
            "next": "/ops/wards/",
        },
        follow=True,
    )

    assert response.redirect_chain[0] == ("/ops/wards/", 302)
    command = SignalCommand.objects.get(device=signal)
    assert command.action == "flash"
    assert command.expires_at is not None
    assert command.expires_at - command.requested_at == timedelta(minutes=15)
    texts = [str(m) for m in response.context["messages"]]
    assert len(texts) == 1
    assert str(signal.signal) in texts[0]


def test_form_without_next_goes_to_the_device_page(
    login: Any, signal: Device, queued: list[int]
) -> None:
    response = login("operator").post(
        form_url(signal),
        {"action": "flash", "reason": REASON, "confirm": "1", "next": "https://evil.example/"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/ops/devices/{signal.code}/"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"action": "set_plan", "plan": "", "reason": REASON, "confirm": "1"}, "plan"),
        ({"action": "flash", "reason": "", "confirm": "1"}, "reason"),
        ({"action": "flash", "reason": REASON}, "confirm"),
    ],
)
def test_form_errors_go_back_with_the_error_and_send_nothing(
    fields: dict[str, str], expected: str, login: Any, signal: Device
) -> None:
    response = login("operator").post(form_url(signal), {**fields, "next": "/ops/"})

    assert response.status_code == 302
    assert response["Location"] == "/ops/"
    assert not SignalCommand.objects.filter(device=signal).exists()
    messages = list(response.wsgi_request._messages)
    assert len(messages) == 1
    assert messages[0].level_tag == "error"


def test_form_of_another_ward_is_404(login: Any, other_signal: Device) -> None:
    grant_command_permission("official1")

    response = login("official1").post(
        form_url(other_signal), {"action": "flash", "reason": REASON, "confirm": "1"}
    )

    assert response.status_code == 404


def test_form_reports_a_failed_delivery_in_the_embedded_mode(
    demo_city_committed: None, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Committed for real: delivery runs right after the service's commit, before the
    view answers, as with the embedded mode's in-process tasks."""
    monkeypatch.setattr(
        device_http,
        "transport",
        lambda: httpx.MockTransport(lambda request: httpx.Response(503, json={"error": "down"})),
    )
    monkeypatch.setattr(tasks.signal_command_send_task, "delay", signal_command_deliver)
    device = Device.objects.filter(kind=DeviceKind.SIGNAL).first()
    assert device is not None

    response = login("operator").post(
        form_url(device), {"action": "flash", "reason": REASON, "confirm": "1"}
    )

    messages = list(response.wsgi_request._messages)
    assert [m.level_tag for m in messages] == ["error"]
    assert str(messages[0]).endswith(in_platform_language("the controller answered with an error"))
    assert "down" not in str(messages[0])
    assert SignalCommand.objects.get(device=device).status == CommandStatus.FAILED


def test_form_partial_renders_state_live_command_and_confirmation(
    operator: User, signal: Device
) -> None:
    live = set_plan(operator, signal)
    request = RequestFactory().get(f"/ops/devices/{signal.code}/")
    request.user = operator

    html = render_to_string(
        "cameras/signal_command_form.html", signal_form_context(operator, signal), request
    )

    assert f'action="/ops/signals/{signal.code}/command/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="reason"' in html
    assert "<details>" in html
    assert 'name="confirm"' in html
    assert 'data-testid="live-command"' in html
    assert live.get_action_display() in html


def test_form_partial_hides_the_form_from_who_may_not_command(signal: Device) -> None:
    official = example_user("official1")
    request = RequestFactory().get("/")
    request.user = official

    html = render_to_string(
        "cameras/signal_command_form.html", signal_form_context(official, signal), request
    )

    assert "<form" not in html
    assert signal.signal.intersection in html
