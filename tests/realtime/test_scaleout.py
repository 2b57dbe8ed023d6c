"""Two `meetingd serve` processes on one PostgreSQL database and one Redis, over loopback.

A screen on process A sees every event caused on process B (and on A) in ``seq`` order,
with no loss and no repeat, also while both processes commit to the same meeting at once;
when process B dies, A shows B's participants offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path

import pytest

from tests.realtime.cluster import OFFLINE_AFTER, nodes, seeded
from tests.realtime.livekit import LiveClient, Mirror, normalised

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_two_processes_deliver_every_event_to_every_screen_in_order(
    scaleout_db: str, redis_channel: str, tmp_path: Path
) -> None:
    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    m = {"meeting_id": mid}
    async with nodes(scaleout_db, redis_channel, tmp_path, ("a", "b")) as n:
        clients: list[LiveClient] = []

        async def on(node: str, who: str) -> LiveClient:
            c = LiveClient(n[node].url, world.tokens[who], name=f"{who}@{node}")
            clients.append(c)
            return await c.connect()

        try:
            # A watches; B does the chairing; both have participants.
            watch_a = await on("a", "operator")
            bp1_a, delegate_a = await on("a", "bp1"), await on("a", "delegate")
            chair_b, secretary_b, bp2_b = (
                await on("b", "chair"),
                await on("b", "secretary"),
                await on("b", "bp2"),
            )
            mirrors: dict[str, Mirror] = {}
            for c in (watch_a, bp1_a, delegate_a, chair_b, secretary_b, bp2_b):
                mirrors[c.name] = await c.join(mid)
            # The last join's presence event may still be on its way to the other process
            # when its ack returns: count from where every screen has it.
            joined = max(mm.seq for mm in mirrors.values())
            for c in clients:
                mm = mirrors[c.name]
                await c.wait_until(lambda mm=mm, joined=joined: mm.seq >= joined)  # type: ignore[misc]
            start = mirrors[watch_a.name].seq

            for verb in ("open", "start"):
                await chair_b.ok(f"meeting.{verb}", m)
            await chair_b.ok("meeting.move_to_item", {**m, "item_id": world.agenda_ids[0]})
            await secretary_b.ok("rollcall.start", m)

            # Both processes commit to the same meeting at once.
            async def answers(c: LiveClient, base: int) -> None:
                for i in range(15):
                    await c.ok("rollcall.answer", {**m, "count": base + i})

            async def toggles() -> None:
                for _ in range(5):
                    await chair_b.ok("meeting.pause", m)
                    await chair_b.ok("meeting.resume", m)

            await asyncio.gather(answers(bp1_a, 10), answers(bp2_b, 50), toggles())
            await delegate_a.ok("rollcall.confirm", m)
            closed = await secretary_b.ok("rollcall.close", m)
            assert closed["result"]["quorum"]["reached"] is True

            # A screen joining late on A and one resyncing on B agree too.
            late_a = await on("a", "chair")
            mirrors[late_a.name] = await late_a.join(mid)
            head = max(mm.seq for mm in mirrors.values())
            for c in clients:
                mm = mirrors[c.name]
                await c.wait_until(lambda mm=mm, head=head: mm.seq >= head)  # type: ignore[misc]
            head = max(mm.seq for mm in mirrors.values())
            assert head - start == 4 + 30 + 10 + 2  # lifecycle, answers, toggles, confirm+close
            views = set()
            for name, mm in mirrors.items():
                assert mm.gaps == [], (name, mm.gaps)
                if mm.applied:
                    assert mm.applied == list(range(mm.applied[0], mm.seq + 1)), name
                views.add(repr(mm.view()))
            assert len(views) == 1, "every screen holds the same state"
            # The watcher on A saw everything B caused, in order, each once.
            seen = [d["seq"] for e, d in watch_a.events if isinstance(d, dict) and "seq" in d]
            assert seen == list(range(seen[0], head + 1)) and seen[0] <= start + 1
            firsts = ("meeting.opened", "meeting.started", "agenda.moved", "rollcall.started")
            assert [e for e, _ in watch_a.events if e in firsts] == list(firsts)

            # Process B dies without a word: A shows its participants offline.
            await n["b"].stop(signal.SIGKILL)
            t0 = time.monotonic()
            gone = {
                ("user", world.users["secretary"]),
                ("bridge_point", world.bridge_points["bp2"]),
            }

            def left() -> set[tuple[str, int]]:
                return {(d["kind"], d["id"]) for e, d in watch_a.events if e == "presence.left"}

            await watch_a.wait_until(lambda: gone <= left(), within=OFFLINE_AFTER * 5)
            took = time.monotonic() - t0
            assert took < OFFLINE_AFTER * 4, f"offline after {took:.1f} s"
            # The chair stays: it has another device on A.
            still = normalised(mirrors[watch_a.name].state)["presence"]
            assert {(p["kind"], p["id"]) for p in still} == {
                ("user", world.users["operator"]),
                ("user", world.users["chair"]),
                ("user", world.users["delegate"]),
                ("bridge_point", world.bridge_points["bp1"]),
            }
        finally:
            for c in clients:
                with contextlib.suppress(Exception):
                    await c.close()
