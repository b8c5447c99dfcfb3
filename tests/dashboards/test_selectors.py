"""Per-day series of the reports (dashboards.selectors.per_day): zero-filled days, days
cut at midnight in Asia/Ho_Chi_Minh, scoping through the queryset it is given."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cameras.models import Device
from dashboards.selectors import alerts_per_day, day_bounds, per_day
from ioc.choices import Severity
from ioc.models import Alert
from tests.support import OTHER_WARD as OTHER
from tests.support import OWN_WARD as OWN
from tests.support import AlertFactory, example_user

pytestmark = pytest.mark.django_db


def alert_at(moment: datetime, *, ward: str = OWN, severity: str = Severity.WARNING) -> Alert:
    device = Device.objects.filter(ward__code=ward).order_by("code").first()
    assert device is not None
    return AlertFactory(
        device=device,
        cause=f"test:{moment.isoformat()}:{severity}",
        severity=severity,
        raised_at=moment,
    )


def test_days_without_alerts_are_zero_and_every_severity_is_present() -> None:
    alert_at(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))
    series = per_day(
        Alert.objects.all(),
        date_field="raised_at",
        group_field="severity",
        first=date(2026, 3, 1),
        last=date(2026, 3, 4),
        groups=["critical", "warning", "info"],
    )
    assert series.days == [date(2026, 3, d) for d in range(1, 5)]
    assert series.groups == ["critical", "warning", "info"]
    assert series.counts == {"critical": [0, 0, 0, 0], "warning": [0, 1, 0, 0], "info": [0] * 4}
    assert list(series.rows())[1] == (date(2026, 3, 2), {"critical": 0, "warning": 1, "info": 0})


def test_a_day_starts_at_midnight_in_ho_chi_minh_city_not_utc() -> None:
    # 16:59:59 UTC is 23:59:59 on the 1st in Vietnam; 17:00 UTC is already the 2nd.
    alert_at(datetime(2026, 3, 1, 16, 59, 59, tzinfo=UTC))
    alert_at(datetime(2026, 3, 1, 17, 0, 0, tzinfo=UTC))
    # 17:00 UTC on the 28 Feb is midnight on 1 March in Vietnam: inside the range.
    alert_at(datetime(2026, 2, 28, 17, 0, 0, tzinfo=UTC))
    # One second before: the 28th in Vietnam, outside the range.
    alert_at(datetime(2026, 2, 28, 16, 59, 59, tzinfo=UTC))
    series = per_day(
        Alert.objects.all(),
        date_field="raised_at",
        group_field="severity",
        first=date(2026, 3, 1),
        last=date(2026, 3, 2),
    )
    assert series.counts == {"warning": [2, 1]}
    start, end = day_bounds(date(2026, 3, 1), date(2026, 3, 2))
    assert start == datetime(2026, 2, 28, 17, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def test_alerts_per_day_is_scoped_to_the_users_wards(django_assert_num_queries: Any) -> None:
    moment = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    alert_at(moment, severity=Severity.CRITICAL)
    alert_at(moment, ward=OTHER, severity=Severity.CRITICAL)
    official = example_user("official1")
    operator = example_user("operator")
    first = last = date(2026, 3, 5)
    with django_assert_num_queries(1):
        mine = alerts_per_day(official, first=first, last=last)
    assert mine.groups == ["critical", "warning", "info"]
    assert mine.counts["critical"] == [1]
    assert alerts_per_day(operator, first=first, last=last).counts["critical"] == [2]
