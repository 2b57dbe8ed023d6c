"""Votes ("biểu quyết") on an agenda item: open, named or secret; the result with its rule.

The chair or the secretary opens a vote with its question, options (agree / disagree /
abstain, or a list with a maximum number of choices), kind, electorate (the delegates
present at the last closed roll call, or named ones; bridge points for their room where the
vote allows), majority rule and optional deadline. Each elector casts one ballot: it is
committed before it is acknowledged and the primary key refuses a second; a ballot for a
closed vote, by someone outside the electorate, or for an option that does not exist is
refused with the reason, and audited (without its choice for a secret vote) like an
accepted one. Closing (by hand or when the deadline passes, one closer across processes)
applies the rule and freezes the result.

Secret votes store who has voted apart from what was chosen (see ``store/votes.py``); the
voter gets a random receipt, and the result publishes, per option, the hashes of the
receipts counted for it, so the voter can find their own and nobody else learns anything.

Live counts (``vote.counted``) are coalesced per process, by the injected clock: a ballot
that comes :data:`COUNT_INTERVAL` or more after this process last counted its vote emits the
figures in its own transaction (the first ballot is seen at once); a ballot sooner than that
only marks the vote pending, and :meth:`VoteService.flush_counts`, run by the real-time
server every :data:`COUNT_INTERVAL`, emits the pending ones once their interval is over. The
figures are read from the database, so they are right whichever process took the ballots:
at most 1 / COUNT_INTERVAL events per second per vote and process, however many ballots
arrive. A secret vote's event carries only how many have voted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from meetingd.clock import Clock
from meetingd.domain import (
    Ballot,
    Elector,
    MajorityRule,
    Meeting,
    NamedChoice,
    Principal,
    Quorum,
    RollCallState,
    Vote,
    VoteKind,
    VoteResult,
    VoteState,
)
from meetingd.errors import (
    AlreadyVoted,
    MeetingdError,
    NotFound,
    PermissionDenied,
    StateError,
    ValidationError,
)
from meetingd.events import VoteClosed, VoteCounted, VoteOpened
from meetingd.schemas import VoteIn, VoteOut
from meetingd.services import authz
from meetingd.services.authz import HELD, Permission
from meetingd.store import Store, UnitOfWork
from meetingd.store.votes import NewVote

logger = logging.getLogger(__name__)

#: The options of a yes/no question.
DEFAULT_OPTIONS = ("Tán thành", "Không tán thành", "Không biểu quyết")
#: How often coalesced live counts go out (seconds): at most 1 / COUNT_INTERVAL per vote.
COUNT_INTERVAL = 0.25
SYSTEM = "system"
#: Most ballots committed in one transaction (a burst beyond it is several batches).
MAX_BATCH = 250


@dataclass(frozen=True)
class _Cast:
    """A ballot waiting for its batch; ``done`` is answered once it is committed."""

    principal: Principal
    choice: tuple[int, ...]
    done: asyncio.Future[Ballot]


def receipt_hash(vote_id: int, receipt: str) -> str:
    """What the result publishes for a receipt: SHA-256 (hex) of ``<vote_id>:<receipt>``."""
    return hashlib.sha256(f"{vote_id}:{receipt}".encode()).hexdigest()


def new_receipt() -> str:
    """A random receipt code, easy to copy down: ``7F3A-09C2-D1E4-88B0``."""
    raw = secrets.token_hex(8).upper()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def is_yes_no(vote: Vote) -> bool:
    return vote.options == DEFAULT_OPTIONS and vote.max_choices == 1


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}".replace(".", ",") + "%" if whole else "0%"


def compute_result(
    vote: Vote,
    ballots: int,
    counts: tuple[int, ...],
    named: dict[str, tuple[int, ...]] | None = None,
    receipts: Sequence[tuple[str, tuple[int, ...]]] = (),
) -> VoteResult:
    """Apply ``vote``'s rule to the counts (a pure function: the minutes recompute nothing)."""
    base = len(vote.electors) if vote.rule is MajorityRule.PRESENT else vote.members
    if vote.rule is MajorityRule.TWO_THIRDS:
        required = max(1, (2 * base + 2) // 3)
    else:
        required = base // 2 + 1
    no_quorum = vote.quorum is not None and not vote.quorum.reached
    if is_yes_no(vote):
        agree, disagree = counts[0], counts[1]
        passed = agree >= required
        tie = agree == disagree
        outcome = "passed" if passed else "rejected"
        elected: tuple[int, ...] = ()
        share = f"{agree}/{base} ({_percent(agree, base)}) tán thành, cần {required}"
        statement = f"{'Thông qua' if passed else 'Không thông qua'}: {share}."
        if tie:
            statement += " Số phiếu tán thành và không tán thành bằng nhau."
    else:
        ranked = sorted(
            (i for i, c in enumerate(counts) if c >= required), key=lambda i: (-counts[i], i)
        )
        elected = tuple(ranked[: vote.max_choices])
        tie = len(ranked) > vote.max_choices and (
            counts[ranked[vote.max_choices - 1]] == counts[ranked[vote.max_choices]]
        )
        outcome = "elected" if elected else "none_elected"
        if elected:
            names = ", ".join(f"{vote.options[i]} ({counts[i]} phiếu)" for i in elected)
            statement = f"Đạt {required}/{base} phiếu trở lên: {names}."
        else:
            statement = f"Không phương án nào đạt {required}/{base} phiếu."
        if tie:
            statement += " Có phương án bằng phiếu nhau ở vị trí cuối cùng được chọn."
    if no_quorum:
        outcome = "no_quorum"
        statement = (
            "Không đủ số đại biểu có mặt theo điểm danh; kết quả biểu quyết không có giá trị. "
            + statement
        )
    named_list: tuple[NamedChoice, ...] = ()
    if named is not None:
        named_list = tuple(
            NamedChoice(e.subject, e.name, named.get(e.subject, ())) for e in vote.electors
        )
    per_option: tuple[tuple[str, ...], ...] = ()
    if vote.kind is VoteKind.SECRET:
        per_option = tuple(
            tuple(sorted(h for h, c in receipts if i in c)) for i in range(len(vote.options))
        )
    return VoteResult(
        counts=counts,
        ballots=ballots,
        electors=len(vote.electors),
        base=base,
        required=required,
        outcome=outcome,
        tie=tie,
        elected=elected,
        statement=statement,
        named=named_list,
        receipts=per_option,
    )


class VoteService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        #: Votes that took ballots here since they were last counted (vote -> meeting).
        self._pending: dict[int, int] = {}
        #: When this process last emitted each open vote's counts.
        self._counted_at: dict[int, datetime] = {}
        #: First ballots waiting for their vote's next batch, and the task committing them.
        self._queues: dict[tuple[int, int], list[_Cast]] = {}
        self._draining: dict[tuple[int, int], asyncio.Task[None]] = {}

    async def _vote(self, uow: UnitOfWork, meeting_id: int, vote_id: int, lock: str | None = None,
                    *, whole: bool = True) -> Vote:  # fmt: skip
        vote = await (uow.votes.get if whole else uow.votes.head)(vote_id, lock=lock)
        if vote is None or vote.meeting_id != meeting_id:
            raise NotFound(f"vote {vote_id} does not exist in this meeting", field="vote_id")
        return vote

    async def in_meeting(self, principal: Principal, meeting_id: int) -> list[Vote]:
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id)
            return await uow.votes.of_meeting(meeting_id)

    async def get(self, principal: Principal, meeting_id: int, vote_id: int) -> Vote:
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id)
            return await self._vote(uow, meeting_id, vote_id)

    async def status(
        self, principal: Principal, meeting_id: int, vote_id: int
    ) -> tuple[bool, bool, tuple[int, ...] | None]:
        """Whether the caller may vote, has voted, and (open or named) their choice."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id)
            vote = await self._vote(uow, meeting_id, vote_id, whole=False)
            elector = await uow.votes.elector(vote_id, principal.subject) is not None
            if vote.kind is VoteKind.SECRET:
                voted = await uow.votes.has_voted(vote_id, principal.subject, vote.kind)
                return elector, voted, None
            choice = await uow.votes.ballot(vote_id, principal.subject)
            return elector, choice is not None, choice

    # -- opening -------------------------------------------------------------------------

    async def open(self, principal: Principal, meeting_id: int, spec: VoteIn) -> Vote:
        """Open a vote (chair or secretary, meeting open, live or paused)."""
        options = tuple(spec.options) if spec.options is not None else DEFAULT_OPTIONS
        if len(set(options)) != len(options):
            raise ValidationError("two options have the same text", field="options")
        if spec.max_choices > len(options) or (spec.options is None and spec.max_choices != 1):
            raise ValidationError("max_choices is more than the options allow", field="max_choices")
        if spec.electorate == "named" and not spec.voters:
            raise ValidationError("a named electorate needs its voters", field="voters")
        if spec.electorate == "present" and spec.voters:
            raise ValidationError("voters are given only with electorate named", field="voters")
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING, states=HELD,
                doing="opening a vote", lock=True,
            )  # fmt: skip
            if spec.agenda_item_id is not None and spec.agenda_item_id not in {
                i.id for i in meeting.agenda
            }:
                raise ValidationError(
                    f"agenda item {spec.agenda_item_id} is not in this meeting",
                    field="agenda_item_id",
                )
            electors, quorum = await self._electorate(uow, meeting, spec)
            if not electors:
                raise ValidationError("nobody may vote: the electorate is empty", field="voters")
            delegates = len(meeting.delegate_ids)
            members = delegates + (len(meeting.bridge_point_ids) if spec.bridge_points_vote else 0)
            now = self._clock.now()
            deadline = now + timedelta(seconds=spec.deadline_seconds) if spec.deadline_seconds \
                else None  # fmt: skip
            vote_id = await uow.votes.add(
                NewVote(
                    meeting_id=meeting_id,
                    agenda_item_id=spec.agenda_item_id,
                    question=spec.question,
                    kind=VoteKind(spec.kind),
                    options=options,
                    max_choices=spec.max_choices,
                    rule=MajorityRule(spec.rule),
                    allow_change=spec.allow_change,
                    members=members or len(electors),
                    quorum=quorum,
                    opened_at=now,
                    opened_by=principal.subject,
                    deadline=deadline,
                    electors=tuple(electors),
                )
            )
            vote = await self._vote(uow, meeting_id, vote_id)
            await uow.emit(meeting_id, VoteOpened(vote=VoteOut.of(vote)))
            logger.info(
                "meeting %s: vote %s (%s) opened by %s, %s electors",
                meeting_id, vote_id, spec.kind, principal.subject, len(electors),
            )  # fmt: skip
            return vote

    async def _electorate(
        self, uow: UnitOfWork, meeting: Meeting, spec: VoteIn
    ) -> tuple[list[Elector], Quorum | None]:
        latest = await uow.rollcalls.latest(meeting.id)
        if latest is not None and latest.state is RollCallState.OPEN:
            raise StateError("a roll call is open: close it before opening a vote")
        result = latest.result if latest is not None else None
        quorum = result.quorum if result is not None else None
        if spec.electorate == "present":
            if result is None:
                raise StateError(
                    "no roll call has been closed in this meeting: the electorate 'present' "
                    "needs one (or name the voters)"
                )
            people = [Elector(f"user:{d.id}", d.name) for d in result.delegates if d.present]
            if spec.bridge_points_vote:
                people += [
                    Elector(f"bridge_point:{b.id}", b.name)
                    for b in result.bridge_points
                    if b.present
                ]
            return people, quorum
        names = {f"user:{d.id}": d.name for d in await uow.rollcalls.invited_delegates(meeting.id)}
        if spec.bridge_points_vote:
            bps = await uow.rollcalls.invited_bridge_points(meeting.id)
            names.update({f"bridge_point:{b.id}": b.name for b in bps})
        people = []
        for subject in dict.fromkeys(spec.voters):
            if subject not in names:
                raise ValidationError(
                    f"{subject} is not an invited delegate"
                    + (" or bridge point" if spec.bridge_points_vote else "")
                    + " of this meeting",
                    field="voters",
                )
            people.append(Elector(subject, names[subject]))
        return people, quorum

    # -- ballots -------------------------------------------------------------------------

    def _check_choice(self, vote: Vote, choice: Sequence[int]) -> tuple[int, ...]:
        picked = tuple(sorted(set(choice)))
        if len(picked) != len(choice):
            raise ValidationError("an option is chosen twice", field="choice")
        if any(i >= len(vote.options) for i in picked):
            raise ValidationError("an option chosen does not exist in this vote", field="choice")
        if len(picked) > vote.max_choices:
            raise ValidationError(
                f"at most {vote.max_choices} option(s) may be chosen", field="choice"
            )
        return picked

    async def cast(
        self,
        principal: Principal,
        meeting_id: int,
        vote_id: int,
        choice: Sequence[int],
        receipt: str | None = None,
    ) -> Ballot:
        """Cast (or, where allowed, change) the caller's ballot; answered once committed.

        A first ballot joins the vote's queue: while one batch is being committed, the
        ballots that arrive meanwhile wait and go in together in the next transaction (a
        group commit: at 500 ballots a second a ballot costs a few rows, not a commit).
        Only the plain case is batched, an invited elector's first valid ballot in an
        open vote; anything else (a change, a receipt, a refusal) takes :meth:`_cast_one`,
        one transaction with its exact reason and audit row, as does every ballot of a
        batch whose transaction fails.
        """
        if receipt is not None:  # changing a secret ballot: never the plain case
            return await self._cast_one(principal, meeting_id, vote_id, choice, receipt)
        key = (meeting_id, vote_id)
        pending = _Cast(principal, tuple(choice), asyncio.get_running_loop().create_future())
        self._queues.setdefault(key, []).append(pending)
        if key not in self._draining:
            self._draining[key] = asyncio.create_task(self._drain(key), name=f"ballots-{vote_id}")
        return await asyncio.shield(pending.done)

    async def _drain(self, key: tuple[int, int]) -> None:
        """Commit the vote's queued ballots, batch after batch, until none wait."""
        try:
            while queue := self._queues.pop(key, None):
                for i in range(0, len(queue), MAX_BATCH):
                    await self._batch(key, queue[i : i + MAX_BATCH])
        finally:
            self._draining.pop(key, None)
            for left in self._queues.pop(key, []):  # only when cancelled (shutdown)
                left.done.cancel()

    async def _batch(self, key: tuple[int, int], batch: list[_Cast]) -> None:
        meeting_id, vote_id = key
        try:
            try:
                async with self._store.transaction() as uow:
                    taken, single = await self._take(uow, meeting_id, vote_id, batch)
            except Exception as exc:  # a conflict with another process, the database...
                logger.info("vote %s: a batch of %s ballots goes one by one (%s)",
                            vote_id, len(batch), type(exc).__name__)  # fmt: skip
                taken, single = [], batch
            for c, ballot in taken:
                c.done.set_result(ballot)
            for c in single:
                try:
                    c.done.set_result(
                        await self._cast_one(c.principal, meeting_id, vote_id, c.choice, None)
                    )
                except Exception as exc:
                    c.done.set_exception(exc)
        finally:
            for c in batch:  # cancelled mid-batch: nobody waits for ever
                if not c.done.done():
                    c.done.cancel()

    async def _take(
        self, uow: UnitOfWork, meeting_id: int, vote_id: int, batch: list[_Cast]
    ) -> tuple[list[tuple[_Cast, Ballot]], list[_Cast]]:
        """Write the plain ballots of ``batch`` in ``uow``; the others are left to
        :meth:`_cast_one` (second of the returned lists)."""
        found = await uow.votes.head_in_meeting(vote_id, lock="share")
        now = self._clock.now()
        if found is None:
            return [], batch
        vote, meeting_state = found
        if meeting_state not in HELD \
                or vote.meeting_id != meeting_id or vote.state is not VoteState.OPEN \
                or (vote.deadline is not None and vote.deadline <= now):  # fmt: skip
            return [], batch
        subjects = [c.principal.subject for c in batch]
        invited = await uow.meetings.invited_among(
            meeting_id,
            [c.principal.id for c in batch if c.principal.kind != "bridge_point"],
            [c.principal.id for c in batch if c.principal.kind == "bridge_point"],
        )
        standing = await uow.votes.standing_among(vote_id, vote.kind, subjects)
        seen = {s for s, voted in standing.items() if voted}
        take: list[tuple[_Cast, tuple[int, ...]]] = []
        single: list[_Cast] = []
        for c in batch:
            subject = c.principal.subject
            try:
                picked = self._check_choice(vote, c.choice)
            except ValidationError:
                picked = None
            if picked is None or subject not in invited or subject not in standing \
                    or subject in seen:  # fmt: skip
                single.append(c)  # refused, or a second ballot: its own exact answer
                continue
            seen.add(subject)
            take.append((c, picked))
        if not take:
            return [], single
        out: list[tuple[_Cast, Ballot]] = []
        if vote.kind is VoteKind.SECRET:
            out = [(c, Ballot(vote_id, p, False, new_receipt())) for c, p in take]
            choices = [(receipt_hash(vote_id, b.receipt or ""), b.choice) for _, b in out]
            secrets.SystemRandom().shuffle(choices)  # the batch's order links nothing
            await uow.votes.cast_secret_many(
                vote_id, [c.principal.subject for c, _ in take], choices
            )
        else:
            await uow.votes.cast_many(vote_id, [(c.principal.subject, p) for c, p in take], now)
            out = [(c, Ballot(vote_id, p, False, None)) for c, p in take]
        for c, b in out:
            await self._accepted(uow, vote, b, actor=c.principal.subject)
        await self._count(uow, vote)
        return out, single

    async def _cast_one(
        self,
        principal: Principal,
        meeting_id: int,
        vote_id: int,
        choice: Sequence[int],
        receipt: str | None,
    ) -> Ballot:
        """One ballot in its own transaction; a refusal is audited with its reason."""
        try:
            ballot = await self._cast(principal, meeting_id, vote_id, choice, receipt)
        except MeetingdError as exc:
            await self._refused(principal, meeting_id, vote_id, exc)
            raise
        return ballot

    async def _cast(
        self,
        principal: Principal,
        meeting_id: int,
        vote_id: int,
        choice: Sequence[int],
        receipt: str | None,
    ) -> Ballot:
        async with self._store.transaction() as uow:
            await self._voter(uow, principal, meeting_id)
            # The vote's row is read FOR SHARE: ballots go in side by side, closing waits.
            vote = await self._vote(uow, meeting_id, vote_id, "share", whole=False)
            if vote.state is not VoteState.OPEN:
                raise StateError("this vote is closed: no more ballots")
            if vote.deadline is not None and vote.deadline <= self._clock.now():
                raise StateError("this vote's time is up: no more ballots")
            if await uow.votes.elector(vote_id, principal.subject) is None:
                raise PermissionDenied("you are not among those who may vote in this vote")
            picked = self._check_choice(vote, choice)
            voter = principal.subject
            if vote.kind is VoteKind.SECRET:
                ballot = await self._cast_secret(uow, vote, voter, picked, receipt)
            else:  # fmt: skip
                if receipt is not None:
                    raise ValidationError("only a secret vote takes a receipt", field="receipt")
                before = await uow.votes.ballot(vote_id, voter)
                if before is not None and not vote.allow_change:
                    raise AlreadyVoted()
                if before is not None:
                    await uow.votes.change(vote_id, voter, picked, self._clock.now())
                else:
                    await uow.votes.cast(vote_id, voter, picked, self._clock.now())
                ballot = Ballot(vote_id, picked, changed=before is not None, receipt=None)
            await self._accepted(uow, vote, ballot)
            await self._count(uow, vote)
            return ballot

    async def _accepted(
        self, uow: UnitOfWork, vote: Vote, ballot: Ballot, actor: str | None = None
    ) -> None:
        """Audit an accepted ballot (its choice only where the vote is not secret)."""
        data: dict[str, object] = {"meeting_id": vote.meeting_id, "changed": ballot.changed}
        if vote.kind is not VoteKind.SECRET:
            data["choice"] = list(ballot.choice)
        await uow.record("ballot.accepted", f"vote:{vote.id}", data, actor=actor)

    def _due(self, vote_id: int) -> bool:
        last = self._counted_at.get(vote_id)
        return last is None or (self._clock.now() - last).total_seconds() >= COUNT_INTERVAL

    async def _count(self, uow: UnitOfWork, vote: Vote) -> None:
        """Emit the vote's live figures now if its interval is over, else mark it pending."""
        if not self._due(vote.id):
            self._pending[vote.id] = vote.meeting_id
            return
        self._pending.pop(vote.id, None)
        self._counted_at[vote.id] = self._clock.now()
        ballots, counts = await uow.votes.figures(vote.id, vote.kind, len(vote.options))
        secret = vote.kind is VoteKind.SECRET
        await uow.emit(
            vote.meeting_id,
            VoteCounted(vote_id=vote.id, ballots=ballots, counts=None if secret else list(counts)),
        )

    async def _voter(self, uow: UnitOfWork, principal: Principal, meeting_id: int) -> None:
        """:func:`authz.meeting_for` with ``Permission.VOTE`` for the hot path: an invited
        caller is checked with one row, not by loading the meeting's invitation lists (500
        bridge points make that the cost of a ballot); anyone else gets the guard's answer."""
        meeting = await uow.meetings.get(meeting_id, full=False)
        if principal.kind == "bridge_point":
            invited = await uow.meetings.is_bridge_point_invited(meeting_id, principal.id)
        else:
            invited = await uow.meetings.is_delegate(meeting_id, principal.id)
        if meeting is None or not invited:
            await authz.meeting_for(uow, principal, meeting_id, need=Permission.VOTE)
            raise PermissionDenied("only invited delegates and bridge points vote")  # unreached
        if meeting.state not in HELD:
            await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.VOTE, states=HELD, doing="voting"
            )
        uow.actor = principal.subject

    async def _cast_secret(
        self, uow: UnitOfWork, vote: Vote, voter: str, picked: tuple[int, ...], old: str | None
    ) -> Ballot:
        code = new_receipt()
        new_hash = receipt_hash(vote.id, code)
        if await uow.votes.has_voted(vote.id, voter, vote.kind):
            if not vote.allow_change:
                raise AlreadyVoted()
            if old is None:
                raise ValidationError(
                    "changing a secret ballot needs the receipt of the ballot it replaces",
                    field="receipt",
                )
            if not await uow.votes.change_secret(
                vote.id, receipt_hash(vote.id, old), new_hash, picked
            ):
                raise ValidationError("this receipt is not one of this vote's", field="receipt")
            return Ballot(vote.id, picked, changed=True, receipt=code)
        if old is not None:
            raise ValidationError("you have not voted yet: send no receipt", field="receipt")
        await uow.votes.cast_secret(vote.id, voter, new_hash, picked)
        return Ballot(vote.id, picked, changed=False, receipt=code)

    async def _refused(
        self, principal: Principal, meeting_id: int, vote_id: int, exc: MeetingdError
    ) -> None:
        """Audit a refused ballot in its own transaction (the ballot's was rolled back)."""
        try:
            async with self._store.transaction() as uow:
                uow.actor = principal.subject
                await uow.record(
                    "ballot.refused", f"vote:{vote_id}",
                    {"meeting_id": meeting_id, "code": exc.code, "reason": exc.message},
                )  # fmt: skip
        except MeetingdError:
            logger.exception("vote %s: could not audit a refused ballot", vote_id)

    # -- closing -------------------------------------------------------------------------

    async def close(self, principal: Principal, meeting_id: int, vote_id: int) -> Vote:
        """Close the vote and freeze its result (chair or secretary)."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING, states=HELD,
                doing="closing a vote", lock=True,
            )  # fmt: skip
            vote = await self._vote(uow, meeting_id, vote_id, "update")
            if vote.state is not VoteState.OPEN:
                raise StateError("this vote is already closed")
            return await self._finish(uow, vote, principal.subject)

    async def _finish(self, uow: UnitOfWork, vote: Vote, by: str) -> Vote:
        ballots, counts = await uow.votes.figures(vote.id, vote.kind, len(vote.options))
        named = await uow.votes.named(vote.id) if vote.kind is VoteKind.NAMED else None
        receipts = await uow.votes.receipts(vote.id) if vote.kind is VoteKind.SECRET else []
        result = compute_result(vote, ballots, counts, named, receipts)
        if vote.kind is VoteKind.SECRET:
            await uow.votes.rewrite_secret(vote.id)
        await uow.votes.close(vote.id, by, self._clock.now(), result)
        closed = await self._vote(uow, vote.meeting_id, vote.id)
        await uow.emit(vote.meeting_id, VoteClosed(vote=VoteOut.of(closed)))
        self._pending.pop(vote.id, None)
        self._counted_at.pop(vote.id, None)
        logger.info(
            "meeting %s: vote %s closed by %s: %s (%s ballots)",
            vote.meeting_id, vote.id, by, result.outcome, ballots,
        )  # fmt: skip
        return closed

    async def expire(self) -> int:
        """Close every open vote whose deadline has passed; safe from several processes at
        once (each is re-read under its meeting's lock, so exactly one closes it)."""
        async with self._store.reading() as uow:  # every half second: no writer's turn
            overdue = await uow.votes.overdue(self._clock.now())
        closed = 0
        for meeting_id, vote_id in overdue:
            async with self._store.transaction() as uow:
                await uow.meetings.lock(meeting_id)
                vote = await uow.votes.get(vote_id, lock="update")
                now = self._clock.now()
                if vote is None or vote.state is not VoteState.OPEN or vote.deadline is None \
                        or vote.deadline > now:  # fmt: skip
                    continue  # closed meanwhile
                await self._finish(uow, vote, SYSTEM)
                closed += 1
        return closed

    async def close_all(self, uow: UnitOfWork, meeting_id: int, by: str) -> None:
        """The meeting ends: every vote still open closes with its result."""
        for vote_id in await uow.votes.open_in(meeting_id):
            vote = await uow.votes.get(vote_id, lock="update")
            if vote is not None and vote.state is VoteState.OPEN:
                await self._finish(uow, vote, by)

    # -- live counts ---------------------------------------------------------------------

    async def flush_counts(self) -> int:
        """Emit ``vote.counted`` for each pending vote whose interval is over."""
        due = [(v, m) for v, m in self._pending.items() if self._due(v)]
        for vote_id, _ in due:
            self._pending.pop(vote_id, None)
        sent = 0
        for vote_id, _meeting_id in due:
            async with self._store.transaction() as uow:
                vote = await uow.votes.head(vote_id)
                if vote is None or vote.state is not VoteState.OPEN:
                    self._counted_at.pop(vote_id, None)
                    continue
                await self._count(uow, vote)
                sent += 1
        return sent
