"""The incidents of the demo's month: opened by hand or from an alert, worked by the
operator or the unit's official, each with the timeline, checklist and audit entries that
``ioc.services.incidents`` would have written step by step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from cameras.choices import DeviceKind
from cameras.models import Device
from ioc import geo
from ioc.choices import IncidentEntryKind, IncidentStatus
from ioc.demo import data
from ioc.demo.month_alerts import AlertPlan, Step, in_platform_language
from ioc.models import (
    AuditEntry,
    Incident,
    IncidentChecklistItem,
    IncidentEntry,
    IncidentType,
    User,
    Ward,
)
from ioc.services.audit import audit_entry

if TYPE_CHECKING:
    from ioc.demo.month_feeds import Month

OWN1, OWN2 = data.OFFICIAL1_WARD, data.OFFICIAL2_WARD
# The month's incidents: (type, the unit's code or "" for any, what opened it, where it
# stands today). What opened it: an alert's cause raised for it ("detection:…", a device's
# "fault:"/"offline:" of a kind), a breach the readings made ("threshold:…"), an alert
# open today ("now:offline", "now:fault"), or people ("manual", "rain": on the rain day).
SCENARIOS: list[tuple[str, str, str, str]] = [
    ("traffic_accident", OWN1, "detection:accident", IncidentStatus.CLOSED),
    ("traffic_accident", "", "detection:accident", IncidentStatus.CLOSED),
    ("traffic_accident", "", "manual", IncidentStatus.CLOSED),
    ("fire", OWN2, "detection:fire", IncidentStatus.CLOSED),
    ("fire", "", "manual", IncidentStatus.CLOSED),
    ("flooding", "", "threshold:water_level", IncidentStatus.CLOSED),
    ("flooding", OWN1, "rain", IncidentStatus.CLOSED),
    ("other", OWN2, "rain", IncidentStatus.CLOSED),
    ("congestion", OWN1, "detection:congestion", IncidentStatus.CLOSED),
    ("congestion", "", "manual", IncidentStatus.CLOSED),
    ("air_pollution", "", "threshold:pm25", IncidentStatus.CLOSED),
    ("device_failure", OWN2, "fault:signal", IncidentStatus.CLOSED),
    ("device_failure", OWN1, "offline:camera", IncidentStatus.CLOSED),
    ("other", OWN1, "manual", IncidentStatus.CLOSED),
    ("other", "", "manual", IncidentStatus.CLOSED),
    ("traffic_accident", "", "detection:accident", IncidentStatus.RESOLVED),
    ("congestion", OWN2, "detection:congestion", IncidentStatus.RESOLVED),
    ("device_failure", OWN2, "now:offline", IncidentStatus.IN_PROGRESS),
    ("device_failure", OWN1, "now:fault", IncidentStatus.OPEN),
    ("traffic_accident", OWN1, "detection:accident", IncidentStatus.IN_PROGRESS),
    ("other", "", "manual", IncidentStatus.OPEN),
]
# What people write while they work an incident of each type, and when they resolve it.
NOTES: dict[str, tuple[list[str], list[str]]] = {
    "traffic_accident": (
        [
            "Camera xác nhận va chạm giữa xe máy và ô tô con, một người bị thương nhẹ.",
            "Cảnh sát giao thông đã có mặt, đang phân luồng.",
            "Xe cấp cứu 115 đã đưa người bị thương đến Bệnh viện Trung ương Thái Nguyên.",
        ],
        [
            "Hiện trường đã được giải tỏa, giao thông trở lại bình thường.",
            "Các phương tiện đã được di chuyển khỏi lòng đường, không còn ùn ứ.",
        ],
    ),
    "fire": (
        [
            "Lực lượng PCCC và CNCH đã có mặt sau 8 phút.",
            "Đã sơ tán các hộ liền kề, không có thương vong.",
        ],
        ["Đám cháy đã được dập tắt hoàn toàn, công an đang xác định nguyên nhân."],
    ),
    "flooding": (
        [
            "Nước ngập khoảng 30–40 cm, nhiều xe máy chết máy.",
            "Đội thoát nước đã đặt 2 máy bơm tại điểm trũng.",
            "Đã đặt biển cảnh báo ngập ở hai đầu đoạn đường.",
        ],
        ["Nước đã rút, mặt đường thông thoáng.", "Mực nước đã xuống dưới mức báo động."],
    ),
    "congestion": (
        [
            "Dòng xe ùn kéo dài khoảng 600 m hướng vào trung tâm.",
            "Đã chuyển đèn tín hiệu sang chu kỳ giờ cao điểm.",
            "Cảnh sát giao thông đã phân luồng tại nút giao.",
        ],
        ["Giao thông đã trở lại bình thường."],
    ),
    "air_pollution": (
        [
            "Các trạm lân cận cũng ghi nhận bụi mịn PM2.5 tăng cao.",
            "Nghi do đốt rơm rạ và rác thải ở khu vực giáp ranh.",
            "Đã đăng khuyến cáo hạn chế ra ngoài trên cổng thông tin.",
        ],
        ["Chỉ số bụi mịn đã trở về dưới ngưỡng."],
    ),
    "device_failure": (
        [
            "Không kết nối được thiết bị từ trung tâm.",
            "Đã cử kỹ thuật viên đến hiện trường.",
            "Nguyên nhân: hỏng bộ nguồn, đã đặt linh kiện thay thế.",
        ],
        ["Đã thay thế linh kiện, thiết bị hoạt động trở lại."],
    ),
}
# Incidents people report (title with {place}, description, notes, resolution), by type.
REPORTED: dict[str, list[tuple[str, str, list[str], str]]] = {
    "traffic_accident": [
        (
            "Va chạm giữa xe tải và xe máy tại {place}",
            "Người dân gọi đường dây nóng báo va chạm, một người bị thương.",
            NOTES["traffic_accident"][0],
            NOTES["traffic_accident"][1][0],
        )
    ],
    "fire": [
        (
            "Cháy kho phế liệu gần {place}",
            "Khói đen bốc cao, người dân báo qua đường dây nóng.",
            NOTES["fire"][0],
            NOTES["fire"][1][0],
        )
    ],
    "congestion": [
        (
            "Ùn tắc kéo dài giờ tan tầm tại {place}",
            "Dòng xe đứng yên hơn 15 phút theo camera và phản ánh của người dân.",
            NOTES["congestion"][0],
            NOTES["congestion"][1][0],
        )
    ],
    "flooding": [
        (
            "Ngập sâu sau mưa lớn tại {place}",
            "Mưa lớn từ đầu giờ chiều, nước ngập 30–40 cm trên một đoạn đường.",
            NOTES["flooding"][0],
            NOTES["flooding"][1][0],
        )
    ],
    "rain": [
        (
            "Cây đổ chắn đường tại {place}",
            "Cây xà cừ lớn bật gốc sau mưa giông, chắn một nửa mặt đường.",
            [
                "Đã đặt biển cảnh báo, phân luồng một làn.",
                "Công ty Công viên cây xanh đã đến cắt cành, cẩu thân cây.",
            ],
            "Đã dọn sạch cây đổ, mặt đường thông thoáng.",
        )
    ],
    "other": [
        (
            "Sụt lún mặt đường tại {place}",
            "Hố sụt khoảng 1 m² giữa làn xe máy, có nguy cơ gây tai nạn.",
            ["Đã rào chắn, đặt đèn cảnh báo ban đêm.", "Đã báo Ban Quản lý dự án để sửa chữa."],
            "Đơn vị thi công đã vá xong mặt đường.",
        ),
        (
            "Đổ trộm phế thải xây dựng tại {place}",
            "Khoảng ba xe phế thải đổ trộm ban đêm, lấn chiếm lòng đường.",
            ["Đã trích xuất camera, xác định được biển số xe.", "Đã báo Công an phường xử lý."],
            "Phế thải đã được thu dọn, chủ phương tiện đã bị xử phạt.",
        ),
        (
            "Biển báo giao thông bị đổ tại {place}",
            "Biển cấm rẽ trái bị xe tải va quệt, đổ ra lòng đường.",
            ["Đã đưa biển vào lề, đặt cọc tiêu tạm."],
            "Đã dựng lại biển báo mới.",
        ),
    ],
}
CLOSING_NOTE = "Các bước còn lại không cần thiết với sự việc này."


@dataclass
class Move:
    """A staff step on an incident after it was opened."""

    at: datetime
    actor: User
    kind: IncidentEntryKind
    value: str = ""  # the new status
    text: str = ""  # the note
    position: int = 0  # the checklist step's position
    assignee: User | None = None


@dataclass
class Story:
    """One incident of the month: where, who opened it from what, and every step since."""

    kind: IncidentType
    title: str
    description: str
    severity: str
    ward: Ward
    latitude: Decimal
    longitude: Decimal
    address: str
    created_at: datetime
    creator: User
    alert: AlertPlan | None = None
    resolution: str = ""
    moves: list[Move] = field(default_factory=list)
    incident: Incident | None = None
    items: dict[int, IncidentChecklistItem] = field(default_factory=dict)


class Planner:
    """Turns the scenarios into stories on the month's devices and alerts."""

    def __init__(self, month: Month) -> None:
        self.month, self.rng, self.now = month, month.rng, month.now
        self.types = {kind.code: kind for kind in IncidentType.objects.prefetch_related("steps")}
        self.index = geo.build_ward_index()  # this transaction's units, not the process cache
        self.taken: set[int] = set()  # alerts already given to an incident

    def when(self, final: str) -> datetime:
        """When an incident that stands at ``final`` today was opened."""
        if final == IncidentStatus.CLOSED:
            return self.now - timedelta(days=self.rng.uniform(3, 28))
        if final == IncidentStatus.RESOLVED:
            return self.now - timedelta(hours=self.rng.uniform(26, 60))
        return self.now - timedelta(hours=self.rng.uniform(2, 7))

    def devices(self, kind: str, ward: str) -> list[Device]:
        """The month's devices of a kind in the unit (all units when none is given)."""
        return self.month.of_kind(kind, ward) or self.month.of_kind(kind)

    def source(self, cause: str, ward: str, final: str) -> AlertPlan | None:
        """The alert an incident is opened from, raised for it or found among the month's."""
        rng, month = self.rng, self.month
        kind, _sep, what = cause.partition(":")
        if kind == "now":
            plans = [p for p in month.alerts if p.ends is None and p.alert.kind == what]
            plans = [p for p in plans if p.alert.ward.code == ward] or plans
            # A signal's or a sensor's outage before a camera's: fewer of them, felt more.
            order = [DeviceKind.SIGNAL, DeviceKind.SENSOR, DeviceKind.CAMERA]
            plans.sort(
                key=lambda p: order.index(DeviceKind(p.alert.device.kind)) if p.alert.device else 3
            )
            plans = [p for p in plans if id(p) not in self.taken]
            return plans[0] if plans else None
        if kind == "threshold":
            plans = [
                p
                for p in month.alerts
                if p.alert.cause == cause
                and p.ends is not None
                and p.ends - p.alert.raised_at >= timedelta(minutes=20)
                and id(p) not in self.taken
            ]
            return max(plans, key=lambda p: p.alert.occurrences) if plans else None
        for _attempt in range(40):
            at = self.when(final)
            if kind == "detection":
                camera = rng.choice(self.devices(DeviceKind.CAMERA, ward))
                plan = month.detection(camera, at=at, what=what, seconds=rng.uniform(120, 600))
            else:
                device = rng.choice(self.devices(what, ward))
                plan = month.episode(device, kind=kind, start=at, seconds=rng.uniform(2, 6) * 3600)
            if plan is not None:
                return plan
        return None

    def place(self, ward: str, *, traffic: bool) -> tuple[Decimal, Decimal, str, str, Ward]:
        """A place in the unit for an incident people reported: at an intersection with
        signals (traffic) or by a camera, a few dozen metres off; its address and name."""
        devices = self.devices(DeviceKind.SIGNAL, ward) if traffic else []
        device = self.rng.choice(devices or self.devices(DeviceKind.CAMERA, ward))
        lon = float(device.longitude) + self.rng.uniform(-0.0004, 0.0004)
        lat = float(device.latitude) + self.rng.uniform(-0.0004, 0.0004)
        if self.index.ward_at(lon, lat) != device.ward.code:
            lon, lat = float(device.longitude), float(device.latitude)
        if device.kind == DeviceKind.SIGNAL:
            name = device.name
        else:
            street = device.address.split(",")[0]
            name = street[:1].lower() + street[1:]
        return geo.coordinate(lat), geo.coordinate(lon), device.address, name, device.ward

    def creator(self, ward: Ward) -> User:
        """Who opens an incident: the unit's official for some of theirs, else the operator."""
        for username, wards in self.month.officials.items():
            if ward.pk in wards and self.rng.random() < 0.4:
                return self.month.staff[username]
        return self.month.staff["operator"]

    def assignee(self, ward: Ward) -> User:
        """Who works it: the unit's official, else the operator."""
        for username, wards in self.month.officials.items():
            if ward.pk in wards and self.rng.random() < 0.8:
                return self.month.staff[username]
        return self.month.staff["operator"]

    def story(self, type_code: str, ward: str, cause: str, final: str) -> Story | None:
        """One scenario's incident, or None if the month gave it nothing to start from."""
        kind = self.types.get(type_code)
        if kind is None:
            return None
        if cause in ("manual", "rain"):
            texts = self.rng.choice(
                REPORTED["rain" if type_code == "other" and cause == "rain" else type_code]
            )
            lat, lon, address, name, unit = self.place(
                ward, traffic=type_code in ("traffic_accident", "congestion")
            )
            at = (
                self.month.rain + timedelta(minutes=self.rng.randint(30, 120))
                if cause == "rain"
                else self.when(final)
            )
            story = Story(
                kind=kind,
                title=texts[0].format(place=name),
                description=texts[1],
                severity=kind.default_severity,
                ward=unit,
                latitude=lat,
                longitude=lon,
                address=address,
                created_at=at,
                creator=self.creator(unit),
                resolution=texts[3],
            )
            self.work(story, final, texts[2])
            self.fit(story)
            return story
        plan = self.source(cause, ward, final)
        if plan is None:
            return None
        self.taken.add(id(plan))
        alert, device = plan.alert, plan.alert.device
        assert device is not None  # the month's alerts are all about a device
        opened = alert.raised_at + timedelta(seconds=self.rng.randint(60, 600))
        if plan.ends is None:
            opened = min(opened, self.now - timedelta(minutes=self.rng.randint(30, 90)))
            opened = max(opened, alert.raised_at)
        creator = self.creator(alert.ward)
        story = Story(
            kind=kind,
            title=alert.title,
            description=in_platform_language(
                lambda: _("Opened from the alert “%(title)s”.") % {"title": alert.title}
            ),
            severity=alert.severity,
            ward=device.ward,
            latitude=device.latitude,
            longitude=device.longitude,
            address="",
            created_at=opened,
            creator=creator,
            alert=plan,
            resolution=self.rng.choice(NOTES[type_code][1]),
        )
        self.work(story, final, NOTES[type_code][0], after=plan.ends)
        self.fit(story)
        return story

    def work(
        self, story: Story, final: str, notes: list[str], *, after: datetime | None = None
    ) -> None:
        """The steps from opening to where the incident stands today: assigned, taken in
        hand, notes and checklist steps, resolved (after the condition cleared), closed."""
        rng, t = self.rng, story.created_at
        steps = list(story.kind.steps.all())
        assignee = self.assignee(story.ward)
        moves = story.moves

        def later(low: int, high: int) -> datetime:
            nonlocal t
            t = t + timedelta(minutes=rng.randint(low, high))
            return t

        if final != IncidentStatus.OPEN or rng.random() < 0.5:
            moves.append(
                Move(later(1, 5), story.creator, IncidentEntryKind.ASSIGNED, assignee=assignee)
            )
        if final == IncidentStatus.OPEN:
            return
        moves.append(
            Move(
                later(2, 10),
                assignee,
                IncidentEntryKind.STATUS,
                IncidentStatus.IN_PROGRESS,
                rng.choice(["", "Đã tiếp nhận, đang xử lý."]),
            )
        )
        done = (
            len(steps)
            if final != IncidentStatus.IN_PROGRESS
            else rng.randint(1, max(1, len(steps) - 2))
        )
        skipped = (
            rng.randrange(len(steps))
            if final == IncidentStatus.CLOSED and rng.random() < 0.2
            else -1
        )
        texts = list(notes)
        for index, step in enumerate(steps[:done]):
            if index != skipped:
                moves.append(
                    Move(
                        later(3, 25), assignee, IncidentEntryKind.CHECKLIST, position=step.position
                    )
                )
            if texts and rng.random() < 0.6:
                moves.append(
                    Move(later(2, 20), assignee, IncidentEntryKind.NOTE, text=texts.pop(0))
                )
        if final == IncidentStatus.IN_PROGRESS:
            return
        resolved_at = later(10, 60)
        if after is not None and resolved_at < after + timedelta(minutes=5):
            resolved_at = t = after + timedelta(minutes=rng.randint(5, 30))
        moves.append(
            Move(
                resolved_at,
                assignee,
                IncidentEntryKind.STATUS,
                IncidentStatus.RESOLVED,
                story.resolution,
            )
        )
        if final == IncidentStatus.CLOSED:
            note = CLOSING_NOTE if skipped >= 0 else ""
            moves.append(
                Move(
                    later(120, 1200),
                    self.month.staff["operator"],
                    IncidentEntryKind.STATUS,
                    IncidentStatus.CLOSED,
                    note,
                )
            )

    def fit(self, story: Story) -> None:
        """An incident still being worked: its steps so far fit between its opening and
        now, in their order."""
        limit = self.now - timedelta(minutes=1)
        story.created_at = min(story.created_at, limit)
        last = max((move.at for move in story.moves), default=story.created_at)
        if last > limit:
            scale = (limit - story.created_at) / (last - story.created_at)
            for move in story.moves:
                move.at = story.created_at + (move.at - story.created_at) * scale


