"""API shapes of the device registry. Fields are listed one by one: camera and controller
credentials, internal addresses and token hashes are never among them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.urls import reverse
from rest_framework import serializers

from cameras.choices import DeviceKind, DeviceStatus, StreamProtocol
from cameras.models import CameraDetail, Device, DeviceEvent, SensorThreshold, SignalDetail
from cameras.selectors import device_camera, device_signal


def url_without_credentials(url: str) -> str:
    """A URL with any ``user:password@`` part removed."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def hls_url(camera: CameraDetail) -> str | None:
    """The camera's stream address when browsers can play it (HLS), without credentials."""
    if camera.stream_protocol != StreamProtocol.HLS or not camera.stream_main_url:
        return None
    return url_without_credentials(camera.stream_main_url)


class DeviceSerializer(serializers.ModelSerializer[Device]):
    """A device as the registry lists it."""

    ward = serializers.CharField(source="ward.code", read_only=True)
    ward_title = serializers.CharField(source="ward.title", read_only=True)
    gateway = serializers.SerializerMethodField()
    model = serializers.CharField(source="model_name", read_only=True)

    class Meta:
        model = Device
        fields = [
            "code",
            "name",
            "kind",
            "ward",
            "ward_title",
            "gateway",
            "latitude",
            "longitude",
            "address",
            "vendor",
            "model",
            "installed_on",
            "status",
            "status_changed_at",
            "last_seen_at",
            "latest",
            "tags",
            "heartbeat_seconds",
            "offline_after_seconds",
        ]
        read_only_fields = fields

    def get_gateway(self, device: Device) -> str | None:
        """The code of the gateway pushing for this device."""
        return device.gateway.code if device.gateway_id and device.gateway else None


class CameraSerializer(serializers.ModelSerializer[CameraDetail]):
    """What a client may know about a camera: no credentials, no internal addresses."""

    hls_url = serializers.SerializerMethodField()
    snapshot = serializers.SerializerMethodField()

    class Meta:
        model = CameraDetail
        fields = [
            "stream_protocol",
            "hls_url",
            "ptz",
            "resolution",
            "recording_mode",
            "snapshot_at",
            "snapshot",
        ]
        read_only_fields = fields

    def get_hls_url(self, camera: CameraDetail) -> str | None:
        """The stream address, for HLS cameras only."""
        return hls_url(camera)

    def get_snapshot(self, camera: CameraDetail) -> str | None:
        """The platform's snapshot proxy for this camera (staff session required)."""
        if not camera.snapshot_url:
            return None
        return reverse("ops-device-snapshot", kwargs={"code": camera.device.code})


class SignalSerializer(serializers.ModelSerializer[SignalDetail]):
    """A traffic-signal controller's last known state (never its address or login)."""

    class Meta:
        model = SignalDetail
        fields = ["intersection", "mode", "plan", "phase", "faults", "comm_status", "state_at"]
        read_only_fields = fields


class ThresholdSerializer(serializers.ModelSerializer[SensorThreshold]):
    """An alert threshold of a sensor metric."""

    class Meta:
        model = SensorThreshold
        fields = ["metric", "unit", "low", "high", "tolerance_seconds", "severity"]
        read_only_fields = fields


class DeviceDetailSerializer(DeviceSerializer):
    """One device with its camera, signal or sensor details."""

    camera = serializers.SerializerMethodField()
    signal = serializers.SerializerMethodField()
    thresholds = ThresholdSerializer(many=True, read_only=True)

    class Meta(DeviceSerializer.Meta):
        fields = [
            *DeviceSerializer.Meta.fields,
            "last_received_at",
            "created_at",
            "updated_at",
            "camera",
            "signal",
            "thresholds",
        ]
        read_only_fields = fields

    def get_camera(self, device: Device) -> dict[str, Any] | None:
        """The camera details, for cameras."""
        camera = device_camera(device)
        return dict(CameraSerializer(camera).data) if camera is not None else None

    def get_signal(self, device: Device) -> dict[str, Any] | None:
        """The controller's state, for traffic signals."""
        signal = device_signal(device)
        return dict(SignalSerializer(signal).data) if signal is not None else None


class DeviceWriteSerializer(serializers.Serializer[Any]):
    """The registry fields an administrator sets. The ward comes from the point; a ward
    given here must be the one containing it."""

    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=DeviceKind.choices)
    latitude = serializers.DecimalField(max_digits=12, decimal_places=9, coerce_to_string=False)
    longitude = serializers.DecimalField(max_digits=12, decimal_places=9, coerce_to_string=False)
    ward = serializers.CharField(max_length=16, required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    vendor = serializers.CharField(max_length=100, required=False, allow_blank=True)
    model = serializers.CharField(
        source="model_name", max_length=100, required=False, allow_blank=True
    )
    installed_on = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=DeviceStatus.choices, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=50
    )
    heartbeat_seconds = serializers.IntegerField(min_value=1, required=False)
    offline_after_seconds = serializers.IntegerField(min_value=1, required=False)

    def values(self) -> tuple[dict[str, Any], str]:
        """The validated model values and the ward code given (or "")."""
        data = dict(self.validated_data)
        data.pop("code", None)
        ward = data.pop("ward", "") or ""
        return data, ward


class DeviceEventSerializer(serializers.ModelSerializer[DeviceEvent]):
    """One event as the device sent it."""

    class Meta:
        model = DeviceEvent
        fields = ["event_id", "type", "ts", "received_at", "data"]
        read_only_fields = fields
