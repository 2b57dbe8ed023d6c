"""Votes, their electorate and ballots; secret ballots split so nothing links voter and
choice; the minutes of a meeting.

Open and named votes keep one ballot row per voter (``vote_ballots``). A secret vote keeps
who has voted (``vote_voters``: vote and voter, nothing else) apart from what was chosen
(``vote_choices``: vote, the hash of a random receipt only the voter holds, the choice).
Neither has an id, a time or a sequence; SQLite keeps both WITHOUT ROWID (rows in key
order, the key of a choice being random), and closing a vote rewrites both in key order so
that on PostgreSQL, too, the stored order says nothing about the order of casting.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import (
    Elector,
    MajorityRule,
    MeetingState,
    Minutes,
    MinutesSection,
    MinutesState,
    NamedChoice,
    Quorum,
    Vote,
    VoteKind,
    VoteResult,
    VoteState,
)
from meetingd.errors import AlreadyVoted
from meetingd.store.models import (
    BallotRow,
    MeetingRow,
    MinutesRow,
    SecretChoiceRow,
    SecretVoterRow,
    VoteElectorRow,
    VoteRow,
)


def result_to_json(result: VoteResult) -> dict[str, object]:
    data: dict[str, object] = dataclasses.asdict(result)
    return data


def result_from_json(data: dict[str, Any]) -> VoteResult:
    return VoteResult(
        counts=tuple(data["counts"]),
        ballots=data["ballots"],
        electors=data["electors"],
        base=data["base"],
        required=data["required"],
        outcome=data["outcome"],
        tie=data["tie"],
        elected=tuple(data["elected"]),
        statement=data["statement"],
        named=tuple(
            NamedChoice(n["subject"], n["name"], tuple(n["choice"])) for n in data["named"]
        ),
        receipts=tuple(tuple(r) for r in data["receipts"]),
    )


def tally(options: int, choices: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """Ballots per option."""
    counter = Counter(i for c in choices for i in c)
    return tuple(counter.get(i, 0) for i in range(options))


@dataclasses.dataclass(frozen=True, slots=True)
class NewVote:
    """What a vote is opened with."""

    meeting_id: int
    agenda_item_id: int | None
    question: str
    kind: VoteKind
    options: tuple[str, ...]
    max_choices: int
    rule: MajorityRule
    allow_change: bool
    members: int
    quorum: Quorum | None
    opened_at: datetime
    opened_by: str
    deadline: datetime | None
    electors: tuple[Elector, ...]


class VoteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, v: NewVote) -> int:
        row = VoteRow(
            meeting_id=v.meeting_id,
            agenda_item_id=v.agenda_item_id,
            question=v.question,
            kind=v.kind.value,
            options=list(v.options),
            max_choices=v.max_choices,
            rule=v.rule.value,
            allow_change=v.allow_change,
            members=v.members,
            quorum=dataclasses.asdict(v.quorum) if v.quorum else None,
            state=VoteState.OPEN.value,
            opened_at=v.opened_at,
            opened_by=v.opened_by,
            deadline=v.deadline,
        )
        self._s.add(row)
        await self._s.flush()
        if v.electors:  # one executemany: 500 bridge points are 500 rows
            await self._s.execute(
                insert(VoteElectorRow),
                [{"vote_id": row.id, "subject": e.subject, "name": e.name} for e in v.electors],
            )
        return row.id

    async def _row(self, vote_id: int, lock: str | None) -> VoteRow | None:
        query = select(VoteRow).where(VoteRow.id == vote_id)
        if lock is not None:
            query = query.with_for_update(read=lock == "share")
        return (await self._s.execute(query.execution_options(populate_existing=True))).scalar()

    async def get(self, vote_id: int, *, lock: str | None = None) -> Vote | None:
        """The vote with its electorate and live figures; ``lock`` "share" (a ballot: many at
        once, none while it closes) or "update" (closing)."""
        row = await self._row(vote_id, lock)
        return await self._vote(row) if row else None

    async def head(self, vote_id: int, *, lock: str | None = None) -> Vote | None:
        """The vote without its electorate (what a ballot needs, cheaply)."""
        row = await self._row(vote_id, lock)
        return await self._vote(row, electors=False, figures=False) if row else None

    async def head_in_meeting(
        self, vote_id: int, *, lock: str | None = None
    ) -> tuple[Vote, MeetingState] | None:
        """:meth:`head` and the state of its meeting, in one query (a batch of ballots)."""
        query = (
            select(VoteRow, MeetingRow.state)
            .join(MeetingRow, MeetingRow.id == VoteRow.meeting_id)
            .where(VoteRow.id == vote_id)
        )
        if lock is not None:
            query = query.with_for_update(read=lock == "share", of=VoteRow)
        found = (await self._s.execute(query.execution_options(populate_existing=True))).first()
        if found is None:
            return None
        row, state = found
        return await self._vote(row, electors=False, figures=False), MeetingState(state)

    async def of_meeting(self, meeting_id: int) -> list[Vote]:
        res = await self._s.execute(
            select(VoteRow).where(VoteRow.meeting_id == meeting_id).order_by(VoteRow.id)
        )
        return [await self._vote(r) for r in res.scalars().all()]

    async def _vote(self, row: VoteRow, *, electors: bool = True, figures: bool = True) -> Vote:
        kind = VoteKind(row.kind)
        people: tuple[Elector, ...] = ()
        if electors:
            res = await self._s.execute(
                select(VoteElectorRow.subject, VoteElectorRow.name)
                .where(VoteElectorRow.vote_id == row.id)
                .order_by(VoteElectorRow.name, VoteElectorRow.subject)
            )
            people = tuple(Elector(s, n) for s, n in res)
        ballots, counts = 0, None
        if figures:
            ballots, live = await self.figures(row.id, kind, len(row.options))
            counts = live if kind is not VoteKind.SECRET else None
        quorum = Quorum(**row.quorum) if row.quorum else None  # type: ignore[arg-type]
        return Vote(
            id=row.id,
            meeting_id=row.meeting_id,
            agenda_item_id=row.agenda_item_id,
            question=row.question,
            kind=kind,
            options=tuple(row.options),
            max_choices=row.max_choices,
            rule=MajorityRule(row.rule),
            allow_change=row.allow_change,
            members=row.members,
            quorum=quorum,
            state=VoteState(row.state),
            opened_at=row.opened_at,
            opened_by=row.opened_by,
            deadline=row.deadline,
            closed_at=row.closed_at,
            closed_by=row.closed_by,
            electors=people,
            ballots=ballots,
            counts=counts,
            result=result_from_json(row.result) if row.result is not None else None,
        )

    async def figures(
        self, vote_id: int, kind: VoteKind, options: int
    ) -> tuple[int, tuple[int, ...]]:
        """How many have voted, and the count per option (from the choices, for any kind)."""
        if kind is VoteKind.SECRET:
            ballots = (
                await self._s.execute(select(func.count()).where(SecretVoterRow.vote_id == vote_id))
            ).scalar_one()
            choices = await self._s.execute(
                select(SecretChoiceRow.choice).where(SecretChoiceRow.vote_id == vote_id)
            )
        else:
            ballots = (
                await self._s.execute(select(func.count()).where(BallotRow.vote_id == vote_id))
            ).scalar_one()
            choices = await self._s.execute(
                select(BallotRow.choice).where(BallotRow.vote_id == vote_id)
            )
        return int(ballots), tally(options, [c for (c,) in choices])

    async def elector(self, vote_id: int, subject: str) -> Elector | None:
        row = await self._s.get(VoteElectorRow, (vote_id, subject))
        return Elector(row.subject, row.name) if row else None

    async def ballot(self, vote_id: int, voter: str) -> tuple[int, ...] | None:
        """An open or named vote's ballot of ``voter``."""
        row = (
            await self._s.execute(
                select(BallotRow.choice).where(
                    BallotRow.vote_id == vote_id, BallotRow.voter == voter
                )
            )
        ).scalar()
        return tuple(row) if row is not None else None

    async def has_voted(self, vote_id: int, voter: str, kind: VoteKind) -> bool:
        table: Any = SecretVoterRow if kind is VoteKind.SECRET else BallotRow
        found = await self._s.execute(
            select(table.voter).where(table.vote_id == vote_id, table.voter == voter)
        )
        return found.first() is not None

    async def cast(self, vote_id: int, voter: str, choice: Sequence[int], now: datetime) -> None:
        """An open or named ballot; a second one is refused by the primary key."""
        self._s.add(BallotRow(vote_id=vote_id, voter=voter, choice=list(choice), cast_at=now))
        await self._flush_ballot()

    async def standing_among(
        self, vote_id: int, kind: VoteKind, subjects: Sequence[str]
    ) -> dict[str, bool]:
        """The electors among ``subjects``, each with whether it has voted already: one
        query for a batch of ballots (who is not in the answer may not vote)."""
        table: Any = SecretVoterRow if kind is VoteKind.SECRET else BallotRow
        res = await self._s.execute(
            select(VoteElectorRow.subject, table.voter)
            .outerjoin(
                table,
                (table.vote_id == VoteElectorRow.vote_id) & (table.voter == VoteElectorRow.subject),
            )
            .where(VoteElectorRow.vote_id == vote_id, VoteElectorRow.subject.in_(set(subjects)))
        )
        return {subject: voter is not None for subject, voter in res}

    async def cast_many(
        self, vote_id: int, ballots: Sequence[tuple[str, Sequence[int]]], now: datetime
    ) -> None:
        """Open or named ballots of several voters, in one statement."""
        await self._insert_ballots(
            BallotRow,
            [
                {"vote_id": vote_id, "voter": v, "choice": list(c), "cast_at": now}
                for v, c in ballots
            ],
        )

    async def cast_secret_many(
        self, vote_id: int, voters: Sequence[str], choices: Sequence[tuple[str, Sequence[int]]]
    ) -> None:
        """Secret ballots of several voters: who voted, and apart (the caller has shuffled
        them) what was chosen under which receipt hash."""
        await self._insert_ballots(
            SecretVoterRow, [{"vote_id": vote_id, "voter": v} for v in voters]
        )
        await self._insert_ballots(
            SecretChoiceRow,
            [{"vote_id": vote_id, "receipt_hash": h, "choice": list(c)} for h, c in choices],
        )

    async def change(self, vote_id: int, voter: str, choice: Sequence[int], now: datetime) -> None:
        await self._s.execute(
            update(BallotRow)
            .where(BallotRow.vote_id == vote_id, BallotRow.voter == voter)
            .values(choice=list(choice), cast_at=now)
        )

    async def cast_secret(
        self, vote_id: int, voter: str, receipt_hash: str, choice: Sequence[int]
    ) -> None:
        """Who voted and what was chosen, in two rows nothing joins."""
        self._s.add(SecretVoterRow(vote_id=vote_id, voter=voter))
        self._s.add(
            SecretChoiceRow(vote_id=vote_id, receipt_hash=receipt_hash, choice=list(choice))
        )
        await self._flush_ballot()

    async def change_secret(
        self, vote_id: int, old_hash: str, new_hash: str, choice: Sequence[int]
    ) -> bool:
        """Replace the choice whose receipt hashes to ``old_hash``; False when none does."""
        gone = await self._s.execute(
            delete(SecretChoiceRow).where(
                SecretChoiceRow.vote_id == vote_id, SecretChoiceRow.receipt_hash == old_hash
            )
        )
        if not gone.rowcount:  # type: ignore[attr-defined]
            return False
        self._s.add(SecretChoiceRow(vote_id=vote_id, receipt_hash=new_hash, choice=list(choice)))
        await self._s.flush()
        return True

    async def _flush_ballot(self) -> None:
        try:
            await self._s.flush()
        except IntegrityError:
            raise AlreadyVoted() from None

    async def _insert_ballots(self, model: Any, rows: list[dict[str, Any]]) -> None:
        """Rows of a batch in one executemany, without the ORM's per-object flush."""
        try:
            await self._s.execute(insert(model), rows)
        except IntegrityError:
            raise AlreadyVoted() from None

    async def named(self, vote_id: int) -> dict[str, tuple[int, ...]]:
        res = await self._s.execute(
            select(BallotRow.voter, BallotRow.choice).where(BallotRow.vote_id == vote_id)
        )
        return {v: tuple(c) for v, c in res}

    async def receipts(self, vote_id: int) -> list[tuple[str, tuple[int, ...]]]:
        res = await self._s.execute(
            select(SecretChoiceRow.receipt_hash, SecretChoiceRow.choice)
            .where(SecretChoiceRow.vote_id == vote_id)
            .order_by(SecretChoiceRow.receipt_hash)
        )
        return [(h, tuple(c)) for h, c in res]

    async def rewrite_secret(self, vote_id: int) -> None:
        """Store both halves of a secret vote again, in key order, in one transaction: the
        physical order and the writing transaction then say nothing of the casting order."""
        voters = (
            (
                await self._s.execute(
                    select(SecretVoterRow.voter)
                    .where(SecretVoterRow.vote_id == vote_id)
                    .order_by(SecretVoterRow.voter)
                )
            )
            .scalars()
            .all()
        )
        choices = await self.receipts(vote_id)
        await self._s.execute(delete(SecretVoterRow).where(SecretVoterRow.vote_id == vote_id))
        await self._s.execute(delete(SecretChoiceRow).where(SecretChoiceRow.vote_id == vote_id))
        await self._s.flush()
        self._s.add_all(SecretVoterRow(vote_id=vote_id, voter=v) for v in voters)
        self._s.add_all(
            SecretChoiceRow(vote_id=vote_id, receipt_hash=h, choice=list(c)) for h, c in choices
        )
        await self._s.flush()

    async def close(self, vote_id: int, by: str, now: datetime, result: VoteResult) -> None:
        await self._s.execute(
            update(VoteRow)
            .where(VoteRow.id == vote_id)
            .values(
                state=VoteState.CLOSED.value,
                closed_at=now,
                closed_by=by,
                result=result_to_json(result),
            )
        )

    async def overdue(self, now: datetime) -> list[tuple[int, int]]:
        """(meeting id, vote id) of open votes whose deadline has passed."""
        res = await self._s.execute(
            select(VoteRow.meeting_id, VoteRow.id).where(
                VoteRow.state == VoteState.OPEN.value,
                VoteRow.deadline.is_not(None),
                VoteRow.deadline <= now,
            )
        )
        return [(m, v) for m, v in res]

    async def open_in(self, meeting_id: int) -> list[int]:
        res = await self._s.execute(
            select(VoteRow.id).where(
                VoteRow.meeting_id == meeting_id, VoteRow.state == VoteState.OPEN.value
            )
        )
        return list(res.scalars())