def incidents_plan(month: Month) -> list[Story]:
    """The month's incidents, opened in time order (their references follow it)."""
    planner = Planner(month)
    stories = [planner.story(*scenario) for scenario in SCENARIOS]
    found = [
        story
        for story in stories
        if story is not None and all(m.at <= month.now for m in story.moves)
    ]
    return sorted(found, key=lambda story: story.created_at)


def _reference_text(story: Story, message: str, note: str = "") -> str:
    """A service's message naming the incident's reference (and a note), as the service
    writes it in the platform's language."""
    assert story.incident is not None
    values = {"ref": story.incident.reference, "note": note}
    return in_platform_language(lambda: _(message) % values)


def incidents_save(stories: list[Story]) -> list[Incident]:
    """Save the incidents with their checklists as they stand today, and tie their alerts
    to them as ``incident_create_from_alert`` and ``incident_status_set`` do: linked,
    acknowledged when opened if still active, resolved with the incident if still open."""
    incidents = []
    for story in stories:
        incident = Incident(
            incident_type=story.kind,
            title=story.title[:200],
            description=story.description,
            severity=story.severity,
            ward=story.ward,
            latitude=story.latitude,
            longitude=story.longitude,
            address=story.address[:200],
            created_by=story.creator,
            created_at=story.created_at,
            updated_at=story.created_at,
        )
        for move in story.moves:
            incident.updated_at = move.at
            if move.kind == IncidentEntryKind.ASSIGNED:
                incident.assignee = move.assignee
            elif move.kind == IncidentEntryKind.STATUS:
                incident.status = move.value
                if move.value == IncidentStatus.RESOLVED:
                    incident.resolved_at = move.at
                elif move.value == IncidentStatus.CLOSED:
                    incident.closed_at = move.at
        story.incident = incident
        incidents.append(incident)
    Incident.objects.bulk_create(incidents)
    items = []
    for story in stories:
        done = {
            move.position: move for move in story.moves if move.kind == IncidentEntryKind.CHECKLIST
        }
        for step in story.kind.steps.all():
            tick = done.get(step.position)
            items.append(
                item := IncidentChecklistItem(
                    incident=story.incident,
                    position=step.position,
                    text=step.text,
                    done_at=tick.at if tick else None,
                    done_by=tick.actor if tick else None,
                )
            )
            story.items[step.position] = item
    IncidentChecklistItem.objects.bulk_create(items)
    for story in stories:
        _alert_tie(story)
    return incidents


