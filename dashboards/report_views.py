"""The reports page at ``/ops/reports/``: alerts and incidents per day by severity, and
alerts, incidents and requests per unit, on today's units or on those in force on a chosen
day (``?on=``); scoped like every screen, drawn with uPlot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from dashboards.selectors import (
    REPORT_TIME_ZONE,
    DaySeries,
    alerts_per_day,
    incidents_per_day,
    per_unit,
)
from ioc.access import staff_required
from ioc.choices import Severity

DEFAULT_DAYS = 30
MAX_DAYS = 366


def severity_labels() -> dict[str, str]:
    """Severity labels in the active language."""
    return {value: str(label) for value, label in Severity.choices}


SEVERITY_COLOURS = {"critical": "#d73027", "warning": "#e08e0b", "info": "#2a6fb0"}


@dataclass(frozen=True)
class ReportRange:
    """The days a report covers, both included, and the day whose units it is read on
    (``on``; None: today's units)."""

    first: date
    last: date
    on: date | None = None

    def params(self) -> dict[str, str]:
        """The range as the form's query parameters (yyyy-mm-dd, as date inputs send it)."""
        params = {"from": self.first.isoformat(), "to": self.last.isoformat()}
        if self.on is not None:
            params["on"] = self.on.isoformat()
        return params

    @property
    def query(self) -> str:
        """The parameters as a query string, for the export links."""
        return "&".join(f"{key}={value}" for key, value in self.params().items())


def _date(text: str) -> date | None:
    """A yyyy-mm-dd (date input) or dd/mm/yyyy date, or None."""
    text = text.strip()
    for parse in (date.fromisoformat, lambda t: date(*reversed([int(p) for p in t.split("/")]))):
        try:
            return parse(text)
        except (ValueError, TypeError):
            continue
    return None


def report_range(request: HttpRequest) -> ReportRange:
    """The chosen days, or the last 30 days up to today in the city; at most 366 days,
    never in the wrong order."""
    today = timezone.now().astimezone(REPORT_TIME_ZONE).date()
    last = _date(request.GET.get("to", "")) or today
    first = _date(request.GET.get("from", "")) or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    if (last - first).days >= MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
    return ReportRange(first, last, _date(request.GET.get("on", "")))


def chart_data(series: DaySeries, empty: str) -> dict[str, object]:
    """The series as the page's script draws it: days as epoch seconds (city midnight)."""
    labels = severity_labels()
    return {
        "timeZone": str(REPORT_TIME_ZONE),
        "days": [day.isoformat() for day in series.days],
        "series": [
            {
                "key": group,
                "label": str(labels.get(group, group)),
                "colour": SEVERITY_COLOURS.get(group, "#555"),
                "counts": series.counts[group],
            }
            for group in series.groups
        ],
        "labels": {"day": _("Day"), "empty": empty},
    }


@staff_required
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    """Alerts and incidents per day and severity over the chosen days, as charts and a
    table."""
    days = report_range(request)
    series = alerts_per_day(request.user, first=days.first, last=days.last)
    incidents = incidents_per_day(request.user, first=days.first, last=days.last)
    today = timezone.now().astimezone(REPORT_TIME_ZONE).date()
    units, elsewhere = per_unit(request.user, first=days.first, last=days.last, on=days.on or today)
    return render(
        request,
        "ops/reports.html",
        {
            "nav": "reports",
            "range": days,
            "series": series,
            "incidents": incidents,
            "rows": [
                (day, [counts[group] for group in series.groups], sum(counts.values()), opened)
                for (day, counts), (_day, opened_counts) in zip(
                    series.rows(), incidents.rows(), strict=True
                )
                for opened in [sum(opened_counts.values())]
            ],
            "groups": [
                (group, dict(Severity.choices).get(group, group)) for group in series.groups
            ],
            "totals": [sum(series.counts[group]) for group in series.groups],
            "incidents_total": sum(sum(counts) for counts in incidents.counts.values()),
            "units": units,
            "elsewhere": elsewhere,
            "units_on": days.on,
            "chart": chart_data(series, _("No alerts in these days.")),
            "incident_chart": chart_data(incidents, _("No incidents in these days.")),
        },
    )
