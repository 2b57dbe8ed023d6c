"""Benchmark: one 640x360 30 fps VP8 publisher forwarded to N subscribers (see README.md).

Runs each N against a fresh server process of each target: meetingd (``media.MediaPlane``,
RTP forwarding) and Janus (Debian's ``janus``, VideoRoom plugin, configured by the bench:
see _janus.py), interleaved per N so both see the same machine, and, as the baseline,
aiortc's ``MediaRelay`` (decode once, re-encode per subscriber). The same clients feed and
read every target; they run in other processes and neither encode nor decode; one extra
check subscriber decodes for real. Server CPU is read from /proc/<server pid>/stat over a
fixed window (Janus: the whole process, every thread).

    .venv/bin/python bench/sfu_forward.py                 # full: N=1,5,10,20,40 both; relay 1..20
    .venv/bin/python bench/sfu_forward.py --quick         # N=1,10,40; relay 1,5; short windows
    .venv/bin/python bench/sfu_forward.py --targets meetingd,janus --n 1,10,20,40 --no-relay
    .venv/bin/python bench/sfu_forward.py --n 1,5,10 --window 10 --json-out out.json

Prints one JSON document on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# bench/ for the helpers; the repository root first, so `media` is the package itself even
# where a stale editable install maps it as a namespace package
sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                os.path.dirname(os.path.abspath(__file__))]
from _media_common import (  # noqa: E402
    VIDEO_FPS,
    CpuWindow,
    clip_info,
    clip_paths,
    linear_fit,
    load_packets,
    loadavg,
    progress,
    wait_for_quiet,
)
from _media_harness import Child, Harness, wait_receiving  # noqa: E402


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


TARGETS = {"meetingd": "sfu", "janus": "janus"}  # target -> harness mode
FULL_RATE_FPS = VIDEO_FPS - 1  # a subscriber below this is not at full frame rate


def _targets(text: str) -> list[str]:
    out = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in out if t not in TARGETS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown target(s) {bad}; known: {sorted(TARGETS)}")
    return out


def split(ids: list[str], parts: int) -> list[list[str]]:
    parts = max(1, min(parts, len(ids)))
    return [ids[i::parts] for i in range(parts)]


async def run_point(mode: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    quiet = await wait_for_quiet(args.quiet_below, args.quiet_wait)
    budget = args.warmup + args.window + 120
    h = Harness(mode, max_seconds=budget)
    t_start = time.monotonic()
    try:
        await h.start_server()
        pub = await h.start_clients("publisher", [{"id": "pub", "role": "chair", "video": True}],
                                    sender=args.sender)
        check = await h.start_clients("check", [{"id": "check", "role": "observer"}],
                                      decode=True)
        sub_ids = [f"sub{i:02d}" for i in range(1, n + 1)]
        procs = 1 if n <= args.subs_per_proc else -(-n // args.subs_per_proc)
        groups = split(sub_ids, procs)
        subs: list[Child] = []
        for i, g in enumerate(groups):
            subs.append(await h.start_clients(f"subs{i + 1}", [
                {"id": s, "role": "observer"} for s in g
            ], rcvbuf=args.client_rcvbuf, receiver=args.receiver))
        await pub.call({"cmd": "join", "ids": ["pub"]}, "joined", 60)
        await check.call({"cmd": "join", "ids": ["check"]}, "joined", 60)
        joined = await asyncio.gather(*(
            s.call({"cmd": "join", "ids": g, "interval": 0.02}, "joined", 120)
            for s, g in zip(subs, groups, strict=True)
        ))
        errors = {k: v for j in joined for k, v in j["errors"].items()}
        children = [pub, check, *subs]
        await wait_receiving(children, {s: 1 for s in [*sub_ids, "check"]}, 30)
        progress(f"{mode} N={n}: all joined in {time.monotonic() - t_start:.1f}s; "
                 f"warm-up {args.warmup}s, window {args.window}s")
        await asyncio.sleep(args.warmup)
        layouts = await h.server_get("/layouts")
        cpu = CpuWindow({"server": h.server_pid, **{c.name: c.pid for c in children}})
        for c in children:
            await c.call({"cmd": "window_start"}, "window_started", 30)
        load0 = loadavg()
        cpu.start()
        await asyncio.sleep(args.window)
        cpu_res = cpu.stop()
        load1 = loadavg()
        reports = {c.name: await c.call({"cmd": "window_stop"}, "report", 60) for c in children}
        server_stats = await h.server_get("/stats")
    finally:
        await h.close()
    point = summarize(mode, n, cpu_res, reports, layouts, server_stats, errors, load0)
    point["loadavg_at_window_end"] = load1
    point["machine_before"] = quiet
    point["loadavg_after_point"] = loadavg()
    return point


def video_slot(client: dict[str, Any], layouts: dict[str, Any]) -> dict[str, Any] | None:
    """The slot showing the publisher: from the server layout (sfu) or the only video slot."""
    lay = layouts.get(client["id"])
    slots = client["slots"]
    if lay:
        for mid, source in lay["video"]:
            if source == "pub" and mid in slots:
                return slots[mid]  # type: ignore[no-any-return]
        return None
    video = [s for s in slots.values() if s["kind"] == "video"]
    return max(video, key=lambda s: s["frames_total"]) if video else None


def summarize(mode: str, n: int, cpu: dict[str, Any], reports: dict[str, Any],
              layouts: dict[str, Any], server_stats: dict[str, Any], errors: dict[str, str],
              load0: list[float]) -> dict[str, Any]:
    subs = [c for name, r in reports.items() if name.startswith("subs") for c in r["clients"]]
    fps: list[float] = []
    per_sub: dict[str, float] = {}
    kbps: list[float] = []
    lost = received = 0
    missing = 0
    for c in subs:
        s = video_slot(c, layouts)
        if s is None:
            missing += 1
            fps.append(0.0)
            per_sub[c["id"]] = 0.0
            continue
        fps.append(s["fps"])
        per_sub[c["id"]] = s["fps"]
        kbps.append(s["kbps"])
        lost += max(0, s["packets_lost_window"])
        received += s["packets_received_window"]
    check_client = reports["check"]["clients"][0]
    cs = video_slot(check_client, layouts)
    server_cores = cpu["cores"]["server"]
    streams = n + 1  # N counting subscribers + the decoding check subscriber
    client_cores = {k: v for k, v in cpu["cores"].items() if k != "server"}
    client_limited = max(client_cores.values()) > 0.85 or (
        cpu["machine_busy_cores"] > 0.92 * (cpu["machine_cores"] or 2))
    return {
        "mode": mode,
        "n_subscribers": n,
        "forwarded_streams": streams,
        "server_cores": server_cores,
        "server_cores_per_stream": round(server_cores / streams, 5),
        # per stream as if every stream got the full 30 fps: the relay's work is per frame,
        # so a starved relay that delivers 8 fps looks 4x cheaper than it is
        "server_cores_per_stream_at_30fps": (
            round(server_cores / streams / min(1.0, statistics.median(fps) / VIDEO_FPS), 5)
            if fps and statistics.median(fps) > 0 else None),
        "client_cores": client_cores,
        "machine_busy_cores": cpu["machine_busy_cores"],
        "other_jobs_cores": cpu["other_jobs_cores"],
        "cpu_pressure_some_pct": cpu["cpu_pressure_some_pct"],
        "udp_drops_window": cpu["udp_drops"],
        "window_s": cpu["window_s"],
        "loadavg_at_window_start": load0,
        "fps_min": min(fps) if fps else None,
        "fps_median": statistics.median(fps) if fps else None,
        "fps_per_subscriber": per_sub,
        # a valid point: every subscriber (and the decoding check) at full frame rate
        "all_subscribers_full_rate": bool(fps) and missing == 0
        and min(fps) >= FULL_RATE_FPS and (cs["fps"] if cs else 0.0) >= FULL_RATE_FPS,
        "kbps_median": statistics.median(kbps) if kbps else None,
        "subscribers_without_video": missing,
        "packets_lost": lost,
        "loss_fraction": round(lost / (lost + received), 5) if lost + received else None,
        "check_subscriber": {
            "decoded_fps": cs["fps"] if cs else 0.0,
            "sizes": cs["sizes"] if cs else None,
            "decode_errors": reports["check"]["decode_errors"],
        },
        "publisher": reports["publisher"]["clients"][0]["publisher"],
        "server_stats": {k: v for k, v in server_stats.items() if k != "states"},
        "join_errors": errors,
        "client_or_machine_saturated": client_limited,
    }


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    video, _audio = clip_paths()
    info = clip_info(load_packets(video), VIDEO_FPS)
    result: dict[str, Any] = {
        "bench": "sfu_forward",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg(),
                 "python": platform.python_version()},
        "git": _git_rev(),
        # the shared tree may hold others' uncommitted work under media/: what ran is this
        "git_uncommitted_media": _git_dirty("media"),
        "clip": {"codec": "VP8", "size": "640x360", "fps": VIDEO_FPS, **info},
        "method": {
            "warmup_s": args.warmup, "window_s": args.window,
            "client_receiver": args.receiver, "client_sender": args.sender,
            "client_udp_rcvbuf": args.client_rcvbuf,
            "cpu": "utime+stime of the server process from /proc/PID/stat over the window",
            "subscribers": "count complete encoded frames where aiortc would decode them "
                           "(see client_receiver)",
            "check_subscriber": "one extra subscriber decodes for real (in its own process)",
            "publisher": "pre-encoded packets, paced 30 fps, keyframe on PLI/FIR",
        },
        "targets": args.targets,
        "sfu": [],
        "janus": [],
        "relay_baseline": [],
    }
    if "janus" in args.targets:
        from _janus import JanusNetns, janus_binary, janus_version

        why = ("Debian's janus is not installed (scripts/system-deps.sh)"
               if janus_binary() is None else JanusNetns.available())
        if why:
            raise SystemExit(f"sfu_forward: the janus target cannot run here: {why}; "
                             "measure meetingd alone with --targets meetingd")
        result["janus_version"] = janus_version()
    for i, n in enumerate(args.n):
        # interleaved per N, the order flipped every N: both targets see the same machine
        order = args.targets if i % 2 == 0 else list(reversed(args.targets))
        for target in order:
            mode = TARGETS[target]
            progress(f"{target} N={n} ...")
            point = await run_point(mode, n, args)
            point["target"] = target
            progress(f"{target} N={n}: server {point['server_cores']:.3f} cores, "
                     f"fps min {point['fps_min']} median {point['fps_median']}, "
                     f"loss {point['loss_fraction']}, clients {point['client_cores']}, "
                     f"load {point['loadavg_at_window_start']}")
            result[mode].append(point)
    for n in args.relay_n:
        progress(f"relay N={n} ...")
        point = await run_point("relay", n, args)
        progress(f"relay N={n}: server {point['server_cores']:.3f} cores, "
                 f"fps min {point['fps_min']} median {point['fps_median']}")
        result["relay_baseline"].append(point)
        # stop where the relay itself saturates the machine; a low frame rate while other
        # jobs hold the CPUs is noted but is not the relay's limit
        own_limit = point["server_cores"] > 0.9 * (os.cpu_count() or 2) or (
            (point["fps_min"] or 0) < 20 and point["other_jobs_cores"] < 0.5)
        if own_limit:
            progress(f"relay saturated at N={n}: larger N skipped")
            result["relay_saturated_at_n"] = n
            break
    for key in ("sfu", "janus", "relay_baseline"):
        pts = result[key]
        fit = linear_fit([p["forwarded_streams"] for p in pts], [p["server_cores"] for p in pts])
        result[f"{key}_fit"] = fit
    for key in ("sfu", "janus", "relay_baseline"):
        per = [p["server_cores_per_stream_at_30fps"] for p in result[key]
               if p["server_cores_per_stream_at_30fps"] is not None]
        result[f"{key}_median_cores_per_stream_at_30fps"] = (
            round(statistics.median(per), 5) if per else None)
    sfu = {p["n_subscribers"]: p for p in result["sfu"]}
    if 20 in sfu and 40 in sfu:
        result["sfu_marginal_cores_per_stream_20_to_40"] = round(
            (sfu[40]["server_cores"] - sfu[20]["server_cores"]) / 20, 5)
    fit = result.get("sfu_fit")
    result["goal"] = {
        "slope_max_cores_per_stream": 0.002,
        "slope": fit["slope_cores_per_stream"] if fit else None,
        "met": bool(fit and fit["slope_cores_per_stream"] <= 0.002
                    and all((p["fps_min"] or 0) >= 29 for p in result["sfu"])),
    }
    result["meetingd_vs_janus"] = compare(result)
    result["host"]["loadavg_at_end"] = loadavg()
    return result


def compare(result: dict[str, Any]) -> dict[str, Any] | None:
    """Slopes side by side, their ratio and the goal meetingd <= 0.5 x Janus."""
    fm, fj = result.get("sfu_fit"), result.get("janus_fit")
    if not fm or not fj:
        return None
    sm, sj = fm["slope_cores_per_stream"], fj["slope_cores_per_stream"]
    ratio = round(sm / sj, 3) if sj > 0 else None
    janus_at = {p["n_subscribers"]: p for p in result["janus"]}
    per_n = [
        {"n_subscribers": p["n_subscribers"], "meetingd_cores": p["server_cores"],
         "janus_cores": janus_at[p["n_subscribers"]]["server_cores"],
         "ratio": (round(p["server_cores"] / janus_at[p["n_subscribers"]]["server_cores"], 3)
                   if janus_at[p["n_subscribers"]]["server_cores"] > 0 else None),
         "meetingd_fps_min": p["fps_min"],
         "janus_fps_min": janus_at[p["n_subscribers"]]["fps_min"]}
        for p in result["sfu"] if p["n_subscribers"] in janus_at
    ]
    valid = all(p["all_subscribers_full_rate"] for p in result["sfu"] + result["janus"])
    return {
        "slope_meetingd_cores_per_stream": sm,
        "slope_janus_cores_per_stream": sj,
        "ratio_meetingd_to_janus": ratio,
        "per_n": per_n,
        "all_points_full_rate": valid,
        "goal_ratio_max": 0.5,
        "met": bool(valid and ratio is not None and ratio <= 0.5),
    }


def _git_rev() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except Exception:
        return None


def _git_dirty(path: str) -> list[str] | None:
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", path], capture_output=True,
                             text=True, cwd=Path(__file__).parent.parent, timeout=5).stdout
    except Exception:
        return None
    return [line[3:] for line in out.splitlines() if line.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N=1,10,40, relay 1,5, short windows")
    ap.add_argument("--targets", type=_targets, default=["meetingd", "janus"],
                    help="SFUs measured at every N, interleaved (default meetingd,janus; "
                         "janus needs Debian's janus, root and iproute2)")
    ap.add_argument("--n", type=_ints, help="subscriber counts for the SFU (default 1,5,10,20,40)")
    ap.add_argument("--relay-n", type=_ints,
                    help="subscriber counts for the MediaRelay baseline (default 1,5,10,20)")
    ap.add_argument("--no-relay", action="store_true", help="skip the MediaRelay baseline")
    ap.add_argument("--no-sfu", action="store_true",
                    help="only the MediaRelay baseline (no target)")
    ap.add_argument("--window", type=float, help="measurement window, s (default 15)")
    ap.add_argument("--warmup", type=float, help="warm-up after all receive, s (default 8)")
    ap.add_argument("--subs-per-proc", type=int, default=20,
                    help="counting subscribers per client process (default 20)")
    ap.add_argument("--client-rcvbuf", type=int, default=4 << 20,
                    help="UDP receive buffer of client sockets, bytes (0: system default)")
    ap.add_argument("--receiver", choices=("light", "full"), default="full",
                    help="full: aiortc's whole receive path (RTCP feedback included), "
                         "counted at the decoder queue (default); light: count frames in a "
                         "replaced _handle_rtp_packet (cheaper, no receiver reports/REMB)")
    ap.add_argument("--quiet-below", type=float, default=0.6,
                    help="before each point wait until other jobs use fewer cores (default 0.6)")
    ap.add_argument("--quiet-wait", type=float, default=90,
                    help="...but at most this many seconds (default 90)")
    ap.add_argument("--sender", choices=("light", "full"), default="light",
                    help="light: publishers send through a lean replacement of aiortc's RTP "
                         "send loop (default); full: aiortc's own loop")
    ap.add_argument("--json-out", type=Path, help="also write the JSON document here")
    args = ap.parse_args()
    if args.quick:
        args.n = args.n or [1, 10, 40]
        args.relay_n = args.relay_n or [1, 5]
        args.window = args.window or 5.0
        args.warmup = args.warmup if args.warmup is not None else 3.0
    args.n = [] if args.no_sfu else (args.n or [1, 5, 10, 20, 40])
    if args.no_sfu:
        args.targets = []
    args.relay_n = [] if args.no_relay else (args.relay_n or [1, 5, 10, 20])
    args.window = args.window or 15.0
    args.warmup = args.warmup if args.warmup is not None else 8.0
    result = asyncio.run(amain(args))
    text = json.dumps(result, indent=2)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