def _minutes(row: MinutesRow) -> Minutes:
    sections = row.body.get("sections", [])
    assert isinstance(sections, list)
    return Minutes(
        meeting_id=row.meeting_id,
        number=row.number,
        place=row.place,
        state=MinutesState(row.state),
        sections=tuple(MinutesSection(str(x["heading"]), str(x["text"])) for x in sections),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        finalised_at=row.finalised_at,
        pdf_sha256=row.pdf_sha256,
    )


class MinutesRepository:
    """The minutes of a meeting: the draft's sections as JSON, then the signed PDF."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, meeting_id: int, *, lock: bool = False) -> Minutes | None:
        query = select(MinutesRow).where(MinutesRow.meeting_id == meeting_id)
        if lock:
            query = query.with_for_update()
        row = (await self._s.execute(query.execution_options(populate_existing=True))).scalar()
        return _minutes(row) if row else None

    async def save(self, m: Minutes, now: datetime, by: str) -> None:
        """Store the draft (insert or replace)."""
        body: dict[str, object] = {
            "sections": [{"heading": x.heading, "text": x.text} for x in m.sections]
        }
        row = await self._s.get(MinutesRow, m.meeting_id)
        if row is None:
            row = MinutesRow(meeting_id=m.meeting_id, state=MinutesState.DRAFT.value)
            self._s.add(row)
        row.number, row.place, row.body = m.number, m.place, body
        row.updated_at, row.updated_by = now, by
        await self._s.flush()

    async def finalise(self, meeting_id: int, pdf: bytes, sha256: str, now: datetime) -> None:
        await self._s.execute(
            update(MinutesRow)
            .where(MinutesRow.meeting_id == meeting_id)
            .values(state=MinutesState.FINAL.value, pdf=pdf, pdf_sha256=sha256, finalised_at=now)
        )

    async def pdf(self, meeting_id: int) -> bytes | None:
        return (
            await self._s.execute(select(MinutesRow.pdf).where(MinutesRow.meeting_id == meeting_id))
        ).scalar()
