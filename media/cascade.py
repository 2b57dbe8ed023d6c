"""Cascading: one room's media across several media nodes (processes or machines).

A room may have endpoints on several nodes. Every node knows the whole room's membership
(the control plane tells it who is on which node, :meth:`media.Room.set_remote_members`)
and runs the same pure policy on it, so floor and layout stay one decision for the whole
meeting; each node applies it to its own endpoints. A local receiver assigned a source
on another node makes this node *want* that source from its node; the origin then
forwards each of the source's tracks (every simulcast layer) once over the link between
the two nodes, whatever the number of receivers behind it, and the receiving node fans
it out from a *proxy* track of its own (as Jitsi's Octo and mediasoup's ``pipeToRouter``
do).

The link between two nodes is one UDP socket per node, SRTP and SRTCP protected with a key
per direction derived from the sending node's secret (which its peers learn from the
control plane's registry; a datagram from an address that is no known node, or that does
not authenticate, is dropped; AEAD AES-128-GCM where libsrtp has it). On it:

* RTP: each forwarded track under a link SSRC the origin chose, its sequence numbers and
  timestamps continuous across the publisher's reconnects (the origin's side of a link is
  a :class:`~media.forwarder.Slot`), abs-send-time and audio level as header extensions
  1 and 2;
* RTCP from the receiving node: receiver reports, NACKs (answered from the origin's packet
  cache), PLIs (the origin's keyframe limiter), REMB (the receiving node's watchers' minimum,
  so one weak receiver there counts as it would at the origin); sender reports the other
  way;
* RTCP APP messages, JSON, as soft state: ``WANT`` (receiving node: the sources it needs in
  a room, each source's audio and video apart, the video as all its simulcast layers or
  the lowest one only for thumbnails, resent every :data:`REFRESH` s) and
  ``MAPS`` (origin: a source's tracks, their link SSRCs and codecs, resent as long as they
  are forwarded). What is not refreshed for
  :data:`EXPIRE` s is dropped, so a node that dies or restarts leaves nothing behind.

Receivers' NACKs and keyframe requests are answered at their own node first: its proxy
track keeps its own packet cache and keyframe limiter, and asks the origin only for what
it lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiortc.rtp import (
    RtcpPacket,
    RtcpReceiverInfo,
)

from ._aiortc_private import CodecInfo, LinkSrtp, RtpParams
from .config import MediaConfig
from .forwarder import PublishedTrack, Slot, on_feedback, ranked_layers
from .policy import Kind, Role
from .rtp import URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, parse_rtp

if TYPE_CHECKING:
    from .room import Room

logger = logging.getLogger(__name__)

#: header extension ids on a link
EXT_ABS_SEND_TIME = 1
EXT_AUDIO_LEVEL = 2
_LINK_EXTENSIONS = ((URI_ABS_SEND_TIME, EXT_ABS_SEND_TIME), (URI_AUDIO_LEVEL, EXT_AUDIO_LEVEL))
#: seconds between resends of the soft state (wants, maps) and link reports
REFRESH = 1.0
#: soft state not refreshed for this long is dropped (seconds)
EXPIRE = 3.5
#: a link datagram larger than this is not read (it is none of ours)
MAX_DATAGRAM = 2048
#: JSON of one APP message at most (a want list is cut into parts under it)
MAX_MESSAGE = 1000
#: link keys kept for peers no longer linked (a peer linked again keeps its replay window)
KEPT_KEYS = 256
_RTCP_APP = 204
_WANT = b"WANT"
_MAPS = b"MAPS"


@dataclass(frozen=True)
class PeerNode:
    """Another media node: its id, the address of its link socket and its secret."""

    node_id: str
    host: str
    port: int
    secret: bytes = field(repr=False)
    #: when the node started (its clock, seconds): of two registrations claiming one
    #: address, the later start is the node there now (the other died and restarted)
    since: float = 0.0


@dataclass(frozen=True)
class RemoteMember:
    """An endpoint of a room on another node, as the policy needs it."""

    node_id: str
    role: Role
    kinds: frozenset[Kind]


def pair_key(secret: bytes, sender: str, receiver: str) -> bytes:
    """The SRTP master key and salt of the direction ``sender`` -> ``receiver`` (32 bytes;
    the profile takes what it needs)."""
    return hmac.new(secret, f"{sender}>{receiver}".encode(), hashlib.sha256).digest()


def _app(ssrc: int, name: bytes, body: dict[str, Any]) -> bytes:
    """An RTCP APP packet (RFC 3550 6.7) carrying ``body`` as JSON."""
    data = json.dumps(body, separators=(",", ":")).encode()
    data += b" " * (-len(data) % 4)
    words = (12 + len(data)) // 4 - 1
    return (
        bytes([0x80, _RTCP_APP]) + words.to_bytes(2, "big") + ssrc.to_bytes(4, "big") + name + data
    )


class LinkIO:
    """Writes one peer's datagrams: SRTP-protected, non-blocking, dropped when full."""

    def __init__(self, sock: socket.socket, addr: tuple[str, int], tx: LinkSrtp) -> None:
        self._sock = sock
        self.addr = addr
        self._tx = tx
        self.packets_out = 0
        self.bytes_out = 0
        self.dropped = 0

    def _write(self, data: bytes) -> bool:
        try:
            self._sock.sendto(data, self.addr)
        except Exception:  # full (BlockingIOError), unreachable, a bad address: dropped
            self.dropped += 1
            return False
        self.packets_out += 1
        self.bytes_out += len(data)
        return True

    def send_rtp(self, packet: bytes) -> bool:
        data = self._tx.protect(packet)
        if data is None:
            self.dropped += 1
            return False
        return self._write(data)

    def send_rtcp(self, packet: bytes) -> bool:
        data = self._tx.protect(packet, rtcp=True)
        if data is None:
            self.dropped += 1
            return False
        return self._write(data)


