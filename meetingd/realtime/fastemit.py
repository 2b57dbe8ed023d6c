"""Fan-out to a room without one task per recipient.

python-socketio's ``AsyncManager.emit`` encodes a room event once, then creates one task
per recipient that awaits the engine.io socket's ``send`` (a ping-timeout check and a queue
put). Profiled at N=2000 in one meeting, creating and running those tasks was over a quarter
of the server's time (bench/README.md). Here the encoded packet is put straight on each
socket's outgoing queue, in order, from one loop: the writer task of each socket sends it as
before, and a socket whose client is gone is still closed by engine.io's own ping check.

This touches python-socketio / python-engineio internals (the manager's participants, the
engine.io sockets and their queues). They are pinned exactly in pyproject.toml, every use
is in this module, and tests/realtime/test_fastemit.py fails loudly if they change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import engineio
import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

logger = logging.getLogger(__name__)

PINNED = {"python-socketio": "5.18.1", "python-engineio": "4.15.1"}


def check_internals(sio: socketio.AsyncServer) -> None:
    """Raise if the internals this module relies on are not there."""
    from importlib.metadata import version

    for dist, want in PINNED.items():
        have = version(dist)
        if have != want:
            raise RuntimeError(f"fastemit was written for {dist}=={want}, found {have}")
    for owner, name in (
        (sio.manager, "get_participants"),
        (sio.manager, "eio_sid_from_sid"),
        (sio, "get_environ"),
        (sio.eio, "sockets"),
        (sio, "packet_class"),
    ):
        if not hasattr(owner, name):
            raise RuntimeError(f"fastemit: {type(owner).__name__}.{name} is gone")


def emit_to_room(
    sio: socketio.AsyncServer,
    event: str,
    data: Any,
    room: str,
    namespace: str,
    *,
    max_queued: int = 0,
    on_full: Callable[[str], None] | None = None,
) -> int:
    """Queue ``event`` to every connection of ``room`` in this process; returns how many.

    A connection whose outgoing queue already holds ``max_queued`` packets (0: no bound)
    gets nothing more: its client does not read what it is sent (its socket's writer is
    blocked on a full TCP window), so ``on_full`` is told its sid to drop it, rather than
    the queue growing with every event for as long as the client keeps the TCP alive."""
    encoded = sio.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, data]).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    packets = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
    sockets: dict[str, engineio.async_socket.AsyncSocket] = sio.eio.sockets
    sent = 0
    for _sid, eio_sid in sio.manager.get_participants(namespace, room):
        socket = sockets.get(eio_sid)
        if socket is None or socket.closed:
            continue
        if max_queued and socket.queue.qsize() >= max_queued:
            if on_full is not None:
                on_full(_sid)
            continue
        for p in packets:
            socket.queue.put_nowait(p)
        sent += 1
    return sent


def queued(sio: socketio.AsyncServer, sid: str, namespace: str) -> int:
    """Packets waiting in the outgoing queue of the connection ``sid`` (0 if it is gone)."""
    socket = sio.eio.sockets.get(sio.manager.eio_sid_from_sid(sid, namespace) or "")
    return 0 if socket is None else socket.queue.qsize()


def abort_transport(sio: socketio.AsyncServer, sid: str, namespace: str) -> bool:
    """Cut the TCP connection under ``sid`` at once (no close handshake: its client reads
    nothing). engine.io's reader and its blocked writer then end, and the socket closes as
    any lost transport does (the disconnect handler runs). False if it was already gone."""
    environ = sio.get_environ(sid, namespace) or {}
    request = environ.get("aiohttp.request")
    transport = getattr(request, "transport", None)
    if transport is None or transport.is_closing():
        return False
    transport.abort()
    return True
