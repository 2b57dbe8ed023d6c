"""Presence over the wire: devices, departures, and devices that vanish."""

from __future__ import annotations

import time

from tests.realtime.conftest import Live, StartLive
from tests.realtime.livekit import SilentDevice


async def test_a_bridge_point_with_two_devices_counts_once(live: Live) -> None:
    mid = live.meeting_id
    bp_id = live.world.bridge_points["bp1"]
    watcher = await live.connect("chair")
    await watcher.join(mid)
    screen, camera = await live.connect("bp1"), await live.connect("bp1")
    await screen.join(mid)
    live.clock.advance(60)
    await camera.join(mid)
    joined = await watcher.wait_event("presence.joined")
    assert (joined["kind"], joined["id"], joined["role"]) == ("bridge_point", bp_id, "bridge_point")
    other = await live.connect("secretary")
    snap = (await other.join(mid)).state
    assert [p["id"] for p in snap["presence"] if p["kind"] == "bridge_point"] == [bp_id]
    await screen.close()  # one device goes: still present, since the first came
    await camera.ok("meeting.leave", {"meeting_id": mid})  # the other leaves: gone
    left = await watcher.wait_event("presence.left")
    assert left["id"] == bp_id and left["since"] == joined["since"]
    bp_events = [
        (e, d["id"]) for e, d in watcher.events if e.startswith("presence.") and d["id"] == bp_id
    ]
    assert bp_events == [("presence.joined", bp_id), ("presence.left", bp_id)]


async def test_a_vanished_device_is_shown_offline_within_seconds(start_live: StartLive) -> None:
    live = await start_live(ping_interval=1.0, ping_timeout=1.0)
    mid = live.meeting_id
    watcher = await live.connect("chair")
    await watcher.join(mid)
    device = SilentDevice(live.url, live.world.tokens["delegate"])
    try:
        ack = await device.join(mid)
        assert ack["ok"] is True
        silent_since = time.monotonic()
        joined = await watcher.wait_event("presence.joined")
        assert joined["id"] == live.world.users["delegate"] and joined["role"] == "delegate"
        # ping_interval 1 s + ping_timeout 1 s in these tests (2 s + 3 s by default)
        left = await watcher.wait_event("presence.left", within=10)
        took = time.monotonic() - silent_since
        assert left["id"] == joined["id"]
        assert took < 5, f"shown offline after {took:.1f} s"
    finally:
        await device.close()
    headers = {"Authorization": f"Bearer {live.world.tokens['secretary']}"}
    async with watcher.sio.eio.http.get(
        f"{live.url}/api/v1/meetings/{mid}/presence", headers=headers
    ) as r:
        assert r.status == 200
        present = await r.json()
    assert [(p["kind"], p["role"]) for p in present] == [("user", "chair")]
