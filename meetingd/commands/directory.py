"""The directory: units (province, district, commune), bridge points and users."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from meetingd import events as ev
from meetingd.commands.table import COMMANDS, Context, Rest
from meetingd.domain import Role, UnitKind
from meetingd.schemas import (
    BridgePointIn,
    BridgePointOut,
    BridgePointPatch,
    GrantIn,
    Id,
    MeetingOut,
    NewBridgePointOut,
    Offset,
    Password,
    Request,
    UnitIn,
    UnitOut,
    UnitPatch,
    UserIn,
    UserOut,
)
from meetingd.services.authz import Permission
from meetingd.services.directory import NewBridgePoint

Search = Annotated[str, Field(max_length=100, description="search, diacritics optional")]
Limit = Annotated[int, Field(ge=1, le=1000)]

# -- units -------------------------------------------------------------------------------------


class UnitList(Request):
    parent_id: Id | None = None
    kind: UnitKind | None = None
    q: Search | None = None
    limit: Limit = 500
    offset: Offset = 0


class UnitRef(Request):
    unit_id: Id


class UnitRename(UnitPatch):
    unit_id: Id


@COMMANDS.command(
    "unit.create",
    UnitIn,
    answer=UnitOut,
    summary="Add a unit",
    tag="units",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest(
        "POST",
        "/api/v1/units",
        "create_unit",
        201,
        errors=(403, 404, 409),
        rules=("a unit sits under a unit of the kind above its own (a province at the top)",),
    ),
)
async def create_unit(ctx: Context, p: UnitIn) -> UnitOut:
    """A province needs an administrator; a district or commune needs the operator role
    for its parent unit."""
    unit = await ctx.services.directory.create_unit(
        ctx.principal, code=p.code, name=p.name, kind=p.kind, parent_id=p.parent_id
    )
    return UnitOut.of(unit)


@COMMANDS.command(
    "unit.list",
    UnitList,
    answer=list[UnitOut],
    summary="List the units the caller can see",
    tag="units",
    permission=Permission.READ_DIRECTORY,
    rest=Rest("GET", "/api/v1/units", "list_units", query=True),
)
async def list_units(ctx: Context, p: UnitList) -> list[UnitOut]:
    """Sorted in Vietnamese alphabetical order; `q` matches with or without diacritics."""
    units = await ctx.services.directory.list_units(
        ctx.principal,
        parent_id=p.parent_id,
        kind=p.kind,
        query=p.q,
        limit=p.limit,
        offset=p.offset,
    )
    return [UnitOut.of(u) for u in units]


@COMMANDS.command(
    "unit.get",
    UnitRef,
    answer=UnitOut,
    summary="One unit",
    tag="units",
    permission=Permission.READ_DIRECTORY,
    rest=Rest("GET", "/api/v1/units/{unit_id}", "get_unit", errors=(404,)),
)
async def get_unit(ctx: Context, p: UnitRef) -> UnitOut:
    return UnitOut.of(await ctx.services.directory.get_unit(ctx.principal, p.unit_id))


@COMMANDS.command(
    "unit.rename",
    UnitRename,
    answer=UnitOut,
    summary="Rename a unit",
    tag="units",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest("PATCH", "/api/v1/units/{unit_id}", "rename_unit", errors=(403, 404)),
)
async def rename_unit(ctx: Context, p: UnitRename) -> UnitOut:
    return UnitOut.of(await ctx.services.directory.rename_unit(ctx.principal, p.unit_id, p.name))


# -- bridge points -----------------------------------------------------------------------------

BRIDGE_POINT = "/api/v1/bridge-points/{bridge_point_id}"


class BridgePointList(Request):
    unit_id: Id | None = None
    q: Search | None = None
    limit: Limit = 500
    offset: Offset = 0


class BridgePointRef(Request):
    bridge_point_id: Id


class BridgePointUpdate(BridgePointPatch):
    bridge_point_id: Id


def _new(n: NewBridgePoint) -> NewBridgePointOut:
    return NewBridgePointOut(
        **BridgePointOut.of(n.bridge_point).model_dump(), credential=n.credential
    )


@COMMANDS.command(
    "bridge_point.create",
    BridgePointIn,
    answer=NewBridgePointOut,
    summary="Register a bridge point",
    tag="bridge-points",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest("POST", "/api/v1/bridge-points", "create_bridge_point", 201, errors=(403, 404)),
)
async def create_bridge_point(ctx: Context, p: BridgePointIn) -> NewBridgePointOut:
    """The answer holds the device credential, shown this once; only its hash is stored."""
    return _new(
        await ctx.services.directory.create_bridge_point(
            ctx.principal, unit_id=p.unit_id, name=p.name, room=p.room
        )
    )


@COMMANDS.command(
    "bridge_point.list",
    BridgePointList,
    answer=list[BridgePointOut],
    summary="List bridge points",
    tag="bridge-points",
    permission=Permission.READ_DIRECTORY,
    rest=Rest("GET", "/api/v1/bridge-points", "list_bridge_points", query=True, errors=(403,)),
)
async def list_bridge_points(ctx: Context, p: BridgePointList) -> list[BridgePointOut]:
    bps = await ctx.services.directory.list_bridge_points(
        ctx.principal, unit_id=p.unit_id, query=p.q, limit=p.limit, offset=p.offset
    )
    return [BridgePointOut.of(b) for b in bps]


@COMMANDS.command(
    "bridge_point.get",
    BridgePointRef,
    answer=BridgePointOut,
    summary="One bridge point",
    tag="bridge-points",
    permission=Permission.READ_DIRECTORY,
    rest=Rest("GET", BRIDGE_POINT, "get_bridge_point", errors=(404,)),
)
async def get_bridge_point(ctx: Context, p: BridgePointRef) -> BridgePointOut:
    return BridgePointOut.of(
        await ctx.services.directory.get_bridge_point(ctx.principal, p.bridge_point_id)
    )


@COMMANDS.command(
    "bridge_point.update",
    BridgePointUpdate,
    answer=BridgePointOut,
    summary="Change a bridge point (name, room, disabled)",
    tag="bridge-points",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest("PATCH", BRIDGE_POINT, "update_bridge_point", errors=(403, 404)),
)
async def update_bridge_point(ctx: Context, p: BridgePointUpdate) -> BridgePointOut:
    """Disabling it closes its open connections and stops its media at once."""
    return BridgePointOut.of(
        await ctx.services.directory.update_bridge_point(
            ctx.principal, p.bridge_point_id, name=p.name, room=p.room, disabled=p.disabled
        )
    )


def _bridge_point_switch(verb: str, disabled: bool, summary: str) -> None:
    async def handler(ctx: Context, p: BridgePointRef) -> BridgePointOut:
        return BridgePointOut.of(
            await ctx.services.directory.update_bridge_point(
                ctx.principal, p.bridge_point_id, name=None, room=None, disabled=disabled
            )
        )

    handler.__doc__ = (
        "Its open connections are closed and its media stops at once."
        if disabled
        else "It may log in again with its device credential."
    )
    COMMANDS.command(
        f"bridge_point.{verb}",
        BridgePointRef,
        answer=BridgePointOut,
        summary=summary,
        tag="bridge-points",
        permission=Permission.MANAGE_DIRECTORY,
        rest=Rest("POST", f"{BRIDGE_POINT}/{verb}", f"{verb}_bridge_point", errors=(403, 404)),
    )(handler)


_bridge_point_switch("disable", True, "Disable a bridge point: it can no longer log in")
_bridge_point_switch("enable", False, "Enable a disabled bridge point")


@COMMANDS.command(
    "bridge_point.rotate_credential",
    BridgePointRef,
    answer=NewBridgePointOut,
    summary="Issue a new device credential (the old one and its tokens stop working)",
    tag="bridge-points",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest("POST", f"{BRIDGE_POINT}/credential", "rotate_credential", 201, errors=(403, 404)),
)
async def rotate_credential(ctx: Context, p: BridgePointRef) -> NewBridgePointOut:
    """The device's open connections are closed at once; it logs in with the new one."""
    return _new(await ctx.services.directory.rotate_credential(ctx.principal, p.bridge_point_id))


