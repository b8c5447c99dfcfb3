"""The demo's citizen requests: the last 30 days in every state, and a few filed in June 2025
under former units, which the reform moved on 1 July 2025.

Each request lives its life step by step as the services would have written it (``_Life``:
received, triaged, routed, started, answered, resolved, rated, closed, rejected, disputed,
merged), with staff acting in working hours, the deadline sweep warning and escalating
when a deadline comes near or passes, and every staff step audited; the life stops at
``now``, so the recent requests are naturally the open ones. Services write the present
only, so the past is written here, in bulk, with the services' own rules: the workflow's
transitions, the working calendar's deadlines, the sweep's thresholds and alert titles,
the reorganisation's timeline line, the portal's photo preparation.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import translation
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from ioc import geo
from ioc.choices import AlertKind, AlertStatus, Severity
from ioc.demo import data
from ioc.demo.boundaries import former_cells, new_unit_boundaries
from ioc.demo.photos import scene_jpeg
from ioc.demo.requests_data import (
    DISPUTE_REASON,
    FAMILY_NAMES,
    GIVEN_NAMES,
    NOTES,
    RATING_COMMENTS,
    REJECTIONS,
    TEXTS,
)
from ioc.models import Alert, AuditEntry, User, Ward
from ioc.provinces import REFORM_DATE
from ioc.services.audit import audit_entry
from ioc.services.reorganisation import moved_text
from ioc.tokens import secret_hash, secret_new
from services.calendar import CITY_TIME_ZONE, Calendar, working_calendar
from services.choices import (
    EntryKind,
    PhotoKind,
    RequestLevel,
    RequestSource,
    RequestStatus,
)
from services.models import (
    OPEN_STATUSES,
    RequestEntry,
    RequestPhoto,
    ServiceCategory,
    ServiceRequest,
    TrackingCounter,
)
from services.photos import photo_prepare
from services.services.common import deadline_cause, photo_save
from services.services.deadlines import deadline_alert_title
from services.services.workflow import TRANSITIONS

MONTH_DAYS = 30
# Filings a day in the former city's area (weekends fewer).
FILINGS_PER_DAY = (7, 13)
# The deadline sweep's period: it notices a deadline this long after it comes near.
SWEEP_LAG = timedelta(minutes=2)
# Where people file, by unit of today (the 8 units of the former city): busier in town.
UNIT_WEIGHTS = {
    "05443": 30,  # Phan Đình Phùng, the centre
    "05467": 14,  # Gia Sàng
    "05500": 14,  # Tích Lương
    "05482": 14,  # Quan Triều
    "05710": 9,  # Linh Sơn
    "05455": 10,  # Quyết Thắng
    "05503": 3,  # Tân Cương
    "05488": 3,  # Đại Phúc
}
# The June 2025 filings: the former unit, the day, and how far the life goes before
# the reform (a closed case stays with its unit; an open one moves on 1 July).
JUNE_2025: tuple[tuple[str, int], ...] = (
    ("05443", 3),  # Trưng Vương: closed before the reform, stays with the former unit
    ("05449", 9),  # Phan Đình Phùng (old code 05449)
    ("05443", 24),  # Trưng Vương: open on 30/06, moves to Phan Đình Phùng (05443 again)
    ("05437", 26),  # Túc Duyên -> Phan Đình Phùng
    ("05482", 25),  # Tân Long -> Quan Triều (05482 again)
    ("05431", 27),  # Quan Triều (old) -> Quan Triều
    ("05461", 26),  # Gia Sàng, split: its place decides
    ("05455", 27),  # Thịnh Đán -> Quyết Thắng (05455 again)
)
REFORM_MOMENT = datetime.combine(REFORM_DATE, time(0, 0), tzinfo=CITY_TIME_ZONE)
ACTOR = "load_demo"


@dataclass
class RequestsSummary:
    """What the month of requests made."""

    requests: int
    photos: int
    entries: int
    audits: int
    alerts: int
    moved: int


@dataclass
class _Filing:
    """A request as it arrived: when, what, where."""

    at: datetime
    category: ServiceCategory
    unit: Ward
    lon: float
    lat: float
    street: str
    source: str
    duplicate_of: _Filing | None = None
    june: bool = False
    code: str = ""


@dataclass
class _Staff:
    """The demo's staff, and who handles what."""

    operator: User
    officials: dict[str, User]  # unit code (today) -> its official
    department_staff: dict[str, User]  # department code -> its staff member

    def handler(self, request: ServiceRequest) -> User:
        """Who works on the request: its department's staff member, the official of its
        unit, else the operators (who may act on any request)."""
        if request.department is not None:
            return self.department_staff.get(request.department.code, self.operator)
        if request.ward.valid_to is None:
            return self.officials.get(request.ward.code, self.operator)
        return self.operator


