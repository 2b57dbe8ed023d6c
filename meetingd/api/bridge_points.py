"""Bridge points: the rooms that join meetings as devices."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from meetingd.api.context import services
from meetingd.api.routing import Call, Offset, QueryId, Routes
from meetingd.schemas import BridgePointIn, BridgePointOut, BridgePointPatch, NewBridgePointOut
from meetingd.services.directory import NewBridgePoint

routes = Routes()


class BridgePointQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    unit_id: QueryId | None = None
    q: Annotated[str, Field(max_length=100)] | None = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 500
    offset: Offset = 0


def _new(n: NewBridgePoint) -> NewBridgePointOut:
    return NewBridgePointOut(
        **BridgePointOut.of(n.bridge_point).model_dump(), credential=n.credential
    )


@routes.route(
    "POST",
    "/api/v1/bridge-points",
    summary="Register a bridge point",
    tag="bridge-points",
    body=BridgePointIn,
    response=NewBridgePointOut,
    status=201,
    errors=(403, 404),
)
async def create_bridge_point(call: Call[BridgePointIn, Any]) -> NewBridgePointOut:
    """Needs the operator role for the unit. The answer holds the device credential,
    shown this once; only its hash is stored."""
    b = call.body
    return _new(
        await services(call.request).directory.create_bridge_point(
            call.principal, unit_id=b.unit_id, name=b.name, room=b.room
        )
    )


@routes.route(
    "GET",
    "/api/v1/bridge-points",
    summary="List bridge points",
    tag="bridge-points",
    query=BridgePointQuery,
    response=list[BridgePointOut],
    errors=(403,),
)
async def list_bridge_points(call: Call[Any, BridgePointQuery]) -> list[BridgePointOut]:
    q = call.query
    bps = await services(call.request).directory.list_bridge_points(
        call.principal, unit_id=q.unit_id, query=q.q, limit=q.limit, offset=q.offset
    )
    return [BridgePointOut.of(b) for b in bps]


@routes.route(
    "GET",
    "/api/v1/bridge-points/{bridge_point_id}",
    summary="One bridge point",
    tag="bridge-points",
    response=BridgePointOut,
    errors=(404,),
)
async def get_bridge_point(call: Call[Any, Any]) -> BridgePointOut:
    return BridgePointOut.of(
        await services(call.request).directory.get_bridge_point(
            call.principal, call.path["bridge_point_id"]
        )
    )


@routes.route(
    "PATCH",
    "/api/v1/bridge-points/{bridge_point_id}",
    summary="Change a bridge point",
    tag="bridge-points",
    body=BridgePointPatch,
    response=BridgePointOut,
    errors=(403, 404),
)
async def update_bridge_point(call: Call[BridgePointPatch, Any]) -> BridgePointOut:
    b = call.body
    return BridgePointOut.of(
        await services(call.request).directory.update_bridge_point(
            call.principal,
            call.path["bridge_point_id"],
            name=b.name,
            room=b.room,
            disabled=b.disabled,
        )
    )


@routes.route(
    "POST",
    "/api/v1/bridge-points/{bridge_point_id}/credential",
    summary="Issue a new device credential (the old one stops working)",
    tag="bridge-points",
    response=NewBridgePointOut,
    status=201,
    errors=(403, 404),
)
async def rotate_credential(call: Call[Any, Any]) -> NewBridgePointOut:
    return _new(
        await services(call.request).directory.rotate_credential(
            call.principal, call.path["bridge_point_id"]
        )
    )
