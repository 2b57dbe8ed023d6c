"""Users and their roles per unit."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from meetingd.api.context import services
from meetingd.api.routing import Call, Offset, Routes
from meetingd.domain import Role
from meetingd.schemas import GrantIn, UserIn, UserOut

routes = Routes()


class UserQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role | None = None
    q: Annotated[str, Field(max_length=100, description="search, diacritics optional")] | None = (
        None
    )
    limit: Annotated[int, Field(ge=1, le=1000)] = 500
    offset: Offset = 0


@routes.route(
    "POST",
    "/api/v1/users",
    summary="Add a user with roles",
    tag="users",
    body=UserIn,
    response=UserOut,
    status=201,
    errors=(403, 404, 409),
)
async def create_user(call: Call[UserIn, Any]) -> UserOut:
    """Each grant needs the operator role for its unit."""
    b = call.body
    user = await services(call.request).directory.create_user(
        call.principal,
        login=b.login,
        display_name=b.display_name,
        password=b.password,
        grants=[(g.unit_id, g.role) for g in b.grants],
    )
    return UserOut.of(user)


@routes.route(
    "GET",
    "/api/v1/users",
    summary="List users of the caller's units",
    tag="users",
    query=UserQuery,
    response=list[UserOut],
    errors=(403,),
)
async def list_users(call: Call[Any, UserQuery]) -> list[UserOut]:
    """Sorted by display name in Vietnamese order; `q` matches with or without diacritics."""
    q = call.query
    users = await services(call.request).directory.list_users(
        call.principal, role=q.role, query=q.q, limit=q.limit, offset=q.offset
    )
    return [UserOut.of(u) for u in users]


@routes.route(
    "GET",
    "/api/v1/users/{user_id}",
    summary="One user",
    tag="users",
    response=UserOut,
    errors=(404,),
)
async def get_user(call: Call[Any, Any]) -> UserOut:
    return UserOut.of(
        await services(call.request).directory.get_user(call.principal, call.path["user_id"])
    )


@routes.route(
    "POST",
    "/api/v1/users/{user_id}/grants",
    summary="Grant a role for a unit",
    tag="users",
    body=GrantIn,
    response=UserOut,
    status=201,
    errors=(403, 404, 409),
)
async def grant_role(call: Call[GrantIn, Any]) -> UserOut:
    return UserOut.of(
        await services(call.request).directory.grant_role(
            call.principal, call.path["user_id"], call.body.unit_id, call.body.role
        )
    )


@routes.route(
    "DELETE",
    "/api/v1/users/{user_id}/grants",
    summary="Revoke a role for a unit",
    tag="users",
    body=GrantIn,
    response=UserOut,
    errors=(403, 404),
)
async def revoke_role(call: Call[GrantIn, Any]) -> UserOut:
    return UserOut.of(
        await services(call.request).directory.revoke_role(
            call.principal, call.path["user_id"], call.body.unit_id, call.body.role
        )
    )
