"""What the simulated devices report, and when: a behaviour model with a fake-able clock.

``City.tick(now)`` advances every device to ``now`` (epoch seconds) and returns the events
that are due, each with the gateway that pushes it. Nothing here does I/O or touches the
database, so the behaviour is tested with a made-up clock (tests/cameras/test_simulator.py).
"""

from __future__ import annotations

import math
import random
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DETECTION_KINDS = ("accident", "flooding", "fire", "crowd", "wrong_way", "congestion")
FAULTS: dict[str, tuple[tuple[str, str], ...]] = {
    "camera": (
        ("video_loss", "Video signal lost"),
        ("tamper", "Camera moved or covered"),
        ("storage_full", "Recording storage full"),
    ),
    "signal": (
        ("lamp_failure", "Red lamp failed on one approach"),
        ("detector_failure", "Vehicle detector loop failed"),
        ("door_open", "Cabinet door open"),
    ),
    "sensor": (
        ("power_low", "Battery low"),
        ("sensor_drift", "Calibration drift detected"),
    ),
}
PLAN_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
SIGNAL_PHASES = ("1", "2", "3", "4")
# Seconds per phase of each timing plan (P2 is the long peak-hour cycle, P3 the night one).
PHASE_SECONDS = {"P1": 25.0, "P2": 35.0, "P3": 15.0}
DEFAULT_PHASE_SECONDS = 25.0
# A controller reports its state on every phase change and at least this often.
SIGNAL_STATUS_SECONDS = 30.0
# Mean intervals (seconds) of the occasional happenings: city-wide for detections, faults
# and outages, per device for pollution episodes and floods.
DETECTION_EVERY = 40.0
FAULT_EVERY = 150.0
OUTAGE_EVERY = 120.0
EPISODE_EVERY = 5400.0
FLOOD_EVERY = 7200.0
# Long enough that the platform marks the device offline (cameras after 180 s of silence).
OUTAGE_SECONDS = (240.0, 420.0)

Report = tuple[str, dict[str, Any]]  # (event type, data)
TimedReport = tuple[str, dict[str, Any], float]  # (event type, data, epoch seconds)


def happens(rng: random.Random, dt: float, every: float) -> bool:
    """Whether a random happening with mean interval ``every`` occurs within ``dt`` seconds."""
    return rng.random() < 1.0 - math.exp(-dt / every)


def timestamp(now: float) -> str:
    """An ISO 8601 time in Vietnam with its offset, as the ingest contract requires."""
    return datetime.fromtimestamp(now, TZ).isoformat(timespec="milliseconds")


def auto_plan(now: float) -> str:
    """The timing plan a controller's own schedule picks: peak, night or normal."""
    local = datetime.fromtimestamp(now, TZ)
    minutes = local.hour * 60 + local.minute
    if 390 <= minutes < 510 or 990 <= minutes < 1110:  # 06:30-08:30, 16:30-18:30
        return "P2"
    if minutes >= 1320 or minutes < 300:  # 22:00-05:00
        return "P3"
    return "P1"


@dataclass(frozen=True)
class DeviceSpec:
    """A demo device as the registry knows it."""

    code: str
    kind: str  # camera | sensor | signal
    gateway: str
    heartbeat_seconds: int = 60