def _alert_tie(story: Story) -> None:
    """The incident's alert: linked, acknowledged on opening, resolved with it."""
    plan = story.alert
    if plan is None or story.incident is None:
        return
    plan.alert.incident = story.incident
    if plan.acknowledged is not None and plan.acknowledged.at > story.created_at:
        plan.acknowledged = None  # opening the incident acknowledged it first
    if plan.active_at(story.created_at):
        note = _reference_text(story, "Incident %(ref)s")
        plan.acknowledged = Step(story.created_at, story.creator, note)
    for move in story.moves:
        resolving = move.kind == IncidentEntryKind.STATUS and move.value == IncidentStatus.RESOLVED
        if resolving and plan.open_at(move.at):
            note = _reference_text(story, "Resolved with incident %(ref)s: %(note)s", move.text)
            plan.resolved = Step(move.at, move.actor, note)


def _audit(
    story: Story,
    move_at: datetime,
    actor: User,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """The audit entry of an incident service's step, dated when it was taken."""
    assert story.incident is not None
    entry = audit_entry(
        actor=actor,
        action=f"incident.{action}",
        obj=story.incident,
        before=before,
        after=after,
        ward_code=story.ward.code,
        reason=reason,
    )
    entry.at = move_at
    return entry


def incident_timelines(stories: list[Story]) -> tuple[int, list[AuditEntry]]:
    """Every incident's timeline (its alert saved) and the audit entries of its steps, as
    the incident services write them; returns how many lines and the audit entries."""
    entries: list[IncidentEntry] = []
    audits: list[AuditEntry] = []
    notes: list[tuple[Story, Move, IncidentEntry]] = []  # audited once the line has its id
    for story in stories:
        incident = story.incident
        assert incident is not None

        def line(
            at: datetime,
            actor: User,
            kind: IncidentEntryKind,
            text: str,
            data: dict[str, Any],
            incident: Incident = incident,
        ) -> IncidentEntry:
            entry = IncidentEntry(
                incident=incident, at=at, actor=actor, kind=kind, text=text, data=data
            )
            entries.append(entry)
            return entry

        line(story.created_at, story.creator, IncidentEntryKind.CREATED, story.description, {})
        if story.alert is not None:
            alert = story.alert.alert
            device = alert.device.code if alert.device else None
            line(
                story.created_at,
                story.creator,
                IncidentEntryKind.LINKED,
                alert.title,
                {"alert": alert.pk, "device": device},
            )
        after = {"title": incident.title, "ward": story.ward.code}
        audits.append(_audit(story, story.created_at, story.creator, "created", after=after))
        status: str = IncidentStatus.OPEN
        assignee: str | None = None
        for move in story.moves:
            if move.kind == IncidentEntryKind.ASSIGNED and move.assignee is not None:
                name = move.assignee.get_full_name() or move.assignee.get_username()
                username = move.assignee.get_username()
                line(move.at, move.actor, move.kind, name, {"assignee": username})
                audits.append(
                    _audit(
                        story,
                        move.at,
                        move.actor,
                        "assigned",
                        before={"assignee": assignee},
                        after={"assignee": username},
                    )
                )
                assignee = username
            elif move.kind == IncidentEntryKind.STATUS:
                line(move.at, move.actor, move.kind, move.text, {"from": status, "to": move.value})
                audits.append(
                    _audit(
                        story,
                        move.at,
                        move.actor,
                        "status",
                        before={"status": status},
                        after={"status": move.value},
                        reason=move.text,
                    )
                )
                status = move.value
            elif move.kind == IncidentEntryKind.NOTE:
                notes.append((story, move, line(move.at, move.actor, move.kind, move.text, {})))
            elif move.kind == IncidentEntryKind.CHECKLIST:
                item = story.items[move.position]
                line(move.at, move.actor, move.kind, item.text, {"item": item.pk, "done": True})
                audits.append(
                    _audit(
                        story,
                        move.at,
                        move.actor,
                        "checklist",
                        before={"item": item.pk, "done": False},
                        after={"done": True},
                    )
                )
    IncidentEntry.objects.bulk_create(entries, batch_size=500)
    for story, move, entry in notes:
        line_id = {"entry": entry.pk}
        audits.append(_audit(story, move.at, move.actor, "note", after=line_id, reason=move.text))
    return len(entries), audits