class LinkSlot(Slot):
    """The origin's side of one forwarded track: a slot whose receiver is another node.

    It is a plain slot (sequence numbers and timestamps continue across a change of the
    publisher's track, a video one starts at a keyframe, NACKs are answered from the
    track's cache) except that it never pauses for loss: the receiving node decides for
    its own receivers.
    """

    def __init__(
        self,
        key: tuple[str, str, Kind, int],
        ssrc: int,
        io: LinkIO,
        config: MediaConfig,
        changed: Callable[[LinkSlot], None],
    ) -> None:
        room_id, source, kind, index = key
        super().__init__(f"link:{room_id}:{source}", kind, index, ssrc, io, config.clock,
                         remote=False)  # fmt: skip
        self.key = key
        #: told when the other node must learn this track's numbers again (a MAPS now)
        self._changed = changed

    def point(self, track: PublishedTrack) -> bool:
        """Forward ``track``; True if that changed what the other node must be told."""
        before = (self.source, dict(self._pt_for))
        if track is not self.source:
            self.set_source(None)
        self.configure(RtpParams(None, tuple(track.codecs.values()), _LINK_EXTENSIONS, (), ""))
        self.set_source(track)
        return before != (self.source, self._pt_for)

    def source_changed_codecs(self) -> None:
        super().source_changed_codecs()
        if self.source is not None:
            self.configure(
                RtpParams(None, tuple(self.source.codecs.values()), _LINK_EXTENSIONS, (), "")
            )
            self._changed(self)  # the other node must learn the new numbers now

    def on_receiver_report(self, report: RtcpReceiverInfo) -> None:
        self.fraction_lost = report.fraction_lost
        self.jitter = report.jitter

    def describe(self) -> list[Any]:
        """This track in a ``MAPS`` message."""
        src = self.source
        codecs = [
            [c.payload_type, c.name, c.clock_rate, [list(p) for p in c.parameters]]
            for c in (src.codecs.values() if src is not None else ())
        ]
        simulcast = bool(src is not None and len(src.group) > 1)
        max_bitrate = src.max_bitrate if src is not None else None
        return [self.ssrc, self.kind.value, self.index, simulcast, max_bitrate, codecs]