class SimDevice:
    """A device that sends heartbeats, and occasionally faults or goes silent."""

    fault_family = "sensor"

    def __init__(self, spec: DeviceSpec, rng: random.Random, start: float) -> None:
        self.spec = spec
        self.rng = rng
        self.heartbeat_seconds = max(spec.heartbeat_seconds, 1)
        # First heartbeats spread over the first seconds: the map comes alive at once.
        self.next_heartbeat = start + rng.uniform(0, min(self.heartbeat_seconds, 10))
        self.outage_until = 0.0
        self.fault: tuple[str, str] | None = None
        self.fault_until = 0.0
        self.outbox: list[Report] = []

    @property
    def code(self) -> str:
        """The device code."""
        return self.spec.code

    def in_outage(self, now: float) -> bool:
        """Whether the device is silent (and its endpoints unreachable) right now."""
        return now < self.outage_until

    def start_outage(self, now: float, seconds: float) -> None:
        """Go silent for ``seconds``; the first report afterwards is a heartbeat."""
        self.outage_until = now + seconds

    def start_fault(self, now: float, seconds: float) -> None:
        """Report a fault now and clear it after ``seconds``."""
        code, message = self.rng.choice(FAULTS[self.fault_family])
        self.fault = (code, message)
        self.fault_until = now + seconds
        self.outbox.append(("fault", {"code": code, "message": message}))
        self.on_fault(code, active=True)

    def on_fault(self, code: str, *, active: bool) -> None:
        """A fault started or cleared (controllers list it in their state)."""

    def advance(self, now: float, dt: float) -> None:
        """Let the physical state evolve, whether or not the device can report."""

    def reports(self, now: float) -> list[TimedReport]:
        """Scheduled reports besides heartbeats (readings, status), each with its time."""
        return []

    def due(self, now: float, dt: float) -> list[TimedReport]:
        """Everything the device reports up to ``now``."""
        self.advance(now, dt)
        if self.in_outage(now):
            return []
        if self.outage_until:  # back from an outage: say so at once
            self.outage_until = 0.0
            self.next_heartbeat = now
        out: list[TimedReport] = [(kind, data, now) for kind, data in self.outbox]
        self.outbox = []
        if self.fault is not None and now >= self.fault_until:
            out.append(("fault", {"code": self.fault[0], "cleared": True}, now))
            self.on_fault(self.fault[0], active=False)
            self.fault = None
        if now >= self.next_heartbeat:
            out.append(("heartbeat", {}, now))
            self.next_heartbeat += self.heartbeat_seconds
            if self.next_heartbeat <= now:
                self.next_heartbeat = now + self.heartbeat_seconds
        out.extend(self.reports(now))
        return out


class Camera(SimDevice):
    """A camera whose video analytics occasionally detect something, then stop."""

    fault_family = "camera"

    def __init__(self, spec: DeviceSpec, rng: random.Random, start: float) -> None:
        super().__init__(spec, rng, start)
        self.detection: str | None = None
        self.detection_until = 0.0

    def start_detection(self, now: float, seconds: float, kind: str | None = None) -> None:
        """Detect something now; report that it is over after ``seconds``."""
        self.detection = kind or self.rng.choice(DETECTION_KINDS)
        self.detection_until = now + seconds
        confidence = round(self.rng.uniform(0.55, 0.98), 2)
        self.outbox.append(
            ("detection", {"kind": self.detection, "confidence": confidence, "active": True})
        )

    def reports(self, now: float) -> list[TimedReport]:
        if self.detection is not None and now >= self.detection_until:
            kind, self.detection = self.detection, None
            return [("detection", {"kind": kind, "active": False}, now)]
        return []


class PeriodicReader(SimDevice):
    """A sensor that sends a reading every ``interval`` seconds."""

    def __init__(self, spec: DeviceSpec, rng: random.Random, start: float, interval: float) -> None:
        super().__init__(spec, rng, start)
        self.interval = interval
        self.next_reading = start + rng.uniform(0, min(interval, 10))

    def reading(self) -> dict[str, float]:
        """The values measured now."""
        raise NotImplementedError

    def reports(self, now: float) -> list[TimedReport]:
        if self.next_reading < now - 60:  # far behind (a stalled loop): do not flood
            self.next_reading = now
        readings: list[TimedReport] = []
        # Readings keep their own schedule between ticks, so the rate does not depend on
        # how often the loop ticks.
        while self.next_reading <= now:
            readings.append(("reading", self.reading(), self.next_reading))
            self.next_reading += self.interval
        return readings


def _walk(value: float, target: float, dt: float, tau: float, noise: float, rng: Any) -> float:
    """One step of a noisy walk pulled towards ``target`` with time constant ``tau``.

    The step's spread is the walk's exact one over ``dt`` (about ``noise * sqrt(dt)`` for
    the live feed's fraction of a second), so a month of history stepped every few
    minutes (``ioc.demo.month_readings``) wanders no more than the live feed does."""
    pull = math.exp(-dt / tau)
    spread = noise * math.sqrt(tau / 2.0 * (1.0 - pull * pull))
    return value + (target - value) * (1.0 - pull) + rng.gauss(0, spread)


