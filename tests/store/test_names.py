"""Names of any length the API accepts are stored on both databases, searched and sorted."""

from __future__ import annotations

import pytest

from meetingd.app import Parts
from meetingd.domain import Role, UnitKind
from meetingd.store.models import BridgePointRow, UnitRow, UserRow
from meetingd.store.names import FOLD_LENGTH, SORT_KEY_LENGTH
from tests.conftest import PASSWORD

LONG_NAMES = [
    "ß" * 200,  # folds to 400 characters
    "漢" * 200,  # outside the alphabet: six key characters each
    "Ủy ban nhân dân xã " * 10 + "Hoằng Đạo",  # long Vietnamese, cut to 200 by the API
]


def test_the_derived_columns_are_as_wide_as_the_cut() -> None:
    for row in (UnitRow, BridgePointRow, UserRow):
        assert row.__table__.c.name_fold.type.length == FOLD_LENGTH
        assert row.__table__.c.sort_key.type.length == SORT_KEY_LENGTH


@pytest.mark.parametrize("name", LONG_NAMES, ids=["eszett", "han", "vietnamese"])
async def test_long_names_are_stored_found_and_listed(parts: Parts, name: str) -> None:
    name = name[:200]
    d = parts.services.directory
    p = await d.create_unit(None, code="P", name="Tỉnh", kind=UnitKind.PROVINCE, parent_id=None)
    unit = await d.create_unit(None, code="D", name=name, kind=UnitKind.DISTRICT, parent_id=p.id)
    bp = await d.create_bridge_point(None, unit_id=unit.id, name=name)
    user = await d.create_user(
        None, login="dai", display_name=name, password=PASSWORD, grants=[(unit.id, Role.CHAIR)]
    )
    query = name[:20]
    async with parts.store.transaction() as uow:
        assert [u.id for u in await uow.units.find(within_paths=None, query=query)] == [unit.id]
        found = await uow.bridge_points.find(within_paths=None, query=query)
        assert [b.id for b in found] == [bp.bridge_point.id]
        assert [u.id for u in await uow.users.find(within_paths=None, query=query)] == [user.id]
    # Renaming takes the same path.
    async with parts.store.transaction() as uow:
        await uow.units.rename(p.id, name)
        await uow.bridge_points.update(bp.bridge_point.id, name=name[:199] + "!")
        await uow.users.update(user.id, display_name=name)
    async with parts.store.transaction() as uow:
        assert len(await uow.units.find(within_paths=None, query=query)) == 2
