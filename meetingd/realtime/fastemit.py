"""Fan-out to a room without one task per recipient, and without a wake-up per recipient
where none is needed.

python-socketio's ``AsyncManager.emit`` encodes a room event once, then creates one task
per recipient that awaits the engine.io socket's ``send`` (a ping-timeout check and a queue
put). Profiled at N=2000 in one meeting, creating and running those tasks was over a quarter
of the server's time (bench/README.md). Here the event is encoded once, and its websocket
frame built once; then, from one loop, in order:

* a connection whose engine.io writer is idle (waiting on its empty queue: everything queued
  before has been written) and whose TCP buffer is empty gets the frame written straight to
  its transport, the bytes every recipient shares: no queue, no writer wake-up, no
  per-recipient encoding. The frame is an uncompressed text frame, which a connection that
  negotiated permessage-deflate accepts as well (RFC 7692 §6: RSV1 unset);
* any other (its writer busy, its buffer not empty, a polling transport) gets the packet on
  its outgoing queue, behind what waits there, and its writer sends it as before.

Either way nothing overtakes what was sent to a connection before, and a socket whose client
is gone is still closed by engine.io's own ping check.

This touches python-socketio / python-engineio internals (the manager's participants, the
engine.io sockets, their queues and the aiohttp request under each). They are pinned exactly
in pyproject.toml, every use is in this module, and tests/realtime/test_fastemit.py fails
loudly if they change.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import engineio
import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

logger = logging.getLogger(__name__)

PINNED = {"python-socketio": "5.18.1", "python-engineio": "4.15.1"}

#: A connection's TCP transport while it may take frames directly (see the module's text),
#: None where it may not (a polling connection, or one upgraded from polling).
_DIRECT: weakref.WeakKeyDictionary[Any, asyncio.Transport | None] = weakref.WeakKeyDictionary()


@dataclass
class Deliveries:
    """How room events reached their connections (``/metrics``, the fan-out benchmark)."""

    #: Written straight to the connection's transport.
    direct: int = 0
    #: Put on the connection's engine.io queue (its writer was busy or its buffer full).
    queued: int = 0


def text_frame(payload: bytes) -> bytes:
    """One unmasked, uncompressed, final websocket text frame (RFC 6455 §5.2) of ``payload``."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def _request(sio: socketio.AsyncServer, eio_sid: str | None) -> Any:
    """The aiohttp request an engine.io connection was opened with (None if it is gone)."""
    return sio.environ.get(eio_sid, {}).get("aiohttp.request")


def _direct_transport(sio: socketio.AsyncServer, socket: Any) -> asyncio.Transport | None:
    """The transport a frame for ``socket`` may be written to now, or None."""
    try:
        transport = _DIRECT[socket]
    except KeyError:
        transport = None
        request = _request(sio, socket.sid)
        # only a connection that opened as a websocket: the request under it is the upgrade,
        # so its transport carries the websocket (after polling, it would be a poll's)
        if request is not None and request.headers.get("Upgrade", "").lower() == "websocket":
            transport = request.transport
        _DIRECT[socket] = transport
    if transport is None or transport.is_closing() or transport.get_write_buffer_size():
        return None
    queue = socket.queue
    # the writer waits on the empty queue: all it was given is written
    if queue.qsize() or not queue._getters or socket.upgrading or not socket.upgraded:
        return None
    return transport


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
        (sio, "environ"),
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
    counts: Deliveries | None = None,
) -> int:
    """Queue ``event`` to every connection of ``room`` in this process; returns how many.

    A connection whose outgoing queue already holds ``max_queued`` packets (0: no bound)
    gets nothing more: its client does not read what it is sent (its socket's writer is
    blocked on a full TCP window), so ``on_full`` is told its sid to drop it, rather than
    the queue growing with every event for as long as the client keeps the TCP alive."""
    encoded = sio.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, data]).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    packets = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
    frame = None
    if len(packets) == 1 and isinstance(parts[0], str):  # no binary attachments
        frame = text_frame(packets[0].encode().encode())
    sockets: dict[str, engineio.async_socket.AsyncSocket] = sio.eio.sockets
    sent = direct = 0
    for _sid, eio_sid in sio.manager.get_participants(namespace, room):
        socket = sockets.get(eio_sid)
        if socket is None or socket.closed:
            continue
        if max_queued and socket.queue.qsize() >= max_queued:
            if on_full is not None:
                on_full(_sid)
            continue
        sent += 1
        if frame is not None:
            transport = _direct_transport(sio, socket)
            if transport is not None:
                transport.write(frame)
                direct += 1
                continue
        for p in packets:
            socket.queue.put_nowait(p)
    if counts is not None:
        counts.direct += direct
        counts.queued += sent - direct
    return sent


def queued(sio: socketio.AsyncServer, sid: str, namespace: str) -> int:
    """Packets waiting in the outgoing queue of the connection ``sid`` (0 if it is gone)."""
    socket = sio.eio.sockets.get(sio.manager.eio_sid_from_sid(sid, namespace) or "")
    return 0 if socket is None else socket.queue.qsize()


def abort_transport(sio: socketio.AsyncServer, sid: str, namespace: str) -> bool:
    """Cut the TCP connection under ``sid`` at once (no close handshake: its client reads
    nothing). engine.io's reader and its blocked writer then end, and the socket closes as
    any lost transport does (the disconnect handler runs). False if it was already gone."""
    request = _request(sio, sio.manager.eio_sid_from_sid(sid, namespace))
    transport = getattr(request, "transport", None)
    if transport is None or transport.is_closing():
        return False
    transport.abort()
    return True
