"""The API contract is honest: every operation of ``/api/schema/``, driven by schemathesis
with all its checks, answers what the schema says (no server error; no undocumented status,
content type, header or body; invalid input refused, valid input accepted).

In process: schemathesis calls the WSGI application on the test database (the demo city;
what examples write rolls back with each test), as the city operator, a ward official
(the scoped reads) and an administrator (the registry's writes); the ingest endpoint with
a gateway's token. Bounded and repeatable: MAX_EXAMPLES per operation, derandomized.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core import signals
from django.db import close_old_connections
from django.test import Client
from django.utils import translation
from schemathesis.config import SchemathesisConfig

from cameras.models import Gateway
from ioc.tokens import secret_hash
from tests.support import OWN_WARD, example_device, example_user

pytestmark = pytest.mark.integration

# Examples per operation (Hypothesis' phase; schemathesis' explicit examples and coverage
# cases come on top): 24 operations as three users in about a minute on two cores.
MAX_EXAMPLES = 15
# The CSRF token sent in both the cookie and the header: the API is session-authenticated
# and its writes need one, as the dashboard's scripts send it.
CSRF_TOKEN = "contracttestcsrftokencontracttes"
INGEST_PATH = "/api/v1/ingest/events"

CONFIG = {
    "seed": 2026,
    "generation": {
        "mode": "all",  # valid input must be accepted, invalid input refused
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        # Credentials are the test's to give (DemoCredentials), not inputs to generate.
        "with-security-parameters": False,
    },
    # Stateful sequences (links between operations) are the CLI's; each operation here.
    "phases": {"stateful": {"enabled": False}},
    "checks": {"enabled": True},
    "operations": [
        {
            # Valid by the schema yet refused (400) by rules a schema cannot state: a
            # reference to stored data (an incident type, a ward containing the point, a
            # device the token pushes for, a signal and not a camera), an order between
            # fields (bbox minimum before maximum, from before to), a case's state.
            "include-operation-id": [
                "v1_devices_create",
                "v1_devices_partial_update",
                "device_command_create",
                "v1_devices_events_list",
                "v1_devices_readings_retrieve",
                "v1_devices.geojson_retrieve",
                "v1_devices.map_retrieve",
                "v1_incidents_create",
                "incident_action",
                "v1_alerts_create",
                "ingest_events",
            ],
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
                }
            },
        }
    ],
}


def api_schema() -> Any:
    """The platform's OpenAPI schema as /api/schema/ serves it, bound to the WSGI application
    (loaded when the module is collected: schemathesis makes one test per operation)."""
    from ioc.wsgi import application

    config = SchemathesisConfig.from_dict(CONFIG)
    # The request's language must not stay active for the tests collected after this one.
    with translation.override(None):
        return schemathesis.openapi.from_wsgi("/api/schema/", application, config=config)


schema = api_schema()

# The running test's credentials, fixed so that schemathesis can put them on the cases it
# prepares while collecting: log_in gives them to the test's user and a gateway.
SESSION_KEY = "contracttestsessionkeycontracttes"
INGEST_TOKEN = "contract-test-gateway-token"


@schema.auth(refresh_interval=None)
class DemoCredentials:
    """The running test's credentials: its demo user's session (with the CSRF token writes
    need) for staff operations, a gateway's token for the ingest endpoint. Given through
    schemathesis' auth, so that its checks can also send a request without them."""

    def get(self, case: Any, ctx: Any) -> str:
        return SESSION_KEY

    def set(self, case: Any, data: str, ctx: Any) -> None:
        if case.operation.path == INGEST_PATH:
            case.headers = {**(case.headers or {}), "Authorization": f"Gateway {INGEST_TOKEN}"}
            return
        case.cookies = {
            **(case.cookies or {}),
            django_settings.SESSION_COOKIE_NAME: data,
            django_settings.CSRF_COOKIE_NAME: CSRF_TOKEN,
        }
        case.headers = {**(case.headers or {}), "X-CSRFToken": CSRF_TOKEN}


def log_in(username: str) -> None:
    """Give SESSION_KEY to a session of ``username``, INGEST_TOKEN to a gateway."""
    client = Client()
    client.force_login(example_user(username))
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert Session.objects.filter(session_key=key).update(session_key=SESSION_KEY) == 1
    gateway = example_device(OWN_WARD).gateway
    assert gateway is not None
    Gateway.objects.filter(pk=gateway.pk).update(token_hash=secret_hash(INGEST_TOKEN))


@pytest.fixture
def in_process() -> Iterator[None]:
    """Requests served in this thread, on the test's own connection: as Django's test client
    does, the end of a request must not close it (that would end the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def contract_test(username: str) -> Any:
    """A test of every operation as ``username`` (one pytest test per operation). The second
    factor is not asked for (IOC_REQUIRE_2FA off): this test is about the API, not the login."""

    @schema.parametrize()
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        # The demo city is a function-scoped fixture on purpose: every example reads it, and
        # what the examples write rolls back with the test.
        suppress_health_check=[
            hypothesis.HealthCheck.function_scoped_fixture,
            hypothesis.HealthCheck.too_slow,
        ],
    )
    def test(case: Any, demo_city: None, in_process: None, settings: Any) -> None:
        settings.IOC_REQUIRE_2FA = False
        if not Session.objects.filter(session_key=SESSION_KEY).exists():
            log_in(username)  # once per operation: each has its own transaction
        case.call_and_validate()

    return test


test_contract_as_city_operator = contract_test("operator")
test_contract_as_ward_official = contract_test("official1")
test_contract_as_administrator = contract_test("admin")


# --- What the first run found, pinned by name -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/alerts/?ward=%00",  # PostgreSQL text cannot hold NUL: was a 500
        "/api/v1/incidents/?ward=a%00b",
        "/api/v1/devices/CAM%00/",
        "/api/v1/wards/?limit=267596626607851058147900101869585825792",  # past 64 bits: a 500
        "/api/v1/wards/?offset=-1",  # ignored before
        "/api/v1/alerts/?status=AAA",  # ignored before: an empty list
        "/api/v1/incidents/?severity=urgent",
    ],
)
def test_input_the_api_cannot_use_is_a_400_in_json(
    url: str, demo_city: None, login: Any, settings: Any
) -> None:
    settings.IOC_REQUIRE_2FA = False
    response = login("operator").get(url)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"


def test_an_api_address_that_names_nothing_is_a_json_404(
    demo_city: None, login: Any, settings: Any
) -> None:
    settings.IOC_REQUIRE_2FA = False
    response = login("operator").get("/api/v1/alerts/not-a-number/")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_valid_filters_and_pages_answer_as_before(
    demo_city: None, login: Any, settings: Any
) -> None:
    settings.IOC_REQUIRE_2FA = False
    client = login("operator")
    assert client.get("/api/v1/alerts/?status=open&severity=&limit=5&offset=0").status_code == 200
    page = client.get("/api/v1/wards/?limit=2&offset=1").json()
    assert len(page["results"]) == 2 and page["count"] > 2
