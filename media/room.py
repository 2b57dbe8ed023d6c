"""The media plane's typed interface: MediaPlane -> Room -> Endpoint.

One :class:`Endpoint` is one client with one ``RTCPeerConnection`` (BUNDLE, one
DTLS/SRTP transport). What the client sends becomes :class:`PublishedTrack` s; what it
receives arrives on a fixed set of receive slots the server adds itself (a
server-initiated offer, delivered through ``on_offer``) so layout changes never need
another negotiation. The :class:`Room` owns the policy state (floor, mutes, pages),
re-points slots when it changes, and runs one shared RTCP/stats timer for all its
endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    unpack_remb_fci,
)
from aiortc.sdp import SessionDescription, candidate_from_sdp

from . import policy
from ._aiortc_private import (
    RtpParams,
    TransportIO,
    dtls_transport_of,
    hook_transceiver,
    restrict_host_addresses,
    rtp_params,
    sender_ssrc,
)
from .config import IceServer, MediaConfig, turn_credentials
from .errors import ConflictError, NotFoundError, SignallingError, UnsupportedCodecError
from .forwarder import PublishedTrack, Slot
from .policy import Assignment, Kind, PolicyConfig, Role, RoomState
from .rtp import URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, URI_MID, parse_rtp
from .stats import EndpointStats

logger = logging.getLogger(__name__)

OfferCallback = Callable[[str], Awaitable[None]]
StateCallback = Callable[[str], None]
StatsCallback = Callable[[str, Mapping[str, EndpointStats]], None]
LayoutCallback = Callable[["Layout"], None]

#: codecs the forwarder passes through; anything else is removed from offers
FORWARDABLE = {"audio": {"OPUS"}, "video": {"VP8", "H264"}}


@dataclass(frozen=True)
class SlotInfo:
    """One receive slot: the m-line (``mid``) a client plays, and whose media it shows."""

    kind: str
    index: int
    mid: str | None
    source: str | None


@dataclass(frozen=True)
class Layout:
    """What an endpoint currently receives, for the client to label its tiles."""

    endpoint_id: str
    page: int
    page_count: int
    audio: tuple[SlotInfo, ...]
    video: tuple[SlotInfo, ...]


def _codec_preferences(kind: str) -> list[Any]:
    caps = RTCRtpSender.getCapabilities(kind)
    return [c for c in caps.codecs if c.mimeType.split("/")[1].upper() in FORWARDABLE[kind]]


_PT_LINE = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+)[ \t]")


def filter_offer(sdp: str) -> tuple[str, SessionDescription]:
    """Validate a client's offer and remove codecs we cannot forward (and RTX).

    Raises :class:`SignallingError` for an unparsable offer and
    :class:`UnsupportedCodecError` when an audio/video section keeps no codec. The text is
    edited line by line, so attributes aiortc does not model are kept as sent.
    """
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        raise SignallingError("bad_sdp", "offer is not an SDP document")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:
        raise SignallingError("bad_sdp", f"offer could not be parsed: {exc!r}") from exc
    keep: list[set[int] | None] = []
    for media in parsed.media:
        if media.kind not in ("audio", "video"):
            keep.append(None)
            continue
        allowed: set[int] = {
            c.payloadType
            for c in media.rtp.codecs
            if c.payloadType is not None
            and c.mimeType.split("/")[1].upper() in FORWARDABLE[media.kind]
        }
        if not allowed and media.port != 0:
            names = sorted({c.mimeType for c in media.rtp.codecs}) or ["none"]
            raise UnsupportedCodecError(
                f"{media.kind} section {media.rtp.muxId} offers only {', '.join(names)}; "
                f"the server forwards {', '.join(sorted(FORWARDABLE[media.kind]))}"
            )
        keep.append(allowed)
    out: list[str] = []
    index = -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
            allowed_pts = keep[index] if index < len(keep) else None
            if allowed_pts is not None:
                head = line.split(" ")[:3]
                fmts = [f for f in line.split(" ")[3:] if f.isdigit() and int(f) in allowed_pts]
                line = " ".join(head + fmts)
        elif index >= 0 and keep[index] is not None:
            m = _PT_LINE.match(line)
            allowed_pts = keep[index]
            assert allowed_pts is not None
            if m and int(m.group(2)) not in allowed_pts:
                continue
        out.append(line)
    return "\r\n".join(out) + "\r\n", parsed


CodecIdentity = tuple[str, int, tuple[tuple[str, str], ...]]

_RTPMAP_LINE = re.compile(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+)([ \t].*)?$")
_EXTMAP_LINE = re.compile(r"^a=extmap:(\d+)(/\S+)?([ \t].*)$")
_DYNAMIC_PTS = [*range(96, 128), *range(35, 64)]


class SdpNumbering:
    """Keeps payload types and header extension ids stable for the whole session.

    aiortc numbers codecs and extensions afresh in every offer it creates; browsers refuse
    a re-offer that reassigns an id ("RTP extension ID reassignment not supported") and
    a BUNDLE group in which one payload type means two codecs. So every server offer is
    rewritten to the numbers the client's SDPs established; a codec or extension new to
    the session gets a number nobody uses yet.
    """

    def __init__(self) -> None:
        self.pt_by_codec: dict[CodecIdentity, int] = {}
        self.codec_by_pt: dict[int, CodecIdentity] = {}
        self.id_by_uri: dict[str, int] = {}
        self.uri_by_id: dict[int, str] = {}

    @staticmethod
    def identity(codec: Any) -> CodecIdentity:
        """What makes two codec descriptions the same codec configuration."""
        params = tuple(sorted((str(k), str(v)) for k, v in codec.parameters.items()))
        return (str(codec.mimeType).lower(), int(codec.clockRate), params)

    def learn(self, description: SessionDescription) -> None:
        """Record the numbers a client SDP uses (first use wins)."""
        for media in description.media:
            for c in media.rtp.codecs:
                if c.payloadType is None:
                    continue
                ident = self.identity(c)
                self.codec_by_pt.setdefault(c.payloadType, ident)
                self.pt_by_codec.setdefault(ident, c.payloadType)
            for h in media.rtp.headerExtensions:
                self.uri_by_id.setdefault(h.id, h.uri)
                self.id_by_uri.setdefault(h.uri, h.id)

    def _pt(self, ident: CodecIdentity) -> int:
        pt = self.pt_by_codec.get(ident)
        if pt is None:
            pt = next(p for p in _DYNAMIC_PTS if p not in self.codec_by_pt)
            self.pt_by_codec[ident] = pt
            self.codec_by_pt[pt] = ident
        return pt

    def _ext_id(self, uri: str) -> int:
        ext_id = self.id_by_uri.get(uri)
        if ext_id is None:
            ext_id = next(i for i in range(1, 15) if i not in self.uri_by_id)
            self.id_by_uri[uri] = ext_id
            self.uri_by_id[ext_id] = uri
        return ext_id

    def rewrite(self, sdp: str) -> str:
        """``sdp`` (our offer) with the session's payload types and extension ids."""
        description = SessionDescription.parse(sdp)
        maps: list[tuple[dict[int, int], dict[int, int]]] = []
        for media in description.media:
            pts = {
                c.payloadType: self._pt(self.identity(c))
                for c in media.rtp.codecs
                if c.payloadType is not None
            }
            ids = {h.id: self._ext_id(h.uri) for h in media.rtp.headerExtensions}
            maps.append((pts, ids))
        out: list[str] = []
        index = -1
        for line in sdp.splitlines():
            if line.startswith("m="):
                index += 1
                pts = maps[index][0]
                if pts:
                    head, fmts = line.split(" ")[:3], line.split(" ")[3:]
                    line = " ".join(head + [str(pts.get(int(f), f)) for f in fmts])
            elif index >= 0:
                pts, ids = maps[index]
                m = _RTPMAP_LINE.match(line)
                if m and int(m.group(2)) in pts:
                    line = f"a={m.group(1)}:{pts[int(m.group(2))]}{m.group(3) or ''}"
                e = _EXTMAP_LINE.match(line)
                if e and int(e.group(1)) in ids:
                    line = f"a=extmap:{ids[int(e.group(1))]}{e.group(2) or ''}{e.group(3)}"
            out.append(line)
        return "\r\n".join(out) + "\r\n"


