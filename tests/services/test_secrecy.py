"""A secret vote cannot be joined to its voters: the test tries, through every stored row,
every event, every audit row and every log line, and fails if it can.

Eight delegates vote; the attacker knows the order they voted in (the audit log and the log
lines tell it) and tries to pair them with the stored choices by content (a row naming a
voter and a receipt or a choice), and by order (the order choices come back in without an
ORDER BY, the order of any list of hashes). The receipt codes themselves must be stored
nowhere; each voter finds their receipt in the published result under the option they chose.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from sqlalchemy import MetaData, select, text

from meetingd.app import Parts
from meetingd.domain import Principal
from meetingd.services.votes import receipt_hash
from tests.conftest import World
from tests.services.test_votes import new_delegates, spec, who

VOTERS = 8
#: What each voter chooses: all three options, no two neighbours alike.
CHOICES = [0, 1, 2, 0, 2, 1, 0, 1]


async def _delegates(parts: Parts, w: World) -> list[Principal]:
    return [await who(parts, w, "delegate"), *await new_delegates(parts, w, VOTERS - 1, "dbieu")]


async def _dump(parts: Parts) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in stored order (no ORDER BY): what an operator sees."""
    meta = MetaData()
    async with parts.store.engine.connect() as conn:
        await conn.run_sync(lambda c: meta.reflect(c))
        out = {}
        for table in meta.sorted_tables:
            out[table.name] = [tuple(r) for r in await conn.execute(select(table))]
        return out


def _texts(rows: list[tuple[Any, ...]]) -> list[str]:
    return [json.dumps(r, default=str, ensure_ascii=False) for r in rows]


def _mentions(text_: str, subject: str) -> bool:
    return f'"{subject}"' in text_ or f"{subject} " in text_ or text_.endswith(subject)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cast", ["one by one", "at once"])
async def test_a_secret_vote_cannot_be_joined_to_its_voters(
    parts: Parts, world: World, caplog: pytest.LogCaptureFixture, cast: str
) -> None:
    """Cast one by one, each ballot is its own transaction; at once, they go in as one
    batch (see VoteService.cast): neither may link a voter to a choice."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="meetingd")
    w, v = world, parts.services.votes
    chair = await who(parts, w, "chair")
    m = parts.services.meetings
    await m.transition(chair, w.meeting_id, "open")
    voters = await _delegates(parts, w)
    subjects = [p.subject for p in voters]
    vote = await v.open(chair, w.meeting_id, spec(kind="secret", electorate="named",
                                                   voters=subjects))  # fmt: skip
    receipts: dict[str, str] = {}
    pairs = list(zip(voters, CHOICES, strict=True))
    if cast == "at once":
        ballots = await asyncio.gather(*(v.cast(p, w.meeting_id, vote.id, [c]) for p, c in pairs))
    else:
        ballots = [await v.cast(p, w.meeting_id, vote.id, [c]) for p, c in pairs]
    for (p, _), ballot in zip(pairs, ballots, strict=True):
        assert ballot.receipt is not None
        receipts[p.subject] = ballot.receipt
    hashes = {s: receipt_hash(vote.id, r) for s, r in receipts.items()}
    truth = {s: (hashes[s], c) for s, c in zip(subjects, CHOICES, strict=True)}

    during = await _dump(parts)
    closed = await v.close(chair, w.meeting_id, vote.id)
    after = await _dump(parts)
    events = [json.dumps(e, default=str, ensure_ascii=False) for e in after["meeting_events"]]
    lines = [r.getMessage() for r in caplog.records]

    # 1. The tally is right and each voter finds their receipt under their own option.
    result = closed.result
    assert result is not None and result.counts == (3, 3, 2) and result.ballots == VOTERS
    for s, (h, c) in truth.items():
        assert [h in hs for hs in result.receipts] == [i == c for i in range(3)], s

    # 2. The receipt codes are stored nowhere, and nothing logs them or their hashes.
    for snapshot in (during, after):
        blob = json.dumps(snapshot, default=str, ensure_ascii=False)
        assert not any(r in blob for r in receipts.values())
    assert not any(r in line or hashes[s] in line for s, r in receipts.items() for line in lines)

    # 3. By content: nothing that names a voter also holds a receipt hash or a choice.
    for snapshot, when in ((during, "during"), (after, "after")):
        for table, rows in snapshot.items():
            for row in _texts(rows):
                named = [s for s in subjects if _mentions(row, s)]
                if len(named) == len(subjects):
                    continue  # the whole electorate (the published result): see 4. for order
                for _s in named:
                    assert not any(h in row for h, _ in truth.values()), (when, table, row)
                    assert '"choice"' not in row, (when, table, row)
    meta = MetaData()
    async with parts.store.engine.connect() as conn:
        await conn.run_sync(meta.reflect)
    assert [c.name for c in meta.tables["vote_voters"].columns] == ["vote_id", "voter"]
    columns = [c.name for c in meta.tables["vote_choices"].columns]
    assert columns == ["vote_id", "receipt_hash", "choice"]  # no voter, no id, no time
    for line in lines:
        if any(s in line for s in subjects):
            assert "choice" not in line and "[" not in line, line

    # 4. By order: pair the voters, in the order they voted, with the choices in the order
    #    they are stored (without ORDER BY), and with every ordered list of hashes found.
    def joined(order: list[str]) -> bool:
        return [truth[s][0] for s in subjects] == order

    assert joined([hashes[s] for s in subjects])  # the attack works on a list in voting order

    stored = [
        ("during", during), ("after", after)
    ] if parts.store.dialect == "sqlite" else [("after", after)]  # fmt: skip
    for when, snapshot in stored:
        order = [r[1] for r in snapshot["vote_choices"]]
        assert sorted(order) == order, f"{when}: choices are not stored in key order"
        assert not joined(order), when
        assert [r[1] for r in snapshot["vote_voters"]] == sorted(subjects), when
    for hs in result.receipts:
        assert list(hs) == sorted(hs)
    if parts.store.dialect == "sqlite":  # SQLite keeps both halves WITHOUT ROWID
        async with parts.store.engine.connect() as conn:
            for table in ("vote_voters", "vote_choices"):
                with pytest.raises(Exception, match="rowid"):
                    await conn.execute(text(f"SELECT rowid FROM {table}"))

    # 5. Events and audit: ballots leave an audit row naming the voter and no choice; no
    #    event names a voter with anything but the electorate; live counts say only how many.
    audit = [r for r in after["audit_log"] if "ballot.accepted" in r]
    assert len(audit) == VOTERS
    for r in audit:
        data = next(x for x in r if isinstance(x, dict | str) and "meeting_id" in x)
        assert set(json.loads(data) if isinstance(data, str) else data) == {"meeting_id", "changed"}
    for e in events:
        if '"vote.counted"' in e:
            assert '"counts": null' in e, e
    closed_events = [e for e in events if '"vote.closed"' in e]
    assert len(closed_events) == 1  # its electorate is sorted by name, its hashes by value
