"""``meetingd agent``: run the headless bridge-point agent against a meetingd server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from .agent import AgentConfig, BridgePointAgent
from .sio_signaller import SocketIOSignaller

logger = logging.getLogger(__name__)


def agent_config(args: argparse.Namespace) -> AgentConfig:
    """What to publish and record, from the command line."""
    source = args.video or args.audio
    if args.video and args.audio and args.video != args.audio:
        logger.warning("one source is published per agent; using --video %s", args.video)
    return AgentConfig(
        source=source,
        record_to=str(args.record) if args.record else None,
        local_ips=tuple(args.local_ip) if getattr(args, "local_ip", None) else None,
    )


def main(args: argparse.Namespace) -> int:
    """Run until interrupted; reconnects by itself after the server or the link drops."""
    credential_file: Path = args.credential
    try:
        credential = credential_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        print(f"meetingd agent: cannot read the credential file: {exc}")
        return 2
    signaller = SocketIOSignaller(args.server, credential, meeting_id=args.meeting)
    agent = BridgePointAgent(signaller, agent_config(args))

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await agent.run(stop)

    asyncio.run(run())
    return 0
