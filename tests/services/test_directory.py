"""DirectoryService: units tree, bridge points, users and grants, with their rules."""

from __future__ import annotations

import pytest

from meetingd.app import Parts
from meetingd.domain import Principal, Role, UnitKind
from meetingd.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from tests.conftest import PASSWORD, World


async def who(parts: Parts, w: World, name: str) -> Principal:
    return await parts.services.auth.authenticate(w.tokens[name])


async def logins(parts: Parts) -> set[str]:
    async with parts.store.transaction() as uow:
        return {u.login for u in await uow.users.find(within_paths=None)}


# -- users --------------------------------------------------------------------------------


async def test_only_an_admin_adds_a_user_without_grants(parts: Parts, world: World) -> None:
    before = await logins(parts)
    for caller in ("operator", "chair", "delegate", "bp1"):
        with pytest.raises(PermissionDenied):
            await parts.services.directory.create_user(
                await who(parts, world, caller), login="orphan", display_name="Mồ Côi",
                password=PASSWORD,
            )  # fmt: skip
    assert await logins(parts) == before
    admin = await who(parts, world, "admin")
    user = await parts.services.directory.create_user(
        admin, login="orphan", display_name="Mồ Côi", password=PASSWORD
    )
    assert user.grants == ()


async def test_adding_a_user_needs_the_operator_role(parts: Parts, world: World) -> None:
    for caller in ("chair", "secretary", "delegate", "chair_d2"):
        with pytest.raises(PermissionDenied):
            await parts.services.directory.create_user(
                await who(parts, world, caller), login="newbie", display_name="Mới",
                password=PASSWORD, grants=[(world.units["C1"], Role.DELEGATE)],
            )  # fmt: skip
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


# -- units --------------------------------------------------------------------------------

#: Where each kind may go, by hand: a province at the top, a district under a province,
#: a commune under a district. None = the top level.
TREE: list[tuple[UnitKind, str | None, bool]] = [
    (UnitKind.PROVINCE, None, True),
    (UnitKind.PROVINCE, "P", False),
    (UnitKind.PROVINCE, "D1", False),
    (UnitKind.PROVINCE, "C1", False),
    (UnitKind.DISTRICT, None, False),
    (UnitKind.DISTRICT, "P", True),
    (UnitKind.DISTRICT, "D1", False),
    (UnitKind.DISTRICT, "C1", False),
    (UnitKind.COMMUNE, None, False),
    (UnitKind.COMMUNE, "P", False),
    (UnitKind.COMMUNE, "D1", True),
    (UnitKind.COMMUNE, "C1", False),
]


async def test_the_unit_tree_rules(parts: Parts, world: World) -> None:
    admin = await who(parts, world, "admin")
    d = parts.services.directory
    for i, (kind, parent, ok) in enumerate(TREE):
        parent_id = world.units[parent] if parent else None
        if not ok:
            with pytest.raises(ValidationError) as exc:
                await d.create_unit(admin, code=f"N{i}", name="Mới", kind=kind, parent_id=parent_id)
            assert exc.value.field == "parent_id", (kind, parent)
            continue
        unit = await d.create_unit(admin, code=f"N{i}", name="Mới", kind=kind, parent_id=parent_id)
        assert unit.parent_id == parent_id and unit.kind is kind
        above = (await d.get_unit(admin, parent_id)).path if parent_id else "/"
        assert unit.path == f"{above}{unit.id}/"
    async with parts.store.transaction() as uow:
        codes = {u.code for u in await uow.units.find(within_paths=None)}
    assert codes == {*world.units, "N0", "N5", "N10"}


async def test_who_may_add_units(parts: Parts, world: World) -> None:
    d = parts.services.directory
    op = await who(parts, world, "operator")
    commune = await d.create_unit(
        op, code="C9", name="Xã Hoằng Lộc", kind=UnitKind.COMMUNE, parent_id=world.units["D1"]
    )
    assert commune.parent_id == world.units["D1"]
    with pytest.raises(PermissionDenied):  # a province needs an administrator
        await d.create_unit(op, code="P2", name="Tỉnh", kind=UnitKind.PROVINCE, parent_id=None)
    with pytest.raises(NotFound):  # the province is not theirs to see
        await d.create_unit(
            op, code="D9", name="Huyện", kind=UnitKind.DISTRICT, parent_id=world.units["P"]
        )
    with pytest.raises(NotFound):  # nor the other district
        await d.create_unit(
            op, code="C8", name="Xã", kind=UnitKind.COMMUNE, parent_id=world.units["D2"]
        )
    chair = await who(parts, world, "chair")
    for kind in (UnitKind.COMMUNE, UnitKind.DISTRICT):  # refused before the kind is looked at
        with pytest.raises(PermissionDenied):
            await d.create_unit(chair, code="C7", name="Xã", kind=kind, parent_id=world.units["D1"])
    with pytest.raises(PermissionDenied):
        await d.create_unit(op, code="C7", name="Xã", kind=UnitKind.DISTRICT, parent_id=None)
    with pytest.raises(ConflictError) as exc:
        await d.create_unit(
            op, code="C1", name="Xã", kind=UnitKind.COMMUNE, parent_id=world.units["D1"]
        )
    assert exc.value.field == "code"


async def test_renaming_a_unit_updates_search_and_order(parts: Parts, world: World) -> None:
    d = parts.services.directory
    op = await who(parts, world, "operator")
    await d.rename_unit(op, world.units["C2"], "Xã Ân Khánh")
    found = await d.list_units(op, query="an khanh")
    assert [u.code for u in found] == ["C2"]
    assert [u.code for u in await d.list_units(op, kind=UnitKind.COMMUNE)] == ["C2", "C1"]


# -- bridge points ---------------------------------------------------------------------------


async def test_a_new_bridge_point_credential_is_returned_once_and_stored_hashed(
    parts: Parts, world: World
) -> None:
    op = await who(parts, world, "operator")
    new = await parts.services.directory.create_bridge_point(
        op, unit_id=world.units["C2"], name="Điểm cầu Hoằng Châu", room="Hội trường"
    )
    prefix, key, secret = new.credential.split("_", 2)
    assert prefix == "mdbp" and len(secret) >= 40
    async with parts.store.transaction() as uow:
        got = await uow.bridge_points.get_credential(key)
    assert got is not None
    bp, stored = got
    assert bp.id == new.bridge_point.id and secret not in stored and new.credential not in stored
    token = await parts.services.auth.device_login(new.credential, "10.0.0.1")
    assert token.principal.unit_path == bp.unit_path


# -- grants ---------------------------------------------------------------------------------


async def test_grant_and_revoke(parts: Parts, world: World) -> None:
    d = parts.services.directory
    op = await who(parts, world, "operator")
    uid = world.users["delegate"]
    user = await d.grant_role(op, uid, world.units["C2"], Role.DELEGATE)
    assert (world.units["C2"], Role.DELEGATE) in {(g.unit_id, g.role) for g in user.grants}
    with pytest.raises(ConflictError):
        await d.grant_role(op, uid, world.units["C2"], Role.DELEGATE)
    user = await d.revoke_role(op, uid, world.units["C2"], Role.DELEGATE)
    assert (world.units["C2"], Role.DELEGATE) not in {(g.unit_id, g.role) for g in user.grants}
    with pytest.raises(NotFound):
        await d.revoke_role(op, uid, world.units["C2"], Role.DELEGATE)
    with pytest.raises(NotFound):  # not the operator's unit
        await d.grant_role(op, uid, world.units["C3"], Role.DELEGATE)