class RemoteEndpoint:
    """An endpoint on another node, in this node's room: its proxy tracks, once mapped."""

    def __init__(self, endpoint_id: str, member: RemoteMember) -> None:
        self.endpoint_id = endpoint_id
        self.member = member
        self.role = member.role
        self._audio: PublishedTrack | None = None
        #: the video layers, lowest declared first; a live list the slots hold on to
        self._video: list[PublishedTrack] = []
        self._by_ssrc: dict[int, PublishedTrack] = {}
        self.mapped_at = 0.0

    @property
    def node_id(self) -> str:
        return self.member.node_id

    def published_kinds(self) -> set[Kind]:
        return set(self.member.kinds)

    def primary_track(self, kind: Kind) -> PublishedTrack | None:
        if kind is Kind.AUDIO:
            return self._audio
        return self._video[0] if self._video else None

    def primary_layers(self, kind: Kind) -> list[PublishedTrack]:
        if kind is Kind.AUDIO:
            return [self._audio] if self._audio is not None else []
        return self._video

    def tracks(self) -> list[PublishedTrack]:
        return list(self._by_ssrc.values())

    def apply_map(
        self, tracks: list[Any], io: LinkIO, config: MediaConfig, rtcp_ssrc: int
    ) -> tuple[bool, dict[int, PublishedTrack], set[int]]:
        """The origin's ``MAPS`` for this endpoint: proxies made, re-numbered or closed.

        Answers whether the set of tracks changed (the room re-points its slots), the
        proxies by link SSRC, and the link SSRCs that went away.
        """
        seen: dict[int, PublishedTrack] = {}
        changed = False
        for entry in tracks:
            ssrc, kind_s, index, simulcast, max_bitrate, codecs = entry
            kind = Kind(kind_s)
            track = self._by_ssrc.get(int(ssrc))
            if track is None:
                track = PublishedTrack(self.endpoint_id, kind, io, rtcp_ssrc, config)
                changed = True
                if kind is Kind.AUDIO:
                    if self._audio is not None:
                        self._audio.close()
                    self._audio = track
                else:
                    if self._video:
                        track.group = self._video[0].group
                        track.group.append(track)
                    else:
                        self._video = track.group
            track.layer_index = int(index)
            track.simulcast = bool(simulcast)
            track.max_bitrate = int(max_bitrate) if max_bitrate else None
            infos = tuple(
                CodecInfo(int(pt), str(name), int(clock), tuple((str(k), str(v)) for k, v in ps))
                for pt, name, clock, ps in codecs
            )
            if tuple(track.codecs.values()) != infos:
                track.configure(RtpParams(None, infos, _LINK_EXTENSIONS, (int(ssrc),), None))
            seen[int(ssrc)] = track
        gone = set(self._by_ssrc) - set(seen)
        for ssrc in gone:
            self._by_ssrc[ssrc].close()
            changed = True
        if self._audio is not None and self._audio.closed:
            self._audio = None
        self._by_ssrc = seen
        if self._video:
            self._video.sort(key=lambda t: t.layer_index)
        return changed, seen, gone

    def close(self) -> set[int]:
        """Close every proxy; answers their link SSRCs."""
        gone = set(self._by_ssrc)
        for track in self._by_ssrc.values():
            track.close()
        self._by_ssrc.clear()
        self._audio = None
        return gone


class _Peer:
    def __init__(
        self, node: PeerNode, addr: tuple[str, int], sock: socket.socket, keys: _Keys
    ) -> None:
        self.node = node
        self.addr = addr
        self.io = LinkIO(sock, self.addr, keys.tx)
        self._rx = keys.rx
        #: the sender SSRC of this end's RTCP: new with every link, so that the other end's
        #: replay protection starts afresh for it when this end forgot the link and made it
        #: again (the other end's may have lived on)
        self.rtcp_ssrc = random.getrandbits(32) | 1
        #: origin side: the sources the peer wants per room, and when it last said so
        self.wants: dict[str, frozenset[str]] = {}
        self.want_heard: dict[str, float] = {}
        self._want_parts: dict[tuple[str, int], dict[int, list[str]]] = {}
        self.links: dict[tuple[str, str, Kind, int], LinkSlot] = {}
        self.links_by_ssrc: dict[int, LinkSlot] = {}
        #: receiving side: what this node wants of the peer per room, the proxies by SSRC
        self.wanted: dict[str, frozenset[str]] = {}
        self._want_gen = random.getrandbits(20)
        self.proxies: dict[int, PublishedTrack] = {}
        self.packets_in = 0
        self.bytes_in = 0
        self.rejected = 0

    def unprotect(self, data: bytes, rtcp: bool) -> bytes | None:
        plain = self._rx.unprotect(data, rtcp)
        if plain is None:
            self.rejected += 1
        return plain

    def want_messages(self, own_ssrc: int, room_id: str) -> list[bytes]:
        """``WANT`` for one room, cut into parts that fit a datagram."""
        sources = sorted(self.wanted.get(room_id, frozenset()))
        self._want_gen = (self._want_gen + 1) & 0xFFFFF
        parts: list[list[str]] = [[]]
        size = 0
        for s in sources:
            if size + len(s) + 4 > MAX_MESSAGE - len(room_id) - 60 and parts[-1]:
                parts.append([])
                size = 0
            parts[-1].append(s)
            size += len(s) + 4
        gen, n = self._want_gen, len(parts)
        return [
            _app(own_ssrc, _WANT, {"r": room_id, "g": gen, "k": k, "n": n, "s": part})
            for k, part in enumerate(parts)
        ]

    def forget_parts(self, room_id: str) -> None:
        for key in [key for key in self._want_parts if key[0] == room_id]:
            del self._want_parts[key]

    def want_part(self, body: Mapping[str, Any]) -> tuple[str, frozenset[str]] | None:
        """A part of a ``WANT``; the room and its whole list once every part came."""
        room_id, gen, k, n = str(body["r"]), int(body["g"]), int(body["k"]), int(body["n"])
        sources = [str(s) for s in body["s"]]
        if n <= 1:
            return room_id, frozenset(sources)
        if not 0 <= k < n <= 64:
            return None
        for key in [key for key in self._want_parts if key[0] == room_id and key[1] != gen]:
            del self._want_parts[key]
        parts = self._want_parts.setdefault((room_id, gen), {})
        parts[k] = sources
        if len(parts) < n:
            return None
        del self._want_parts[(room_id, gen)]
        return room_id, frozenset(s for p in parts.values() for s in p)