def _session_id(parsed: SessionDescription) -> str | None:
    """Identify the client's peer connection by its ICE username fragment.

    (aiortc writes a new ``o=`` session id in every offer, so the origin cannot be used;
    a new peer connection always has new ICE credentials. ICE restarts are not supported.)
    """
    for media in parsed.media:
        if media.ice is not None and media.ice.usernameFragment:
            return str(media.ice.usernameFragment)
    return None


class Endpoint:
    """One participant's peer connection: its published tracks and its receive slots.

    Signalling: the client offers (``handle_offer`` returns the answer); the server then
    adds its receive slots and offers them through ``on_offer``; the client answers with
    ``handle_answer``. The server is the "impolite" peer: a client offer that crosses a
    pending server offer is refused with code ``glare`` (answer the server first).
    A client that starts a new peer connection (new SDP session id) replaces the old one.
    """

    def __init__(
        self,
        room: Room,
        endpoint_id: str,
        role: Role,
        on_offer: OfferCallback | None,
        on_state: StateCallback | None,
    ) -> None:
        self.room = room
        self.endpoint_id = endpoint_id
        self.role = role
        self.on_offer = on_offer
        self.on_state = on_state
        self.state = "new"
        self._config = room.config
        self._pc: RTCPeerConnection | None = None
        self._lock = asyncio.Lock()
        self._session: str | None = None
        self._ios: dict[int, TransportIO] = {}
        self._tracks: dict[RTCRtpTransceiver, PublishedTrack] = {}
        self._tracks_by_ssrc: dict[int, PublishedTrack] = {}
        self._slots: dict[Kind, list[Slot]] = {Kind.AUDIO: [], Kind.VIDEO: []}
        self._slot_transceivers: dict[RTCRtpTransceiver, Slot] = {}
        self._slots_by_ssrc: dict[int, Slot] = {}
        self._client_tx: set[RTCRtpTransceiver] = set()
        #: per MID, what the client's latest SDP says (payload types, extension ids, SSRCs)
        self._client_params: dict[str, RtpParams] = {}
        self._numbering = SdpNumbering()
        #: m-lines in the client's last SDP: a re-offer from the same connection has them all
        self._client_mlines = 0
        self._ext_ids: tuple[int | None, int | None, int | None] = (None, None, None)
        self._negotiation: asyncio.Task[None] | None = None
        self._negotiation_pc: RTCPeerConnection | None = None
        self.last_rx = 0.0
        #: bumped whenever the set of receive slots or their MIDs change
        self.slots_version = 0
        #: when this endpoint started publishing (it must send from then on)
        self.publishing_since = 0.0
        self._closed = False

    # -- signalling --------------------------------------------------------------------

    async def handle_offer(self, sdp: str) -> str:
        """Apply a client offer and return the SDP answer (with all server candidates)."""
        filtered, parsed = filter_offer(sdp)
        async with self._lock:
            if self._closed:
                raise SignallingError("closed", "endpoint was removed")
            session = _session_id(parsed)
            pc = self._pc
            # a re-offer carries every m-line already negotiated; one that does not (or
            # has other ICE credentials) comes from a new peer connection
            if pc is not None and (
                pc.connectionState in ("failed", "closed")
                or session != self._session
                or len(parsed.media) < self._client_mlines
            ):
                await self._reset_pc("new session")
                pc = None
            if pc is None:
                pc = self._new_pc()
                self._session = session
            if pc.signalingState != "stable":
                raise SignallingError(
                    "glare", "a server offer is pending: answer it, then offer again"
                )
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=filtered, type="offer"))
            except Exception as exc:
                raise SignallingError("bad_sdp", f"offer rejected: {exc}") from exc
            for t in pc.getTransceivers():
                if t in self._slot_transceivers or t in self._client_tx:
                    continue
                self._adopt_client_transceiver(t)
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
            self._sync_client_params(parsed)
            self._drop_stopped_tracks()
            out = self._outgoing_sdp(pc.localDescription.sdp)
        self._schedule_negotiation()
        return out

    async def handle_answer(self, sdp: str) -> None:
        """Apply the client's answer to the last server offer."""
        if not isinstance(sdp, str) or not sdp.startswith("v=0"):
            raise SignallingError("bad_sdp", "answer is not an SDP document")
        async with self._lock:
            pc = self._pc
            if pc is None or pc.signalingState != "have-local-offer":
                raise SignallingError("unexpected_answer", "no server offer is pending")
            try:
                parsed = SessionDescription.parse(sdp)
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except Exception as exc:
                raise SignallingError("bad_sdp", f"answer rejected: {exc}") from exc
            self._sync_client_params(parsed)
            self._drop_stopped_tracks()

    async def add_ice_candidate(
        self, candidate: str, sdp_mid: str | None = None, sdp_mline_index: int | None = None
    ) -> None:
        """Add a trickled remote candidate (``candidate:...`` line); "" ends gathering."""
        pc = self._pc
        if pc is None:
            raise SignallingError("no_session", "no offer was received yet")
        if not candidate:
            return
        try:
            c = candidate_from_sdp(candidate.removeprefix("a=").removeprefix("candidate:"))
        except Exception as exc:
            raise SignallingError("bad_candidate", f"unparsable ICE candidate: {exc!r}") from exc
        c.sdpMid = sdp_mid
        c.sdpMLineIndex = sdp_mline_index
        if sdp_mid is None and sdp_mline_index is None:
            c.sdpMLineIndex = 0
        try:
            await pc.addIceCandidate(c)
        except Exception as exc:
            raise SignallingError("bad_candidate", f"ICE candidate rejected: {exc}") from exc

    # -- peer connection plumbing ---------------------------------------------------------

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._pc = pc
        self._set_state("connecting")

        @pc.on("connectionstatechange")
        def on_change() -> None:
            if self._pc is not pc:
                return
            if pc.connectionState == "connected":
                self._set_state("connected")
            elif pc.connectionState == "failed":
                self._set_state("failed")
                self.room._spawn(self._reset_locked("ice failed"), f"reset-{self.endpoint_id}")
            elif pc.connectionState == "closed":  # the client said goodbye (DTLS close)
                self.room._spawn(self._reset_locked("closed by peer"), f"reset-{self.endpoint_id}")

        return pc

    def _set_state(self, state: str) -> None:
        if state != self.state:
            logger.info("endpoint %s/%s: %s", self.room.room_id, self.endpoint_id, state)
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def _adopt_client_transceiver(self, t: RTCRtpTransceiver) -> None:
        kind = Kind(t.kind)
        if not policy.may_publish(self.role, kind):
            t.direction = "inactive"
        else:
            t.direction = "recvonly"
        t.setCodecPreferences(_codec_preferences(t.kind))

        def on_receive(params: RtpParams) -> None:
            self._on_track_params(t, params)

        hook_transceiver(t, on_send=lambda p: None, on_receive=on_receive)
        self._client_tx.add(t)

    def _io_for(self, t: RTCRtpTransceiver) -> TransportIO:
        dtls = dtls_transport_of(t)
        io = self._ios.get(id(dtls))
        if io is None:
            io = TransportIO(dtls, self._config.max_send_buffer)
            self._ios[id(dtls)] = io
            io.install(self._on_rtp, self._on_rtcp)
        return io

    def _sync_client_params(self, client_sdp: SessionDescription) -> None:
        """Take payload types and extension ids from the client's own SDP.

        The client sends and expects what *its* SDP says. Browsers keep the payload types
        and extension ids of the first negotiation even when a later server offer (aiortc
        renumbers on every offer) proposes others, and answer with their own; aiortc's
        per-transceiver parameters would follow our offer instead.
        """
        self._numbering.learn(client_sdp)
        self._client_mlines = len(client_sdp.media)
        for media in client_sdp.media:
            mid = media.rtp.muxId
            if media.kind not in ("audio", "video") or not mid:
                continue
            media_ssrc = media.ssrc[0].ssrc if media.ssrc else None
            self._client_params[mid] = rtp_params(
                media.rtp, ssrcs=(media_ssrc,) if media_ssrc is not None else ()
            )
        for t in list(self._tracks):
            params = self._client_params.get(t.mid or "")
            if params is not None:
                self._on_track_params(t, params)
        for t, slot in self._slot_transceivers.items():
            params = self._client_params.get(t.mid or "")
            if params is not None and slot.ready:
                self._on_slot_params(t, params)

    def _on_track_params(self, t: RTCRtpTransceiver, params: RtpParams) -> None:
        if self._closed or t.direction == "inactive":
            return
        params = self._client_params.get(params.mid or "", params)
        self._ext_ids = (
            params.extension_id(URI_MID),
            params.extension_id(URI_ABS_SEND_TIME),
            params.extension_id(URI_AUDIO_LEVEL),
        )
        track = self._tracks.get(t)
        if track is None:
            track = PublishedTrack(
                self.endpoint_id, Kind(t.kind), self._io_for(t), sender_ssrc(t.sender), self._config
            )
            self._tracks[t] = track
            if not self.publishing_since:
                self.publishing_since = self._config.clock()
            track.configure(params)
            for ssrc in params.ssrcs:
                self._tracks_by_ssrc[ssrc] = track
            logger.info(
                "endpoint %s/%s publishes %s (mid %s)",
                self.room.room_id,
                self.endpoint_id,
                t.kind,
                params.mid,
            )
            self.room._update()
        else:
            track.configure(params)
            for ssrc in params.ssrcs:
                self._tracks_by_ssrc[ssrc] = track

    def _drop_stopped_tracks(self) -> None:
        changed = False
        for t, track in list(self._tracks.items()):
            if t.currentDirection not in ("recvonly", "sendrecv") or t.direction in (
                "inactive",
                "sendonly",
            ):
                track.close()
                del self._tracks[t]
                for ssrc, tr in list(self._tracks_by_ssrc.items()):
                    if tr is track:
                        del self._tracks_by_ssrc[ssrc]
                changed = True
        if changed:
            self.room._update()

    def _slot_counts(self) -> dict[Kind, int]:
        cfg = self.room.policy_config
        return {
            Kind.AUDIO: policy.audio_slot_count(self.role, cfg),
            Kind.VIDEO: policy.video_slot_count(self.role, cfg),
        }

    def _schedule_negotiation(self) -> None:
        # one at a time per peer connection; a task still busy with a replaced connection
        # (e.g. stuck delivering its offer) must not hold back the new one
        if (
            self._negotiation is None
            or self._negotiation.done()
            or self._negotiation_pc is not self._pc
        ):
            self._negotiation_pc = self._pc
            self._negotiation = self.room._spawn(
                self._negotiate_slots(), f"negotiate-{self.endpoint_id}"
            )

    async def _negotiate_slots(self) -> None:
        if self.on_offer is None:
            logger.warning(
                "endpoint %s/%s has no on_offer callback: no receive slots",
                self.room.room_id,
                self.endpoint_id,
            )
            return
        async with self._lock:
            pc = self._pc
            if pc is None or self._closed or pc.signalingState != "stable":
                return
            added = False
            for kind, count in self._slot_counts().items():
                while len(self._slots[kind]) < count:
                    # sendrecv when the role may publish: a client's addTrack() reuses a
                    # receive-only m-line of its kind (browsers and aiortc alike)
                    t = pc.addTransceiver(
                        kind.value,
                        direction="sendrecv" if policy.may_publish(self.role, kind) else "sendonly",
                    )
                    t.setCodecPreferences(_codec_preferences(kind.value))
                    slot = Slot(
                        self.endpoint_id,
                        kind,
                        len(self._slots[kind]),
                        sender_ssrc(t.sender),
                        self._io_for(t),
                        self._config.clock,
                    )
                    self._slots[kind].append(slot)
                    self._slot_transceivers[t] = slot
                    self._slots_by_ssrc[slot.ssrc] = slot

                    def on_send(params: RtpParams, t: RTCRtpTransceiver = t) -> None:
                        self._on_slot_params(t, params)

                    def on_receive(params: RtpParams, t: RTCRtpTransceiver = t) -> None:
                        self._on_track_params(t, params)

                    hook_transceiver(t, on_send=on_send, on_receive=on_receive)
                    added = True
            if not added:
                return
            offer = await pc.createOffer()
            offer = RTCSessionDescription(sdp=self._numbering.rewrite(offer.sdp), type="offer")
            await pc.setLocalDescription(offer)
            for t, slot in self._slot_transceivers.items():
                slot.mid = t.mid  # known from now on, so layouts can name it
            self.slots_version += 1
            sdp = self._outgoing_sdp(pc.localDescription.sdp)
        self.room._apply_assignment(self)
        await self.on_offer(sdp)

    def _on_slot_params(self, t: RTCRtpTransceiver, params: RtpParams) -> None:
        slot = self._slot_transceivers.get(t)
        if slot is None or self._closed:
            return
        client = self._client_params.get(params.mid or "")
        if client is not None:
            params = RtpParams(
                mid=params.mid,
                codecs=client.codecs,
                extensions=client.extensions,
                ssrcs=(),
                cname=params.cname,
            )
        slot.io = self._io_for(t)
        slot.configure(params)

    def _outgoing_sdp(self, sdp: str) -> str:
        announced = self._config.announced_ip
        if not announced:
            return sdp
        for ip in self._config.listen_ips:
            sdp = sdp.replace(f" {ip} ", f" {announced} ")
            sdp = sdp.replace(f"IN IP4 {ip}\r", f"IN IP4 {announced}\r")
        return sdp

    # -- packets ----------------------------------------------------------------------

    def _on_rtp(self, data: bytes, arrival_ms: int) -> None:
        now = self._config.clock()
        self.last_rx = now
        mid_id, abs_id, level_id = self._ext_ids
        pkt = parse_rtp(data, mid_id, abs_id, level_id)
        if pkt is None:
            return
        track = self._tracks_by_ssrc.get(pkt.ssrc)
        if track is None:
            track = self._route_unknown_ssrc(pkt.mid, pkt.payload_type)
            if track is None:
                return
            self._tracks_by_ssrc[pkt.ssrc] = track
        track.on_packet(pkt, now)

    def _route_unknown_ssrc(self, mid: str | None, payload_type: int) -> PublishedTrack | None:
        tracks = [t for t in self._tracks.values() if not t.closed]
        if mid is not None:
            for track in tracks:
                if track.mid == mid:
                    return track
            return None
        by_pt = [t for t in tracks if payload_type in t.codecs and t.ssrc is None]
        return by_pt[0] if len(by_pt) == 1 else None

    def _on_rtcp(self, data: bytes) -> None:
        self.last_rx = self._config.clock()
        try:
            packets = RtcpPacket.parse(data)
        except Exception:  # malformed: aiortc's parser raises more than ValueError
            return
        for packet in packets:
            if isinstance(packet, RtcpSrPacket):
                track = self._tracks_by_ssrc.get(packet.ssrc)
                if track is not None:
                    track.on_sender_report(packet.sender_info.ntp_timestamp)
            if isinstance(packet, (RtcpSrPacket, RtcpRrPacket)):
                for report in packet.reports:
                    slot = self._slots_by_ssrc.get(report.ssrc)
                    if slot is not None:
                        slot.on_receiver_report(report)
            elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                slot = self._slots_by_ssrc.get(packet.media_ssrc)
                if slot is not None:
                    slot.on_nack(list(packet.lost))
            elif isinstance(packet, RtcpPsfbPacket):
                if packet.fmt == RTCP_PSFB_PLI:
                    slot = self._slots_by_ssrc.get(packet.media_ssrc)
                    if slot is not None:
                        slot.request_keyframe()
                elif packet.fmt == RTCP_PSFB_FIR and len(packet.fci) >= 4:
                    slot = self._slots_by_ssrc.get(int.from_bytes(packet.fci[:4], "big"))
                    if slot is not None:
                        slot.request_keyframe()
                elif packet.fmt == RTCP_PSFB_APP:
                    try:
                        bitrate, ssrcs = unpack_remb_fci(packet.fci)
                    except ValueError:
                        continue
                    for ssrc in ssrcs:
                        slot = self._slots_by_ssrc.get(ssrc)
                        if slot is not None:
                            slot.remb = bitrate

    def _rtcp_tick(self) -> None:
        for track in self._tracks.values():
            report = track.rtcp_report()
            if report:
                track.io.send_rtcp(report)
        now = self._config.clock()
        retry_after = 3 * self._config.keyframe_min_interval
        for slots in self._slots.values():
            for slot in slots:
                report = slot.rtcp_report()
                if report:
                    slot.io.send_rtcp(report)
                if slot.keyframe_overdue(now, retry_after):
                    slot.request_keyframe()

    # -- lifetime ---------------------------------------------------------------------

    async def _reset_locked(self, reason: str) -> None:
        async with self._lock:
            await self._reset_pc(reason)

    async def _reset_pc(self, reason: str) -> None:
        """Drop the peer connection (tracks, slots); the endpoint stays in the room."""
        pc = self._pc
        if pc is None:
            return
        logger.info("endpoint %s/%s: closing peer connection (%s)", self.room.room_id,
                    self.endpoint_id, reason)
        self._pc = None
        for track in self._tracks.values():
            track.close()
        self._tracks.clear()
        self._tracks_by_ssrc.clear()
        for slots in self._slots.values():
            for slot in slots:
                slot.set_source(None)
        self._slots = {Kind.AUDIO: [], Kind.VIDEO: []}
        self.slots_version += 1
        self._slot_transceivers.clear()
        self._slots_by_ssrc.clear()
        self._ios.clear()
        self._client_tx.clear()
        self._client_params.clear()
        self._numbering = SdpNumbering()
        self._client_mlines = 0
        self._session = None
        self.last_rx = 0.0
        self.publishing_since = 0.0
        if not self._closed:
            self.room._update()
        await pc.close()
        if self.state != "failed":
            self._set_state("disconnected")

    async def close(self) -> None:
        """Close the peer connection for good (the room forgets the endpoint)."""
        self._closed = True
        if self._negotiation is not None and not self._negotiation.done():
            self._negotiation.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._negotiation
        async with self._lock:
            await self._reset_pc("removed")
        self._set_state("closed")

    # -- views ------------------------------------------------------------------------

    @property
    def connection_state(self) -> str:
        """``new``, ``connecting``, ``connected``, ``failed``, ``disconnected`` or ``closed``."""
        return self.state

    def published_kinds(self) -> set[Kind]:
        """Kinds this endpoint currently publishes."""
        return {t.kind for t in self._tracks.values() if not t.closed}

    def primary_track(self, kind: Kind) -> PublishedTrack | None:
        """The track of ``kind`` the policy forwards (the first one published)."""
        for t in self._tracks.values():
            if t.kind is kind and not t.closed:
                return t
        return None

    def slots(self, kind: Kind) -> list[Slot]:
        """Negotiated receive slots of ``kind``."""
        return list(self._slots[kind])


