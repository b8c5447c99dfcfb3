"""The one test-support module: what tests share, named once (house rule 12).

- examples: the demo's users and wards by role and name (``example_user("official1")``,
  ``OWN_WARD``, ``OTHER_WARD``), read from the demo's own data;
- records: requests, alerts and incidents made through the platform's services;
- factories: factory-boy factories where the demo city does not fit;
- media: JPEGs; shapes: GeoJSON squares; realtime: listening on the channel layer from sync tests;
- live: real processes, local HTTP servers, websocket clients, waiting;
- inprocess: an ``ioc.inprocess`` runner serving on a loop of its own, as in ``make run``;
- browser: chromium under Playwright, logging in, the live dashboard, screenshots;
- admin_forms: admin change forms as the browser sends them;
- calendar: moments in Vietnam time, announced days off and days worked, office hours alone.

Import from ``tests.support``; the fixtures that use these are in tests/conftest.py.
"""

from tests.support.admin_forms import camera_change_form
from tests.support.browser import (
    CHROMIUM,
    FLAGS,
    SCREENSHOTS,
    live_stack_start,
    log_in,
    new_page,
    open_dashboard,
    push,
    shot,
    submit_login,
)
from tests.support.calendar import (
    NO_STATUTORY_DAYS,
    OFFICE_HOURS,
    announce,
    at,
    office_hours_only,
)
from tests.support.examples import (
    CITY,
    CITY_USERNAMES,
    COMMUNE_NAME,
    DEMO_PASSWORD,
    DEMO_USERNAMES,
    DEPARTMENT,
    FORMER_OF_OTHER,
    FORMER_OF_OWN,
    FORMER_OWN_NAME,
    LAST_FORMER_DAY,
    OTHER_WARD,
    OTHER_WARD_NAME,
    OWN_WARD,
    OWN_WARD_NAME,
    PROVINCE,
    REFORM_DAY,
    THIRD_WARD,
    UNMAPPED_WARD,
    WARD_OF,
    WARD_USERNAMES,
    camera_code,
    example_device,
    example_place,
    example_user,
    example_ward,
    former_into,
    gateway_code,
    placed_device,
    placed_devices_in,
)
from tests.support.factories import AlertFactory, DeviceFactory, GatewayFactory, UserFactory
from tests.support.inprocess import runner_serving
from tests.support.live import (
    ON_CI,
    Stack,
    free_port,
    in_thread,
    integration_stack_missing,
    local_url,
    outside_loop,
    process_env,
    serve_http,
    session_cookie,
    wait_for,
    wait_for_other_db_sessions_to_end,
    ws_next_event,
    ws_open,
    ws_receive,
)
from tests.support.media import jpeg, jpeg_file, jpeg_upload, jpeg_with_gps
from tests.support.realtime import GroupListener, group_listener
from tests.support.records import file_request, open_at, raise_alert
from tests.support.shapes import square

__all__ = [
    "CHROMIUM",
    "CITY",
    "CITY_USERNAMES",
    "COMMUNE_NAME",
    "DEMO_PASSWORD",
    "DEMO_USERNAMES",
    "DEPARTMENT",
    "FLAGS",
    "FORMER_OF_OTHER",
    "FORMER_OF_OWN",
    "FORMER_OWN_NAME",
    "LAST_FORMER_DAY",
    "NO_STATUTORY_DAYS",
    "OFFICE_HOURS",
    "ON_CI",
    "OTHER_WARD",
    "OTHER_WARD_NAME",
    "OWN_WARD",
    "OWN_WARD_NAME",
    "PROVINCE",
    "REFORM_DAY",
    "SCREENSHOTS",
    "THIRD_WARD",
    "UNMAPPED_WARD",
    "WARD_OF",
    "WARD_USERNAMES",
    "AlertFactory",
    "DeviceFactory",
    "GatewayFactory",
    "GroupListener",
    "Stack",
    "UserFactory",
    "announce",
    "at",
    "camera_change_form",
    "camera_code",
    "example_device",
    "example_place",
    "example_user",
    "example_ward",
    "file_request",
    "former_into",
    "free_port",
    "gateway_code",
    "group_listener",
    "in_thread",
    "integration_stack_missing",
    "jpeg",
    "jpeg_file",
    "jpeg_upload",
    "jpeg_with_gps",
    "live_stack_start",
    "local_url",
    "log_in",
    "new_page",
    "office_hours_only",
    "open_at",
    "open_dashboard",
    "outside_loop",
    "placed_device",
    "placed_devices_in",
    "process_env",
    "push",
    "raise_alert",
    "runner_serving",
    "serve_http",
    "session_cookie",
    "shot",
    "square",
    "submit_login",
    "wait_for",
    "wait_for_other_db_sessions_to_end",
    "ws_next_event",
    "ws_open",
    "ws_receive",
]
