"""What the demo's citizens wrote and what staff answered: data, in Vietnamese (the demo's
people write Vietnamese whatever the interface's language), for ``month_requests``.

``{street}`` and ``{n}`` in a text are filled with one of the demo's streets and a house
or lane number.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryTexts:
    """A category's share of the filings, what citizens write, and the answers."""

    weight: int
    descriptions: tuple[str, ...]
    resolutions: tuple[str, ...]
    interim: tuple[str, ...]


# Category code -> its texts. The legal-process category is not filed on the portal.
TEXTS: dict[str, CategoryTexts] = {
    "o-ga": CategoryTexts(
        15,
        (
            "Trên đường {street} đoạn gần số {n} có ổ gà lớn, trời mưa đọng nước, xe máy đi "
            "qua rất nguy hiểm.",
            "Mặt đường {street} bị sụt lún, bong tróc nhiều chỗ, đề nghị sửa chữa sớm.",
            "Ổ gà giữa làn xe trên đường {street}, buổi tối không có biển cảnh báo, đã có "
            "người ngã xe.",
            "Nắp hố ga trên đường {street} trước số {n} bị vỡ, lún sâu so với mặt đường.",
        ),
        (
            "Đơn vị đã vá ổ gà và hoàn trả mặt đường bằng bê tông nhựa. Cảm ơn ông/bà đã phản ánh.",
            "Đã thay nắp hố ga mới, đặt biển cảnh báo trong thời gian thi công; mặt đường đã "
            "thông xe bình thường.",
        ),
        (
            "Đã cử cán bộ kiểm tra hiện trường; dự kiến vá mặt đường trong tuần này.",
            "Đơn vị đã đặt biển cảnh báo tạm thời và đang bố trí vật liệu để sửa chữa.",
        ),
    ),
    "den-tin-hieu": CategoryTexts(
        5,
        (
            "Đèn tín hiệu ở ngã tư {street} chỉ nhấp nháy vàng từ sáng, xe cộ đi lộn xộn.",
            "Đèn đỏ hướng đường {street} không sáng, rất dễ xảy ra va chạm.",
            "Thời gian đèn xanh hướng {street} quá ngắn, giờ cao điểm ùn tắc kéo dài.",
        ),
        (
            "Đã thay bộ điều khiển và kiểm tra lại toàn bộ pha đèn; nút giao hoạt động bình "
            "thường.",
            "Đã điều chỉnh chu kỳ đèn giờ cao điểm theo phản ánh của ông/bà.",
        ),
        ("Trung tâm đã ghi nhận lỗi của bộ điều khiển; đội kỹ thuật đang trên đường tới.",),
    ),
    "den-chieu-sang": CategoryTexts(
        12,
        (
            "Cả dãy đèn đường trên đường {street} không sáng mấy hôm nay, buổi tối rất tối.",
            "Cột đèn chiếu sáng gần số {n} đường {street} bị nghiêng, dây điện lòi ra ngoài.",
            "Đèn đường ở ngõ {n} đường {street} bật cả ban ngày, lãng phí điện.",
        ),
        (
            "Đã thay bóng đèn LED và sửa tủ điều khiển; tuyến đèn đã sáng lại.",
            "Đã dựng lại cột đèn và bọc lại dây điện, bảo đảm an toàn.",
        ),
        ("Đã báo đơn vị quản lý chiếu sáng; dự kiến sửa trong 2 ngày làm việc.",),
    ),
    "ngap-ung": CategoryTexts(
        7,
        (
            "Mưa to là đoạn đường {street} ngập sâu, nước tràn vào nhà dân.",
            "Cống thoát nước trên đường {street} bị tắc, nước bẩn ứ đọng bốc mùi.",
            "Rãnh thoát nước ngõ {n} đường {street} bị rác lấp kín.",
        ),
        ("Đã nạo vét cống, khơi thông dòng chảy; đơn vị sẽ tiếp tục theo dõi khi có mưa lớn.",),
        ("Đơn vị đã khảo sát tuyến cống và lên phương án nạo vét.",),
    ),
    "rac-thai": CategoryTexts(
        15,
        (
            "Rác thải sinh hoạt tập kết ở đầu ngõ {n} đường {street} nhiều ngày không được "
            "thu gom.",
            "Có người đổ trộm phế thải xây dựng ra vỉa hè đường {street}.",
            "Thùng rác công cộng trên đường {street} bị đầy, rác tràn ra lòng đường.",
        ),
        (
            "Đã thu gom, vệ sinh điểm tập kết và bố trí lịch thu gom hằng ngày.",
            "Tổ dân phố đã dọn sạch phế thải; phường sẽ xử phạt nếu phát hiện vi phạm.",
        ),
        ("Phường đã liên hệ đơn vị thu gom để bổ sung chuyến xe.",),
    ),
    "o-nhiem": CategoryTexts(
        8,
        (
            "Xưởng gần đường {street} đốt rác, khói bụi bay vào khu dân cư buổi tối.",
            "Quán karaoke trên đường {street} hát to quá 23 giờ, ảnh hưởng người dân nghỉ ngơi.",
            "Mùi hôi từ điểm tập kết rác gần đường {street} rất khó chịu.",
        ),
        (
            "Đoàn kiểm tra đã lập biên bản và yêu cầu cơ sở chấm dứt hành vi gây ô nhiễm.",
            "Đã đo tiếng ồn, xử phạt cơ sở và yêu cầu cam kết không tái phạm.",
        ),
        ("Đã chuyển thông tin cho đoàn kiểm tra liên ngành.",),
    ),
    "lan-chiem": CategoryTexts(
        12,
        (
            "Các quán ăn bày bàn ghế chiếm hết vỉa hè đường {street}, người đi bộ phải xuống "
            "lòng đường.",
            "Xe ô tô đỗ thành hàng trên vỉa hè trước số {n} đường {street}.",
            "Chợ tạm họp tràn ra lòng đường {street} buổi sáng, gây ùn tắc.",
        ),
        (
            "Tổ trật tự đô thị đã nhắc nhở, yêu cầu các hộ thu dọn và lập biên bản các trường "
            "hợp tái phạm.",
        ),
        ("Tổ trật tự đô thị sẽ ra quân kiểm tra vào sáng mai.",),
    ),
    "xay-dung": CategoryTexts(
        7,
        (
            "Công trình ở ngõ {n} đường {street} xây thêm tầng, không thấy biển báo giấy phép.",
            "Công trình xây dựng trên đường {street} để vật liệu tràn ra đường, không che chắn.",
        ),
        (
            "Phường đã kiểm tra, công trình có giấy phép; đã yêu cầu chủ đầu tư che chắn và "
            "treo biển công khai.",
        ),
        ("Phường đã mời chủ công trình lên làm việc và xuất trình giấy phép.",),
    ),
    "cay-xanh": CategoryTexts(
        6,
        (
            "Cây xanh trên đường {street} bị gãy cành lớn, treo lơ lửng trên lòng đường.",
            "Cây bị bật gốc sau mưa giông ở đường {street}, đổ chắn một làn xe.",
        ),
        ("Đã cắt tỉa cành gãy và thu dọn hiện trường.",),
        ("Đội cây xanh đã căng dây cảnh báo, sẽ cắt tỉa ngay khi có xe thang.",),
    ),
    "an-toan-thuc-pham": CategoryTexts(
        3,
        (
            "Cơ sở bán đồ ăn trên đường {street} không bảo đảm vệ sinh, nhiều người bị đau "
            "bụng sau khi ăn.",
        ),
        ("Đoàn kiểm tra liên ngành đã kiểm tra cơ sở, xử phạt và yêu cầu khắc phục.",),
        ("Đã chuyển thông tin cho đoàn kiểm tra an toàn thực phẩm.",),
    ),
}

