"""Vietnamese order and diacritic-free search, in the repositories and through the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from meetingd.app import Parts
from meetingd.domain import UnitKind
from tests.conftest import World

#: Commune names in Vietnamese dictionary order, by hand: a < ă < â, d < đ, e < ê, and
#: within the same letters no tone < huyền < hỏi < ngã < sắc < nặng.
IN_ORDER = [
    "Xã An Nhơn",
    "Xã Ăn Ý",
    "Xã Ân Tín",
    "Xã Bình An",
    "Xã Dương Xá",
    "Xã Đông Tiến",
    "Xã Ea Kly",
    "Xã Êa Sô",
    "Xã Hoa Lư",
    "Xã Hòa An",
    "Xã Hỏa Lò",
    "Xã Hóa Quỳnh",
    "Xã Họa Mi",
    "Xã Hoằng Châu",
    "Xã Hoằng Đạo",
    "Xã Ô Loan",
    "Xã Ơn Lộc",
    "Xã Ưng Hòa",
    "Xã 2",
]
IN_ORDER = [IN_ORDER[-1], *IN_ORDER[:-1]]  # numbers before letters


async def test_repositories_list_in_vietnamese_order(parts: Parts, world: World) -> None:
    d = parts.services.directory
    district = await d.create_unit(
        None, code="D9", name="Huyện Mới", kind=UnitKind.DISTRICT, parent_id=world.units["P"]
    )
    for i, name in enumerate(reversed(IN_ORDER)):  # inserted backwards on purpose
        await d.create_unit(
            None, code=f"X{i}", name=name, kind=UnitKind.COMMUNE, parent_id=district.id
        )
    async with parts.store.transaction() as uow:
        got = await uow.units.find(within_paths=None, parent_id=district.id)
        assert [u.name for u in got] == IN_ORDER
        page = await uow.units.find(within_paths=[district.path], kind=UnitKind.COMMUNE,
                                    limit=3, offset=2)  # fmt: skip
        assert [u.name for u in page] == IN_ORDER[2:5]


HOANG = ["Huyện Hoằng Hóa", "Xã Hoằng Châu", "Xã Hoằng Đạo"]

SEARCHES = [
    # (query, names found among the world's units), by hand. Every word of the query must
    # occur in the name, anywhere: "hoa" occurs in "hoang" too.
    ("Hoang Hoa", HOANG),
    ("hoằng hóa", HOANG),
    ("HOÀNG HOÁ", HOANG),
    ("huyen hoang hoa", ["Huyện Hoằng Hóa"]),
    ("dao", ["Xã Hoằng Đạo"]),
    ("dong son", ["Huyện Đông Sơn"]),
    ("ĐÔNG SƠN", ["Huyện Đông Sơn"]),
    ("son dong", ["Huyện Đông Sơn"]),
    ("  dong   hoa ", ["Xã Đông Hòa"]),
    ("hoang", HOANG),
    ("thanh hoa", ["Tỉnh Thanh Hóa"]),
    ("%", []),
    ("_", []),
    ("hoang_", []),
    ("Quảng Xương", []),
]


async def test_search_ignores_diacritics_case_and_order(
    parts: Parts, world: World, subtests: Any
) -> None:
    for query, found in SEARCHES:
        with subtests.test(query):
            async with parts.store.transaction() as uow:
                got = await uow.units.find(within_paths=None, query=query)
            assert [u.name for u in got] == found


async def test_search_and_order_through_the_api(client: Any, api_world: World) -> None:
    w = api_world
    h = w.auth("admin")

    async def names(path: str, key: str = "name") -> list[str]:
        resp = await client.get(path, headers=h)
        assert resp.status == 200, await resp.text()
        return [r[key] for r in await resp.json()]

    for query, found in SEARCHES:
        assert await names(f"/api/v1/units?q={quote(query)}") == found, query
    assert await names("/api/v1/units?kind=district") == ["Huyện Đông Sơn", "Huyện Hoằng Hóa"]
    assert await names("/api/v1/users?q=nguyen%20thi%20hoa", "display_name") == ["Nguyễn Thị Hoà"]
    assert await names("/api/v1/users?q=DO%20THI", "display_name") == ["Đỗ Thị Lan"]
    assert await names("/api/v1/users?role=delegate", "display_name") == [
        "Bùi Văn Sáu",
        "Phạm Thị Ánh",
    ]
    assert await names("/api/v1/bridge-points?q=diem%20cau%20bp2") == ["Điểm cầu bp2"]
