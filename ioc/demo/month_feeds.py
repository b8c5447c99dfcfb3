"""The demo's last month on the device side (``feeds_month``): sensor readings for the
charts, the devices' outages and faults, the alerts they and the cameras' detections
raised and how staff handled them, and the incidents opened about them.

The past cannot go through the services (they write "now"), so the rows are written in
bulk, each one what a service would have written at its time: the ingest rules for
readings, status changes and alerts (``cameras.services.ingest``), the offline sweep,
``ioc.services.alerts`` and ``ioc.services.incidents`` for staff steps, with their audit
entries dated when they were taken. Every draw comes from the caller's ``rng``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from cameras.choices import DeviceKind, DeviceStatus
from cameras.models import Device, SensorThreshold, StatusChange
from cameras.simulator.model import FAULTS
from ioc.demo import month_incidents
from ioc.demo.month_alerts import (
    AlertPlan,
    Step,
    detection_alert,
    fault_alert,
    offline_alert,
    threshold_alert,
)
from ioc.demo.month_readings import DAYS, SensorMonth, Window, readings_write, sensor_month
from ioc.models import Alert, AuditEntry, User
from ioc.services.audit import audit_entry

# How many episodes the month holds besides the devices' state today: (kind of device,
# how many offline, how many faulty).
EPISODES = ((DeviceKind.CAMERA, 22, 12), (DeviceKind.SIGNAL, 3, 5), (DeviceKind.SENSOR, 3, 3))
# What cameras detect on an ordinary day, and how often (flooding comes with the rain day).
DETECTIONS = {"congestion": 8, "crowd": 3, "wrong_way": 3, "accident": 3, "fire": 0.4}
DETECTIONS_A_DAY = (2, 6)
ACK_NOTES = {
    "offline": [
        "Đã báo đơn vị bảo trì kiểm tra đường truyền.",
        "Đang kiểm tra nguồn điện tại tủ thiết bị.",
        "Đã liên hệ nhà mạng về sự cố cáp quang.",
    ],
    "fault": [
        "Đã ghi nhận, chờ kỹ thuật viên kiểm tra.",
        "Đã báo nhà thầu bảo trì.",
    ],
    "detection": ["Đang theo dõi qua camera.", "Đã báo lực lượng tại chỗ.", ""],
    "threshold": [
        "Đã báo Phòng Tài nguyên và Môi trường.",
        "Đang theo dõi số liệu các trạm lân cận.",
    ],
}
FALSE_ALARMS = [
    "Kiểm tra qua camera: báo nhầm, không có sự việc.",
    "Xe dừng chờ đèn đỏ, không phải ùn tắc.",
    "Bóng cây rung do gió, hệ thống nhận nhầm.",
]
MAINTENANCE_REASONS = [
    "Bảo trì định kỳ: vệ sinh ống kính, kiểm tra nguồn.",
    "Thay ổ cứng lưu trữ.",
    "Tạm dừng để di dời cột camera phục vụ thi công vỉa hè.",
]


@dataclass
class FeedsSummary:
    """What ``feeds_month`` wrote."""

    readings: int
    status_changes: int
    alerts: int
    alerts_open: int
    incidents: int
    incidents_open: int
    entries: int  # incident timeline entries
    audit_entries: int


class Month:
    """The month being written: the devices, what happened to each (so that nothing
    happens twice at once to one device), and the rows waiting to be saved."""

    def __init__(self, *, rng: random.Random, now: datetime, staff: dict[str, User]) -> None:
        self.rng, self.now, self.staff = rng, now, staff
        self.start = now - timedelta(days=DAYS)
        self.devices = list(Device.objects.select_related("ward").order_by("code"))
        self.busy: dict[int, list[Window]] = defaultdict(list)
        self.silent: dict[int, list[Window]] = defaultdict(list)
        self.changes: list[StatusChange] = []
        self.alerts: list[AlertPlan] = []
        self.audits: list[AuditEntry] = []
        self.sensors: list[SensorMonth] = []
        self.thresholds: dict[int, list[SensorThreshold]] = defaultdict(list)
        for threshold in SensorThreshold.objects.filter(device__in=self.devices).order_by("pk"):
            self.thresholds[threshold.device_id].append(threshold)
        self.officials = {
            username: set(user.wards.values_list("pk", flat=True))
            for username, user in staff.items()
            if username in ("official1", "official2")
        }
        # The month's heavy rain, one afternoon a week or two ago: the river rises.
        self.rain = self.moment(day=DAYS - rng.randint(6, 18), day_hours=(14, 15))

    # --- helpers ---------------------------------------------------------------------------

    def of_kind(self, kind: str, ward: str = "") -> list[Device]:
        """The devices of a kind (in one unit, by its code), by code."""
        return [d for d in self.devices if d.kind == kind and (not ward or d.ward.code == ward)]

    def free(self, device: Device, start: datetime, end: datetime) -> bool:
        """Whether nothing happens to the device from ``start`` to ``end`` (with a margin),
        within the month and before its state of today began."""
        margin = timedelta(minutes=30)
        if start < self.start or end > self.now - timedelta(minutes=10):
            return False
        return all(end + margin <= a or b + margin <= start for a, b in self.busy[device.pk])

    def moment(self, *, day: int | None = None, day_hours: tuple[int, int] = (6, 22)) -> datetime:
        """A random moment of the month (of its ``day``-th day), at an hour of the day in
        Vietnam within ``day_hours``; it may fall outside the month on its first or last
        day, and the caller checks."""
        if day is None:
            day = self.rng.randint(0, DAYS)
        midnight = timezone.localtime(self.start + timedelta(days=day)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return midnight + timedelta(
            hours=self.rng.randint(*day_hours), seconds=self.rng.randint(0, 3599)
        )

    def change(self, device: Device, at: datetime, old: str, new: str, cause: str) -> None:
        """A status change as ``device_status_change`` records it."""
        self.changes.append(
            StatusChange(device=device, at=at, from_status=old, to_status=new, cause=cause)
        )

    def maybe_acknowledge(self, plan: AlertPlan, what: str, chance: float) -> None:
        """The operator (or the unit's official) acknowledges the alert a few minutes in."""
        if self.rng.random() >= chance:
            return
        at = plan.alert.raised_at + timedelta(seconds=self.rng.randint(60, 900))
        if not plan.active_at(at) or at > self.now:
            return
        plan.acknowledged = Step(at, self.handler(plan.alert), self.rng.choice(ACK_NOTES[what]))

    def handler(self, alert: Alert) -> User:
        """Who handles an alert: the unit's official for half of theirs, else the operator."""
        for username, wards in self.officials.items():
            if alert.ward_id in wards and self.rng.random() < 0.5:
                return self.staff[username]
        return self.staff["operator"]

    # --- what happened -----------------------------------------------------------------------

    def states_of_today(self) -> None:
        """How each device came to be as the loader set it: offline since the sweep found
        it silent, faulty since it reported a fault, in maintenance since the operator
        said so; their alerts are open."""
        for device in self.devices:
            at = device.status_changed_at or self.now
            if device.status == DeviceStatus.ONLINE:
                continue
            self.busy[device.pk].append((at, self.now))
            plan: AlertPlan | None = None
            if device.status == DeviceStatus.OFFLINE:
                self.change(
                    device, at, DeviceStatus.ONLINE, device.status, "no report within tolerance"
                )
                alert = offline_alert(device, at=at, last_seen=device.last_seen_at or at)
                plan = AlertPlan(alert=alert, ends=None)
            elif device.status == DeviceStatus.FAULT:
                code, message = self.rng.choice(FAULTS[device.kind])
                self.change(device, at, DeviceStatus.ONLINE, device.status, "report:fault")
                plan = AlertPlan(fault_alert(device, at=at, code=code, message=message), None)
            elif device.status == DeviceStatus.MAINTENANCE:
                self.maintenance(device, at)
            if plan is not None:
                self.alerts.append(plan)
                self.maybe_acknowledge(plan, plan.alert.kind, 0.4)

    def maintenance(self, device: Device, at: datetime) -> None:
        """The operator put the device into maintenance (``device_status_set``)."""
        operator = self.staff["operator"]
        reason = self.rng.choice(MAINTENANCE_REASONS)
        self.change(
            device, at, DeviceStatus.ONLINE, DeviceStatus.MAINTENANCE, f"operator: {reason}"
        )
        entry = audit_entry(
            actor=operator,
            action="device.status_set",
            obj=device,
            before={"status": DeviceStatus.ONLINE},
            after={"status": DeviceStatus.MAINTENANCE},
            ward_code=device.ward.code,
            reason=reason,
        )
        entry.at = at
        self.audits.append(entry)

    def episode(
        self, device: Device, *, kind: str, start: datetime, seconds: float
    ) -> AlertPlan | None:
        """A past outage (``offline``: the sweep flips it, its first heartbeat brings it
        back) or fault (reported, then reported cleared); None if the device was busy."""
        end = start + timedelta(seconds=seconds)
        if not self.free(device, start, end):
            return None
        self.busy[device.pk].append((start, end))
        if kind == "offline":
            flip = start + timedelta(seconds=device.offline_after_seconds + self.rng.randint(1, 20))
            self.silent[device.pk].append((start, end))
            self.change(
                device,
                flip,
                DeviceStatus.ONLINE,
                DeviceStatus.OFFLINE,
                "no report within tolerance",
            )
            self.change(device, end, DeviceStatus.OFFLINE, DeviceStatus.ONLINE, "report:heartbeat")
            plan = AlertPlan(offline_alert(device, at=flip, last_seen=start), ends=end)
        else:
            code, message = self.rng.choice(FAULTS[device.kind])
            self.change(device, start, DeviceStatus.ONLINE, DeviceStatus.FAULT, "report:fault")
            self.change(device, end, DeviceStatus.FAULT, DeviceStatus.ONLINE, "report:fault")
            plan = AlertPlan(fault_alert(device, at=start, code=code, message=message), ends=end)
        self.alerts.append(plan)
        return plan

    def episode_seconds(self, kind: str) -> float:
        """How long an outage or a fault lasts: mostly minutes, sometimes hours."""
        roll = self.rng.random()
        if kind == "fault":
            return self.rng.uniform(600, 4 * 3600)
        if roll < 0.6:
            return self.rng.uniform(240, 1800)
        if roll < 0.9:
            return self.rng.uniform(1800, 3 * 3600)
        return self.rng.uniform(3 * 3600, 12 * 3600)

    def past_episodes(self) -> None:
        """Outages and faults over the month, most cleared within minutes by themselves."""
        for kind, offline, faulty in EPISODES:
            devices = self.of_kind(kind)
            for what, count in (("offline", offline), ("fault", faulty)):
                for _attempt in range(count * 3):
                    if count == 0:
                        break
                    device = self.rng.choice(devices)
                    start = self.moment(day_hours=(0, 23))
                    plan = self.episode(
                        device, kind=what, start=start, seconds=self.episode_seconds(what)
                    )
                    if plan is not None:
                        count -= 1
                        self.maybe_acknowledge(plan, what, 0.5)

    def detection(
        self, camera: Device, *, at: datetime, what: str, seconds: float
    ) -> AlertPlan | None:
        """A camera's detection (``detection_apply``): active, then over after ``seconds``."""
        end = at + timedelta(seconds=seconds)
        if not self.free(camera, at, end):
            return None
        self.busy[camera.pk].append((at, end))
        confidence = round(self.rng.uniform(0.55, 0.98), 2)
        plan = AlertPlan(detection_alert(camera, at=at, what=what, confidence=confidence), end)
        self.alerts.append(plan)
        return plan

    def detections(self) -> None:
        """Cameras' detections in the daytime, one in twelve a false alarm the operator
        dismisses; flooding at a few cameras in the rain."""
        cameras = self.of_kind(DeviceKind.CAMERA)
        kinds, weights = list(DETECTIONS), list(DETECTIONS.values())
        for day in range(DAYS):
            for _n in range(self.rng.randint(*DETECTIONS_A_DAY)):
                at = self.moment(day=day, day_hours=(6, 21))
                what = self.rng.choices(kinds, weights)[0]
                plan = self.detection(
                    self.rng.choice(cameras), at=at, what=what, seconds=self.rng.uniform(60, 300)
                )
                if plan is None:
                    continue
                if self.rng.random() < 1 / 12:
                    at = plan.alert.raised_at + timedelta(seconds=self.rng.randint(20, 55))
                    plan.resolved = Step(at, self.staff["operator"], self.rng.choice(FALSE_ALARMS))
                else:
                    self.maybe_acknowledge(plan, "detection", 0.45)
        for camera in self.rng.sample(cameras, 3):
            at = self.rain + timedelta(minutes=self.rng.randint(20, 90))
            plan = self.detection(
                camera, at=at, what="flooding", seconds=self.rng.uniform(120, 300)
            )
            if plan is not None:
                self.maybe_acknowledge(plan, "detection", 0.8)

    def readings(self) -> None:
        """Every sensor's month from the simulator's models, with a few pollution episodes
        (more in the evening's still air) and the river's rise after the rain; their
        threshold alerts."""
        for device in self.of_kind(DeviceKind.SENSOR):
            rng = random.Random(self.rng.getrandbits(64))
            episodes: list[tuple[datetime, float]] = []
            if device.code.startswith("AQ-"):
                for _n in range(rng.choice([0, 1, 1, 2, 3])):
                    at = self.moment(day_hours=rng.choice([(6, 8), (18, 22)]))
                    episodes.append((at, rng.uniform(40 * 60, 3 * 3600)))
            elif device.code.startswith("WL-") and rng.random() < 0.75:
                episodes.append(
                    (
                        self.rain + timedelta(minutes=rng.randint(60, 240)),
                        rng.uniform(4 * 3600, 10 * 3600),
                    )
                )
            month = sensor_month(
                device,
                rng=rng,
                now=self.now,
                silent=self.silent[device.pk],
                episodes=episodes,
                thresholds=self.thresholds[device.pk],
            )
            self.sensors.append(month)
            by_metric = {t.metric: t for t in self.thresholds[device.pk]}
            for breach in month.breaches:
                plan = threshold_alert(device, by_metric[breach.metric], breach)
                self.alerts.append(plan)
                self.maybe_acknowledge(plan, "threshold", 0.35)

    # --- saving ------------------------------------------------------------------------------

    def save_devices(self) -> None:
        """Devices as the feeds left them: a sensor's latest values, and for one back from
        an outage or a fault, when its status last changed; a running breach's start."""
        last_change: dict[int, datetime] = {}
        for change in self.changes:
            last_change[change.device_id] = max(
                change.at, last_change.get(change.device_id, change.at)
            )
        changed = []
        for device in self.devices:
            if device.status == DeviceStatus.ONLINE and device.pk in last_change:
                device.status_changed_at = last_change[device.pk]
                changed.append(device)
        for month in self.sensors:
            month.device.latest = {**month.device.latest, **month.latest}
            changed.append(month.device)
        Device.objects.bulk_update(changed, ["status_changed_at", "latest"], batch_size=200)
        running = []
        for month in self.sensors:
            for threshold in self.thresholds[month.device.pk]:
                if threshold.metric in month.breach_since:
                    threshold.breach_since = month.breach_since[threshold.metric]
                    running.append(threshold)
        SensorThreshold.objects.bulk_update(running, ["breach_since"])


def feeds_month(*, rng: random.Random, now: datetime, staff: dict[str, User]) -> FeedsSummary:
    """Write the last ``DAYS`` days (ending at ``now``) of the demo's devices: readings,
    status changes, alerts and their handling, incidents with their timelines. Call once,
    inside the demo's transaction, after its devices, gateways and users."""
    month = Month(rng=rng, now=now, staff=staff)
    month.states_of_today()
    month.past_episodes()
    month.detections()
    month.readings()
    stories = month_incidents.incidents_plan(month)
    readings = readings_write([row for sensor in month.sensors for row in sensor.rows])
    incidents = month_incidents.incidents_save(stories)
    alerts = [plan.settle(now) for plan in month.alerts]
    Alert.objects.bulk_create(alerts, batch_size=500)
    for plan in month.alerts:
        month.audits += plan.audits()
    entries, audits = month_incidents.incident_timelines(stories)
    month.audits += audits
    StatusChange.objects.bulk_create(month.changes, batch_size=500)
    month.save_devices()
    AuditEntry.objects.bulk_create(month.audits, batch_size=500)
    return FeedsSummary(
        readings=readings,
        status_changes=len(month.changes),
        alerts=len(alerts),
        alerts_open=sum(1 for alert in alerts if alert.status != "resolved"),
        incidents=len(incidents),
        incidents_open=sum(1 for incident in incidents if incident.is_open),
        entries=entries,
        audit_entries=len(month.audits),
    )
