"""Benchmark: a district meeting on the media plane (see README.md).

A chair and 40 bridge points each publish 640x360 30 fps VP8 (~800 kbps) and Opus, as
pre-encoded packets. Every bridge point receives the chair and the current speaker (bp01,
on the floor), the chair receives the speaker plus a page of 16 bridge-point thumbnails;
audio follows the policy (chair + floor). Clients run in other processes (2 by default)
and count complete frames where aiortc would decode them.

Reports server CPU over a fixed window, min fps at every receive slot, freezes (gaps
> 1 s between frames on a slot), join-to-first-frame (p50/p95/max), client CPU.

    .venv/bin/python bench/district_meeting.py
    .venv/bin/python bench/district_meeting.py --quick
    .venv/bin/python bench/district_meeting.py --bridge-points 20 --window 10 --json-out x.json

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

sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                os.path.dirname(os.path.abspath(__file__))]
from _media_common import (  # noqa: E402
    VIDEO_FPS,
    VIDEO_GOP,
    CpuWindow,
    clip_info,
    clip_paths,
    load_packets,
    loadavg,
    percentile,
    progress,
    rtp_packets_per_frame,
    wait_for_quiet,
)
from _media_harness import Harness, wait_receiving  # noqa: E402

SPEAKER = "bp01"


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.bridge_points
    bps = [f"bp{i:02d}" for i in range(1, n + 1)]
    procs = max(1, args.client_procs)
    # the chair (17 video slots on one socket) in a process of its own; bridge points
    # round-robin over the others
    groups: list[list[str]] = [[] for _ in range(procs)]
    for i, bp in enumerate(bps):
        groups[i % procs].append(bp)
    groups.insert(0, ["chair"])
    quiet = await wait_for_quiet(args.quiet_below, args.quiet_wait)
    budget = n * args.join_interval + args.settle + args.window + 180
    h = Harness("sfu", max_seconds=budget, page_size=args.page_size)
    t0 = time.monotonic()
    try:
        await h.start_server()
        children = []
        where: dict[str, Any] = {}
        for i, g in enumerate(groups):
            specs = [{"id": c, "role": "chair" if c == "chair" else "bridge_point",
                      "video": True, "audio": True} for c in g]
            ch = await h.start_clients("chair" if g == ["chair"] else f"bridge_points{i}", specs,
                                       keyframe_on_request=not args.no_keyframe_on_request,
                                       rcvbuf=args.client_rcvbuf, receiver=args.receiver,
                                       sender=args.sender)
            children.append(ch)
            for c in g:
                where[c] = ch
        progress(f"joining chair and {SPEAKER} (the speaker), then {n - 1} bridge points "
                 f"{args.join_interval}s apart")
        await where["chair"].call({"cmd": "join", "ids": ["chair"]}, "joined", 60)
        await where[SPEAKER].call({"cmd": "join", "ids": [SPEAKER]}, "joined", 60)
        await h.server_post("/floor", {"ids": [SPEAKER]})
        rest = bps[1:]
        schedule = {bp: i * args.join_interval for i, bp in enumerate(rest)}
        joined = await asyncio.gather(*(
            ch.call({"cmd": "join", "schedule": {c: schedule[c] for c in rest if where[c] is ch}},
                    "joined", budget)
            for ch in children
        ))
        errors = {k: v for j in joined for k, v in j["errors"].items()}
        # every slot the policy gives a source must show frames: a bridge point gets the
        # chair and the speaker (video and audio; the speaker itself only the chair), the
        # chair the speaker plus a page of thumbnails, and the speaker's audio
        page = min(args.page_size, n)
        want = {bp: 2 if bp == SPEAKER else 4 for bp in bps}
        want["chair"] = 1 + page + 1
        await wait_receiving(children, want, 30 + n * 0.5)
        progress(f"all joined in {time.monotonic() - t0:.1f}s; settle {args.settle}s, "
                 f"window {args.window}s")
        await asyncio.sleep(args.settle)
        layouts = await h.server_get("/layouts")
        cpu = CpuWindow({"server": h.server_pid, **{c.name: c.pid for c in children}})
        for c in children:
            await c.call({"cmd": "window_start"}, "window_started", 30)
        load0 = loadavg()
        stats0 = await h.server_get("/stats")
        cpu.start()
        await asyncio.sleep(args.window)
        cpu_res = cpu.stop()
        stats1 = await h.server_get("/stats")
        reports = [await c.call({"cmd": "window_stop"}, "report", 120) for c in children]
    finally:
        await h.close()
    out = summarize(args, cpu_res, reports, layouts, stats0, stats1, errors, load0)
    out["machine_before"] = quiet
    return out


def summarize(args: argparse.Namespace, cpu: dict[str, Any], reports: list[dict[str, Any]],
              layouts: dict[str, Any], stats0: dict[str, Any], stats1: dict[str, Any],
              errors: dict[str, str], load0: list[float]) -> dict[str, Any]:
    clients = {c["id"]: c for r in reports for c in r["clients"]}
    offer_at = {cid: c["t_offer"] for cid, c in clients.items()}
    slots_out: list[dict[str, Any]] = []
    for eid, lay in layouts.items():
        c = clients.get(eid)
        if c is None:
            continue
        for kind in ("video", "audio"):
            for idx, (mid, source) in enumerate(lay[kind]):
                if not source or mid not in c["slots"]:
                    continue
                s = c["slots"][mid]
                ref = max(x for x in (offer_at.get(eid), offer_at.get(source)) if x is not None)
                first = s["first_frame_at"]
                slots_out.append({
                    "receiver": eid, "role": c["role"], "kind": kind, "slot": idx,
                    "source": source, "fps": s["fps"], "kbps": s["kbps"],
                    "freezes_window": s["freezes_window"],
                    "max_gap_window_s": s["max_gap_window_s"],
                    "freezes_since_first_frame": s["freezes_total"],
                    "max_gap_since_first_frame_s": s["max_gap_total_s"],
                    "join_to_first_frame_s": _r(first - ref) if first is not None else None,
                    "joined_last": "receiver" if ref == offer_at.get(eid) else "source",
                    "lost": s["packets_lost_window"], "received": s["packets_received_window"],
                })
    video = [s for s in slots_out if s["kind"] == "video"]
    audio = [s for s in slots_out if s["kind"] == "audio"]

    def fps_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        f = [r["fps"] for r in rows]
        return {"slots": len(rows), "fps_min": min(f) if f else None,
                "fps_median": statistics.median(f) if f else None}

    ttff = [s["join_to_first_frame_s"] for s in video if s["join_to_first_frame_s"] is not None]
    ttff_audio = [s["join_to_first_frame_s"] for s in audio
                  if s["join_to_first_frame_s"] is not None]
    no_frames = [f"{s['receiver']}:{s['kind']}{s['slot']}<-{s['source']}"
                 for s in slots_out if s["join_to_first_frame_s"] is None]
    lost = sum(max(0, s["lost"]) for s in slots_out)
    received = sum(s["received"] for s in slots_out)
    client_cores = {k: v for k, v in cpu["cores"].items() if k != "server"}
    late = sum(p.get("late_resets", 0) for c in clients.values()
               for p in c["publisher"].values())
    sent_fps = [c["publisher"]["video"]["fps_window"] for c in clients.values()
                if "video" in c["publisher"]]
    kor = sum(p.get("keyframes_on_request", 0) for c in clients.values()
              for p in c["publisher"].values())
    worst = sorted(video, key=lambda s: s["fps"])[:5]
    slow = sorted(video, key=lambda s: -(s["join_to_first_frame_s"] or 0))[:5]
    client_sat = max(client_cores.values()) > 0.85
    machine_sat = cpu["machine_busy_cores"] > 0.92 * (cpu["machine_cores"] or 2)
    freezes = sum(s["freezes_window"] for s in video)
    p95 = percentile(ttff, 95)
    server_cores = cpu["cores"]["server"]
    # what the server would handle if every publisher got through at full rate
    v_pps = VIDEO_FPS * args.video_packets_per_frame
    a_pps = 50.0
    pps_in = (args.bridge_points + 1) * (v_pps + a_pps)
    pps_out = sum(
        (v_pps if kind == "video" else a_pps)
        for lay in layouts.values() for kind in ("video", "audio") for _m, src in lay[kind] if src
    )
    win = cpu["window_s"]
    handled = None
    if (stats1["packets_in"] >= stats0["packets_in"]
            and stats1["packets_out"] >= stats0["packets_out"]):
        handled = (stats1["packets_in"] - stats0["packets_in"]
                   + stats1["packets_out"] - stats0["packets_out"]) / win
    us_per_packet = cpu["cores"]["server"] * 1e6 / handled if handled else None
    full_rate = {
        "expected_packets_per_s": {"in": round(pps_in), "out": round(pps_out)},
        "handled_packets_per_s": round(handled) if handled else None,
        "handled_share": round(handled / (pps_in + pps_out), 3) if handled else None,
        "server_us_per_packet": round(us_per_packet, 1) if us_per_packet else None,
        # an estimate, not a measurement: meaningful only as cost per packet x full rate
        "server_cores_estimate_at_full_rate": (
            round(us_per_packet * (pps_in + pps_out) / 1e6, 3) if us_per_packet else None),
    }
    return {
        "server_cores": server_cores,
        "client_cores": client_cores,
        "machine_busy_cores": cpu["machine_busy_cores"],
        "other_jobs_cores": cpu["other_jobs_cores"],
        "cpu_pressure_some_pct": cpu["cpu_pressure_some_pct"],
        "udp_drops_window": cpu["udp_drops"],
        "window_s": cpu["window_s"],
        "loadavg_at_window_start": load0,
        "video": {
            "all_slots": fps_summary(video),
            "bridge_point_slots": fps_summary([s for s in video if s["role"] != "chair"]),
            "chair_slots": fps_summary([s for s in video if s["role"] == "chair"]),
            "freezes_over_1s_window": freezes,
            "max_gap_window_s": max((s["max_gap_window_s"] for s in video), default=None),
            "freezes_over_1s_since_first_frame": sum(
                s["freezes_since_first_frame"] for s in video),
            "worst_slots": [{k: s[k] for k in ("receiver", "slot", "source", "fps",
                                                "max_gap_window_s")} for s in worst],
        },
        "audio": fps_summary(audio),
        "join_to_first_frame_s": {
            "video_samples": len(ttff),
            "p50": _r(percentile(ttff, 50)), "p95": _r(p95), "max": _r(max(ttff, default=None)),
            "audio_p95": _r(percentile(ttff_audio, 95)),
            "slowest": [{k: s[k] for k in ("receiver", "slot", "source",
                                           "join_to_first_frame_s", "joined_last")}
                        for s in slow],
            "slots_without_frames": no_frames,
        },
        "packets_lost": lost,
        "loss_fraction": round(lost / (lost + received), 5) if lost + received else None,
        # None where an endpoint was reset during the window (its counters restart)
        "server_stats_window": {
            k: (stats1[k] - stats0[k]) if stats1[k] >= stats0[k] else None
            for k in ("packets_in", "packets_out", "packets_dropped", "keyframe_requests")
        },
        "server_endpoints_connected": f"{stats1['connected']}/{stats1['endpoints']}",
        "server_load_vs_full_rate": full_rate,
        "server_endpoint_states": {
            st: sum(1 for v in stats1["states"].values() if v == st)
            for st in sorted(set(stats1["states"].values()))
        },
        "publishers": {"keyframes_on_request": kor, "late_resets": late,
                       "video_fps_sent_min": min(sent_fps, default=None),
                       "video_fps_sent_median": statistics.median(sent_fps) if sent_fps else None},
        "join_errors": errors,
        "client_saturated": client_sat,
        "machine_saturated": machine_sat,
        "goal": {
            "server_cores_max": 1.0, "freezes": 0, "join_to_first_frame_p95_max_s": 0.5,
            "met": bool(server_cores <= 1.0 and freezes == 0 and p95 is not None and p95 < 0.5
                        and not no_frames),
        },
        "slots": slots_out if args.per_slot else None,
    }


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    video, audio = clip_paths()
    args.video_packets_per_frame = rtp_packets_per_frame(load_packets(video), True)
    result: dict[str, Any] = {
        "bench": "district_meeting",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg(),
                 "python": platform.python_version()},
        "git": _git_rev(),
        "clips": {
            "video": {"codec": "VP8", "size": "640x360", "fps": VIDEO_FPS,
                      **clip_info(load_packets(video), VIDEO_FPS)},
            "audio": {"codec": "Opus", "frame_ms": 20, **clip_info(load_packets(audio), 50)},
        },
        "setup": {
            "bridge_points": args.bridge_points, "chair": 1, "page_size": args.page_size,
            "speaker": SPEAKER, "join_interval_s": args.join_interval,
            "client_processes": 1 + args.client_procs,
            "client_udp_rcvbuf": args.client_rcvbuf,
            "client_receiver": args.receiver,
            "client_sender": args.sender,
            "settle_s": args.settle, "window_s": args.window,
            "keyframe_on_request": not args.no_keyframe_on_request,
            "keyframe_interval_frames": VIDEO_GOP,
            "video_rtp_packets_per_frame": round(args.video_packets_per_frame, 2),
        },
        "method": {
            "cpu": "utime+stime from /proc/PID/stat over the window, per process",
            "receivers": "count complete encoded frames where aiortc would decode them "
                         "(see setup.client_receiver)",
            "join_to_first_frame": "first complete frame on a video slot minus the later of "
                                   "the receiver's and the source's offer",
            "freeze": "gap > 1 s between two frames on a video slot with a source",
            "publishers": ("pre-encoded packets paced at 30 fps; on PLI/FIR the next packet "
                           "is the clip's next keyframe (a live encoder answers too)"
                           if not args.no_keyframe_on_request else
                           "pre-encoded packets paced at 30 fps; PLI/FIR ignored, so a "
                           f"receiver waits for the clip's next keyframe (every {VIDEO_GOP} "
                           "frames)"),
        },
    }
    result.update(await run(args))
    result["host"]["loadavg_at_end"] = loadavg()
    return result


def _git_rev() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except Exception:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short settle and window")
    ap.add_argument("--bridge-points", type=int, default=40)
    ap.add_argument("--page-size", type=int, default=16)
    ap.add_argument("--join-interval", type=float, default=0.25,
                    help="seconds between two bridge points joining (default 0.25)")
    ap.add_argument("--client-procs", type=int, default=2,
                    help="processes for the bridge points (the chair has its own)")
    ap.add_argument("--client-rcvbuf", type=int, default=4 << 20,
                    help="UDP receive buffer of client sockets, bytes (0: system default)")
    ap.add_argument("--window", type=float, help="measurement window, s (default 15)")
    ap.add_argument("--settle", type=float, help="wait after all receive, s (default 8)")
    ap.add_argument("--no-keyframe-on-request", action="store_true",
                    help="publishers ignore PLI: join waits for the clip's next keyframe")
    ap.add_argument("--per-slot", action="store_true", help="include every slot in the JSON")
    ap.add_argument("--receiver", choices=("light", "full"), default="light",
                    help="light: count frames in a replaced _handle_rtp_packet (default); "
                         "full: aiortc's whole receive path, counted at the decoder queue")
    ap.add_argument("--quiet-below", type=float, default=0.6,
                    help="first wait until other jobs use fewer cores (default 0.6)")
    ap.add_argument("--quiet-wait", type=float, default=90,
                    help="...but at most this many seconds (default 90)")
    ap.add_argument("--sender", choices=("light", "full"), default="light",
                    help="light: publishers send through a lean replacement of aiortc's RTP "
                         "send loop (default); full: aiortc's own loop")
    ap.add_argument("--json-out", type=Path, help="also write the JSON document here")
    args = ap.parse_args()
    if args.quick:
        args.window = args.window or 5.0
        args.settle = args.settle if args.settle is not None else 3.0
    args.window = args.window or 15.0
    args.settle = args.settle if args.settle is not None else 8.0
    result = asyncio.run(amain(args))
    text = json.dumps(result, indent=2)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
