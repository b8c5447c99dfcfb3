"""Vietnamese dictionary order."""

from ioc.text import vietnamese_sort_key


def test_d_with_stroke_sorts_after_d_not_after_z() -> None:
    names = ["Tân Long", "Đồng Quang", "Dương Tự Minh", "Cam Giá"]
    assert sorted(names, key=vietnamese_sort_key) == [
        "Cam Giá",
        "Dương Tự Minh",
        "Đồng Quang",
        "Tân Long",
    ]


def test_breve_and_circumflex_are_letters_and_tones_come_second() -> None:
    assert sorted(["â", "b", "ă", "á", "a", "à", "ạ"], key=vietnamese_sort_key) == [
        "a",
        "à",
        "á",
        "ạ",
        "ă",
        "â",
        "b",
    ]


def test_shorter_syllable_sorts_first() -> None:
    assert sorted(["Phúc Hà", "Phú Xá", "Phan Đình Phùng"], key=vietnamese_sort_key) == [
        "Phan Đình Phùng",
        "Phú Xá",
        "Phúc Hà",
    ]


def test_case_does_not_matter() -> None:
    assert vietnamese_sort_key("ĐỒNG") == vietnamese_sort_key("đồng")
