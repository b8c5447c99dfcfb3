"""The demo's last 30 days, so that a first look shows a working month: citizen requests in
every state (``month_requests``) and the devices' month, readings, outages, alerts and
incidents (``month_feeds``), written when the demo is loaded, ending at that moment."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from ioc.demo.month_feeds import FeedsSummary, feeds_month
from ioc.demo.month_requests import RequestsSummary, requests_month
from ioc.models import User


@dataclass
class MonthSummary:
    """What the month made."""

    requests: RequestsSummary
    feeds: FeedsSummary


def month_load(*, seed: int, now: datetime) -> MonthSummary:
    """Write the month up to ``now`` (in the loader's transaction, after users exist). Each
    part draws from its own generator, so neither changes the other's month."""
    staff = {
        user.username: user
        for user in User.objects.filter(
            username__in=["operator", "official1", "official2", "department1"]
        )
    }
    return MonthSummary(
        requests=requests_month(rng=random.Random(seed), now=now, staff=staff),
        feeds=feeds_month(rng=random.Random(seed + 1), now=now, staff=staff),
    )
