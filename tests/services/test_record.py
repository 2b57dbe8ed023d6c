"""The audit log's hash chain: every decision chained; a changed, deleted or reordered row
is found by ``meetingd audit verify``; appends from several processes stay one chain."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text

from meetingd.app import Parts, build
from meetingd.services.record import verify_audit
from tests.conftest import World
from tests.services.test_votes import live_with_rollcall, spec, who
from tests.test_cli import meetingd


async def _some_decisions(parts: Parts, w: World) -> None:
    await live_with_rollcall(parts, w)
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    vote = await parts.services.votes.open(chair, w.meeting_id, spec(kind="secret"))
    await parts.services.votes.cast(delegate, w.meeting_id, vote.id, [0])
    await parts.services.votes.close(chair, w.meeting_id, vote.id)


async def _sql(parts: Parts, sql: str, **params: Any) -> None:
    async with parts.store.engine.begin() as conn:
        await conn.execute(text(sql), params)


async def test_the_chain_verifies_and_every_kind_of_tampering_is_found(
    parts: Parts, world: World
) -> None:
    await _some_decisions(parts, world)
    check = await verify_audit(parts.store)
    assert check.ok, check.problems
    assert check.rows == check.head > 10
    actions = {r for (r,) in await _rows(parts, "SELECT action FROM audit_log")}
    assert {"vote.opened", "ballot.accepted", "vote.closed", "rollcall.closed"} <= actions

    # A changed row: its content no longer matches its hash.
    await _sql(parts, "UPDATE audit_log SET actor = 'user:999' WHERE n = 5")
    check = await verify_audit(parts.store)
    assert [(p.n, p.problem) for p in check.problems] == [(5, "content does not match its hash")]
    await _restore_actor(parts)
    assert (await verify_audit(parts.store)).ok

    # A reordered pair: each row's link to the one before it breaks.
    await _sql(parts, "UPDATE audit_log SET n = -n WHERE n IN (7, 8)")
    await _sql(parts, "UPDATE audit_log SET n = 8 WHERE n = -7")
    await _sql(parts, "UPDATE audit_log SET n = 7 WHERE n = -8")
    problems = (await verify_audit(parts.store)).problems
    assert {p.n for p in problems} >= {7, 8}
    assert any("link" in p.problem for p in problems)
    await _sql(parts, "UPDATE audit_log SET n = -n WHERE n IN (7, 8)")
    await _sql(parts, "UPDATE audit_log SET n = 8 WHERE n = -7")
    await _sql(parts, "UPDATE audit_log SET n = 7 WHERE n = -8")
    assert (await verify_audit(parts.store)).ok

    # A deleted row in the middle: a gap and a broken link.
    await _sql(parts, "DELETE FROM audit_log WHERE n = 3")
    problems = (await verify_audit(parts.store)).problems
    assert {p.n for p in problems} == {4} and any("missing" in p.problem for p in problems)

    # The last rows deleted (the chain looks whole): the head says there were more.
    await _sql(parts, "INSERT INTO audit_log (id, n, at, actor, action, subject, data, "
                      "prev_hash, hash) SELECT id + 100000, 3, at, actor, action, subject, data, "
                      "prev_hash, hash FROM audit_log WHERE n = 4")  # fmt: skip
    head = (await verify_audit(parts.store)).head
    await _sql(parts, "DELETE FROM audit_log WHERE n > 3")
    problems = (await verify_audit(parts.store)).problems
    assert any(f"head says row {head}" in p.problem for p in problems)


async def _rows(parts: Parts, sql: str) -> list[Any]:
    async with parts.store.engine.connect() as conn:
        return list(await conn.execute(text(sql)))


async def _restore_actor(parts: Parts) -> None:
    """Put back row 5's real actor: the one whose hash matches (tried among all actors)."""
    from meetingd.store.audit import chain_hash

    async with parts.store.transaction() as uow:
        entry = (await uow.audit.entries(4, 1))[0]
    actors = {a for (a,) in await _rows(parts, "SELECT DISTINCT actor FROM audit_log")}
    for actor in [*actors, "system", "cli"]:
        h = chain_hash(entry.prev_hash, entry.n, entry.at, actor, entry.action, entry.subject,
                       entry.data)  # fmt: skip
        if h == entry.hash:
            await _sql(parts, "UPDATE audit_log SET actor = :a WHERE n = 5", a=actor)
            return
    raise AssertionError("row 5's actor not found")


async def test_several_processes_append_one_chain(parts: Parts, world: World) -> None:
    """Two stores on two engines (as two processes would be) append at once: one chain."""
    other = build(parts.config, parts.clock)
    try:
        chair = await who(parts, world, "chair")

        async def add(p: Parts, i: int) -> None:
            await p.services.meetings.add_agenda_item(
                chair, world.meeting_id, title=f"Mục {i}", description="", duration_minutes=None
            )

        await asyncio.gather(*(add(parts if i % 2 else other, i) for i in range(40)))
    finally:
        await other.store.close()
    check = await verify_audit(parts.store)
    assert check.ok, check.problems[:3]


async def test_audit_verify_command(parts: Parts, world: World, tmp_path: Path) -> None:
    await _some_decisions(parts, world)
    env = {"MEETINGD_DATABASE_URL": parts.config.database.url}
    run = await meetingd(tmp_path, "audit", "verify", "--data-dir", str(tmp_path / "d"), **env)
    assert run.code == 0 and "audit log intact" in run.out, run
    await _sql(parts, "UPDATE audit_log SET data = '{}' WHERE n = 2")
    run = await meetingd(tmp_path, "audit", "verify", "--data-dir", str(tmp_path / "d"), **env)
    assert run.code == 1 and "row 2" in run.err and "NOT intact" in run.err, run
