"""One client of a room: its peer connection, published tracks and receive slots."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtp import (
    RTCP_PSFB,
    RTCP_PSFB_APP,
    RTCP_RR,
    RTCP_RTPFB,
    RTCP_SR,
    RtcpPacket,
    unpack_remb_fci,
)
from aiortc.sdp import SessionDescription, candidate_from_sdp

from . import policy
from ._aiortc_private import (
    RtpParams,
    TransportIO,
    dtls_transport_of,
    hook_transceiver,
    rtp_params,
    sender_ssrc,
)
from .config import MediaConfig
from .errors import SignallingError
from .forwarder import PublishedTrack, Slot, on_feedback
from .policy import Kind, PolicyConfig, Role
from .rtp import URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, URI_MID, URI_RID, parse_rtp
from .sdp import (
    SdpNumbering,
    Simulcast,
    add_simulcast_recv,
    codec_preferences,
    filter_offer,
    parse_simulcast,
    session_id,
)

logger = logging.getLogger(__name__)

#: RTCP packet types parsed in full (SDES, BYE, APP, XR are skipped unparsed)
_RTCP_HANDLED = frozenset((RTCP_SR, RTCP_RR, RTCP_RTPFB, RTCP_PSFB))

#: delivers a server-initiated offer to the client (``rtc.offered``)
OfferCallback = Callable[[str], Awaitable[None]]
#: told the endpoint's connection state when it changes
StateCallback = Callable[[str], None]


class EndpointHost(Protocol):
    """All an endpoint may ask of its room (the room hands one to each endpoint).

    The room in turn uses only the endpoint's public members, so neither reaches into the
    other's state.
    """

    @property
    def room_id(self) -> str:
        """For log lines."""
        ...

    @property
    def config(self) -> MediaConfig:
        """The media plane's settings."""
        ...

    @property
    def policy_config(self) -> PolicyConfig:
        """Slot counts of the room."""
        ...

    def tracks_changed(self) -> None:
        """The endpoint's published tracks changed: re-run the room's policy."""
        ...

    def slots_negotiated(self, endpoint: Endpoint) -> None:
        """``endpoint``'s receive slots changed: point them at their sources."""
        ...

    def spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        """Run a background task that the room keeps referenced and awaits on close."""
        ...


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
        host: EndpointHost,
        endpoint_id: str,
        role: Role,
        on_offer: OfferCallback | None,
        on_state: StateCallback | None,
    ) -> None:
        self._host = host
        self.endpoint_id = endpoint_id
        self.role = role
        self.on_offer = on_offer
        self.on_state = on_state
        self.state = "new"
        self._config = host.config
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
        self._ext_ids: tuple[int | None, int | None, int | None, int | None] = (
            None, None, None, None
        )
        #: simulcast as the client's latest offer declares it
        self._simulcast = Simulcast()
        #: the agent's simulcast sources: one m-line per layer, grouped by source name
        self._agent_groups: dict[str, list[PublishedTrack]] = {}
        self._negotiation: asyncio.Task[None] | None = None
        self._negotiation_pc: RTCPeerConnection | None = None
        self.last_rx = 0.0
        #: REMBs dropped unparsed by the per-slot rate limit (see ``_on_rtcp``)
        self.remb_skipped = 0
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
            session = session_id(parsed)
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
            self._simulcast = parse_simulcast(filtered)
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
                self._host.spawn(self._reset_locked("ice failed"), f"reset-{self.endpoint_id}")
            elif pc.connectionState == "closed":
                # aiortc closes the connection both when the client says goodbye (DTLS
                # close_notify) and when our own ICE consent checks expire: say neither
                self._host.spawn(
                    self._reset_locked("connection closed: peer hung up or ICE consent expired"),
                    f"reset-{self.endpoint_id}",
                )

        return pc

    def _set_state(self, state: str) -> None:
        if state != self.state:
            logger.info("endpoint %s/%s: %s", self._host.room_id, self.endpoint_id, state)
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    def _adopt_client_transceiver(self, t: RTCRtpTransceiver) -> None:
        kind = Kind(t.kind)
        if not policy.may_publish(self.role, kind):
            t.direction = "inactive"
        else:
            t.direction = "recvonly"
        t.setCodecPreferences(codec_preferences(t.kind))

        def on_receive(params: RtpParams) -> None:
            self._on_track_params(t, params)

        hook_transceiver(t, on_send=lambda p: None, on_receive=on_receive)
        self._client_tx.add(t)

    def _io_for(self, t: RTCRtpTransceiver) -> TransportIO:
        dtls = dtls_transport_of(t)
        io = self._ios.get(id(dtls))
        if io is None:
            io = TransportIO(
                dtls,
                self._config.max_send_buffer,
                self._config.udp_buffer_size,
                self._config.remb_min_interval,
            )
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
            params.extension_id(URI_RID) or self._simulcast.rid_ext_id,
        )
        track = self._tracks.get(t)
        if track is None:
            track = PublishedTrack(
                self.endpoint_id, Kind(t.kind), self._io_for(t), sender_ssrc(t.sender), self._config
            )
            self._tracks[t] = track
            self._join_simulcast(track, params.mid or "")
            if not self.publishing_since:
                self.publishing_since = self._config.clock()
            track.configure(params)
            for ssrc in params.ssrcs:
                self._tracks_by_ssrc[ssrc] = track
            logger.info(
                "endpoint %s/%s publishes %s (mid %s)",
                self._host.room_id,
                self.endpoint_id,
                t.kind,
                params.mid,
            )
            self._host.tracks_changed()
        else:
            track.configure(params)
            for ssrc in params.ssrcs:
                self._tracks_by_ssrc[ssrc] = track

    def _join_simulcast(self, track: PublishedTrack, mid: str) -> None:
        """Make a new video track a simulcast layer when the client's SDP says it is one."""
        if track.kind is not Kind.VIDEO:
            return
        rids = self._simulcast.rids.get(mid)
        layer = self._simulcast.layers.get(mid)
        if rids:  # a browser: this m-line carries every layer; the others come by RID
            track.simulcast, track.rid = True, rids[0]
        elif layer is not None:  # the agent: one m-line per layer
            name, index, max_bitrate = layer
            group = self._agent_groups.setdefault(name, [])
            track.simulcast, track.layer_index, track.max_bitrate = True, index, max_bitrate
            track.group = group
            group.append(track)
            group.sort(key=lambda tr: tr.layer_index)

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
                    if tr.closed:
                        del self._tracks_by_ssrc[ssrc]
                changed = True
        if changed:
            self._host.tracks_changed()

    def _slot_counts(self) -> dict[Kind, int]:
        cfg = self._host.policy_config
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
            self._negotiation = self._host.spawn(
                self._negotiate_slots(), f"negotiate-{self.endpoint_id}"
            )

    async def _negotiate_slots(self) -> None:
        if self.on_offer is None:
            logger.warning(
                "endpoint %s/%s has no on_offer callback: no receive slots",
                self._host.room_id,
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
                    t.setCodecPreferences(codec_preferences(kind.value))
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
        self._host.slots_negotiated(self)
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
        sdp = add_simulcast_recv(sdp, self._simulcast.rids, self._simulcast.rid_ext_id)
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
        mid_id, abs_id, level_id, rid_id = self._ext_ids
        pkt = parse_rtp(data, mid_id, abs_id, level_id, rid_id)
        if pkt is None:
            return
        track = self._tracks_by_ssrc.get(pkt.ssrc)
        if track is None:
            track = self._route_unknown_ssrc(pkt.mid, pkt.payload_type, pkt.rid)
            if track is None:
                return
            self._tracks_by_ssrc[pkt.ssrc] = track
        track.on_packet(pkt, now)

    def _route_unknown_ssrc(
        self, mid: str | None, payload_type: int, rid: str | None = None
    ) -> PublishedTrack | None:
        tracks = [t for t in self._tracks.values() if not t.closed]
        if mid is not None:
            for track in tracks:
                if track.mid == mid:
                    return self._layer_for(track, rid) if track.rid is not None else track
            return None
        by_pt = [t for t in tracks if payload_type in t.codecs and t.ssrc is None]
        return by_pt[0] if len(by_pt) == 1 else None

    def _layer_for(self, track: PublishedTrack, rid: str | None) -> PublishedTrack | None:
        """The layer of a browser's simulcast m-line that ``rid`` names (made on first use)."""
        if rid is None:
            return None  # a layer is only learnt from a packet that names it
        for layer in track.group:
            if layer.rid == rid:
                return layer
        rids = self._simulcast.rids.get(track.mid or "", ())
        if rid not in rids:
            return None
        layer = track.add_layer(rid, rids.index(rid))
        # local slots see it in the live group; the room is told after this packet (a
        # cascade link forwards each layer, and must learn of a new one)
        asyncio.get_running_loop().call_soon(self._host.tracks_changed)
        logger.info("endpoint %s/%s: simulcast layer %s on mid %s", self._host.room_id,
                    self.endpoint_id, rid, track.mid)
        return layer

    def _on_rtcp(self, data: bytes) -> None:
        """Handle one (compound) RTCP packet; the cheap path comes first.

        Each sub-packet's header (PT, FMT, length) is read by hand. REMB, which aiortc
        receivers send ~15 times a second per stream, is dropped without parsing unless its
        slot's ``remb_min_interval`` has passed; SDES/BYE/APP/XR are skipped. SR, RR, NACK,
        PLI and FIR are always parsed (aiortc's parser, one sub-packet at a time). A
        malformed sub-packet ends the compound; the ones before it count.
        """
        now = self._config.clock()
        self.last_rx = now
        n = len(data)
        pos = 0
        while pos + 4 <= n:
            first = data[pos]
            pt = data[pos + 1]
            end = pos + 4 + ((data[pos + 2] << 8) | data[pos + 3]) * 4
            if first >> 6 != 2 or end > n:
                return
            if pt == RTCP_PSFB and (first & 0x3F) == RTCP_PSFB_APP:  # REMB, P bit clear
                self._on_remb(data, pos, end, now)
            elif pt in _RTCP_HANDLED:
                try:
                    packets = RtcpPacket.parse(data[pos:end])
                except Exception:  # malformed: aiortc's parser raises more than ValueError
                    return
                for packet in packets:
                    self._on_rtcp_packet(packet)
            pos = end

    def _on_remb(self, data: bytes, pos: int, end: int, now: float) -> None:
        # header (4) + sender SSRC (4) + media SSRC (4), FCI: "REMB", count, exp+mantissa,
        # then the SSRCs; the first one names the slot whose rate limit applies
        first_ssrc = pos + 20
        if end < first_ssrc + 4 or data[pos + 12 : pos + 16] != b"REMB":
            return
        slot = self._slots_by_ssrc.get(int.from_bytes(data[first_ssrc : first_ssrc + 4], "big"))
        if slot is not None:
            if now < slot.remb_next:
                self.remb_skipped += 1
                return
            slot.remb_next = now + self._config.remb_min_interval
        try:
            bitrate, ssrcs = unpack_remb_fci(data[pos + 12 : end])
        except Exception:
            return
        for ssrc in ssrcs:
            s = self._slots_by_ssrc.get(ssrc)
            if s is not None:
                s.remb = bitrate
                if s is not slot:
                    s.remb_next = now + self._config.remb_min_interval

    def _on_rtcp_packet(self, packet: object) -> None:
        on_feedback(packet, self._tracks_by_ssrc, self._slots_by_ssrc)

    def tick(self, now: float) -> None:
        """The room's periodic timer: RTCP reports, overdue keyframe requests, liveness.

        A connected peer heard from last (or publishing since, if it never sent a packet)
        longer than ``peer_timeout`` ago is dropped; a peer that never sends at all is
        left to ICE consent freshness.
        """
        self._rtcp_tick()
        heard = max(self.last_rx, self.publishing_since)
        if heard and self.state == "connected" and now - heard > self._config.peer_timeout:
            logger.info("endpoint %s/%s: silent for %.0f s, dropping",
                        self._host.room_id, self.endpoint_id, now - heard)
            self._set_state("failed")
            self._host.spawn(self._reset_locked("timeout"), f"timeout-{self.endpoint_id}")

    def _rtcp_tick(self) -> None:
        now = self._config.clock()
        for track in self.tracks():
            track.update_rate(now)
            report = track.rtcp_report()
            if report:
                track.io.send_rtcp(report)
        retry_after = 3 * self._config.keyframe_min_interval
        for slots in self._slots.values():
            for slot in slots:
                report = slot.rtcp_report()
                if report:
                    slot.io.send_rtcp(report)
                if slot.keyframe_overdue(now, retry_after):
                    slot.request_keyframe()
                if slot.layers:
                    slot.tick_layers(now)

    # -- lifetime ---------------------------------------------------------------------

    async def _reset_locked(self, reason: str) -> None:
        async with self._lock:
            await self._reset_pc(reason)

    async def _reset_pc(self, reason: str) -> None:
        """Drop the peer connection (tracks, slots); the endpoint stays in the room."""
        pc = self._pc
        if pc is None:
            return
        logger.info("endpoint %s/%s: closing peer connection (%s)", self._host.room_id,
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
        self._agent_groups.clear()
        self._numbering = SdpNumbering()
        self._client_mlines = 0
        self._session = None
        self.last_rx = 0.0
        self.publishing_since = 0.0
        if not self._closed:
            self._host.tracks_changed()
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

    def primary_layers(self, kind: Kind) -> list[PublishedTrack]:
        """The simulcast layers of the primary track of ``kind`` (itself without simulcast);
        a live list: layers that appear later join it."""
        track = self.primary_track(kind)
        return [] if track is None else track.group

    def tracks(self) -> list[PublishedTrack]:
        """Tracks this endpoint publishes (open ones, every simulcast layer)."""
        out: list[PublishedTrack] = []
        for t in self._tracks.values():
            if t.closed:
                continue
            if t.simulcast and t.rid is not None:
                out.extend(tr for tr in t.group if not tr.closed)
            else:
                out.append(t)
        return out

    def slots(self, kind: Kind) -> list[Slot]:
        """Negotiated receive slots of ``kind``."""
        return list(self._slots[kind])