class _Stop(Exception):
    """The life has reached ``now``."""


@dataclass
class _Life:
    """One request's life, written step by step as the services would have, up to now."""

    request: ServiceRequest
    month: _Month
    rng: random.Random
    entries: list[RequestEntry] = field(default_factory=list)
    audits: list[tuple[AuditEntry, RequestEntry | None]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    photos: list[tuple[datetime, PhotoKind, bytes]] = field(default_factory=list)
    history: list[tuple[datetime, str]] = field(default_factory=list)
    counted_from: datetime | None = None  # when the sweep's clock last restarted
    moves_at: datetime | None = None  # the reform's moment, for a request under a former unit
    moved_to: Ward | None = None

    # -- what happened, line by line --------------------------------------------------

    def entry(
        self,
        at: datetime,
        kind: EntryKind,
        *,
        actor: User | None = None,
        text: str = "",
        public: bool = True,
        data: dict[str, Any] | None = None,
    ) -> RequestEntry:
        line = RequestEntry(
            request=self.request,
            at=at,
            actor=actor,
            kind=kind,
            text=text,
            public=public,
            data=data or {},
        )
        self.entries.append(line)
        self.request.updated_at = max(self.request.updated_at, at)
        return line

    def audit(
        self,
        at: datetime,
        actor: User,
        action: str,
        before: Any,
        after: Any,
        reason: str = "",
        line: RequestEntry | None = None,
    ) -> None:
        """As ``services.services.common.audit``; ``line``: the entry its ``after`` names."""
        entry = audit_entry(
            actor=actor,
            action=f"request.{action}",
            obj=self.request,
            before=before,
            after=after,
            ward_code=self.request.ward.code,
            reason=reason,
        )
        entry.at = at
        self.audits.append((entry, line))

    def step(self, at: datetime) -> datetime:
        """The next step at ``at``, once what the sweep and the reform did before it is
        written; stops the life if ``at`` is still to come."""
        self.happen_until(at)
        if at > self.month.now:
            raise _Stop
        return at

    def move(
        self,
        at: datetime,
        actor: User,
        status: RequestStatus,
        kind: EntryKind,
        *,
        text: str = "",
        public: bool = True,
        data: dict[str, Any] | None = None,
    ) -> None:
        """As ``services.services.workflow._move``: a transition the workflow allows."""
        request = self.request
        if status not in TRANSITIONS[request.status]:
            raise ValueError(f"demo request {request.code}: {request.status} -> {status}")
        before = {"status": request.status}
        request.status = status
        if status == RequestStatus.RESOLVED:
            request.resolved_at = at
        elif status == RequestStatus.CLOSED:
            request.closed_at = at
        self.history.append((at, status))
        self.entry(at, kind, actor=actor, text=text, public=public, data=data)
        self.audit(at, actor, str(kind), before, {"status": status, **(data or {})}, text)
        if status not in OPEN_STATUSES:
            self.alert_clear(at)

    # -- what the sweep and the reform did in between ----------------------------------

    def is_open(self) -> bool:
        return self.request.status in OPEN_STATUSES and self.request.merged_into_id is None

    def happen_until(self, moment: datetime) -> None:
        """The deadline sweep's warnings and escalations, and the reform's move, due
        before ``moment`` (and by now), in their order."""
        limit = min(moment, self.month.now)
        while self.is_open():
            due = self._next_event()
            if due is None or due[0] > limit:
                return
            due[1](due[0])

    def _next_event(self) -> tuple[datetime, Callable[[datetime], None]] | None:
        request = self.request
        events: list[tuple[datetime, Callable[[datetime], None]]] = []
        if request.deadline_warned_at is None:
            total = request.deadline_at - request.created_at
            near = request.deadline_at - total * self.month.warning_share
            events.append(
                (max(near, self.counted_from or request.created_at) + SWEEP_LAG, self.warn)
            )
        if request.level == RequestLevel.UNIT:
            events.append((request.deadline_at + SWEEP_LAG, self.escalate))
        if self.moves_at is not None and self.moved_to is None:
            events.append((self.moves_at, self.reorganised))
        return min(events, key=lambda event: event[0]) if events else None

    def warn(self, at: datetime) -> None:
        """As ``requests_deadline_sweep``: an alert in the unit and a staff-only line."""
        request = self.request
        overdue = at >= request.deadline_at
        with translation.override(settings.LANGUAGE_CODE):
            title = deadline_alert_title(request.code, overdue=overdue)
        self.alerts.append(
            Alert(
                ward=request.ward,
                device=None,
                kind=AlertKind.DEADLINE,
                cause=deadline_cause(request.code),
                severity=Severity.CRITICAL if overdue else Severity.WARNING,
                title=title,
                data={"request": request.code},
                raised_at=at,
                last_seen_at=at,
            )
        )
        request.deadline_warned_at = at
        self.entry(at, EntryKind.DEADLINE, public=False, data={"overdue": overdue})

    def escalate(self, at: datetime) -> None:
        """As ``requests_deadline_sweep``: overdue, so the supervising level answers."""
        self.request.level = RequestLevel.SUPERVISING
        self.entry(at, EntryKind.ESCALATED, public=False)

    def reorganised(self, at: datetime) -> None:
        """As the requests' follower of a reorganisation: to the new unit of its place,
        deadline kept, a line the citizen reads; its deadline alert goes with it."""
        request = self.request
        old, new = request.ward, self.month.unit_at(request.longitude, request.latitude)
        request.ward = new
        self.moved_to = new
        self.entry(
            at,
            EntryKind.MOVED,
            text=moved_text(old, new),
            data={"from": old.code, "to": new.code},
        )
        entry = audit_entry(
            actor=None,
            actor_label=ACTOR,
            action="servicerequest.moved",
            obj=None,
            object_type="services.servicerequest",
            object_id="",  # set once the request is saved
            object_repr=request.code,
            before={"ward": old.code, "ward_id": old.pk},
            after={"ward": new.code, "ward_id": [new.pk], "reorganisation": None},
            ward_code=new.code,
        )
        entry.at = at
        self.audits.append((entry, None))
        for alert in self.alerts:
            if alert.status != AlertStatus.RESOLVED:
                alert.ward = new

    def alert_clear(self, at: datetime) -> None:
        """As ``alert_clear``: the request's open deadline alert resolves itself."""
        for alert in self.alerts:
            if alert.status != AlertStatus.RESOLVED:
                alert.status = AlertStatus.RESOLVED
                alert.resolved_at = at
                alert.auto_cleared = True

    def status_at(self, moment: datetime) -> str:
        """The request's status at ``moment`` (for a duplicate merged into it)."""
        status: str = RequestStatus.NEW
        for at, value in self.history:
            if at > moment:
                break
            status = value
        return status


class _Month:
    """The month's filings and lives, and what they need to know."""

    def __init__(self, *, rng: random.Random, now: datetime, staff: _Staff) -> None:
        self.rng = rng
        self.now = now
        self.staff = staff
        self.calendar: Calendar = working_calendar()
        self.warning_share = float(settings.IOC_DEADLINE_WARNING_SHARE)
        self.categories = {
            c.code: c
            for c in ServiceCategory.objects.select_related("department").filter(
                code__in=list(TEXTS), is_active=True, legal_process=False
            )
        }
        self.units = {unit.code: unit for unit in Ward.objects.current()}
        self.former = {unit.code: unit for unit in Ward.objects.filter(valid_to=REFORM_DATE)}
        self.index = geo.build_ward_index()  # this transaction's units, not the cache
        self.boundaries = new_unit_boundaries()
        self.disputed = False  # one citizen disputes an answer, in the last week

    def unit_at(self, lon: Any, lat: Any) -> Ward:
        code = self.index.ward_at(float(lon), float(lat))
        if code is None:
            raise ValueError(f"demo request outside the mapped units: {lon}, {lat}")
        return self.units[code]

    def working(self, start: datetime, hours: float) -> datetime:
        """``hours`` working hours after ``start``: when staff get to it."""
        return self.calendar.add_working_hours(start, hours)

    def later(self, after: datetime, start: datetime, hours: float) -> datetime:
        """``hours`` working hours after ``start``, and at least a few minutes after the
        step before (``after``): a step planned early waits for the one before it."""
        return max(after + timedelta(minutes=self.rng.randint(5, 40)), self.working(start, hours))

    # -- filings -----------------------------------------------------------------------

    def _place(self, area: BaseGeometry) -> tuple[float, float]:
        min_lon, min_lat, max_lon, max_lat = area.bounds
        while True:
            lon = round(self.rng.uniform(min_lon, max_lon), 6)
            lat = round(self.rng.uniform(min_lat, max_lat), 6)
            if area.contains(Point(lon, lat)):
                return lon, lat

    def _category(self) -> ServiceCategory:
        codes = sorted(self.categories)
        weights = [TEXTS[code].weight for code in codes]
        return self.categories[self.rng.choices(codes, weights)[0]]

    def filings(self) -> list[_Filing]:
        """The month's filings, oldest first, and a few duplicates of them."""
        rng = self.rng
        codes = sorted(UNIT_WEIGHTS)
        weights = [UNIT_WEIGHTS[code] for code in codes]
        today = self.now.astimezone(CITY_TIME_ZONE).date()
        filings: list[_Filing] = []
        for days_ago in range(MONTH_DAYS - 1, -1, -1):
            day = today - timedelta(days=days_ago)
            count = rng.randint(*FILINGS_PER_DAY)
            if day.weekday() >= 5:
                count = count * 2 // 3
            for _ in range(count):
                minutes = int(rng.triangular(6 * 60, 23 * 60, 10 * 60))
                at = datetime.combine(day, time(0, 0), tzinfo=CITY_TIME_ZONE) + timedelta(
                    minutes=minutes, seconds=rng.randint(0, 59)
                )
                code = rng.choices(codes, weights)[0]
                lon, lat = self._place(self.boundaries[code])
                source = RequestSource.STAFF if rng.random() < 0.1 else RequestSource.PORTAL
                filing = _Filing(
                    at=at,
                    category=self._category(),
                    unit=self.unit_at(lon, lat),
                    lon=lon,
                    lat=lat,
                    street=rng.choice(data.STREETS),
                    source=source,
                )
                if at <= self.now:
                    filings.append(filing)
                if rng.random() < 0.03:  # someone else reports the same thing
                    later = at + timedelta(hours=rng.uniform(1, 6))
                    if later <= self.now:
                        filings.append(self._duplicate(filing, later))
        return sorted(filings, key=lambda f: f.at)

    def _duplicate(self, of: _Filing, at: datetime) -> _Filing:
        lon = round(of.lon + self.rng.uniform(-0.0002, 0.0002), 6)
        lat = round(of.lat + self.rng.uniform(-0.0002, 0.0002), 6)
        return _Filing(
            at=at,
            category=of.category,
            unit=self.unit_at(lon, lat),
            lon=lon,
            lat=lat,
            street=of.street,
            source=RequestSource.PORTAL,
            duplicate_of=of,
        )

    def june_filings(self) -> list[_Filing]:
        """The June 2025 filings under former units of the former city."""
        cells = former_cells()
        filings = []
        for code, day in JUNE_2025:
            at = datetime(2025, 6, day, 8, 0, tzinfo=CITY_TIME_ZONE) + timedelta(
                minutes=self.rng.randint(0, 600)
            )
            lon, lat = self._place(cells[code])
            filings.append(
                _Filing(
                    at=at,
                    category=self._category(),
                    unit=self.former[code],
                    lon=lon,
                    lat=lat,
                    street=self.rng.choice(data.STREETS),
                    source=RequestSource.PORTAL,
                    june=True,
                )
            )
        return sorted(filings, key=lambda f: f.at)

    # -- requests ----------------------------------------------------------------------

    def request(self, filing: _Filing) -> ServiceRequest:
        """The request as ``request_create`` would have saved it."""
        rng = self.rng
        texts = TEXTS[filing.category.code]
        description = rng.choice(texts.descriptions).format(
            street=filing.street, n=rng.randint(2, 180)
        )
        name = f"{rng.choice(FAMILY_NAMES)} {rng.choice(GIVEN_NAMES)}" if rng.random() < 0.8 else ""
        phone = f"09{rng.randint(10_000_000, 99_999_999)}" if name and rng.random() < 0.8 else ""
        email = f"nguoidan{rng.randint(100, 999)}@example.com" if rng.random() < 0.3 else ""
        answers: dict[str, Any] = {}
        if filing.category.code == "o-ga" and rng.random() < 0.6:
            answers["size"] = rng.choice(["small", "medium", "large"])
        if filing.category.code == "ngap-ung" and rng.random() < 0.5:
            answers["depth_cm"] = float(rng.choice([10, 20, 30, 50]))
        return ServiceRequest(
            code=filing.code,
            category=filing.category,
            description=description,
            answers=answers,
            latitude=geo.coordinate(filing.lat),
            longitude=geo.coordinate(filing.lon),
            address=f"Đường {filing.street}, {filing.unit.title}",
            ward=filing.unit,
            department=filing.category.department,
            source=filing.source,
            reporter_name=name,
            reporter_phone=phone,
            reporter_email=email,
            reporter_key_hash=secret_hash(secret_new()),
            created_at=filing.at,
            updated_at=filing.at,
            deadline_at=self.calendar.add_working_hours(filing.at, filing.category.deadline_hours),
        )

    def live(self, filing: _Filing, lives: dict[int, _Life]) -> _Life:
        """The request's life up to now."""
        life = _Life(request=self.request(filing), month=self, rng=self.rng)
        life.history.append((filing.at, RequestStatus.NEW))
        if filing.june:
            life.moves_at = REFORM_MOMENT
        try:
            self._received(life, filing)
            if filing.duplicate_of is not None:
                self._merged(life, lives[id(filing.duplicate_of)])
            else:
                self._handled(life)
        except _Stop:
            pass
        life.happen_until(self.now)
        return life

    def _received(self, life: _Life, filing: _Filing) -> None:
        request, rng = life.request, self.rng
        by_staff = filing.source == RequestSource.STAFF
        operator = self.staff.operator
        life.entry(filing.at, EntryKind.RECEIVED, actor=operator if by_staff else None)
        if by_staff:
            life.audit(filing.at, operator, "created", None, {"code": request.code})
        if not by_staff and rng.random() < 0.35:
            for _ in range(2 if rng.random() < 0.2 else 1):
                life.photos.append(
                    (filing.at, PhotoKind.REPORT, scene_jpeg(filing.category.code, rng))
                )

    def _merged(self, life: _Life, into: _Life) -> None:
        """As ``request_merge``: the duplicate closed into the request it repeats."""
        at = life.step(self.working(life.request.created_at, self.rng.uniform(0.2, 2)))
        if into.status_at(at) not in OPEN_STATUSES or into.request.created_at > at:
            self._handled(life)  # too late to merge: handled on its own
            return
        duplicate, operator = life.request, self.staff.operator
        duplicate.merged_into = into.request
        duplicate.status = RequestStatus.CLOSED
        duplicate.closed_at = at
        life.history.append((at, RequestStatus.CLOSED))
        life.entry(
            at,
            EntryKind.MERGED,
            actor=operator,
            text=into.request.code,
            data={"into": into.request.code},
        )
        into.entry(
            at,
            EntryKind.MERGED,
            actor=operator,
            text=duplicate.code,
            public=False,
            data={"duplicate": duplicate.code},
        )
        life.audit(at, operator, "merged", None, {"into": into.request.code})

    def _handled(self, life: _Life) -> None:
        """Triage, routing, work, answers and the resolution, then the citizen's say."""
        # One story in the order it happens, past 60 lines on purpose: split, each part
        # would pass the same life, clock and random draws around.
        request, rng, operator = life.request, self.rng, self.staff.operator
        texts = TEXTS[request.category.code]
        hours = request.category.deadline_hours
        late = rng.random() < 0.15
        span = hours + rng.uniform(2, 24) if late else hours * rng.uniform(0.25, 0.9)
        if life.moves_at is not None and request.created_at.day >= 20:
            # Filed in the reform's last days: still being worked on when it came.
            before = self.calendar.working_hours_between(request.created_at, life.moves_at)
            span = max(span, before + rng.uniform(2, 16))
        at = life.step(self.working(request.created_at, min(rng.uniform(0.2, 2), span * 0.2)))
        life.move(at, operator, RequestStatus.TRIAGED, EntryKind.TRIAGED)
        if rng.random() < 0.05 and life.moves_at is None:
            at = life.step(at + timedelta(minutes=rng.randint(5, 90)))
            request.rejection_reason = rng.choice(REJECTIONS)
            life.move(
                at,
                operator,
                RequestStatus.REJECTED,
                EntryKind.REJECTED,
                text=request.rejection_reason,
            )
            return
        # Most are routed at once; some wait for a department to take them.
        wait = rng.uniform(0.1, 1) if rng.random() < 0.8 else rng.uniform(4, 12)
        at = life.step(self.working(at, wait))
        handler = self.staff.handler(request)
        assignee = handler if handler != operator else None
        unit = request.department.name if request.department else request.ward.title
        department = request.department.code if request.department else None
        data_ = {"department": department, "from": {"department": department, "assignee": None}}
        request.assignee = assignee
        life.move(at, operator, RequestStatus.ASSIGNED, EntryKind.ASSIGNED, text=unit, data=data_)
        at = life.step(self.later(at, request.created_at, span * rng.uniform(0.3, 0.5)))
        handler = self.staff.handler(request)  # the reform may have moved it meanwhile
        life.move(at, handler, RequestStatus.IN_PROGRESS, EntryKind.STARTED)
        if rng.random() < 0.3:
            at = life.step(at + timedelta(minutes=rng.randint(10, 120)))
            note = life.entry(
                at, EntryKind.NOTE, actor=handler, text=rng.choice(NOTES), public=False
            )
            life.audit(at, handler, "noted", None, {"entry": None}, note.text, line=note)
        if rng.random() < 0.4:
            at = life.step(self.later(at, request.created_at, span * rng.uniform(0.55, 0.7)))
            answer = life.entry(at, EntryKind.ANSWER, actor=handler, text=rng.choice(texts.interim))
            life.audit(at, handler, "answered", None, {"entry": None}, answer.text, line=answer)
        at = life.step(self.later(at, request.created_at, span))
        handler = self.staff.handler(request)
        if rng.random() < 0.2:
            life.photos.append(
                (at, PhotoKind.AFTER, scene_jpeg(request.category.code, rng, fixed=True))
            )
        life.move(
            at,
            handler,
            RequestStatus.RESOLVED,
            EntryKind.RESOLVED,
            text=rng.choice(texts.resolutions),
        )
        self._citizen_say(life, at)

    def _citizen_say(self, life: _Life, resolved_at: datetime) -> None:
        """The reporter rates (or, once in the month, disputes), then the operators close."""
        request, rng, operator = life.request, self.rng, self.staff.operator
        at = resolved_at
        recent = self.now - resolved_at < timedelta(days=7)
        if recent and not self.disputed and not life.moves_at and rng.random() < 0.3:
            self.disputed = True
            at = life.step(at + timedelta(hours=rng.uniform(3, 30)))
            # As ``request_dispute``: reopened at the supervising level, a new deadline.
            request.status = RequestStatus.REOPENED
            request.level = RequestLevel.SUPERVISING
            request.resolved_at = None
            request.deadline_warned_at = None
            request.deadline_at = self.working(at, request.category.deadline_hours)
            life.counted_from = at
            life.history.append((at, RequestStatus.REOPENED))
            life.entry(at, EntryKind.DISPUTED, text=DISPUTE_REASON)
            return  # with the operators now, at the supervising level
        if rng.random() < 0.65:
            at = life.step(at + timedelta(hours=rng.uniform(1, 72)))
            rating = rng.choices([5, 4, 3, 2, 1], [45, 30, 12, 8, 5])[0]
            request.rating = rating
            request.rating_comment = rng.choice(RATING_COMMENTS[rating])
            request.rated_at = at
            life.entry(at, EntryKind.RATED, text=request.rating_comment, data={"rating": rating})
            at = life.step(self.working(at, rng.uniform(0.5, 8)))
        else:
            at = life.step(self.working(at, 40))  # no say within five working days
        life.move(at, operator, RequestStatus.CLOSED, EntryKind.CLOSED)


def _tracking_codes(filings: list[_Filing]) -> None:
    """Codes in filing order, year by year, after what the counters already gave."""
    counters: dict[int, TrackingCounter] = {}
    for filing in sorted(filings, key=lambda f: f.at):
        year = filing.at.astimezone(CITY_TIME_ZONE).year
        if year not in counters:
            counters[year], _created = TrackingCounter.objects.get_or_create(year=year)
        counters[year].last += 1
        filing.code = f"PA-{year}-{counters[year].last:06d}"
    for counter in counters.values():
        counter.save(update_fields=["last"])


def _save(lives: list[_Life]) -> RequestsSummary:
    """Requests, photos, timelines, audit entries and deadline alerts, in bulk."""
    requests = [life.request for life in lives]
    merged = [(r, r.merged_into) for r in requests if r.merged_into is not None]
    for request, _into in merged:
        request.merged_into = None
    ServiceRequest.objects.bulk_create(requests, batch_size=500)
    for request, into in merged:
        request.merged_into = into
    ServiceRequest.objects.bulk_update([r for r, _into in merged], ["merged_into"])
    photos = []
    for life in lives:
        for at, kind, jpeg in life.photos:
            stored = photo_save(life.request, photo_prepare(io.BytesIO(jpeg)), kind)
            stored.created_at = at
            photos.append(stored)
    RequestPhoto.objects.bulk_update(photos, ["created_at"], batch_size=500)
    entries = sorted(
        (line for life in lives for line in life.entries),
        key=lambda line: (line.at, line.request.created_at),
    )
    RequestEntry.objects.bulk_create(entries, batch_size=1000)
    audits = []
    for life in lives:
        for entry, line in life.audits:
            entry.object_id = str(life.request.pk)
            if line is not None:
                entry.after = {"entry": line.pk}
            audits.append(entry)
    AuditEntry.objects.bulk_create(audits, batch_size=1000)
    alerts = [alert for life in lives for alert in life.alerts]
    Alert.objects.bulk_create(alerts, batch_size=500)
    return RequestsSummary(
        requests=len(requests),
        photos=len(photos),
        entries=len(entries),
        audits=len(audits),
        alerts=len(alerts),
        moved=sum(1 for life in lives if life.moved_to is not None),
    )


def requests_month(*, rng: random.Random, now: datetime, staff: dict[str, User]) -> RequestsSummary:
    """The last 30 days of citizen requests up to ``now`` and the June 2025 ones."""
    month = _Month(
        rng=rng,
        now=now,
        staff=_Staff(
            operator=staff["operator"],
            officials={
                data.OFFICIAL1_WARD: staff["official1"],
                data.OFFICIAL2_WARD: staff["official2"],
            },
            department_staff={data.DEPARTMENT1: staff["department1"]},
        ),
    )
    lives: dict[int, _Life] = {}
    # June 2025 first, drawn and lived before the month: its draws do not depend on how
    # many filings the month has, so those requests are the same whenever the demo loads.
    for filings in (month.june_filings, month.filings):
        drawn = filings()
        _tracking_codes(drawn)
        for filing in drawn:  # oldest first: a duplicate's original has lived already
            lives[id(filing)] = month.live(filing, lives)
    return _save(list(lives.values()))
