"""The demo city's service categories (Vietnamese, grouped by field, with deadlines in
working hours and the department that handles each); loaded by ``load_demo``."""

from __future__ import annotations

from typing import Any

from ioc.models import Department

GROUPS = [
    ("giao-thong", "Giao thông"),
    ("moi-truong", "Môi trường"),
    ("do-thi", "Trật tự đô thị"),
    ("ha-tang", "Hạ tầng, điện, nước"),
    ("an-ninh", "An ninh, an toàn"),
    ("khieu-nai", "Khiếu nại, tố cáo"),
]

# (code, group, name, deadline in working hours, department code or "" for the ward,
#  extra questions, legal process notice)
CATEGORIES: list[tuple[str, str, str, int, str, list[dict[str, Any]], str]] = [
    (
        "o-ga",
        "giao-thong",
        "Ổ gà, hư hỏng mặt đường",
        40,
        "quan-ly-do-thi",
        [
            {
                "code": "size",
                "description": "Kích thước ổ gà",
                "datatype": "singlevaluelist",
                "required": False,
                "values": [
                    {"key": "small", "name": "Nhỏ (dưới 30 cm)"},
                    {"key": "medium", "name": "Vừa (30–100 cm)"},
                    {"key": "large", "name": "Lớn (trên 1 m)"},
                ],
            },
        ],
        "",
    ),
    ("den-tin-hieu", "giao-thong", "Đèn tín hiệu giao thông hỏng", 8, "quan-ly-do-thi", [], ""),
    ("den-chieu-sang", "ha-tang", "Đèn chiếu sáng công cộng hỏng", 24, "quan-ly-do-thi", [], ""),
    (
        "ngap-ung",
        "ha-tang",
        "Ngập úng, tắc cống thoát nước",
        16,
        "quan-ly-do-thi",
        [
            {
                "code": "depth_cm",
                "description": "Độ sâu nước (cm)",
                "datatype": "number",
                "required": False,
            },
        ],
        "",
    ),
    ("rac-thai", "moi-truong", "Rác thải, vệ sinh môi trường", 24, "", [], ""),
    (
        "o-nhiem",
        "moi-truong",
        "Ô nhiễm khói bụi, tiếng ồn, mùi",
        40,
        "tai-nguyen-moi-truong",
        [],
        "",
    ),
    ("lan-chiem", "do-thi", "Lấn chiếm vỉa hè, lòng đường", 24, "trat-tu-do-thi", [], ""),
    ("xay-dung", "do-thi", "Xây dựng trái phép", 40, "", [], ""),
    ("cay-xanh", "ha-tang", "Cây xanh gãy đổ, nguy hiểm", 8, "quan-ly-do-thi", [], ""),
    ("an-toan-thuc-pham", "an-ninh", "An toàn thực phẩm", 40, "y-te", [], ""),
    (
        "khieu-nai-to-cao",
        "khieu-nai",
        "Khiếu nại, tố cáo",
        0,
        "",
        [],
        "Khiếu nại, tố cáo được giải quyết theo Luật Khiếu nại và Luật Tố cáo, không qua cổng "
        "phản ánh này. Vui lòng gửi đơn trực tiếp hoặc qua đường bưu điện tới Ban Tiếp công dân "
        "UBND thành phố, hoặc nộp tại bộ phận tiếp công dân của UBND phường/xã nơi cư trú.",
    ),
]


def demo_categories_load(departments: dict[str, Department]) -> int:
    """Create the demo fields and categories that are missing; returns how many exist."""
    from services.models import ResponseTemplate, ServiceCategory, ServiceGroup

    groups = {}
    for position, (code, name) in enumerate(GROUPS):
        groups[code], _created = ServiceGroup.objects.get_or_create(
            code=code, defaults={"name": name, "position": position}
        )
    for position, (code, group, name, hours, department, questions, notice) in enumerate(
        CATEGORIES
    ):
        category, created = ServiceCategory.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "group": groups[group],
                "deadline_hours": hours or 40,
                "department": departments.get(department) if department else None,
                "questions": questions,
                "legal_process": bool(notice),
                "legal_notice": notice,
                "position": position,
            },
        )
        if created and not notice:
            ResponseTemplate.objects.create(
                category=category,
                title="Đã tiếp nhận và chuyển xử lý",
                text=f"Cảm ơn bạn đã phản ánh về “{name.lower()}”. Đơn vị đã tiếp nhận và đang "
                "cử cán bộ kiểm tra hiện trường; kết quả sẽ được cập nhật tại đây.",
            )
            ResponseTemplate.objects.create(
                category=category,
                title="Đã xử lý xong",
                text="Đơn vị đã xử lý xong nội dung bạn phản ánh. Xin cảm ơn bạn đã đồng hành "
                "cùng chính quyền.",
            )
    return ServiceCategory.objects.count()