class Room:
    """A meeting's media: its endpoints and who receives whom (see :mod:`media.policy`)."""

    def __init__(
        self,
        plane: MediaPlane,
        room_id: str,
        on_stats: StatsCallback | None,
        on_layout: LayoutCallback | None,
        page_size: int | None,
    ) -> None:
        self.plane = plane
        self.room_id = room_id
        self.config = plane.config
        self.on_stats = on_stats
        self.on_layout = on_layout
        self.policy_config = PolicyConfig(
            audio_slots=self.config.audio_slots,
            page_size=page_size or self.config.video_page_size,
        )
        self._endpoints: dict[str, Endpoint] = {}
        self._floor: tuple[str, ...] = ()
        self._muted: set[str] = set()
        self._pages: dict[str, int] = {}
        self._assignments: dict[str, Assignment] = {}
        self._layouts: dict[str, Layout] = {}
        self._layout_keys: dict[str, tuple[Assignment, int, int, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._prev_counters: dict[str, tuple[float, int, int, int, int]] = {}
        self._closed = False
        self._timer = asyncio.get_running_loop().create_task(
            self._run_timer(), name=f"media-room-{room_id}"
        )

    # -- membership --------------------------------------------------------------------

    def add_endpoint(
        self,
        endpoint_id: str,
        role: Role | str,
        *,
        on_offer: OfferCallback | None = None,
        on_state: StateCallback | None = None,
    ) -> Endpoint:
        """Create an endpoint; ``on_offer`` delivers server-initiated offers to the client."""
        if endpoint_id in self._endpoints:
            raise ConflictError("endpoint_exists", f"endpoint {endpoint_id} is already in the room")
        try:
            role = Role(role)
        except ValueError as exc:
            raise SignallingError("bad_role", f"unknown role {role!r}") from exc
        ep = Endpoint(self, endpoint_id, role, on_offer, on_state)
        self._endpoints[endpoint_id] = ep
        self._update()
        return ep

    def endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint with this id (NotFoundError if unknown)."""
        try:
            return self._endpoints[endpoint_id]
        except KeyError:
            raise NotFoundError("endpoint_not_found", f"no endpoint {endpoint_id}") from None

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        """Endpoints by id (read-only view)."""
        return dict(self._endpoints)

    async def remove_endpoint(self, endpoint_id: str) -> None:
        """Close the endpoint's peer connection and forget it."""
        ep = self.endpoint(endpoint_id)
        del self._endpoints[endpoint_id]
        self._pages.pop(endpoint_id, None)
        self._layouts.pop(endpoint_id, None)
        self._layout_keys.pop(endpoint_id, None)
        self._assignments.pop(endpoint_id, None)
        await ep.close()
        self._update()

    # -- policy inputs ------------------------------------------------------------------

    def set_floor(self, endpoint_ids: Sequence[str]) -> None:
        """Who holds the floor, in order (the first is the speaker shown in video)."""
        self._floor = tuple(dict.fromkeys(endpoint_ids))
        self._update()

    def set_muted(self, endpoint_id: str, muted: bool) -> None:
        """Mute (server-side: packets dropped) or unmute an endpoint's audio."""
        if muted:
            self._muted.add(endpoint_id)
        else:
            self._muted.discard(endpoint_id)
        self._update()

    def set_video_page(self, endpoint_id: str, page: int) -> None:
        """Show thumbnail page ``page`` (0-based, clamped) on a chair's console."""
        ep = self.endpoint(endpoint_id)
        if ep.role is not Role.CHAIR:
            raise SignallingError("not_chair", "only a chair console has thumbnail pages")
        self._pages[endpoint_id] = max(0, int(page))
        self._update()

    @property
    def floor(self) -> tuple[str, ...]:
        """Current floor holders."""
        return self._floor

    @property
    def muted(self) -> frozenset[str]:
        """Endpoints muted by the chair."""
        return frozenset(self._muted)

    def state(self) -> RoomState:
        """The policy input for this instant."""
        publishing = frozenset(
            (eid, kind) for eid, ep in self._endpoints.items() for kind in ep.published_kinds()
        )
        return RoomState(
            endpoints={eid: ep.role for eid, ep in self._endpoints.items()},
            publishing=publishing,
            floor=self._floor,
            muted=frozenset(self._muted),
            pages=dict(self._pages),
        )

    def _update(self) -> None:
        """Re-run the policy and re-point every slot; O(endpoints), synchronous."""
        if self._closed:
            return
        st = self.state()
        self._assignments = policy.assign(st, self.policy_config, self._assignments)
        pages = policy.page_count(st, self.policy_config)
        for ep in self._endpoints.values():
            self._apply_assignment(ep, pages)

    def _apply_assignment(self, ep: Endpoint, pages: int | None = None) -> None:
        a = self._assignments.get(ep.endpoint_id)
        if a is None:
            return
        for kind, sources in ((Kind.AUDIO, a.audio), (Kind.VIDEO, a.video)):
            slots = ep.slots(kind)
            for i, slot in enumerate(slots):
                src = sources[i] if i < len(sources) else None
                track = None
                if src is not None and src in self._endpoints:
                    track = self._endpoints[src].primary_track(kind)
                slot.set_source(track)
        if pages is None:
            pages = policy.page_count(self.state(), self.policy_config)
        key = (a, pages, self._pages.get(ep.endpoint_id, 0), ep.slots_version)
        if self._layout_keys.get(ep.endpoint_id) == key:
            return  # nothing a client could see has changed
        self._layout_keys[ep.endpoint_id] = key
        layout = self._layout(ep, pages)
        if self._layouts.get(ep.endpoint_id) != layout:
            self._layouts[ep.endpoint_id] = layout
            if self.on_layout is not None:
                self.on_layout(layout)

    def layout(self, endpoint_id: str) -> Layout:
        """Which source each receive slot of ``endpoint_id`` shows."""
        return self._layout(self.endpoint(endpoint_id))

    def _layout(self, ep: Endpoint, pages: int | None = None) -> Layout:
        if pages is None:
            pages = policy.page_count(self.state(), self.policy_config)
        a = self._assignments.get(ep.endpoint_id, Assignment((), ()))

        def infos(kind: Kind, sources: tuple[str | None, ...]) -> tuple[SlotInfo, ...]:
            slots = ep.slots(kind)
            return tuple(
                SlotInfo(
                    kind=kind.value,
                    index=i,
                    mid=slots[i].mid if i < len(slots) else None,
                    source=src,
                )
                for i, src in enumerate(sources)
            )

        return Layout(
            endpoint_id=ep.endpoint_id,
            page=min(max(0, self._pages.get(ep.endpoint_id, 0)), pages - 1),
            page_count=pages,
            audio=infos(Kind.AUDIO, a.audio),
            video=infos(Kind.VIDEO, a.video),
        )

    # -- stats and timers ---------------------------------------------------------------

    def stats(self) -> dict[str, EndpointStats]:
        """Health of every endpoint since the previous call (bitrates, loss, rtt, fps)."""
        now = self.config.clock()
        out: dict[str, EndpointStats] = {}
        for eid, ep in self._endpoints.items():
            tracks = [t for t in ep._tracks.values()]
            slots = ep.slots(Kind.AUDIO) + ep.slots(Kind.VIDEO)
            b_in = sum(t.bytes_in for t in tracks)
            b_out = sum(s.bytes_out for s in slots)
            f_in = sum(t.frames_in for t in tracks if t.kind is Kind.VIDEO)
            f_out = sum(s.frames_out for s in slots)
            prev = self._prev_counters.get(eid)
            self._prev_counters[eid] = (now, b_in, b_out, f_in, f_out)
            if prev is None or now <= prev[0]:
                dt, db_in, db_out, df_in, df_out = 0.0, 0, 0, 0, 0
            else:
                dt = now - prev[0]
                db_in = max(0, b_in - prev[1])
                db_out = max(0, b_out - prev[2])
                df_in = max(0, f_in - prev[3])
                df_out = max(0, f_out - prev[4])
            active = [s for s in slots if s.packets_out]
            rtts = [s.rtt for s in slots if s.rtt is not None]
            jit_in = [
                t.stats.jitter / t.stats.clock_rate * 1000 for t in tracks if t.stats is not None
            ]
            jit_out = [s.jitter / (90 if s.kind is Kind.VIDEO else 48) for s in active]
            loss_in = [t.stats.last_fraction_lost / 256 for t in tracks if t.stats is not None]
            keyframes = [t.last_keyframe for t in tracks if t.last_keyframe is not None]
            out[eid] = EndpointStats(
                endpoint_id=eid,
                role=ep.role.value,
                state=ep.state,
                bitrate_in=int(db_in * 8 / dt) if dt else 0,
                bitrate_out=int(db_out * 8 / dt) if dt else 0,
                packets_in=sum(t.packets_in for t in tracks),
                packets_out=sum(s.packets_out for s in slots),
                packets_dropped=sum(s.dropped for s in slots),
                loss_in=max(loss_in, default=0.0),
                loss_out=max((s.fraction_lost / 256 for s in active), default=0.0),
                jitter_in_ms=max(jit_in, default=0.0),
                jitter_out_ms=max(jit_out, default=0.0),
                rtt_ms=(sum(rtts) / len(rtts) * 1000) if rtts else None,
                fps_in=df_in / dt if dt else 0.0,
                fps_out=df_out / dt if dt else 0.0,
                last_keyframe_at=max(keyframes, default=None),
                keyframe_requests=sum(t.keyframe_requests_sent for t in tracks),
                video_paused=sum(1 for s in slots if s.paused_until > now),
            )
        return out

    async def _run_timer(self) -> None:
        next_stats = self.config.clock() + self.config.stats_interval
        while True:
            await asyncio.sleep(0.5 + random.random() * 0.5)
            now = self.config.clock()
            for ep in list(self._endpoints.values()):
                try:
                    ep._rtcp_tick()
                    # heard from last (or publishing since, if it never sent a packet);
                    # a peer that never sends at all is left to ICE consent freshness
                    heard = max(ep.last_rx, ep.publishing_since)
                    if (
                        heard
                        and ep.state == "connected"
                        and now - heard > self.config.peer_timeout
                    ):
                        logger.info("endpoint %s/%s: silent for %.0f s, dropping",
                                    self.room_id, ep.endpoint_id, now - heard)
                        ep._set_state("failed")
                        self._spawn(ep._reset_locked("timeout"), f"timeout-{ep.endpoint_id}")
                except Exception:
                    logger.exception("rtcp tick failed for %s", ep.endpoint_id)
            if now >= next_stats:
                next_stats = now + self.config.stats_interval
                stats = self.stats()
                if self.on_stats is not None:
                    try:
                        self.on_stats(self.room_id, stats)
                    except Exception:
                        logger.exception("stats callback failed")

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("media task %s failed", name)

        task = asyncio.get_running_loop().create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Close every endpoint and stop the room's timer."""
        self._closed = True
        self._timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._timer
        for ep in list(self._endpoints.values()):
            await ep.close()
        self._endpoints.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class MediaPlane:
    """The SFU of one process: rooms by id. Create it inside the running event loop."""

    def __init__(self, config: MediaConfig | None = None) -> None:
        self.config = config or MediaConfig()
        restrict_host_addresses(self.config.listen_ips)
        self._rooms: dict[str, Room] = {}

    def create_room(
        self,
        room_id: str,
        *,
        on_stats: StatsCallback | None = None,
        on_layout: LayoutCallback | None = None,
        page_size: int | None = None,
    ) -> Room:
        """Open a room; ``on_stats(room_id, stats)`` is called every ``stats_interval``."""
        if room_id in self._rooms:
            raise ConflictError("room_exists", f"room {room_id} already exists")
        room = Room(self, room_id, on_stats, on_layout, page_size)
        self._rooms[room_id] = room
        return room

    def room(self, room_id: str) -> Room:
        """The room with this id (NotFoundError if unknown)."""
        try:
            return self._rooms[room_id]
        except KeyError:
            raise NotFoundError("room_not_found", f"no room {room_id}") from None

    @property
    def rooms(self) -> Mapping[str, Room]:
        """Open rooms by id (read-only view)."""
        return dict(self._rooms)

    async def close_room(self, room_id: str) -> None:
        """Close a room and all its peer connections."""
        room = self._rooms.pop(room_id, None)
        if room is None:
            raise NotFoundError("room_not_found", f"no room {room_id}")
        await room.close()

    async def close(self) -> None:
        """Close every room."""
        for room_id in list(self._rooms):
            await self.close_room(room_id)

    def client_ice_servers(self, user: str) -> tuple[IceServer, ...]:
        """ICE servers to hand a client: STUN urls plus TURN with fresh REST credentials."""
        out: list[IceServer] = []
        if self.config.ice_servers:
            out.append(IceServer(urls=tuple(self.config.ice_servers)))
        if self.config.turn_urls and self.config.turn_secret:
            username, password = turn_credentials(
                self.config.turn_secret, self.config.turn_ttl, user
            )
            out.append(
                IceServer(urls=tuple(self.config.turn_urls), username=username, credential=password)
            )
        return tuple(out)
