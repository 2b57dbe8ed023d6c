"""The Janus target of bench/sfu_forward.py works: real Janus, real aiortc peers.

The benchmark's own harness (bench/_media_harness.py in mode ``janus``) starts Debian's
janus with the configuration the bench writes (VideoRoom only, HTTP on 127.0.0.1, in a
network namespace of its own), one publisher replaying the clip and one subscriber that
decodes. The subscriber must decode the publisher's 640x360 pictures at close to the full
rate; afterwards Janus and the namespace are gone. Needs janus, root and iproute2: skipped
with the reason when missing (a failure under REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _janus import JanusNetns, janus_binary  # noqa: E402
from _media_harness import Harness, wait_receiving  # noqa: E402


@pytest.mark.timeout(60)
async def test_janus_forwards_the_publisher_to_a_decoding_subscriber() -> None:
    if janus_binary() is None:
        skip_or_fail("Debian's janus is not installed (apt-get install -y janus)")
    why = JanusNetns.available()
    if why:
        skip_or_fail(f"the Janus target needs a network namespace: {why}")
    h = Harness("janus", max_seconds=50)
    try:
        await h.start_server()
        janus_pid = h.server_pid
        assert h.netns is not None
        ns = h.netns.name
        pub = await h.start_clients("publisher", [{"id": "pub", "role": "chair", "video": True}],
                                    sender="light")
        check = await h.start_clients("check", [{"id": "check", "role": "observer"}],
                                      decode=True)
        joined = await pub.call({"cmd": "join", "ids": ["pub"]}, "joined", 30)
        assert joined["errors"] == {}
        joined = await check.call({"cmd": "join", "ids": ["check"]}, "joined", 30)
        assert joined["errors"] == {}
        seen = await wait_receiving([pub, check], {"check": 1}, 15)
        assert any(n > 0 for n in seen["check"].values()), seen
        await check.call({"cmd": "window_start"}, "window_started", 10)
        await asyncio.sleep(3)
        report = await check.call({"cmd": "window_stop"}, "report", 10)
    finally:
        await h.close()
    client = report["clients"][0]
    assert client["connection_state"] == "connected"
    video = [s for s in client["slots"].values() if s["kind"] == "video"]
    assert len(video) == 1, client["slots"]
    slot = video[0]
    assert slot["sizes"] == [[640, 360]]
    assert slot["fps"] >= 20, slot  # the clip is 30 fps; a loaded machine may lose a few
    assert report["decode_errors"] == 0
    # nothing left behind: the process is reaped and the namespace removed
    assert _left_behind(janus_pid, ns) == []


def _left_behind(pid: int, ns: str) -> list[str]:
    left = []
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                left.append(f"janus pid {pid}")
    except OSError:
        pass
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            timeout=10, check=False).stdout
    if ns in listed.split():
        left.append(f"namespace {ns}")
    return left