@dataclass
class _Keys:
    """One peer's SRTP sessions, kept while its secret stays the same: a link made again
    (the registry lost it for a while) goes on with the same replay window, so datagrams
    captured before cannot be played back to it."""

    tx: LinkSrtp
    rx: LinkSrtp


def _address(host: str, port: int, family: int) -> tuple[str, int] | None:
    """A peer's address as this node's socket sends to it and receives from it (an IPv4
    peer on an IPv6 socket as ``::ffff:a.b.c.d``); None if it is not an IP and a port."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not 0 < port < 65536:
        return None
    if family == socket.AF_INET6 and ip.version == 4:
        return f"::ffff:{ip}", port
    if family == socket.AF_INET and ip.version == 6:
        return None
    return str(ip), port


class CascadeNode:
    """This node's links to the other media nodes: one UDP socket, one link per peer.

    ``plane.attach_cascade(node)`` connects it to a media plane's rooms; the control plane
    then keeps :meth:`set_peers` (the other nodes, from its registry) and each room's
    remote members up to date.
    """

    def __init__(self, node_id: str, config: MediaConfig, secret: bytes | None = None) -> None:
        self.node_id = node_id
        self.config = config
        self.secret = secret or os.urandom(32)
        self._sock: socket.socket | None = None
        self._peers: dict[str, _Peer] = {}
        self._by_addr: dict[tuple[str, int], _Peer] = {}
        self._rooms: dict[str, Room] = {}
        self._keys: dict[tuple[str, bytes], _Keys] = {}
        self._used_ssrcs: set[int] = set()
        self._timer: asyncio.Task[None] | None = None
        self.unknown_datagrams = 0

    # -- lifetime ----------------------------------------------------------------------

    def start(self, host: str, port: int = 0) -> tuple[str, int]:
        """Bind the link socket (port 0: any free one); answers the address bound."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        sock.bind((host, port))
        self._sock = sock
        loop = asyncio.get_running_loop()
        loop.add_reader(sock.fileno(), self._readable)
        self._timer = loop.create_task(self._run_timer(), name=f"cascade-{self.node_id}")
        bound = sock.getsockname()
        logger.info("media node %s: cascade link on %s:%s", self.node_id, bound[0], bound[1])
        return str(bound[0]), int(bound[1])

    @property
    def address(self) -> tuple[str, int] | None:
        if self._sock is None:
            return None
        bound = self._sock.getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        for node_id in list(self._peers):
            self._drop_peer(node_id)
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    # -- peers -------------------------------------------------------------------------

    def set_peers(self, peers: Iterable[PeerNode]) -> None:
        """The other nodes as the registry lists them now (this node left out)."""
        if self._sock is None:
            return
        family = self._sock.family
        fresh: dict[str, tuple[PeerNode, tuple[str, int]]] = {}
        taken: dict[tuple[str, int], str] = {}
        for p in peers:
            addr = _address(p.host, p.port, family)
            if p.node_id == self.node_id:
                continue
            if addr is None:
                logger.warning("media node %s: peer %s has no address it can reach (%s:%s)",
                               self.node_id, p.node_id, p.host, p.port)  # fmt: skip
                continue
            if addr in taken:  # two registrations, one address: the later start is there now
                older = fresh[taken[addr]][0]
                logger.info("media node %s: peers %s and %s both claim %s:%s",
                            self.node_id, taken[addr], p.node_id, *addr)  # fmt: skip
                if older.since >= p.since:
                    continue
                del fresh[taken[addr]]
            taken[addr] = p.node_id
            fresh[p.node_id] = (p, addr)
        for node_id in list(self._peers):
            if node_id not in fresh or fresh[node_id][0] != self._peers[node_id].node:
                self._drop_peer(node_id)
        for node_id, (node, addr) in fresh.items():
            if node_id not in self._peers:
                other = self._by_addr.get(addr)
                if other is not None:
                    self._drop_peer(other.node.node_id)
                peer = _Peer(node, addr, self._sock, self._keys_for(node))
                self._peers[node_id] = peer
                self._by_addr[peer.addr] = peer
                logger.info("media node %s: peer %s at %s:%s", self.node_id, node_id,
                            node.host, node.port)  # fmt: skip
                for room in self._rooms.values():
                    room.cascade_changed()

    @property
    def peers(self) -> Mapping[str, PeerNode]:
        return {k: p.node for k, p in self._peers.items()}

    def _keys_for(self, node: PeerNode) -> _Keys:
        key = (node.node_id, node.secret)
        keys = self._keys.pop(key, None)
        if keys is None:
            keys = _Keys(
                tx=LinkSrtp(pair_key(self.secret, self.node_id, node.node_id), outbound=True),
                rx=LinkSrtp(pair_key(node.secret, node.node_id, self.node_id), outbound=False),
            )
        self._keys[key] = keys  # the most recently used last
        while len(self._keys) > KEPT_KEYS + len(self._peers):
            del self._keys[next(iter(self._keys))]
        return keys

    def _drop_peer(self, node_id: str) -> None:
        peer = self._peers.pop(node_id, None)
        if peer is None:
            return
        if self._by_addr.get(peer.addr) is peer:
            del self._by_addr[peer.addr]
        for link in peer.links.values():
            link.set_source(None)
            self._used_ssrcs.discard(link.ssrc)
        peer.links.clear()
        peer.links_by_ssrc.clear()
        peer.proxies.clear()
        for room in self._rooms.values():
            gone = [ep for ep in room.remote_endpoints.values() if ep.node_id == node_id]
            for ep in gone:
                ep.close()
            if gone:
                room.cascade_changed()

    # -- rooms -------------------------------------------------------------------------

    def add_room(self, room: Room) -> None:
        self._rooms[room.room_id] = room

    def remove_room(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)
        for peer in self._peers.values():
            peer.wanted.pop(room_id, None)
            peer.wants.pop(room_id, None)
            peer.want_heard.pop(room_id, None)
            peer.forget_parts(room_id)
            for key in [k for k in peer.links if k[0] == room_id]:
                self._drop_link(peer, key)

    def want(self, room_id: str, needs: Mapping[str, frozenset[str]]) -> None:
        """What the room needs from each node now (sources by node id); sent at once when
        it changed, and refreshed."""
        for node_id, peer in self._peers.items():
            sources = needs.get(node_id, frozenset())
            if peer.wanted.get(room_id, frozenset()) == sources:
                continue
            if sources:
                peer.wanted[room_id] = sources
            else:
                peer.wanted.pop(room_id, None)
            self._send_wants(peer, room_id)

    def _send_wants(self, peer: _Peer, room_id: str) -> None:
        for message in peer.want_messages(peer.rtcp_ssrc, room_id):
            peer.io.send_rtcp(message)

    def forget_remote(self, endpoint: RemoteEndpoint) -> None:
        """A remote endpoint left the room (or its maps expired): close its proxies."""
        peer = self._peers.get(endpoint.node_id)
        for ssrc in endpoint.close():
            if peer is not None:
                peer.proxies.pop(ssrc, None)

    def room_changed(self, room: Room) -> None:
        """The room's tracks changed: re-point what every peer is sent of it."""
        for peer in self._peers.values():
            if room.room_id in peer.wants:
                self._sync_links(peer, room.room_id)

    def _sync_links(self, peer: _Peer, room_id: str) -> None:
        """Link slots for exactly the tracks of the sources the peer wants in the room."""
        room = self._rooms.get(room_id)
        wanted: dict[tuple[str, str, Kind, int], PublishedTrack] = {}
        if room is not None:
            for entry in peer.wants.get(room_id, frozenset()):
                kind, source = entry[:1], entry[2:]
                ep = room.local_endpoint(source)
                if ep is None:
                    continue
                if kind == "a":
                    audio = ep.primary_track(Kind.AUDIO)
                    if audio is not None:
                        wanted[(room_id, source, Kind.AUDIO, 0)] = audio
                elif kind in ("v", "t"):
                    layers = [t for t in ep.primary_layers(Kind.VIDEO) if not t.closed]
                    if kind == "t" and layers:  # thumbnails only: the lowest layer
                        layers = ranked_layers(layers, self.config.clock())[:1]
                    for layer in layers:
                        wanted[(room_id, source, Kind.VIDEO, layer.layer_index)] = layer
        changed: set[str] = set()
        for key in [k for k in peer.links if k[0] == room_id and k not in wanted]:
            self._drop_link(peer, key)
            changed.add(key[1])
        for key, track in wanted.items():
            link = peer.links.get(key)
            if link is None:
                link = LinkSlot(key, self._new_ssrc(), peer.io, self.config, self._relabelled)
                peer.links[key] = link
                peer.links_by_ssrc[link.ssrc] = link
            if link.point(track):
                changed.add(key[1])
        for source in changed:
            self._send_map(peer, room_id, source)

    def _relabelled(self, link: LinkSlot) -> None:
        """A forwarded track's payload types changed: the other node learns them now."""
        for peer in self._peers.values():
            if peer.links.get(link.key) is link:
                self._send_map(peer, link.key[0], link.key[1])

    def _drop_link(self, peer: _Peer, key: tuple[str, str, Kind, int]) -> None:
        link = peer.links.pop(key)
        peer.links_by_ssrc.pop(link.ssrc, None)
        self._used_ssrcs.discard(link.ssrc)
        link.set_source(None)

    def _new_ssrc(self) -> int:
        while True:
            ssrc = random.getrandbits(32)
            if ssrc and ssrc not in self._used_ssrcs:
                self._used_ssrcs.add(ssrc)
                return ssrc

    def _send_map(self, peer: _Peer, room_id: str, source: str) -> None:
        links = [link for k, link in peer.links.items() if k[0] == room_id and k[1] == source]
        body = {"r": room_id, "e": source, "t": [link.describe() for link in links]}
        peer.io.send_rtcp(_app(peer.rtcp_ssrc, _MAPS, body))

    # -- receiving ---------------------------------------------------------------------

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        now = self.config.clock()
        for _ in range(256):  # the loop's other work is not starved by one busy socket
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            peer = self._by_addr.get((addr[0], addr[1]))
            if peer is None or len(data) < 12:
                self.unknown_datagrams += 1
                continue
            rtcp = 192 <= data[1] <= 223
            plain = peer.unprotect(data, rtcp)
            if plain is None:
                continue
            peer.packets_in += 1
            peer.bytes_in += len(data)
            try:
                if rtcp:
                    self._on_rtcp(peer, plain)
                else:
                    self._on_rtp(peer, plain, now)
            except Exception:
                logger.exception("cascade: a datagram from %s could not be handled",
                                 peer.node.node_id)  # fmt: skip

    def _on_rtp(self, peer: _Peer, data: bytes, now: float) -> None:
        pkt = parse_rtp(data, 0, EXT_ABS_SEND_TIME, EXT_AUDIO_LEVEL, 0)
        if pkt is None:
            return
        track = peer.proxies.get(pkt.ssrc)
        if track is not None:
            track.on_packet(pkt, now)

    def _on_rtcp(self, peer: _Peer, data: bytes) -> None:
        n, pos = len(data), 0
        while pos + 8 <= n:
            first, pt = data[pos], data[pos + 1]
            end = pos + 4 + ((data[pos + 2] << 8) | data[pos + 3]) * 4
            if first >> 6 != 2 or end > n:
                return
            if pt == _RTCP_APP and end - pos >= 12:
                name = data[pos + 8 : pos + 12]
                try:
                    body = json.loads(data[pos + 12 : end])
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    try:
                        self._on_message(peer, name, body)
                    except (KeyError, TypeError, ValueError) as exc:
                        logger.warning("cascade: a bad %r from %s: %s", name,
                                       peer.node.node_id, exc)  # fmt: skip
            else:
                try:
                    packets = RtcpPacket.parse(data[pos:end])
                except Exception:
                    return
                for packet in packets:
                    self._on_rtcp_packet(peer, packet)
            pos = end

    def _on_rtcp_packet(self, peer: _Peer, packet: object) -> None:
        on_feedback(packet, peer.proxies, peer.links_by_ssrc)

    def _on_message(self, peer: _Peer, name: bytes, body: Mapping[str, Any]) -> None:
        now = self.config.clock()
        if name == _WANT:
            whole = peer.want_part(body)
            if whole is None:
                return
            room_id, sources = whole
            peer.want_heard[room_id] = now
            if peer.wants.get(room_id) != sources:
                if sources:
                    peer.wants[room_id] = sources
                else:
                    peer.wants.pop(room_id, None)
                    peer.want_heard.pop(room_id, None)
                self._sync_links(peer, room_id)
        elif name == _MAPS:
            room = self._rooms.get(str(body["r"]))
            if room is None:
                return
            endpoint = room.remote_endpoint(str(body["e"]))
            if endpoint is None or endpoint.node_id != peer.node.node_id:
                return
            changed, seen, gone = endpoint.apply_map(
                list(body["t"]), peer.io, self.config, peer.rtcp_ssrc
            )
            endpoint.mapped_at = now
            for ssrc in gone:
                peer.proxies.pop(ssrc, None)
            peer.proxies.update(seen)
            if changed:
                room.cascade_changed()

    # -- timer -------------------------------------------------------------------------

    async def _run_timer(self) -> None:
        while True:
            await asyncio.sleep(REFRESH * (0.8 + random.random() * 0.4))
            try:
                self._tick(self.config.clock())
            except Exception:
                logger.exception("cascade timer failed")

    def _tick(self, now: float) -> None:
        for peer in list(self._peers.values()):
            try:
                self._tick_peer(peer, now)
            except Exception:  # one peer's trouble never stops the others' refreshes
                logger.exception("cascade: the refresh of peer %s failed", peer.node.node_id)
        for room in list(self._rooms.values()):
            try:
                self._expire_maps(room, now)
            except Exception:
                logger.exception("cascade: the maps of room %s could not be expired",
                                 room.room_id)  # fmt: skip

    def _tick_peer(self, peer: _Peer, now: float) -> None:
        retry_after = 3 * self.config.keyframe_min_interval
        # receiving side: wants refreshed, proxies reported on, stale maps dropped
        for room_id in list(peer.wanted):
            self._send_wants(peer, room_id)
        for track in list(peer.proxies.values()):
            track.update_rate(now)
            report = track.rtcp_report()
            if report:
                peer.io.send_rtcp(report)
        # origin side: wants that stopped coming end their links; maps refreshed
        for room_id in list(peer.wants):
            if now - peer.want_heard.get(room_id, now) > EXPIRE:
                del peer.wants[room_id]
                peer.want_heard.pop(room_id, None)
                self._sync_links(peer, room_id)
        sources: set[tuple[str, str]] = set()
        for link in peer.links.values():
            report = link.rtcp_report()
            if report:
                peer.io.send_rtcp(report)
            if link.keyframe_overdue(now, retry_after):
                link.request_keyframe()
            sources.add((link.key[0], link.key[1]))
        for room_id, source in sources:
            self._send_map(peer, room_id, source)

    def _expire_maps(self, room: Room, now: float) -> None:
        stale = [
            ep for ep in room.remote_endpoints.values()
            if ep.tracks() and now - ep.mapped_at > EXPIRE
        ]  # fmt: skip
        for ep in stale:
            self.forget_remote(ep)
        if stale:
            room.cascade_changed()

    # -- figures -----------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        """Per peer: tracks sent and received over the link, packets and bytes."""
        return {
            node_id: {
                "streams_out": sum(1 for link in peer.links.values() if link.source is not None),
                "streams_in": len(peer.proxies),
                "packets_out": peer.io.packets_out,
                "bytes_out": peer.io.bytes_out,
                "packets_in": peer.packets_in,
                "bytes_in": peer.bytes_in,
                "dropped_out": peer.io.dropped,
                "rejected_in": peer.rejected,
            }
            for node_id, peer in self._peers.items()
        }