REJECTIONS = (
    "Vị trí phản ánh thuộc khu đất của doanh nghiệp, không thuộc phạm vi quản lý công cộng; "
    "đã hướng dẫn người dân liên hệ chủ sở hữu.",
    "Nội dung không rõ vị trí và không liên lạc được với người phản ánh để xác minh.",
    "Nội dung là tranh chấp dân sự giữa các hộ gia đình, đề nghị liên hệ tổ hòa giải ở cơ sở.",
)

NOTES = (
    "Đã gọi điện cho người phản ánh để xác minh vị trí.",
    "Chờ đơn vị thi công bố trí nhân lực.",
    "Đề nghị phối hợp với Công ty Điện lực Thái Nguyên.",
    "Đã kiểm tra camera khu vực, xác nhận đúng nội dung phản ánh.",
)

# Rating -> what some of those who gave it wrote.
RATING_COMMENTS: dict[int, tuple[str, ...]] = {
    5: ("Xử lý nhanh, cảm ơn các anh chị.", "Rất hài lòng.", ""),
    4: ("Đã sửa nhưng hơi lâu.", ""),
    3: ("Tạm được.", ""),
    2: ("Sửa tạm bợ, mưa lại hỏng.",),
    1: ("Báo đã xử lý nhưng chưa thấy ai đến.",),
}

DISPUTE_REASON = (
    "Đơn vị báo đã xử lý nhưng thực tế vẫn còn, chỉ làm tạm cho có. Đề nghị kiểm tra lại."
)

FAMILY_NAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đỗ", "Dương", "Ngô", "Đinh")
GIVEN_NAMES = (
    "Văn An",
    "Thị Bình",
    "Minh Châu",
    "Đức Dũng",
    "Thu Hà",
    "Quốc Hùng",
    "Thị Lan",
    "Văn Long",
    "Thị Mai",
    "Hồng Nhung",
    "Văn Phúc",
    "Thanh Tâm",
    "Thị Thảo",
    "Văn Thắng",
    "Ngọc Yến",
)