@COMMANDS.command(
    "bridge_point.test_call",
    BridgePointRef,
    answer=MeetingOut,
    summary="Start a test call with a bridge point before a meeting",
    tag="bridge-points",
    permission=Permission.MANAGE_DIRECTORY,
    events=(ev.MeetingCreated, ev.BridgePointsInvited, ev.MeetingOpened, ev.FloorGranted),
    rest=Rest("POST", f"{BRIDGE_POINT}/test-call", "test_call", 201, errors=(403, 404, 409)),
)
async def test_call(ctx: Context, p: BridgePointRef) -> MeetingOut:
    """An open meeting of the point's unit, chaired by the calling operator, with the point
    invited and given the floor: its screen joins it by itself, the operator and the point see
    and hear each other, and both see the link figures (`media.health`). End it with
    `meeting.end`."""
    meeting = await ctx.services.meetings.open_test_call(ctx.principal, p.bridge_point_id)
    await ctx.services.floor.grant(ctx.principal, meeting.id, f"bridge_point:{p.bridge_point_id}")
    return MeetingOut.of(await ctx.services.meetings.get(ctx.principal, meeting.id))


# -- users -------------------------------------------------------------------------------------

USER = "/api/v1/users/{user_id}"


class UserList(Request):
    role: Role | None = None
    q: Search | None = None
    limit: Limit = 500
    offset: Offset = 0


