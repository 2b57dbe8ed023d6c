"""Documents on a live server: publishing reaches every allowed screen at once (a restricted
one carries no metadata on the shared stream), a late joiner finds the list in its snapshot,
unpublishing takes it away, and the presenter's page turns reach every follower."""

from __future__ import annotations

import time
from typing import Any

from tests.api.documents_world import seed_document
from tests.realtime.conftest import Live

VIEWERS = ("chair", "secretary", "delegate", "bp1", "bp2")


async def _joined(live: Live, names: tuple[str, ...]) -> dict[str, Any]:
    clients = {n: await live.connect(n) for n in names}
    for c in clients.values():
        await c.ok("meeting.join", {"meeting_id": live.meeting_id})
    return clients


async def test_publish_reaches_the_audience_and_unpublish_takes_it_away(live: Live) -> None:
    mid = {"meeting_id": live.meeting_id}
    w = live.world
    c = await _joined(live, VIEWERS)
    public = await seed_document(live.parts, w, live.meeting_id, published=False)
    secret = await seed_document(
        live.parts, w, live.meeting_id, published=False, confidential=True,
        audience=[f"user:{w.users['delegate']}"],
    )  # fmt: skip
    await c["chair"].ok("document.publish", {**mid, "document_id": public.id})
    await c["chair"].ok("document.publish", {**mid, "document_id": secret.id})
    for name, client in c.items():
        await client.wait_event("document.published", count=2)
        events = client.of("document.published")
        first, second = events[0], events[1]
        assert first["document_id"] == public.id and first["document"]["title"], name
        assert second == {**second, "document_id": secret.id, "restricted": True}, name
        assert second["document"] is None, f"{name}: restricted metadata on the stream"
    ref = {**mid, "document_id": secret.id}
    for name in ("chair", "secretary", "delegate"):
        assert (await c[name].ok("document.get", ref))["confidential"] is True
    for name in ("bp1", "bp2"):
        assert (await c[name].error("document.get", ref))["code"] == "not_found"

    late = await live.connect("delegate")
    snap = (await late.ok("meeting.join", mid))["snapshot"]
    assert [d["id"] for d in snap["documents"]] == [public.id, secret.id]
    bp_late = await live.connect("bp1")
    bp_snap = (await bp_late.ok("meeting.join", mid))["snapshot"]
    assert [d["id"] for d in bp_snap["documents"]] == [public.id]

    await c["secretary"].ok("document.unpublish", {**mid, "document_id": public.id})
    for name, client in c.items():
        gone = await client.wait_event("document.unpublished")
        assert gone["document_id"] == public.id, name
    assert (await c["bp1"].error("document.get", {**mid, "document_id": public.id}))[
        "code"
    ] == "not_found"
    again = (await bp_late.ok("meeting.join", mid))["snapshot"]
    assert again["documents"] == []


async def test_presenting_and_page_turns_reach_every_follower(live: Live) -> None:
    """Each of 50 turns reaches every follower in order; the delay from the chair's ack to
    each follower's receipt is printed, not asserted (bench/documents.py measures it)."""
    mid = {"meeting_id": live.meeting_id}
    await live.transition("open")
    c = await _joined(live, VIEWERS)
    doc = await seed_document(live.parts, live.world, live.meeting_id)
    shown = await c["chair"].ok("document.present", {**mid, "document_id": doc.id, "page": 1})
    assert shown["page"] == 1
    followers = [n for n in VIEWERS if n != "chair"]
    for name in followers:
        got = await c[name].wait_event("document.presented")
        assert (got["document_id"], got["page"]) == (doc.id, 1), name
    snap = (await (await live.connect("bp2")).ok("meeting.join", mid))["snapshot"]
    assert snap["presenting"]["document_id"] == doc.id

    delays: list[float] = []
    for turn in range(1, 51):
        page = turn % doc.pages + 1
        await c["chair"].ok("document.turn_page", {**mid, "page": page})
        acked = time.perf_counter()
        for name in followers:
            got = await c[name].wait_event("document.page_turned", count=turn)
            assert got["page"] == page, name
            delays.append(time.perf_counter() - acked)
    delays.sort()
    print(
        f"page turn, ack to follower: median {delays[len(delays) // 2] * 1000:.1f} ms, "
        f"max {delays[-1] * 1000:.1f} ms over {len(delays)} receipts"
    )
    # A delegate who is not a presenter cannot turn the page for everyone.
    assert (await c["delegate"].error("document.turn_page", {**mid, "page": 1}))[
        "code"
    ] == "forbidden"
    await c["chair"].ok("document.stop_presenting", mid)
    for name in followers:
        assert (await c[name].wait_event("document.presentation_stopped"))["document_id"] == doc.id