def local_hour(now: float) -> float:
    """The hour of the day in Vietnam (UTC+7 all year: no daylight saving), 0-24."""
    return ((now + 7 * 3600.0) % 86400.0) / 3600.0


def air_rhythm(now: float) -> float:
    """The day's fine dust as a factor on a station's usual level: traffic around 7-8 h,
    more in the evening's still air until late, least in the afternoon and before dawn."""
    hour = local_hour(now)
    return (
        1.0
        + 0.12 * math.cos(2 * math.pi * (hour - 20.0) / 24.0)
        + 0.14 * math.cos(2 * math.pi * (hour - 8.0) / 12.0)
    )


def water_rhythm(now: float) -> float:
    """The day's swing of the river (m) from the hydropower releases upstream: highest in
    the afternoon."""
    return 0.08 * math.sin(2 * math.pi * (local_hour(now) - 9.0) / 24.0)


class AirSensor(PeriodicReader):
    """PM2.5 and PM10 (µg/m³): a random walk with occasional pollution episodes."""

    def __init__(self, spec: DeviceSpec, rng: random.Random, start: float, interval: float) -> None:
        super().__init__(spec, rng, start, interval)
        self.base = rng.uniform(14.0, 32.0)
        self.pm25 = self.base + rng.gauss(0, 3)
        self.ratio = rng.uniform(1.6, 1.9)
        self.episode_until = 0.0
        self.episode_level = 0.0
        # Mean seconds between pollution episodes that start by themselves (a month of
        # history schedules its own: ioc.demo.month_readings).
        self.episode_every = EPISODE_EVERY

    def start_episode(self, now: float, seconds: float) -> None:
        """Pollution builds up above the limits (PM2.5 > 50, PM10 > 100) for a while."""
        self.episode_until = now + seconds
        self.episode_level = self.rng.uniform(68.0, 120.0)

    def advance(self, now: float, dt: float) -> None:
        if self.episode_until and now >= self.episode_until:
            self.episode_until = 0.0
        if not self.episode_until and happens(self.rng, dt, self.episode_every):
            self.start_episode(now, self.rng.uniform(300, 900))
        episode = bool(self.episode_until)
        target = self.episode_level if episode else self.base * air_rhythm(now)
        tau = 60.0 if episode else 180.0
        self.pm25 = max(2.0, _walk(self.pm25, target, dt, tau, 0.4, self.rng))

    def reading(self) -> dict[str, float]:
        pm10 = max(self.pm25 * self.ratio + self.rng.gauss(0, 1.5), self.pm25)
        return {"pm25": round(self.pm25, 1), "pm10": round(pm10, 1)}


class WaterGauge(PeriodicReader):
    """River level (m) around 22-24, with an occasional flood rise above 25."""

    def __init__(self, spec: DeviceSpec, rng: random.Random, start: float, interval: float) -> None:
        super().__init__(spec, rng, start, interval)
        self.base = rng.uniform(22.4, 23.6)
        self.level = self.base
        self.flood_until = 0.0
        self.flood_level = 0.0
        # Mean seconds between floods that start by themselves (see AirSensor).
        self.flood_every = FLOOD_EVERY

    def start_flood(self, now: float, seconds: float) -> None:
        """The river rises above the 25 m alarm level for a while."""
        self.flood_until = now + seconds
        self.flood_level = self.rng.uniform(25.4, 26.4)

    def advance(self, now: float, dt: float) -> None:
        if self.flood_until and now >= self.flood_until:
            self.flood_until = 0.0
        if not self.flood_until and happens(self.rng, dt, self.flood_every):
            self.start_flood(now, self.rng.uniform(480, 1200))
        flood = bool(self.flood_until)
        target = self.flood_level if flood else self.base + water_rhythm(now)
        self.level = _walk(self.level, target, dt, 90.0 if flood else 600.0, 0.004, self.rng)

    def reading(self) -> dict[str, float]:
        return {"water_level": round(self.level, 2)}


