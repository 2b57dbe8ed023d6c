"""Reports upward over HTTP (CSV or XLSX bytes): per meeting, and per unit over a date range."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from meetingd.api.context import services
from meetingd.api.routing import Call, Routes
from meetingd.commands.meetings import MEETING
from meetingd.schemas import MinutesOut
from meetingd.services.minutes import VN

routes = Routes()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT = {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}


class MeetingReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["csv", "xlsx"] = "csv"


class UnitReportQuery(MeetingReportQuery):
    start: date = Field(description="First day (YYYY-MM-DD, Vietnam time)")
    end: date = Field(description="Last day, included")


def _file(body: bytes, fmt: str, name: str) -> web.Response:
    ctype = "text/csv; charset=utf-8" if fmt == "csv" else XLSX
    return web.Response(
        body=body,
        headers={"Content-Type": ctype, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.route(
    "GET",
    f"{MEETING}/report",
    summary="A meeting's attendance (roll call) and votes with their results, CSV or XLSX",
    tag="reports",
    query=MeetingReportQuery,
    response=MinutesOut,
    errors=(403, 404),
    raw_content=CONTENT,
)
async def meeting_report(call: Call[Any, MeetingReportQuery]) -> web.StreamResponse:
    """Who may call: the meeting's chair or secretary, or a chair or secretary of its unit or
    above. A secret vote shows its counts only."""
    mid = call.path["meeting_id"]
    fmt = call.query.format
    body = await services(call.request).reports.meeting(call.principal, mid, fmt)
    return _file(body, fmt, f"bao-cao-hop-{mid}.{fmt}")


@routes.route(
    "GET",
    "/api/v1/units/{unit_id}/report",
    summary="Attendance and votes of every meeting of a unit (and below) in a date range",
    tag="reports",
    query=UnitReportQuery,
    response=MinutesOut,
    errors=(403, 404),
    raw_content=CONTENT,
)
async def unit_report(call: Call[Any, UnitReportQuery]) -> web.StreamResponse:
    """Meetings that start from `start` to `end` (days, Vietnam time, both included).
    Who may call: a chair, secretary or operator of the unit or above."""
    q = call.query
    start = datetime.combine(q.start, time(), VN)
    end = datetime.combine(q.end, time(), VN) + timedelta(days=1)
    body = await services(call.request).reports.unit(
        call.principal, call.path["unit_id"], start, end, q.format
    )
    return _file(body, q.format, f"bao-cao-don-vi-{call.path['unit_id']}.{q.format}")
