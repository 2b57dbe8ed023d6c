import random
import re

import pytest

from meetingd.text import fold, matches, sort_key

# Written out by hand in dictionary order: word by word, letters first
# (a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y), then the tone.
PLACES = [
    "An Biên",
    "An Lão",
    "Anh Sơn",
    "Ân Thi",
    "Ba Đình",
    "Ba Vì",
    "Bà Rịa",
    "Bá Thước",
    "Bạc Liêu",
    "Bảo Lộc",
    "Bắc Ninh",
    "Cà Mau",
    "Cai Lậy",
    "Cao Bằng",
    "Cẩm Thủy",
    "Cần Thơ",
    "Châu Đốc",
    "Củ Chi",
    "Cư Jút",
    "Dầu Tiếng",
    "Di Linh",
    "Đà Nẵng",
    "Đầm Dơi",
    "Đông Sơn",
    "Hà Giang",
    "Hà Nội",
    "Hà Tĩnh",
    "Hải Dương",
    "Hải Phòng",
    "Hòa Bình",
    "Hoàng Mai",
    "Hoằng Hóa",
    "Hưng Yên",
    "Kon Tum",
    "Long An",
    "Mỹ Tho",
    "Ninh Bình",
    "Ô Môn",
    "Ơn",
    "Phú Quốc",
    "Quảng Trị",
    "Quận 1",
    "Quận 2",
    "Quận 10",
    "Sóc Trăng",
    "Tây Ninh",
    "Thái Bình",
    "Thanh Hóa",
    "Thủ Đức",
    "Tuy Hòa",
    "Uông Bí",
    "Ứng Hòa",
    "Văn Lâm",
    "Vị Thanh",
    "Vĩnh Yên",
    "Ý Yên",
    "Yên Bái",
]


def test_places_sort_in_dictionary_order() -> None:
    shuffled = PLACES[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=sort_key) == PLACES


def test_tones_order_after_letters() -> None:
    expected = ["ma", "mà", "mả", "mã", "má", "mạ", "mai", "mái", "măng", "mâm"]
    assert sorted(reversed(expected), key=sort_key) == expected


def test_shorter_word_and_name_first() -> None:
    expected = ["An", "An Bình", "Anh", "Ăn"]
    assert sorted(reversed(expected), key=sort_key) == expected


def test_each_syllable_before_its_toned_forms() -> None:
    # Every "Ba ..." precedes "Bà ...": syllables are compared one at a time.
    expected = ["Ba Vì", "Bà Đen", "Bà Rịa"]
    assert sorted(reversed(expected), key=sort_key) == expected


def test_numbers_sort_by_value_and_before_letters() -> None:
    expected = ["Phường 2", "Phường 9", "Phường 10", "Phường 010 A", "Phường A"]
    assert sorted(reversed(expected), key=sort_key) == expected
    assert sort_key("Phường 010") == sort_key("Phường 10")


def test_foreign_letters_take_their_latin_places() -> None:
    expected = ["Ea Súp", "Fansipan", "Gia Lâm", "Ia Grai", "Jun", "Krông Pắc", "Wing", "Xuân"]
    assert sorted(reversed(expected), key=sort_key) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Thanh Hóa", "THANH HÓA"),
        ("Thanh Hóa", "thanh  hóa"),
        ("Hoá", "Hóa"),  # old and new tone placement
        ("Thuỷ", "Thủy"),
        ("Hòa Bình", "Hòa-Bình"),
        ("Hòa Bình", "Ho\u0300a Bi\u0300nh"),  # decomposed input
    ],
)
def test_equivalent_spellings_have_equal_keys(a: str, b: str) -> None:
    assert sort_key(a) == sort_key(b)


@pytest.mark.parametrize(
    "name",
    [*PLACES, "", "  ", "Nguyễn Thị Ngọc Ánh", "北京", "a\u0301\u0301", "٣", "x" * 2000, "ß", "—"],
)
def test_sort_key_is_lowercase_ascii_alphanumeric(name: str) -> None:
    key = sort_key(name)
    assert re.fullmatch(r"[0-9a-z]*", key)
    assert len(key) <= 9 * len(name)


def test_other_characters_sort_after_letters() -> None:
    assert sort_key("Zeta") < sort_key("Ωmega") < sort_key("北京")
    assert sort_key("") < sort_key("0") < sort_key("a")


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Hoằng Hóa", "hoang hoa"),
        ("Đông Sơn", "dong son"),
        ("  ỨNG\tHÒA \n", "ung hoa"),
        ("Nguyễn Thị Ngọc Ánh", "nguyen thi ngoc anh"),
        ("Ho\u0300a", "hoa"),
        ("", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("hoang hoa", "Hoằng Hóa", True),
        ("HÓA hoằng", "Hoằng Hóa", True),
        ("dong", "Đông Sơn", True),
        ("ong so", "Đông Sơn", True),
        ("dong ha", "Đông Sơn", False),
        ("", "Đông Sơn", True),
        ("x", "", False),
    ],
)
def test_matches(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected
