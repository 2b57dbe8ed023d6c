"""DirectoryService: units tree, bridge points, users and grants, with their rules."""

from __future__ import annotations

import pytest

from meetingd.app import Parts
from meetingd.domain import Principal, Role
from meetingd.errors import NotFound, PermissionDenied
from tests.conftest import PASSWORD, World


async def who(parts: Parts, w: World, name: str) -> Principal:
    return await parts.services.auth.authenticate(w.tokens[name])


async def logins(parts: Parts) -> set[str]:
    async with parts.store.transaction() as uow:
        return {u.login for u in await uow.users.find(within_paths=None)}


# -- users --------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["operator", "chair", "delegate", "bp1"])
async def test_only_an_admin_adds_a_user_without_grants(
    parts: Parts, world: World, caller: str
) -> None:
    before = await logins(parts)
    with pytest.raises(PermissionDenied):
        await parts.services.directory.create_user(
            await who(parts, world, caller), login="orphan", display_name="Mồ Côi",
            password=PASSWORD,
        )
    assert await logins(parts) == before
    admin = await who(parts, world, "admin")
    user = await parts.services.directory.create_user(
        admin, login="orphan", display_name="Mồ Côi", password=PASSWORD
    )
    assert user.grants == ()


@pytest.mark.parametrize("caller", ["chair", "secretary", "delegate"])
async def test_adding_a_user_needs_the_operator_role(
    parts: Parts, world: World, caller: str
) -> None:
    with pytest.raises(PermissionDenied):
        await parts.services.directory.create_user(
            await who(parts, world, caller), login="newbie", display_name="Mới",
            password=PASSWORD, grants=[(world.units["C1"], Role.DELEGATE)],
        )
    assert "newbie" not in await logins(parts)


async def test_an_operator_adds_users_only_to_units_they_operate(
    parts: Parts, world: World
) -> None:
    op = await who(parts, world, "operator")
    with pytest.raises(NotFound) as exc:
        await parts.services.directory.create_user(
            op, login="newbie", display_name="Mới", password=PASSWORD,
            grants=[(world.units["C1"], Role.DELEGATE), (world.units["C3"], Role.DELEGATE)],
        )
    assert exc.value.field == "grants"
    assert "newbie" not in await logins(parts)
    user = await parts.services.directory.create_user(
        op, login="newbie", display_name="Mới", password=PASSWORD,
        grants=[(world.units["C1"], Role.DELEGATE), (world.units["C2"], Role.CHAIR)],
    )
    assert {(g.unit_id, g.role) for g in user.grants} == {
        (world.units["C1"], Role.DELEGATE),
        (world.units["C2"], Role.CHAIR),
    }


async def test_only_an_admin_adds_an_admin(parts: Parts, world: World) -> None:
    with pytest.raises(PermissionDenied):
        await parts.services.directory.create_user(
            await who(parts, world, "operator"), login="boss", display_name="Sếp",
            password=PASSWORD, is_admin=True, grants=[(world.units["C1"], Role.DELEGATE)],
        )
    assert "boss" not in await logins(parts)
