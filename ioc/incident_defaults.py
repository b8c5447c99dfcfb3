"""The standard incident types and their checklists, seeded on a new installation (and
by the demo); the administrator edits them afterwards in the admin."""

from typing import Any

# (code, name, default severity, alert causes, standard steps). Names are Vietnamese data,
# like ward names: the centre's staff read them as written here.
DEFAULT_INCIDENT_TYPES: list[tuple[str, str, str, list[str], list[str]]] = [
    (
        "traffic_accident",
        "Tai nạn giao thông",
        "critical",
        ["detection:accident"],
        [
            "Xác minh hiện trường qua camera",
            "Báo Cảnh sát giao thông và cấp cứu 115 nếu có người bị thương",
            "Phân luồng giao thông quanh khu vực",
            "Thông báo cho UBND phường/xã",
            "Xác nhận hiện trường đã được giải tỏa",
        ],
    ),
    (
        "fire",
        "Cháy, nổ",
        "critical",
        ["detection:fire", "detection:smoke"],
        [
            "Báo Cảnh sát PCCC và CNCH 114",
            "Xác minh qua camera lân cận",
            "Phong tỏa và sơ tán khu vực",
            "Thông báo cho UBND phường/xã",
            "Xác nhận đám cháy đã được dập tắt",
        ],
    ),
    (
        "flooding",
        "Ngập úng",
        "warning",
        ["detection:flooding", "threshold:water_level"],
        [
            "Kiểm tra mực nước tại trạm đo gần nhất",
            "Cảnh báo người dân, đặt biển báo khu vực ngập",
            "Điều đội thoát nước, máy bơm",
            "Phân luồng giao thông tránh điểm ngập",
            "Xác nhận nước đã rút",
        ],
    ),
    (
        "congestion",
        "Ùn tắc giao thông",
        "warning",
        ["detection:congestion", "detection:crowd", "detection:wrong_way"],
        [
            "Xác minh qua camera",
            "Điều chỉnh pha đèn tín hiệu tại nút giao",
            "Phân luồng, điều lực lượng hỗ trợ",
            "Xác nhận giao thông trở lại bình thường",
        ],
    ),
    (
        "air_pollution",
        "Ô nhiễm không khí",
        "warning",
        ["threshold:pm25", "threshold:pm10", "threshold:aqi"],
        [
            "Kiểm tra số liệu các trạm quan trắc lân cận",
            "Xác định nguồn phát thải",
            "Đăng khuyến cáo cho người dân",
            "Xác nhận chỉ số đã trở lại mức an toàn",
        ],
    ),
    (
        "device_failure",
        "Sự cố thiết bị",
        "info",
        ["offline", "fault:", "signal_command:"],
        [
            "Kiểm tra kết nối từ xa",
            "Cử kỹ thuật viên đến hiện trường",
            "Xác nhận thiết bị hoạt động trở lại",
        ],
    ),
    (
        "other",
        "Sự việc khác",
        "warning",
        [],
        ["Xác minh thông tin", "Phân công xử lý", "Báo cáo kết quả xử lý"],
    ),
]


def seed_types(IncidentType: Any, IncidentTypeStep: Any) -> None:
    # The classes are passed in: migrations give their historical models.
    """Create the standard types that do not exist yet (an edited type is left alone)."""
    for position, (code, name, severity, causes, steps) in enumerate(DEFAULT_INCIDENT_TYPES):
        kind, created = IncidentType.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "default_severity": severity,
                "alert_causes": causes,
                "position": position,
            },
        )
        if created:
            IncidentTypeStep.objects.bulk_create(
                IncidentTypeStep(incident_type=kind, position=index, text=text)
                for index, text in enumerate(steps)
            )
