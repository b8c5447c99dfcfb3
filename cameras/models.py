"""The device registry: every camera, sensor and traffic signal on the map, their gateways,
what they report (events and readings), and the commands sent to traffic signals."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cameras.choices import (
    CommandStatus,
    CommStatus,
    DeviceKind,
    DeviceStatus,
    EventType,
    RecordingMode,
    SignalAction,
    SignalMode,
    StreamProtocol,
    StreamQuality,
)
from cameras.device_http import STREAM_SCHEMES, DeviceUrlValidator
from ioc.models import Ward

# Device and gateway codes name files (a camera's snapshot) and travel in URLs and MQTT
# topics: letters, digits, "-", "_" and single dots only, so no code can be a path.
CODE_VALIDATOR = RegexValidator(
    r"\A[A-Za-z0-9](?:[A-Za-z0-9_-]|\.(?!\.))*\Z",
    _("Use letters, digits, '-', '_' and '.' only, starting with a letter or digit."),
)


class Gateway(models.Model):
    """A ward gateway that pushes events for many devices with one token."""

    code = models.CharField(_("code"), max_length=64, unique=True, validators=[CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=200)
    ward = models.ForeignKey(
        Ward, verbose_name=_("ward"), null=True, blank=True, on_delete=models.PROTECT
    )
    token_hash = models.CharField(_("token hash"), max_length=64, blank=True, db_index=True)
    token_issued_at = models.DateTimeField(_("token issued at"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)

    class Meta:
        verbose_name = _("gateway")
        verbose_name_plural = _("gateways")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Device(models.Model):
    """A camera, sensor or traffic signal, placed in a ward at a WGS84 point."""

    code = models.CharField(_("code"), max_length=64, unique=True, validators=[CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=DeviceKind.choices)
    ward = models.ForeignKey(
        Ward, verbose_name=_("ward"), on_delete=models.PROTECT, related_name="devices"
    )
    gateway = models.ForeignKey(
        Gateway,
        verbose_name=_("gateway"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="devices",
    )
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    address = models.CharField(_("address"), max_length=255, blank=True)
    vendor = models.CharField(_("vendor"), max_length=100, blank=True)
    model_name = models.CharField(_("model"), max_length=100, blank=True)
    installed_on = models.DateField(_("installed on"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.OFFLINE
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    # The device's own clock of its newest report (an older report never overwrites it).
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)
    # When that report reached the platform.
    last_received_at = models.DateTimeField(_("last received at"), null=True, blank=True)
    latest = models.JSONField(_("latest values"), default=dict, blank=True)
    heartbeat_seconds = models.PositiveIntegerField(
        _("heartbeat interval (s)"), default=60, help_text=_("How often the device reports")
    )
    offline_after_seconds = models.PositiveIntegerField(
        _("offline after (s)"),
        default=180,
        help_text=_("Silence tolerated before the device is marked offline"),
    )
    token_hash = models.CharField(_("token hash"), max_length=64, blank=True, db_index=True)
    token_issued_at = models.DateTimeField(_("token issued at"), null=True, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["latitude", "longitude"], name="device_lat_lon"),
            models.Index(fields=["ward", "kind", "status"], name="device_ward_kind_status"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CameraDetail(models.Model):
    """What only cameras have. Credentials never leave the server."""

    device = models.OneToOneField(
        Device, primary_key=True, on_delete=models.CASCADE, related_name="camera"
    )
    stream_protocol = models.CharField(
        _("stream protocol"), max_length=8, choices=StreamProtocol.choices, blank=True
    )
    # Streams are played by browsers, not fetched by the server: only their scheme is
    # checked. Snapshot and health URLs are requested by the server (cameras.device_http).
    stream_main_url = models.CharField(
        _("main stream URL"),
        max_length=500,
        blank=True,
        validators=[DeviceUrlValidator(STREAM_SCHEMES, reached=False)],
    )
    stream_sub_url = models.CharField(
        _("sub stream URL"),
        max_length=500,
        blank=True,
        validators=[DeviceUrlValidator(STREAM_SCHEMES, reached=False)],
    )
    snapshot_url = models.CharField(
        _("snapshot URL"), max_length=500, blank=True, validators=[DeviceUrlValidator()]
    )
    health_url = models.CharField(
        _("health URL"), max_length=500, blank=True, validators=[DeviceUrlValidator()]
    )
    ptz = models.BooleanField(_("PTZ capable"), default=False)
    resolution = models.CharField(_("resolution"), max_length=20, blank=True)
    recording_mode = models.CharField(
        _("recording"), max_length=12, choices=RecordingMode.choices, default=RecordingMode.OFF
    )
    username = models.CharField(_("username"), max_length=100, blank=True)
    password = models.CharField(_("password"), max_length=200, blank=True)
    # Set by an administrator only (the admin, audited): the figures are bench/transcode.py's
    # on a 2-core server ("percent", not "%": gettext would take "% o" for a format).
    transcode_main = models.BooleanField(
        _("transcode the main stream to H.264"),
        default=False,
        help_text=_(
            "For a camera whose main stream browsers cannot play (H.265): the platform "
            "decodes it and encodes it again in H.264, at most 1280×720, for as long as "
            "someone watches it. Costly: about 12 percent of one CPU core of the video "
            "server for a quiet 1280×720 picture at 15 frames a second, about 36 percent "
            "for a busy one at 25, against 0.3 percent for a stream passed on unchanged. "
            "Each server transcodes a limited number of cameras at once "
            "(IOC_VIDEO_MAX_TRANSCODES); beyond it a viewer is offered the sub-stream."
        ),
    )
    snapshot_at = models.DateTimeField(_("snapshot taken at"), null=True, blank=True)

    class Meta:
        verbose_name = _("camera details")
        verbose_name_plural = _("camera details")

    def __str__(self) -> str:
        return f"camera {self.device_id}"


class SensorThreshold(models.Model):
    """An alert threshold on one metric of a sensor, with a tolerance time."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="thresholds")
    metric = models.CharField(_("metric"), max_length=32)
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    low = models.FloatField(_("low limit"), null=True, blank=True)
    high = models.FloatField(_("high limit"), null=True, blank=True)
    tolerance_seconds = models.PositiveIntegerField(
        _("tolerance (s)"), default=0, help_text=_("How long a breach must last to alert")
    )
    severity = models.CharField(_("severity"), max_length=16, default="warning")
    breach_since = models.DateTimeField(_("breached since"), null=True, blank=True)

    class Meta:
        verbose_name = _("sensor threshold")
        verbose_name_plural = _("sensor thresholds")
        constraints = [
            models.UniqueConstraint(fields=["device", "metric"], name="threshold_device_metric")
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.metric}"