class SignalController(SimDevice):
    """A traffic-signal controller: automatic plans by time of day, operator overrides."""

    fault_family = "signal"

    def __init__(self, spec: DeviceSpec, rng: random.Random, start: float) -> None:
        super().__init__(spec, rng, start)
        self.mode = "auto"
        self.plan = auto_plan(start)
        self.phase_index = rng.randrange(len(SIGNAL_PHASES))
        self.phase_started = start - rng.uniform(0, self.phase_seconds())
        self.faults: list[str] = []
        self.override_until = 0.0
        self.status_due = False
        self.next_status = start + rng.uniform(0, 5)

    def phase_seconds(self) -> float:
        """How long each phase of the running plan lasts."""
        return PHASE_SECONDS.get(self.plan, DEFAULT_PHASE_SECONDS)

    def state(self) -> dict[str, Any]:
        """What the controller reports: mode, plan, phase and active faults."""
        if self.mode == "flash":
            phase = "flash"
        elif self.mode == "off":
            phase = ""
        else:
            phase = SIGNAL_PHASES[self.phase_index]
        return {"mode": self.mode, "plan": self.plan, "phase": phase, "faults": list(self.faults)}

    def apply(
        self, action: Any, plan: Any = "", *, now: float, revert_after: Any = None
    ) -> str | None:
        """Apply an operator's command; returns why it was refused, or None."""
        if action == "set_plan":
            if not isinstance(plan, str) or not PLAN_PATTERN.match(plan):
                return "set_plan needs a plan name such as P2"
            self.mode, self.plan = "manual", plan
        elif action == "flash":
            self.mode = "flash"
        elif action == "auto":
            self.mode, self.plan = "auto", auto_plan(now)
        else:
            return "action must be one of set_plan, flash, auto"
        self.phase_started = now
        # The controller's own safety net: an override ends even if the platform is gone.
        if action != "auto" and isinstance(revert_after, int | float) and revert_after > 0:
            self.override_until = now + float(revert_after)
        else:
            self.override_until = 0.0
        self.status_due = True
        return None

    def on_fault(self, code: str, *, active: bool) -> None:
        if active:
            self.faults.append(code)
        elif code in self.faults:
            self.faults.remove(code)
        self.status_due = True

    def advance(self, now: float, dt: float) -> None:
        if self.override_until and now >= self.override_until:
            self.apply("auto", now=now)
        if self.mode == "auto" and (plan := auto_plan(now)) != self.plan:
            self.plan, self.status_due = plan, True
        if self.mode in {"auto", "manual"} and now - self.phase_started >= self.phase_seconds():
            self.phase_index = (self.phase_index + 1) % len(SIGNAL_PHASES)
            self.phase_started = now
            self.status_due = True

    def reports(self, now: float) -> list[TimedReport]:
        if not self.status_due and now < self.next_status:
            return []
        self.status_due = False
        self.next_status = now + SIGNAL_STATUS_SECONDS
        return [("status", self.state(), now)]


def reading_interval(rate: float, baseline: float, readers: int) -> float:
    """Seconds between two readings of one sensor so that the city sends about ``rate``
    events per second in all, given ``baseline`` events per second of everything else."""
    if readers == 0:
        return 60.0
    budget = rate - baseline
    if budget <= readers / 600.0:
        return 600.0
    return min(max(readers / budget, 0.02), 600.0)


def sensor_role(spec: DeviceSpec) -> str:
    """Which behaviour a device gets: its kind, or for sensors what they measure."""
    if spec.kind == "sensor":
        if spec.code.startswith("AQ-"):
            return "air"
        if spec.code.startswith("WL-"):
            return "water"
    return spec.kind