class UserRef(Request):
    user_id: Id


class UserGrant(GrantIn):
    user_id: Id


class PasswordIn(Request):
    password: Password


class UserPassword(PasswordIn):
    user_id: Id


@COMMANDS.command(
    "user.create",
    UserIn,
    answer=UserOut,
    summary="Add a user with roles",
    tag="users",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest("POST", "/api/v1/users", "create_user", 201, errors=(403, 404, 409)),
)
async def create_user(ctx: Context, p: UserIn) -> UserOut:
    """Each grant needs the operator role for its unit."""
    user = await ctx.services.directory.create_user(
        ctx.principal,
        login=p.login,
        display_name=p.display_name,
        password=p.password,
        grants=[(g.unit_id, g.role) for g in p.grants],
    )
    return UserOut.of(user)


@COMMANDS.command(
    "user.list",
    UserList,
    answer=list[UserOut],
    summary="List users of the caller's units",
    tag="users",
    permission=Permission.READ_DIRECTORY,
    rest=Rest("GET", "/api/v1/users", "list_users", query=True, errors=(403,)),
)
async def list_users(ctx: Context, p: UserList) -> list[UserOut]:
    """Sorted by display name in Vietnamese order; `q` matches with or without diacritics."""
    users = await ctx.services.directory.list_users(
        ctx.principal, role=p.role, query=p.q, limit=p.limit, offset=p.offset
    )
    return [UserOut.of(u) for u in users]


@COMMANDS.command(
    "user.get",
    UserRef,
    answer=UserOut,
    summary="One user",
    tag="users",
    permission=Permission.READ_DIRECTORY,
    rest=Rest("GET", USER, "get_user", errors=(404,)),
)
async def get_user(ctx: Context, p: UserRef) -> UserOut:
    return UserOut.of(await ctx.services.directory.get_user(ctx.principal, p.user_id))


@COMMANDS.command(
    "user.grant_role",
    UserGrant,
    answer=UserOut,
    summary="Grant a role for a unit",
    tag="users",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest("POST", f"{USER}/grants", "grant_role", 201, errors=(403, 404, 409)),
)
async def grant_role(ctx: Context, p: UserGrant) -> UserOut:
    return UserOut.of(
        await ctx.services.directory.grant_role(ctx.principal, p.user_id, p.unit_id, p.role)
    )


@COMMANDS.command(
    "user.revoke_role",
    UserGrant,
    answer=UserOut,
    summary="Revoke a role for a unit",
    tag="users",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest("DELETE", f"{USER}/grants", "revoke_role", errors=(403, 404)),
)
async def revoke_role(ctx: Context, p: UserGrant) -> UserOut:
    """What the role allowed stops at once on the user's open connections (a meeting it no
    longer may attend is left)."""
    return UserOut.of(
        await ctx.services.directory.revoke_role(ctx.principal, p.user_id, p.unit_id, p.role)
    )


def _user_switch(verb: str, disabled: bool, summary: str) -> None:
    async def handler(ctx: Context, p: UserRef) -> UserOut:
        return UserOut.of(
            await ctx.services.directory.set_user_disabled(ctx.principal, p.user_id, disabled)
        )

    handler.__doc__ = (
        "Every token of the user stops working; open connections are closed at once."
        if disabled
        else "The user may log in again."
    )
    COMMANDS.command(
        f"user.{verb}",
        UserRef,
        answer=UserOut,
        summary=summary,
        tag="users",
        permission=Permission.MANAGE_DIRECTORY,
        rest=Rest("POST", f"{USER}/{verb}", f"{verb}_user", errors=(403, 404)),
    )(handler)


_user_switch("disable", True, "Disable a user's account")
_user_switch("enable", False, "Enable a disabled account")


@COMMANDS.command(
    "user.reset_password",
    UserPassword,
    answer=UserOut,
    summary="Set a new password for a user",
    tag="users",
    permission=Permission.MANAGE_DIRECTORY,
    rest=Rest("POST", f"{USER}/password", "reset_password", errors=(403, 404)),
)
async def reset_password(ctx: Context, p: UserPassword) -> UserOut:
    """Needs the operator role over every unit the user holds a role in (an administrator's
    password only by an administrator). Every token issued before stops working and the
    user's open connections are closed."""
    return UserOut.of(
        await ctx.services.directory.reset_password(ctx.principal, p.user_id, p.password)
    )
