"""Reports upward: a meeting's and a unit's attendance and votes, CSV and XLSX, over REST."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from meetingd.app import PARTS
from meetingd.clock import ManualClock
from meetingd.errors import NotFound, PermissionDenied
from tests.conftest import World
from tests.services.test_minutes import _held_meeting
from tests.services.test_votes import who


async def test_meeting_and_unit_reports(
    client: Any, app: Any, api_world: World, clock: ManualClock
) -> None:
    parts, w = app[PARTS], api_world
    await _held_meeting(parts, w, clock)
    r = parts.services.reports
    chair = await who(parts, w, "chair")

    text = (await r.meeting(chair, w.meeting_id, "csv")).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    attendance = [row for row in rows if row[0] == "attendance"]
    votes = [row for row in rows if row[0] == "votes"]
    assert {row[5] for row in attendance} == {"Điểm cầu bp1", "Điểm cầu bp2", "Phạm Thị Ánh"}
    bp1 = next(row for row in attendance if row[5] == "Điểm cầu bp1")
    assert (bp1[4], bp1[7], bp1[8]) == ("Xã Hoằng Đạo", "True", "12")
    assert [row[5] for row in votes] == ["Thông qua báo cáo?", "Bầu tổ trưởng?"]
    assert votes[0][-1] == "Phạm Thị Ánh: Tán thành" and votes[1][-1] == ""  # secret: no names
    assert votes[0][12] == "passed"

    book = load_workbook(io.BytesIO(await r.meeting(chair, w.meeting_id, "xlsx")))
    assert book.sheetnames == ["Điểm danh", "Biểu quyết"]
    assert book["Biểu quyết"].max_row == 3  # header and two votes

    # Over REST, for the district over a date range, as a higher level would collect it.
    day = w_day(parts.clock.now())
    path = f"/api/v1/units/{w.units['P']}/report?start={day}&end={day}&format=csv"
    resp = await client.get(path, headers=w.auth("admin"))
    assert resp.status == 200 and resp.content_type == "text/csv"
    body = (await resp.read()).decode("utf-8-sig")
    assert "Thông qua báo cáo?" in body and "Giao ban tháng 11" in body
    resp = await client.get(
        f"/api/v1/units/{w.units['D1']}/report?start=2020-01-01&end=2020-12-31",
        headers=w.auth("chair"),
    )
    assert resp.status == 200 and "Thông qua" not in (await resp.read()).decode("utf-8-sig")
    resp = await client.get(f"/api/v1/meetings/{w.meeting_id}/report?format=xlsx",
                            headers=w.auth("secretary"))  # fmt: skip
    assert resp.status == 200 and (await resp.read())[:2] == b"PK"

    with pytest.raises(NotFound):
        await r.unit(await who(parts, w, "chair_d2"), w.units["D1"], *_range(), "csv")
    with pytest.raises(PermissionDenied):
        await r.meeting(await who(parts, w, "delegate"), w.meeting_id, "csv")


def w_day(now: datetime) -> str:
    from meetingd.services.minutes import VN

    return now.astimezone(VN).date().isoformat()


def _range() -> tuple[datetime, datetime]:
    return datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