class City:
    """Every simulated device, the happenings between them, and the event ids."""

    def __init__(
        self,
        specs: Iterable[DeviceSpec],
        *,
        rate: float = 60.0,
        seed: int | None = None,
        start: float | None = None,
        happenings: bool = True,
    ) -> None:
        self.rng = random.Random(seed)
        start = time.time() if start is None else start
        # Unique per run even with the same seed: a restarted simulator must not send ids
        # that the platform would take for duplicates of the previous run's events.
        self.run_id = f"sim{int(start * 1000):x}{secrets.token_hex(2)}"
        self.sequence = 0
        self.last_tick = start
        self.happenings = happenings
        specs = sorted(specs, key=lambda spec: spec.code)
        roles = {spec.code: sensor_role(spec) for spec in specs}
        readers = sum(1 for role in roles.values() if role in {"air", "water"})
        signals = sum(1 for role in roles.values() if role == "signal")
        baseline = (
            sum(1.0 / max(spec.heartbeat_seconds, 1) for spec in specs)
            + signals / DEFAULT_PHASE_SECONDS
            + 1.0 / DETECTION_EVERY
            + 2.0 / FAULT_EVERY
        )
        self.reading_interval = reading_interval(rate, baseline, readers)
        self.devices: dict[str, SimDevice] = {}
        for spec in specs:
            role = roles[spec.code]
            device: SimDevice
            if role == "camera":
                device = Camera(spec, self.rng, start)
            elif role == "signal":
                device = SignalController(spec, self.rng, start)
            elif role == "air":
                device = AirSensor(spec, self.rng, start, self.reading_interval)
            elif role == "water":
                device = WaterGauge(spec, self.rng, start, self.reading_interval)
            else:
                device = SimDevice(spec, self.rng, start)
            self.devices[spec.code] = device
        self.max_outages = max(1, len(self.devices) // 60)

    def camera(self, code: str) -> Camera | None:
        """The simulated camera with this code, if any."""
        device = self.devices.get(code)
        return device if isinstance(device, Camera) else None

    def signal(self, code: str) -> SignalController | None:
        """The simulated signal controller with this code, if any."""
        device = self.devices.get(code)
        return device if isinstance(device, SignalController) else None

    def event(self, device: SimDevice, kind: str, data: dict[str, Any], now: float) -> dict:
        """One event in the ingest contract's shape, with a fresh id."""
        self.sequence += 1
        return {
            "id": f"{self.run_id}-{self.sequence:x}",
            "device": device.code,
            "ts": timestamp(now),
            "type": kind,
            "data": data,
        }

    def tick(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        """Advance to ``now``; the events due, each as (gateway code, event)."""
        dt = min(max(now - self.last_tick, 0.0), 60.0)
        self.last_tick = now
        if self.happenings and dt > 0:
            self._happenings(now, dt)
        events = []
        for device in self.devices.values():
            for kind, data, at in device.due(now, dt):
                events.append((device.spec.gateway, self.event(device, kind, data, at)))
        return events

    def _pick(self, candidates: list[Any]) -> Any:
        return self.rng.choice(candidates) if candidates else None

    def _happenings(self, now: float, dt: float) -> None:
        """City-wide random happenings: detections, faults, outages."""
        rng = self.rng
        if happens(rng, dt, DETECTION_EVERY):
            camera = self._pick(
                [
                    device
                    for device in self.devices.values()
                    if isinstance(device, Camera)
                    and device.detection is None
                    and not device.in_outage(now)
                ]
            )
            if camera is not None:
                camera.start_detection(now, rng.uniform(60, 300))
        if happens(rng, dt, FAULT_EVERY):
            device = self._pick(
                [d for d in self.devices.values() if d.fault is None and not d.in_outage(now)]
            )
            if device is not None:
                device.start_fault(now, rng.uniform(60, 300))
        if happens(rng, dt, OUTAGE_EVERY) and len(self.outages(now)) < self.max_outages:
            device = self._pick([d for d in self.devices.values() if not d.in_outage(now)])
            if device is not None:
                device.start_outage(now, rng.uniform(*OUTAGE_SECONDS))

    def outages(self, now: float) -> list[str]:
        """Codes of the devices that are silent right now."""
        return [code for code, device in self.devices.items() if device.in_outage(now)]

    def summary(self, now: float) -> dict[str, int]:
        """Counts for the simulator's status line."""
        devices = list(self.devices.values())
        return {
            "outages": len(self.outages(now)),
            "detections": sum(1 for d in devices if isinstance(d, Camera) and d.detection),
            "faults": sum(1 for d in devices if d.fault is not None),
            "episodes": sum(
                1
                for d in devices
                if (isinstance(d, AirSensor) and d.episode_until)
                or (isinstance(d, WaterGauge) and d.flood_until)
            ),
        }
