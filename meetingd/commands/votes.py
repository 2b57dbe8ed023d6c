"""Votes ("biểu quyết"): open, cast, close, and the live counts and results."""

from __future__ import annotations

from meetingd import events as ev
from meetingd.commands.meetings import MEETING, MeetingRef
from meetingd.commands.table import COMMANDS, Context, Rest
from meetingd.schemas import BallotIn, BallotOut, Id, VoteIn, VoteOut, VoterStatusOut
from meetingd.services.authz import Permission

TAG = "votes"
VOTES = f"{MEETING}/votes"
VOTE = f"{VOTES}/{{vote_id}}"
ERRORS = (403, 404, 409)


class VoteOpen(VoteIn):
    meeting_id: Id


class VoteRef(MeetingRef):
    vote_id: Id


class VoteCast(BallotIn):
    meeting_id: Id
    vote_id: Id


@COMMANDS.command(
    "vote.list",
    MeetingRef,
    answer=list[VoteOut],
    summary="The meeting's votes, open and closed, with live counts and results",
    tag=TAG,
    permission=Permission.READ_MEETING,
    rest=Rest("GET", VOTES, "list_votes", errors=(404,)),
)
async def list_votes(ctx: Context, p: MeetingRef) -> list[VoteOut]:
    """A secret vote shows how many have voted, never what, until it closes."""
    return [VoteOut.of(v) for v in await ctx.services.votes.in_meeting(ctx.principal, p.meeting_id)]


@COMMANDS.command(
    "vote.get",
    VoteRef,
    answer=VoteOut,
    summary="One vote, with its live counts or its result",
    tag=TAG,
    permission=Permission.READ_MEETING,
    rest=Rest("GET", VOTE, "get_vote", errors=(404,)),
)
async def get_vote(ctx: Context, p: VoteRef) -> VoteOut:
    return VoteOut.of(await ctx.services.votes.get(ctx.principal, p.meeting_id, p.vote_id))


@COMMANDS.command(
    "vote.status",
    VoteRef,
    answer=VoterStatusOut,
    summary="Whether the caller may vote in a vote, whether it has, and (not secret) its choice",
    tag=TAG,
    permission=Permission.READ_MEETING,
    rest=Rest("GET", f"{VOTE}/status", "vote_status", errors=(404,)),
)
async def status(ctx: Context, p: VoteRef) -> VoterStatusOut:
    """For a screen that reconnects in the middle of a vote."""
    elector, voted, choice = await ctx.services.votes.status(ctx.principal, p.meeting_id, p.vote_id)
    return VoterStatusOut(
        vote_id=p.vote_id, elector=elector, voted=voted,
        choice=list(choice) if choice is not None else None,
    )  # fmt: skip


@COMMANDS.command(
    "vote.open",
    VoteOpen,
    answer=VoteOut,
    summary="Open a vote (biểu quyết) on the agenda: question, options, kind, electorate, rule",
    tag=TAG,
    permission=Permission.MANAGE_MEETING,
    events=(ev.VoteOpened,),
    rest=Rest(
        "POST",
        VOTES,
        "open_vote",
        201,
        errors=ERRORS,
        rules=(
            "options differ from each other",
            "max_choices is at most the number of options (1 with the default options)",
            "a named electorate lists its voters; voters are given only with it",
            "agenda_item_id is an item of this meeting",
        ),
    ),
)
async def open_vote(ctx: Context, p: VoteOpen) -> VoteOut:
    """The electorate `present` is the delegates present at the last closed roll call
    (`invalid_state` when there is none); its quorum is carried into the result."""
    spec = VoteIn.model_validate(p.model_dump(exclude={"meeting_id"}))
    return VoteOut.of(await ctx.services.votes.open(ctx.principal, p.meeting_id, spec))


@COMMANDS.command(
    "vote.cast",
    VoteCast,
    answer=BallotOut,
    summary="Cast one's ballot (committed before it is answered); a secret vote gives a receipt",
    tag=TAG,
    permission=Permission.VOTE,
    events=(ev.VoteCounted,),
    rest=Rest("POST", f"{VOTE}/ballot", "cast_ballot", errors=ERRORS),
)
async def cast(ctx: Context, p: VoteCast) -> BallotOut:
    """Refused, with the reason: a closed vote (`invalid_state`), a caller outside the
    electorate (`forbidden`), an option that does not exist (`invalid_request`), a second
    ballot where changing is not allowed (`conflict`). Changing a secret ballot sends the
    receipt of the ballot it replaces and gets a new one."""
    ballot = await ctx.services.votes.cast(
        ctx.principal, p.meeting_id, p.vote_id, p.choice, p.receipt
    )
    return BallotOut.of(ballot)


@COMMANDS.command(
    "vote.close",
    VoteRef,
    answer=VoteOut,
    summary="Close a vote: the rule is applied and the result announced",
    tag=TAG,
    permission=Permission.MANAGE_MEETING,
    events=(ev.VoteClosed,),
    rest=Rest("POST", f"{VOTE}/close", "close_vote", errors=ERRORS),
)
async def close(ctx: Context, p: VoteRef) -> VoteOut:
    return VoteOut.of(await ctx.services.votes.close(ctx.principal, p.meeting_id, p.vote_id))
