"""Reports upward ("báo cáo"): attendance and votes per meeting, and per unit over a date
range (its meetings and those of the units below it), as CSV or XLSX, for a higher level's
system to collect over REST.

Attendance comes from each meeting's last closed roll call (per bridge point with its count,
per delegate); votes from the closed votes' frozen results (counts, rule, outcome, and for a
named vote who chose what). Nothing secret is in them: a secret vote's report holds its
counts only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from meetingd.domain import Meeting, Principal, Role, VoteKind, VoteState
from meetingd.errors import NotFound, ValidationError
from meetingd.services import authz
from meetingd.services.authz import Permission
from meetingd.services.minutes import KINDS, RULES, VN
from meetingd.store import Store, UnitOfWork

Format = Literal["csv", "xlsx"]
#: Most meetings one unit report covers (a narrower range gets the rest).
MAX_MEETINGS = 1000

ATTENDANCE = ("meeting_id", "meeting", "date", "unit", "participant", "kind", "present",
              "people")  # fmt: skip
VOTES = ("meeting_id", "meeting", "date", "vote_id", "question", "kind", "rule", "options",
         "counts", "ballots", "electors", "outcome", "result", "named")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Report:
    """Two tables: attendance and votes (one row per participant, one per vote)."""

    attendance: list[tuple[object, ...]]
    votes: list[tuple[object, ...]]


async def _rows(uow: UnitOfWork, meeting: Meeting, report: Report) -> None:
    day = meeting.starts_at.astimezone(VN).date().isoformat()
    head = (meeting.id, meeting.title, day)
    rollcall = await uow.rollcalls.latest(meeting.id)
    result = rollcall.result if rollcall is not None else None
    if result is not None:
        for b in result.bridge_points:
            report.attendance.append(
                (*head, b.unit_name, b.name, "bridge_point", b.present, b.count)
            )
        for d in result.delegates:
            report.attendance.append((*head, "", d.name, "delegate", d.present, None))
    for v in await uow.votes.of_meeting(meeting.id):
        if v.state is not VoteState.CLOSED or v.result is None:
            continue
        r = v.result
        named = ""
        if v.kind is VoteKind.NAMED:
            named = "; ".join(
                f"{n.name}: {', '.join(v.options[i] for i in n.choice) or '-'}" for n in r.named
            )
        report.votes.append((
            *head, v.id, v.question, KINDS[v.kind], RULES[v.rule.value], " | ".join(v.options),
            " | ".join(str(c) for c in r.counts), r.ballots, r.electors, r.outcome, r.statement,
            named,
        ))  # fmt: skip


def render(report: Report, fmt: Format) -> bytes:
    """CSV (UTF-8 with a BOM, so spreadsheet programs read the Vietnamese; a ``table``
    column tells the two tables apart) or XLSX (one sheet each)."""
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(("table", *ATTENDANCE))
        w.writerows(("attendance", *row) for row in report.attendance)
        w.writerow(("table", *VOTES))
        w.writerows(("votes", *row) for row in report.votes)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Điểm danh"
    for name, header, rows in (("Điểm danh", ATTENDANCE, report.attendance),
                               ("Biểu quyết", VOTES, report.votes)):  # fmt: skip
        if sheet.title != name:
            sheet = book.create_sheet(name)
        sheet.append(header)
        for row in rows:
            sheet.append(list(row))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


class ReportService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def meeting(self, principal: Principal, meeting_id: int, fmt: Format) -> bytes:
        """One meeting's attendance and votes (its chair or secretary, or staff above)."""
        report = Report([], [])
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING
            )
            await _rows(uow, meeting, report)
        return render(report, fmt)

    async def unit(
        self, principal: Principal, unit_id: int, start: datetime, end: datetime, fmt: Format
    ) -> bytes:
        """Every meeting of the unit and the units below it starting in [start, end)."""
        if end <= start:
            raise ValidationError("'end' must not be before 'start'", field="end")
        report = Report([], [])
        async with self._store.transaction() as uow:
            unit = await uow.units.get(unit_id)
            if unit is None or not authz.can_see_unit(principal, unit.path):
                raise NotFound(f"unit {unit_id} does not exist", field="unit_id")
            authz.require_role(principal, unit.path, Role.CHAIR, Role.SECRETARY, Role.OPERATOR,
                               what="a unit's report")  # fmt: skip
            found = await uow.meetings.find(within_paths=[unit.path], limit=MAX_MEETINGS)
            for m in sorted(found, key=lambda m: (m.starts_at, m.id)):
                if start <= m.starts_at < end:
                    full = await uow.meetings.get(m.id)
                    if full is not None:
                        await _rows(uow, full, report)
        return render(report, fmt)
