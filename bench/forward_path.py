"""Benchmark: the per-subscriber forwarding path, in instructions (see README.md).

One publisher's VP8 packets (1,100-byte payloads) fan out to N slots through the real
send path: ``Slot.forward`` -> the peer connection transport's fused build, libsrtp
protect (AES-256-GCM, as aiortc negotiates with browsers) and ``send`` on a connected UDP
socket. ``valgrind --tool=callgrind`` counts the user-space instructions of two runs, N=10
and N=20; their difference over the extra 10 x P slot-packets is the cost of one more
subscriber per packet, whatever else the machine is doing (callgrind counts, it does not
time; the kernel's part of ``send`` is not in it). A timed run without valgrind gives the
wall figure too (that one depends on the machine's load).

    .venv/bin/python bench/forward_path.py            # prints JSON
    .venv/bin/python bench/forward_path.py --packets 3000 --no-wall
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent


def harness(n_slots: int, packets: int) -> float:
    """Fan ``packets`` out to ``n_slots`` slots; answers CPU seconds per slot-packet."""
    sys.path.insert(0, str(REPO))
    from aiortc.rtcdtlstransport import State
    from pylibsrtp import Policy, Session

    from media._aiortc_private import CodecInfo, RtpParams, TransportIO
    from media.config import MediaConfig
    from media.forwarder import PublishedTrack, Slot
    from media.policy import Kind
    from media.rtp import URI_ABS_SEND_TIME, URI_MID, InPacket

    config = MediaConfig()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    vp8 = CodecInfo(96, "VP8", 90000, ())

    def transport() -> TransportIO:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        protocol = SimpleNamespace(transport=SimpleNamespace(_sock=sock), datagram_received=None)
        pair = SimpleNamespace(remote_addr=sink.getsockname(), protocol=protocol)
        policy = Policy(key=os.urandom(44), ssrc_type=Policy.SSRC_ANY_OUTBOUND,
                        srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_256_GCM)  # fmt: skip
        dtls = SimpleNamespace(
            _state=State.CONNECTED, _tx_srtp=Session(policy),
            transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
        )  # fmt: skip
        return TransportIO(dtls, 1 << 20)

    async def run() -> float:
        track = PublishedTrack("publisher", Kind.VIDEO, transport(), 1, config)
        track.configure(RtpParams("0", (vp8,), (), (1234,), "c"))
        track.ssrc = 1234
        for i in range(n_slots):  # subscribers alike: the same mid, the same extension ids
            slot = Slot(f"s{i}", Kind.VIDEO, 0, 1000 + i, transport(), config.clock)
            slot.configure(
                RtpParams("1", (vp8,), ((URI_MID, 1), (URI_ABS_SEND_TIME, 2)), (), "c")
            )
            slot.set_source(track)
            slot.waiting_keyframe = False
        payload = b"\x90\xe0\x00\x00" + os.urandom(1096)
        t0 = time.process_time()
        for i in range(packets):
            pkt = InPacket(96, int(i % 8 == 7), i & 0xFFFF, (i // 8) * 3000, 1234, payload,
                           0, None, b"\x01\x02\x03", None)  # fmt: skip
            track.on_packet(pkt, config.clock())
        return (time.process_time() - t0) / (packets * n_slots)

    return asyncio.run(run())


def callgrind(n_slots: int, packets: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out",
             sys.executable, __file__, "--child", str(n_slots), str(packets)],
            capture_output=True, text=True, check=True, timeout=900,
        )  # fmt: skip
    m = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    assert m, out.stderr[-2000:]
    return int(m[1].replace(",", ""))


def git_rev() -> str:
    rev = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "media"], capture_output=True, text=True
    ).stdout.strip()
    return rev + ("+dirty(media/)" if dirty else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--packets", type=int, default=3000)
    ap.add_argument("--no-wall", action="store_true", help="skip the timed run")
    ap.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        harness(*args.child)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    low, high = callgrind(10, args.packets), callgrind(20, args.packets)
    result = {
        "bench": "forward_path",
        "git_rev": git_rev(),
        "python": platform.python_version(),
        "packets": args.packets,
        "instructions_per_slot_packet": round((high - low) / (10 * args.packets)),
        "instructions": {"n10": low, "n20": high},
        "loadavg": list(os.getloadavg()),
    }
    if not args.no_wall:
        result["wall_us_per_slot_packet"] = round(harness(20, 20000) * 1e6, 3)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
