"""Units: the province -> district -> commune tree."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from meetingd.api.context import services
from meetingd.api.routing import Call, Offset, QueryId, Routes
from meetingd.domain import UnitKind
from meetingd.schemas import UnitIn, UnitOut, UnitPatch

routes = Routes()


class UnitQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    parent_id: QueryId | None = None
    kind: UnitKind | None = None
    q: Annotated[str, Field(max_length=100, description="search, diacritics optional")] | None = (
        None
    )
    limit: Annotated[int, Field(ge=1, le=1000)] = 500
    offset: Offset = 0


@routes.route(
    "POST",
    "/api/v1/units",
    summary="Add a unit",
    tag="units",
    body=UnitIn,
    response=UnitOut,
    status=201,
    errors=(403, 404, 409),
)
async def create_unit(call: Call[UnitIn, Any]) -> UnitOut:
    """A province needs an administrator; a district or commune needs the operator role
    for its parent unit."""
    b = call.body
    unit = await services(call.request).directory.create_unit(
        call.principal, code=b.code, name=b.name, kind=b.kind, parent_id=b.parent_id
    )
    return UnitOut.of(unit)


@routes.route(
    "GET",
    "/api/v1/units",
    summary="List the units the caller can see",
    tag="units",
    query=UnitQuery,
    response=list[UnitOut],
)
async def list_units(call: Call[Any, UnitQuery]) -> list[UnitOut]:
    """Sorted in Vietnamese alphabetical order; `q` matches with or without diacritics."""
    q = call.query
    units = await services(call.request).directory.list_units(
        call.principal,
        parent_id=q.parent_id,
        kind=q.kind,
        query=q.q,
        limit=q.limit,
        offset=q.offset,
    )
    return [UnitOut.of(u) for u in units]


@routes.route(
    "GET",
    "/api/v1/units/{unit_id}",
    summary="One unit",
    tag="units",
    response=UnitOut,
    errors=(404,),
)
async def get_unit(call: Call[Any, Any]) -> UnitOut:
    return UnitOut.of(
        await services(call.request).directory.get_unit(call.principal, call.path["unit_id"])
    )


@routes.route(
    "PATCH",
    "/api/v1/units/{unit_id}",
    summary="Rename a unit",
    tag="units",
    body=UnitPatch,
    response=UnitOut,
    errors=(403, 404),
)
async def rename_unit(call: Call[UnitPatch, Any]) -> UnitOut:
    unit = await services(call.request).directory.rename_unit(
        call.principal, call.path["unit_id"], call.body.name
    )
    return UnitOut.of(unit)