class SignalDetail(models.Model):
    """A traffic-signal controller's intersection and last known state."""

    device = models.OneToOneField(
        Device, primary_key=True, on_delete=models.CASCADE, related_name="signal"
    )
    intersection = models.CharField(_("intersection"), max_length=200)
    controller_url = models.CharField(
        _("controller address"), max_length=500, blank=True, validators=[DeviceUrlValidator()]
    )
    username = models.CharField(_("username"), max_length=100, blank=True)
    password = models.CharField(_("password"), max_length=200, blank=True)
    mode = models.CharField(
        _("mode"), max_length=8, choices=SignalMode.choices, default=SignalMode.AUTO
    )
    plan = models.CharField(_("timing plan"), max_length=32, blank=True)
    phase = models.CharField(_("phase"), max_length=32, blank=True)
    faults = models.JSONField(_("active faults"), default=list, blank=True)
    comm_status = models.CharField(
        _("communication"), max_length=8, choices=CommStatus.choices, default=CommStatus.OK
    )
    state_at = models.DateTimeField(_("state read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("traffic-signal details")
        verbose_name_plural = _("traffic-signal details")

    def __str__(self) -> str:
        return self.intersection


class DeviceEvent(models.Model):
    """One event as a device sent it, identified by device, event id and device time
    (idempotent ingest). The time is part of what identifies an event so that PostgreSQL
    can partition the table by day (a unique key must hold the partition key): the same id
    sent again with another time is another event. On PostgreSQL the table is partitioned
    by ``ts`` and its primary key is (id, ts); Django still addresses rows by ``id``
    (``cameras.services.history.partitions``)."""

    # No index of its own: the unique (device, event id, ts) index serves lookups by device.
    # No constraint in the database either: its check on every row cost ingest as much as
    # the row itself (bench/ingest.py); deleting a device still deletes its events (Django
    # cascades), and ingest only stores events of devices it has just read.
    device = models.ForeignKey(
        Device,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    event_id = models.CharField(_("event id"), max_length=64)
    type = models.CharField(_("type"), max_length=16, choices=EventType.choices)
    ts = models.DateTimeField(_("device time"))
    received_at = models.DateTimeField(_("received at"))
    data = models.JSONField(_("data"), default=dict)

    class Meta:
        verbose_name = _("device event")
        verbose_name_plural = _("device events")
        constraints = [
            models.UniqueConstraint(fields=["device", "event_id", "ts"], name="event_device_id_ts")
        ]
        indexes = [models.Index(fields=["device", "ts"], name="event_device_ts")]

    def __str__(self) -> str:
        return f"{self.device_id}/{self.event_id} {self.type}"


class Reading(models.Model):
    """One numeric value of a sensor reading, for series and charts: kept
    ``IOC_RAW_RETENTION_DAYS`` once rolled up (``ReadingMinute``, ``ReadingHour``). On
    PostgreSQL partitioned by day on ``ts``, primary key (id, ts).

    A reading event is stored as its readings alone, one per series, each carrying the
    event's id: the unique (device, metric, ts, event_id) key is what makes a reading
    event sent again a duplicate (a reading event with other data than numbers is also
    kept whole as a ``DeviceEvent``). Readings written before events carried their id
    have an empty ``event_id``."""

    # No index of its own: the unique (device, metric, ts, event_id) index serves lookups
    # by device. No constraint in the database either, as for DeviceEvent: its check
    # doubled a COPY.
    device = models.ForeignKey(
        Device,
        on_delete=models.CASCADE,
        related_name="readings",
        db_index=False,
        db_constraint=False,
    )
    metric = models.CharField(_("metric"), max_length=32)
    ts = models.DateTimeField(_("device time"))
    value = models.FloatField(_("value"))
    event_id = models.CharField(_("event id"), max_length=64, blank=True, db_default="")

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [
            models.UniqueConstraint(
                fields=["device", "metric", "ts", "event_id"], name="reading_device_metric_ts_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.metric}={self.value:g} @ {self.ts:%Y-%m-%d %H:%M:%S}"


class StatusChange(models.Model):
    """A device's status history: every flip, with why."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="status_changes")
    at = models.DateTimeField(_("at"))
    from_status = models.CharField(_("from"), max_length=16, choices=DeviceStatus.choices)
    to_status = models.CharField(_("to"), max_length=16, choices=DeviceStatus.choices)
    cause = models.CharField(_("cause"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["device", "-at"], name="status_change_device_at")]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.from_status} -> {self.to_status}"


class IngestBatch(models.Model):
    """The outbox: a batch of accepted events, durable before the 202 answer, processed by
    a worker and re-queued by the sweeper until processed (Redis may lose its queue)."""

    received_at = models.DateTimeField(_("received at"), db_index=True)
    source = models.CharField(_("source"), max_length=80)
    # The ids of the DeviceEvent rows this batch stored (the events themselves live there).
    events = models.JSONField(_("events"))
    # What the worker needs of those events, as JSON written with them, so that it never
    # reads them back (by id, which on a partitioned table probes every partition); empty
    # for a replay's batch, and one accepted before this existed: the worker reads those.
    payload = models.TextField(_("payload"), blank=True, default="")
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # Processing runs started: a failed or killed one counts too (see ingest.batch).
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_queued_at = models.DateTimeField(_("last queued at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("ingest batch")
        verbose_name_plural = _("ingest batches")
        indexes = [
            models.Index(
                fields=["received_at"],
                name="ingest_batch_pending",
                condition=Q(processed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} from {self.source}"


class IngestFailure(models.Model):
    """An accepted event that processing could not take, set aside with its error so the
    events around it go on; an administrator replays it once the cause is fixed."""

    # No foreign key in the database: PostgreSQL cannot point one at a partitioned table's
    # ``id`` alone. The device's deletion takes its failures (``device`` below); an event
    # dropped by retention leaves its failure, removed by the same run.
    event = models.OneToOneField(
        DeviceEvent,
        verbose_name=_("event"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="failure",
    )
    # Copied from the event: the admin lists them without reading the event's own row,
    # which may be what cannot be read.
    device = models.ForeignKey(
        Device, verbose_name=_("device"), on_delete=models.CASCADE, related_name="+"
    )
    sent_id = models.CharField(_("event id as sent"), max_length=64)
    batch_id = models.BigIntegerField(_("batch"), null=True, blank=True)
    error = models.TextField(_("error"))
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    failed_at = models.DateTimeField(_("failed at"), db_index=True)

    class Meta:
        verbose_name = _("failed device event")
        verbose_name_plural = _("failed device events")
        ordering = ["-failed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.device_id}/{self.sent_id}: {self.error[:60]}"


class SignalCommand(models.Model):
    """An operator's command to a traffic-signal controller, time-limited, audited."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="commands")
    action = models.CharField(_("action"), max_length=16, choices=SignalAction.choices)
    plan = models.CharField(_("timing plan"), max_length=32, blank=True)
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT
    )
    requested_at = models.DateTimeField(_("requested at"))
    expires_at = models.DateTimeField(_("reverts at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=CommandStatus.choices, default=CommandStatus.PENDING
    )
    error = models.TextField(_("error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    readback = models.JSONField(_("read-back state"), default=dict, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("signal command")
        verbose_name_plural = _("signal commands")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(status__in=["pending", "sent", "active"]),
                name="one_live_command_per_signal",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} on {self.device_id} ({self.status})"


class ViewingSession(models.Model):
    """Someone watching a camera live, from when to when, through which relay: a person's
    image is personal data (Law 91/2025/QH15), so every viewing is on record. Written by
    the relay through ``cameras.services.viewing``; read by administrators only."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("viewer"),
        on_delete=models.PROTECT,
        related_name="viewing_sessions",
    )
    device = models.ForeignKey(
        Device,
        verbose_name=_("camera"),
        on_delete=models.CASCADE,
        related_name="viewing_sessions",
    )
    quality = models.CharField(_("quality"), max_length=8, choices=StreamQuality.choices)
    started_at = models.DateTimeField(_("started at"), db_index=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    address = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    relay = models.CharField(_("relay"), max_length=100, blank=True)
    token_id = models.CharField(_("token id"), max_length=64, db_index=True)

    class Meta:
        verbose_name = _("viewing session")
        verbose_name_plural = _("viewing sessions")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} watching {self.device_id} from {self.started_at:%Y-%m-%d %H:%M}"


class ReadingRollup(models.Model):
    """A device's metric over one minute or hour: count, extremes, total (mean = total /
    count, exact to merge) and the last value with its time. Written only by
    ``cameras.services.history.rollups``."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+", db_index=False)
    metric = models.CharField(_("metric"), max_length=32)
    bucket = models.DateTimeField(_("from"))
    count = models.PositiveIntegerField(_("count"))
    minimum = models.FloatField(_("minimum"))
    maximum = models.FloatField(_("maximum"))
    total = models.FloatField(_("total"))
    last_value = models.FloatField(_("last value"))
    last_at = models.DateTimeField(_("last value at"))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.device_id} {self.metric} @ {self.bucket:%Y-%m-%d %H:%M}: {self.count}"


class ReadingMinute(ReadingRollup):
    """One minute of a metric (kept ``IOC_ROLLUP_MINUTE_RETENTION_DAYS``); on PostgreSQL
    partitioned by day on ``bucket``."""

    class Meta:
        verbose_name = _("reading minute")
        verbose_name_plural = _("reading minutes")
        constraints = [
            models.UniqueConstraint(
                fields=["device", "metric", "bucket"], name="reading_minute_key"
            )
        ]


class ReadingHour(ReadingRollup):
    """One hour of a metric (kept ``IOC_ROLLUP_RETENTION_DAYS``); on PostgreSQL
    partitioned by month on ``bucket``."""

    class Meta:
        verbose_name = _("reading hour")
        verbose_name_plural = _("reading hours")
        constraints = [
            models.UniqueConstraint(fields=["device", "metric", "bucket"], name="reading_hour_key")
        ]


class RollupState(models.Model):
    """Where the rollups stand (one row). Readings before ``marked_until`` arriving now are
    late: the database marks their hour (``RollupLateHour``) as they are written."""

    marked_until = models.DateTimeField(_("late before"), null=True)
    minutes_until = models.DateTimeField(_("minutes complete before"), null=True)
    hours_until = models.DateTimeField(_("hours complete before"), null=True)
    # Raw readings before this were deleted by retention: a late reading before it is
    # merged into its rollups (and deleted), not recomputed from what raw is left.
    raw_dropped_before = models.DateTimeField(_("raw readings dropped before"), null=True)

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup state")

    def __str__(self) -> str:
        return f"rollups until {self.minutes_until}"


class RollupLateHour(models.Model):
    """A device's hour that received readings after its minutes were rolled up (a
    gateway's backlog): rolled up again by the next run. Written by a database trigger on
    readings, so every way of writing readings marks them."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField(_("hour"))

    class Meta:
        verbose_name = _("late reading hour")
        verbose_name_plural = _("late reading hours")
        constraints = [models.UniqueConstraint(fields=["device", "hour"], name="rollup_late_key")]

    def __str__(self) -> str:
        return f"{self.device_id} {self.hour:%Y-%m-%d %H:00}"
