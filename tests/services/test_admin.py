"""The admin of citizen services: the table of announced days off and days worked shows,
beside each row, what the law already makes of that day."""

from __future__ import annotations

import re
from typing import Any

from services.models import Holiday
from tests.support import announce


def test_announced_days_show_the_statutory_day_they_repeat_or_override(
    login: Any, demo_city: None
) -> None:
    Holiday.objects.all().delete()
    announce("2027-02-04", "Làm việc", worked=True)  # the library's 29 Tết, worked after all
    announce("2027-04-29", "Nghỉ bù dịp 30/4 - 1/5")  # an ordinary Thursday made a day off

    response = login("admin").get("/admin/services/holiday/")

    assert response.status_code == 200
    cells = re.findall(r'<td class="field-statutory_day_off">(.*?)</td>', response.content.decode())
    assert cells == ["29 Tết", "-"]  # by date: 04/02, then 29/04 (no statutory day)
