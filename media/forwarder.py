"""RTP-level forwarding: published tracks fan out to subscriber slots.

A :class:`PublishedTrack` receives a publisher's packets (already decrypted, never
depacketized or decoded). Each :class:`Slot` is one server-to-client m-line negotiated
up front; the policy points it at a track. Per packet and per slot the forwarder only
rewrites SSRC, sequence number, timestamp (per-slot offsets keep the stream continuous
when the source changes), payload type and the header extensions (the slot's own MID
and ids), then SRTP-protects and sends it with one non-blocking ``sendto``. Payload
bytes are shared between all subscribers.

Feedback handled here:

* keyframes: a slot that gets a new video source waits for a keyframe and asks the
  publisher for one (PLI, at most one per ``keyframe_min_interval`` per track; a
  request inside the window is deferred to its end, not lost). Subscriber PLI/FIR is
  passed upstream through the same limiter.
* loss: the track keeps a ring buffer of recent packets and answers subscriber NACKs
  itself; gaps from the publisher are NACKed upstream.
* bandwidth: the REMB sent upstream is the minimum REMB of the subscribers watching the
  track, clamped to ``[upstream_bitrate_floor, upstream_bitrate_ceiling]`` (one weak
  bridge point does not degrade the room below the floor); a video track nobody watches
  gets ``idle_video_bitrate``. A subscriber whose receiver reports show heavy loss
  (>= 25 %, twice running) has that video slot paused with a growing back-off while its
  audio continues (see :meth:`Slot.on_receiver_report`). Receiver reports feed the stats.
* simulcast: each slot picks its layer from the tile, the cap and its receiver's
  estimate (:meth:`Slot.select`). A REMB never says "more" (it stays under 1.5x what
  arrives), so a receiver with no estimate yet starts on the lowest layer and climbs by
  tries (slow start); a try that makes the estimate fall or the receiver lose goes back
  to the layer it left, and its bitrate is a ceiling tried again only after a back-off
  that doubles (15 s up to 120 s).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

from ._aiortc_private import CodecInfo, RtpParams
from .config import MediaConfig
from .policy import Kind
from .rtp import (
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    InPacket,
    PacketCache,
    ReceiveStatistics,
    abs_send_time_now,
    build_rtp,
    extension_block,
    keyframe_start,
    ntp_now,
    seq_diff,
)

logger = logging.getLogger(__name__)

CodecKey = tuple[str, str]

#: a video slot is paused after two receiver reports with this much loss (1/256 units)
PAUSE_LOSS = 64
PAUSE_MIN = 2.0
PAUSE_MAX = 30.0

#: retransmissions a subscriber may trigger: packets per second, and burst
NACK_RATE = 300.0
NACK_BURST = 100.0

#: simulcast: a layer is gone when nothing arrived on it for this long (seconds)
LAYER_STALE = 1.0
#: a receiver whose estimate falls below this share of its layer's bitrate steps down,
#: once the estimate has *fallen* (an aiortc/Chromium REMB only falls on overuse, to 85 %
#: of what arrives; after a step up it climbs from 1.5x the old layer at 8 %/s or, after
#: an overuse, by a few kbit/s a second: a low estimate that did not fall says "still
#: climbing", not "congested"; a congested link shows a fall or loss)
DOWNGRADE_SHARE = 0.7
#: an estimate lower than the one before by this share counts as a fall (an overuse)
REMB_FALL = 0.95
#: receiver-report loss (1/256) that, twice running, steps a simulcast slot down to the
#: layer its estimate fits (a pause, at PAUSE_LOSS, only on the lowest layer)
LAYER_LOSS = 26
#: a receiver steps up at once when its estimate covers this share of the next layer;
#: REMB never exceeds 1.5x what arrives, so it rarely can: the next layer is *tried*
UPGRADE_SHARE = 1.1
#: slow start: a receiver starts on the lowest layer (no estimate yet) and tries the
#: next one after this long on its layer without a fall of the estimate, an estimate
#: under DOWNGRADE_SHARE or a receiver report with TRY_LOSS (1/256) loss (seconds)
TRY_HOLD = 2.5
TRY_LOSS = 13
#: a try fails at once when the receiver NACKs this many packets of it (a link that
#: cannot carry the layer loses packets long before its receiver reports say so), or when
#: its estimate has not risen by TRY_RISE this long (seconds) after it reached the layer
#: while still under DOWNGRADE_SHARE of it (a link that carries it lets it climb)
TRY_NACKS = 3
TRY_RISE = 1.05
TRY_RISE_AFTER = 4.0
#: a try fails when, this long after it reached its layer, the estimate fell under
#: DOWNGRADE_SHARE of it or a report showed TRY_LOSS: the slot goes back to the layer it
#: came from, and that bitrate is its ceiling, tried again only after a back-off that
#: doubles with each failure (seconds); a try that holds clears the ceiling
UPGRADE_FAILED = 6.0
UPGRADE_MIN = 15.0
UPGRADE_MAX = 120.0
#: the layer that failed, and any with at least this share of its bitrate (measured rates
#: vary by 20 % and more), waits for the back-off
CEILING_SHARE = 0.7
#: a layer already forwarded may exceed a bitrate cap by this factor before it is left
CAP_SLACK = 1.25
#: after a layer switch down, receiver reports are not read for loss this long
#: (seconds): they still count what the old layer lost (a flood before a step down would
#: otherwise pause the new, lower layer, with a back-off growing to 30 s)
SWITCH_SETTLE = 2.5
#: a switch waits this long for the old layer to finish its frame before cutting it
SWITCH_FRAME_WAIT = 0.3


class PacketIO(Protocol):
    """Where a track's RTCP and a slot's RTP go: a peer connection's transport
    (``TransportIO``), a link to another node (``media.cascade.LinkIO``), the recorder."""

    def send_rtp(self, packet: bytes) -> bool: ...

    def send_rtcp(self, packet: bytes) -> bool: ...


def codec_key(codec: CodecInfo) -> CodecKey:
    """What must match for a stream to be forwardable: name and H.264 packetization."""
    if codec.name == "H264":
        return (codec.name, dict(codec.parameters).get("packetization-mode", "0"))
    return (codec.name, "")


class PublishedTrack:
    """One incoming track of a publisher, fanned out to the slots pointed at it."""

    def __init__(
        self,
        endpoint_id: str,
        kind: Kind,
        io: PacketIO,
        rtcp_ssrc: int,
        config: MediaConfig,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.kind = kind
        self.io = io
        self.rtcp_ssrc = rtcp_ssrc
        self._config = config
        self.mid: str | None = None
        self.codecs: dict[int, CodecInfo] = {}
        self.ssrc: int | None = None
        self.slots: list[Slot] = []
        self.cache = PacketCache() if kind is Kind.VIDEO else None
        self.stats: ReceiveStatistics | None = None
        self.packets_in = 0
        self.bytes_in = 0
        self.frames_in = 0
        self.last_keyframe: float | None = None  # wall clock
        self.keyframe_requests_sent = 0
        self._last_pli = -1e9
        self._pli_timer: asyncio.TimerHandle | None = None
        self._missing: set[int] = set()
        self._lsr = 0
        self._lsr_time = 0.0
        self._max_seq: int | None = None
        self.closed = False
        # simulcast: this track is one layer of ``group`` (low to high once measured)
        self.simulcast = False
        self.rid: str | None = None
        self.layer_index = 0
        #: the publisher's own limit for this layer (the agent's), sent as its REMB
        self.max_bitrate: int | None = None
        self.group: list[PublishedTrack] = [self]
        #: slots that switch to this layer at its next keyframe
        self.pending: list[Slot] = []
        self._switching: list[Slot] = []
        self._clones: list[PublishedTrack] = []
        #: measured incoming bit/s (smoothed over the room's timer ticks)
        self.bitrate = 0.0
        self.last_rx = -1e9
        self._rate_mark: tuple[float, int] = (0.0, 0)

    def add_layer(self, rid: str, index: int) -> PublishedTrack:
        """Another simulcast layer sent on this track's m-line (a browser's ``a=rid``)."""
        layer = PublishedTrack(self.endpoint_id, self.kind, self.io, self.rtcp_ssrc, self._config)
        layer.mid = self.mid
        layer.codecs = self.codecs
        layer.simulcast = True
        layer.rid = rid
        layer.layer_index = index
        layer.group = self.group
        self.group.append(layer)
        self._clones.append(layer)
        return layer

    def update_rate(self, now: float) -> None:
        """Sample the incoming bitrate (called by the room's timer)."""
        t0, b0 = self._rate_mark
        if t0 and now > t0:
            inst = (self.bytes_in - b0) * 8 / (now - t0)
            self.bitrate = inst if not self.bitrate else 0.6 * self.bitrate + 0.4 * inst
        self._rate_mark = (now, self.bytes_in)

    def active(self, now: float) -> bool:
        """Packets arrived on this layer lately."""
        return now - self.last_rx < LAYER_STALE

    def configure(self, params: RtpParams) -> None:
        """Apply (re)negotiated parameters; payload types may change on renegotiation."""
        self.mid = params.mid
        self.codecs = {c.payload_type: c for c in params.codecs}
        for slot in self.slots:
            slot.source_changed_codecs()
        for layer in self._clones:
            layer.configure(params)

    def on_packet(self, pkt: InPacket, now: float) -> None:
        """Account for one packet and forward it to every slot watching this track."""
        codec = self.codecs.get(pkt.payload_type)
        if codec is None:
            return
        self.ssrc = pkt.ssrc
        self.last_rx = now
        self.packets_in += 1
        self.bytes_in += len(pkt.payload) + 12
        if self.stats is None:
            self.stats = ReceiveStatistics(codec.clock_rate)
        self.stats.add(pkt.seq, pkt.timestamp, now)
        if self.kind is Kind.VIDEO:
            if pkt.payload:
                pkt.keyframe = keyframe_start(codec.name, pkt.payload)
                if pkt.keyframe:
                    self.last_keyframe = time.time()
            if pkt.marker:
                self.frames_in += 1
            assert self.cache is not None
            self.cache.put(pkt)
            self._track_loss(pkt.seq)
        for slot in self.slots:
            slot.forward(pkt, codec, now)
        if self._switching:  # slots whose old layer just finished a frame
            switching, self._switching = self._switching, []
            for slot in switching:
                slot.complete_switch(now)
        if self.pending and pkt.keyframe:
            for slot in list(self.pending):
                slot.target_keyframe(self, pkt.seq, now)

    def _track_loss(self, seq: int) -> None:
        if self._max_seq is None:
            self._max_seq = seq
            return
        d = seq_diff(seq, self._max_seq)
        if d <= 0:
            self._missing.discard(seq)
            return
        if d > 1:
            new = [(self._max_seq + i) & 0xFFFF for i in range(1, min(d, 64))]
            self._missing.update(new)
            if len(self._missing) > 256:
                self._missing = {s for s in self._missing if seq_diff(seq, s) < 512}
            self._send_nack(new)
        self._max_seq = seq

    def _send_nack(self, lost: list[int]) -> None:
        if self.ssrc is None or not lost:
            return
        packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=self.rtcp_ssrc, media_ssrc=self.ssrc)
        packet.lost = sorted(lost)
        self.io.send_rtcp(bytes(packet))

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per ``keyframe_min_interval``."""
        if self.kind is not Kind.VIDEO or self.closed:
            return
        now = self._config.clock()
        wait = self._last_pli + self._config.keyframe_min_interval - now
        if wait <= 0:
            self._send_pli(now)
        elif self._pli_timer is None:
            loop = asyncio.get_running_loop()
            self._pli_timer = loop.call_later(wait, self._deferred_pli)

    def _deferred_pli(self) -> None:
        self._pli_timer = None
        if not self.closed and (self.pending or any(s.waiting_keyframe for s in self.slots)):
            self._send_pli(self._config.clock())

    def _send_pli(self, now: float) -> None:
        if self.ssrc is None:
            # nothing received yet: the first packets will be a keyframe anyway, but ask
            # again shortly in case the publisher started before we listened
            self._last_pli = now
            loop = asyncio.get_running_loop()
            if self._pli_timer is None:
                self._pli_timer = loop.call_later(
                    self._config.keyframe_min_interval, self._deferred_pli
                )
            return
        self._last_pli = now
        self.keyframe_requests_sent += 1
        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=self.rtcp_ssrc, media_ssrc=self.ssrc)
        self.io.send_rtcp(bytes(pli))

    def on_sender_report(self, ntp_timestamp: int) -> None:
        """Remember the publisher's SR so our receiver reports carry LSR/DLSR."""
        self._lsr = (ntp_timestamp >> 16) & 0xFFFFFFFF
        self._lsr_time = time.time()

    def upstream_bitrate(self) -> int | None:
        """The REMB to send to the publisher now (see module docstring)."""
        if self.kind is not Kind.VIDEO:
            return None
        if self.simulcast:
            # every layer as the publisher planned it while anyone watches one of them:
            # receivers are served by choosing layers, not by squeezing the publisher
            if not any(layer.slots or layer.pending for layer in self.group):
                return self._config.idle_video_bitrate
            return min(self._config.upstream_bitrate_ceiling,
                       self.max_bitrate or self._config.upstream_bitrate_ceiling)
        if not self.slots:
            return self._config.idle_video_bitrate
        rembs = [s.remb for s in self.slots if s.remb is not None]
        if not rembs:
            return self._config.upstream_bitrate_ceiling
        return max(
            self._config.upstream_bitrate_floor,
            min(self._config.upstream_bitrate_ceiling, min(rembs)),
        )

    def rtcp_report(self) -> bytes:
        """Receiver report (and REMB) for this track, to send to the publisher."""
        if self.ssrc is None or self.stats is None:
            return b""
        st = self.stats
        dlsr = 0
        if self._lsr_time:
            delay = time.time() - self._lsr_time
            if 0 < delay < 65536:
                dlsr = int(delay * 65536)
        rr = RtcpRrPacket(
            ssrc=self.rtcp_ssrc,
            reports=[
                RtcpReceiverInfo(
                    ssrc=self.ssrc,
                    fraction_lost=st.fraction_lost(),
                    packets_lost=st.lost,
                    highest_sequence=(st.cycles + st.max_seq) & 0xFFFFFFFF,
                    jitter=st.jitter,
                    lsr=self._lsr,
                    dlsr=dlsr,
                )
            ],
        )
        out = bytes(rr)
        bitrate = self.upstream_bitrate()
        if bitrate is not None:
            out += bytes(
                RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP,
                    ssrc=self.rtcp_ssrc,
                    media_ssrc=0,
                    fci=pack_remb_fci(bitrate, [self.ssrc]),
                )
            )
        return out

    def close(self) -> None:
        """Detach every slot and stop timers."""
        self.closed = True
        if self._pli_timer is not None:
            self._pli_timer.cancel()
            self._pli_timer = None
        for slot in list(self.slots):
            slot.set_source(None)
        for slot in list(self.pending):
            slot.cancel_pending()
        if self in self.group:
            self.group.remove(self)
        for layer in self._clones:
            layer.close()


def ranked_layers(layers: list[PublishedTrack], now: float) -> list[PublishedTrack]:
    """A source's usable layers, lowest first: the live ones by measured bitrate, or all of
    them in their declared order until rates are known."""
    live = [t for t in layers if not t.closed and t.active(now) and t.bitrate > 0]
    if live:
        return sorted(live, key=lambda t: t.bitrate)
    return sorted((t for t in layers if not t.closed), key=lambda t: t.layer_index)


class Slot:
    """One server-to-client m-line; the policy points it at a :class:`PublishedTrack`."""

    def __init__(
        self,
        endpoint_id: str,
        kind: Kind,
        index: int,
        ssrc: int,
        io: PacketIO,
        clock: Callable[[], float],
        remote: bool = True,
    ) -> None:
        self.endpoint_id = endpoint_id
        self.kind = kind
        self.index = index
        #: a receiver behind a network link: on simulcast it starts low and climbs by
        #: tries; a local sink (the recorder) takes the best layer its tile allows at once
        self.remote = remote
        self.ssrc = ssrc
        self.io = io
        #: the transport's fused build-protect-send, where it has one (a peer connection's)
        self._send_parts: Callable[[int, int, int, int, bytes, bytes], int] | None = getattr(
            io, "send_rtp_parts", None
        )
        self._clock = clock
        self.mid: str | None = None
        self.cname = ""
        self.ready = False
        self.source: PublishedTrack | None = None
        self._pt_for: dict[CodecKey, int] = {}
        self._pt_map: dict[int, int | None] = {}
        self._ext_key: tuple[int, bytes, int, int] = (0, b"", 0, 0)
        self.waiting_keyframe = False
        self.waiting_since = 0.0
        self._rebase = True
        self._seq_off = 0
        self._ts_off = 0
        self._base_in_seq = 0
        self.last_seq = random.randint(0, 0x7FFF)
        self.last_ts = random.getrandbits(32)
        self._last_send: float | None = None
        self._clock_rate = 90000 if kind is Kind.VIDEO else 48000
        # counters and feedback
        self.packets_out = 0
        self.bytes_out = 0
        self.frames_out = 0
        self.dropped = 0
        self.retransmitted = 0
        self.paused_until = 0.0
        self.pauses = 0
        self._pause_for = PAUSE_MIN
        self._lossy_reports = 0
        self._clean_reports = 0
        self._nack_budget = NACK_BURST
        self._nack_refill = 0.0
        self._remb: int | None = None
        #: the subscriber's estimate fell (an overuse at the receiver) and has not come back
        #: to the layer since (cleared when it does, and when the slot reaches a layer)
        self.estimate_fell = False
        #: the subscriber's next REMB is processed from this time on (clock); see endpoint
        self.remb_next = 0.0
        self.fraction_lost = 0
        self.jitter = 0
        self.rtt: float | None = None
        self._sr_mid = 0
        self._sr_time = 0.0
        self._sr_packets = 0
        # simulcast (video): the source's layers, what the receiver may get, the switch
        self.layers: list[PublishedTrack] = []
        #: highest layer the tile wants (0: a thumbnail gets the lowest)
        self.tile_cap = 2
        #: bit/s this slot may use at most (weak-link cap), None: no cap
        self.bitrate_cap: int | None = None
        #: bit/s of the receiver's estimate kept for its audio (weak-link "audio first")
        self.reserve = 0
        self.pending: PublishedTrack | None = None
        self._pending_seq: int | None = None
        self._pending_since = 0.0
        self._in_frame = False
        self.layer_switches = 0
        self._settle_until = 0.0
        #: when the slot reached its layer; since when no sign of congestion was seen
        self._layer_since = 0.0
        self._calm_since = 0.0
        self._loss_at = -1e9
        #: the layer a try up left (None: no try running); what its receiver NACKed, its
        #: estimate when it reached the tried layer
        self._try_from: PublishedTrack | None = None
        self._try_nacks = 0
        self._try_est: int | None = None
        #: the layer before the last switch: (track, seq offset, ts offset, first new seq),
        #: and what of it was resent (once each: the link it flooded is still full)
        self._prev_layer: tuple[PublishedTrack, int, int, int] | None = None
        self._prev_resent: set[int] = set()
        #: bit/s of the last failed try (None: none), tried again from ``_ceiling_until``
        self._ceiling: float | None = None
        self._ceiling_layer: PublishedTrack | None = None
        self._ceiling_until = 0.0
        self._ceiling_backoff = UPGRADE_MIN

    @property
    def remb(self) -> int | None:
        """The subscriber's last bandwidth estimate for this slot (REMB, bit/s)."""
        return self._remb

    @remb.setter
    def remb(self, value: int | None) -> None:
        old, self._remb = self._remb, value
        if value is not None and old is not None and value < REMB_FALL * old:
            now = self._clock()
            self.estimate_fell = True
            self._calm_since = now
            if self._try_from is not None:
                self.select(now)  # a try that floods the link is left at once

    def configure(self, params: RtpParams) -> None:
        """Apply the negotiated parameters (MID, ids, payload types); the slot is then live."""
        was_ready = self.ready
        self.mid = params.mid
        self.cname = params.cname or ""
        self._pt_for = {}
        for c in params.codecs:
            if c.name != "RTX":
                self._pt_for.setdefault(codec_key(c), c.payload_type)
        mid_id = params.extension_id(URI_MID) or 0
        self._ext_key = (
            mid_id,
            (self.mid or "").encode() if mid_id else b"",
            params.extension_id(URI_ABS_SEND_TIME) or 0,
            params.extension_id(URI_AUDIO_LEVEL) or 0,
        )
        self._pt_map = {}
        self.ready = True
        if not was_ready and self.source is not None:
            self._restart_source()

    def source_changed_codecs(self) -> None:
        """Forget cached payload type mappings (the source renegotiated)."""
        self._pt_map = {}

    def set_layers(
        self,
        layers: list[PublishedTrack],
        tile_cap: int,
        bitrate_cap: int | None = None,
        reserve: int = 0,
    ) -> None:
        """Show the source whose simulcast layers are ``layers`` (one without simulcast).

        A new source starts (a hard switch: it waits for a keyframe) on the layer that fits
        the receiver's estimate, or on the lowest one when there is none yet (a new
        receiver: a weak link is never flooded with the top layer first), within the tile
        and the cap; a local sink starts on the best the tile allows. Within the same
        source the layer follows the receiver from then on (:meth:`select`), switching at
        keyframes of the target layer.
        """
        self.tile_cap, self.bitrate_cap, self.reserve = tile_cap, bitrate_cap, reserve
        if not layers:
            self.set_source(None)
            return
        if self.source is not None and self.source in layers:
            self.layers = layers
            self.select(self._clock())
            return
        estimate = self._remb
        self.set_source(None)
        self.layers = layers
        ranked = ranked_layers(layers, self._clock())
        if not ranked:
            return
        if len(ranked) < 2:
            self.set_source(ranked[0])
            return
        # the receiver's estimator goes on across a change of source: keep its estimate
        self._remb = estimate
        start = self._fit(ranked, len(ranked) - 1)
        if self.remote and estimate is None:
            start = 0
        self.set_source(ranked[start])
        self._remb = estimate

    def _budget(self, estimate: bool = True, slack: float = 1.0) -> float | None:
        """Bit/s the receiver can take for this slot: its estimate less the audio reserve,
        within the cap."""
        budget: float | None = None
        if estimate and self.remb is not None:
            budget = max(0, self.remb - self.reserve)
        if self.bitrate_cap is not None:
            cap = self.bitrate_cap * slack
            budget = cap if budget is None else min(budget, cap)
        return budget

    def _fit(
        self, ranked: list[PublishedTrack], start: int, estimate: bool = True, slack: float = 1.0
    ) -> int:
        """The highest layer at or below ``start`` and the tile's that fits the budget
        (the cap alone with ``estimate=False``)."""
        top = min(start, self.tile_cap, len(ranked) - 1)
        budget = self._budget(estimate, slack)
        if budget is None:
            return top
        for i in range(top, 0, -1):
            if ranked[i].bitrate <= budget:
                return i
        return 0

    def select(self, now: float) -> None:
        """Choose the layer for the receiver now; start a switch if it differs.

        Down: at once when the tile or the cap allows less; when a try up fails (back to
        the layer it left); when the estimate *fell* under ``DOWNGRADE_SHARE`` of the
        layer (congestion, not an estimate still climbing after a step up), to the layer
        the estimate fits. Up: when the estimate covers the next layer, else as a try once
        the receiver has been calm on its layer for ``TRY_HOLD`` (slow start), and for a
        layer at the ceiling of a failed try only after its back-off.
        """
        if self.kind is not Kind.VIDEO or len(self.layers) < 2 or self.source is None:
            return
        ranked = ranked_layers(self.layers, now)
        if len(ranked) < 2:
            if ranked and ranked[0] is not self.source and not self.source.active(now):
                self.begin_switch(ranked[0], now)
            return
        current = self.pending or self.source
        cur = ranked.index(current) if current in ranked else 0
        allowed = self._fit(ranked, len(ranked) - 1, estimate=False)
        if cur > allowed and cur > self._fit(ranked, cur, estimate=False, slack=CAP_SLACK):
            self.begin_switch(ranked[allowed], now)  # the tile or the cap: not congestion
            return
        if not self.remote:
            if cur < allowed:
                self.begin_switch(ranked[cur + 1], now)
            return
        if self.pending is not None:
            return  # the estimate and reports still describe the layer being left
        est = None if self._remb is None else self._remb - self.reserve
        rate = ranked[cur].bitrate
        low = est is not None and est < DOWNGRADE_SHARE * rate
        if low:
            self._calm_since = now
        else:
            self.estimate_fell = False
        trying = self._try_from is not None
        flat = (
            low and est is not None and self._try_est is not None
            and now - self._layer_since >= TRY_RISE_AFTER
            and est < TRY_RISE * (self._try_est - self.reserve)
        )
        if trying and (
            (low and self.estimate_fell) or flat or self._loss_at >= self._layer_since
        ):
            # the estimate fell under the layer (an overuse) or does not climb to it, or
            # the receiver lost packets
            back = self._try_from
            self._try_from = None
            self._raise_ceiling(ranked[cur], now)
            logger.info(
                "slot %s/%s of %s: try of a %.0f kbit/s layer failed (estimate %s, %s), "
                "back for %.0f s", self.kind, self.index, self.endpoint_id, rate / 1000, est,
                "loss" if self._loss_at >= self._layer_since else "flat" if flat else "fell",
                self._ceiling_until - now,
            )
            self.begin_switch(ranked[self._back_to(ranked, cur, back)], now)
            return
        if trying and not low and now - self._layer_since >= UPGRADE_FAILED:
            # the try held: long enough on the layer, the estimate risen to it (it climbs
            # from 1.5x the old layer at 8 %/s: until then a fall still fails the try)
            self._try_from = None
            if self._ceiling is not None and (
                rate >= CEILING_SHARE * self._ceiling or self.source is self._ceiling_layer
            ):
                self._ceiling, self._ceiling_layer = None, None
                self._ceiling_backoff = UPGRADE_MIN
        if cur > 0 and low and self.estimate_fell:
            self._try_from = None
            self._raise_ceiling(ranked[cur], now)
            logger.info("slot %s/%s of %s: estimate fell to %s for a %.0f kbit/s layer, down",
                        self.kind, self.index, self.endpoint_id, est, rate / 1000)
            self.begin_switch(ranked[self._fit(ranked, cur - 1)], now)
            return
        if cur >= allowed:
            return
        nxt = ranked[cur + 1].bitrate
        if est is not None and est >= UPGRADE_SHARE * nxt:
            pass  # the estimate says it fits (whatever failed before)
        elif now - self._calm_since < TRY_HOLD or now - self._layer_since < TRY_HOLD:
            return
        elif (
            self._ceiling is not None and now < self._ceiling_until
            and (nxt >= CEILING_SHARE * self._ceiling or ranked[cur + 1] is self._ceiling_layer)
        ):
            return
        self._try_from = self.source
        self.begin_switch(ranked[cur + 1], now)

    @staticmethod
    def _back_to(ranked: list[PublishedTrack], cur: int, back: PublishedTrack | None) -> int:
        """The layer a failed try goes back to: the one it left (or, if that one is gone,
        the best below the current one that is no bigger)."""
        if back is None:
            return max(0, cur - 1)
        below = [i for i in range(cur) if ranked[i].bitrate <= max(back.bitrate, 1.0) * 1.2]
        return (below[-1] if below else 0) if cur > 0 else 0

    def _raise_ceiling(self, layer: PublishedTrack, now: float) -> None:
        """``layer`` was too much: wait before trying it again (the wait doubles)."""
        self._ceiling, self._ceiling_layer = layer.bitrate, layer
        self._ceiling_until = now + self._ceiling_backoff
        self._ceiling_backoff = min(self._ceiling_backoff * 2, UPGRADE_MAX)

    def begin_switch(self, target: PublishedTrack, now: float) -> None:
        """Switch to another layer of the same source at its next keyframe (asked for)."""
        self.cancel_pending()
        if target is self.source:
            return
        self.pending = target
        self._pending_since = now
        target.pending.append(self)
        target.request_keyframe()

    def cancel_pending(self) -> None:
        """Forget a layer switch that has not happened yet."""
        if self.pending is not None and self in self.pending.pending:
            self.pending.pending.remove(self)
        self.pending = None
        self._pending_seq = None

    def target_keyframe(self, track: PublishedTrack, seq: int, now: float) -> None:
        """The target layer starts a keyframe at ``seq``: switch now, or once the old layer
        has finished the frame it is in (the receiver never gets half a frame)."""
        if track is not self.pending:
            return
        self._pending_seq = seq
        if not self._in_frame or self.waiting_keyframe or self.source is None:
            self.complete_switch(now)

    def complete_switch(self, now: float) -> None:
        """Move to the pending layer, replaying its keyframe (and what followed) from its
        cache; sequence numbers and timestamps continue where the old layer stopped."""
        target, seq = self.pending, self._pending_seq
        if target is None or seq is None or target.closed:
            return
        self.cancel_pending()
        down = self.source is not None and target.bitrate < self.source.bitrate
        logger.debug("slot %s/%s of %s: layer %.0f -> %.0f kbit/s", self.kind, self.index,
                     self.endpoint_id, self.source.bitrate / 1000 if self.source else 0,
                     target.bitrate / 1000)
        if self.source is not None and self in self.source.slots:
            self.source.slots.remove(self)
        if self.source is not None and not self._rebase:
            # NACKs of what the old layer sent are answered from its cache (offsets kept)
            end = (self.last_seq + 1) & 0xFFFF
            self._prev_layer = (self.source, self._seq_off, self._ts_off, end)
            self._prev_resent = set()
        self.source = target
        target.slots.append(self)
        self._pt_map = {}
        self._rebase = True
        self.waiting_keyframe = False
        self._in_frame = False
        self.layer_switches += 1
        self._layer_since = self._calm_since = now
        self.estimate_fell = False
        self._try_nacks, self._try_est = 0, self._remb
        if down:  # reports still count what the layer left lost; a try up reads them all
            self._settle_until = now + SWITCH_SETTLE
        self._lossy_reports = 0
        cache, last = target.cache, target._max_seq
        if cache is None or last is None:
            return
        for i in range(min(max(0, seq_diff(last, seq)), 500) + 1):
            pkt = cache.get((seq + i) & 0xFFFF)
            codec = target.codecs.get(pkt.payload_type) if pkt is not None else None
            if pkt is not None and codec is not None:
                self.forward(pkt, codec, now)

    def tick_layers(self, now: float) -> None:
        """The room's timer: pick the layer again; finish or re-ask a stalled switch."""
        if self.pending is not None:
            waited = now - self._pending_since
            if self._pending_seq is not None and waited > SWITCH_FRAME_WAIT:
                self.complete_switch(now)  # the old layer never finished its frame
            elif self._pending_seq is None and waited > 1.0:
                self._pending_since = now
                self.pending.request_keyframe()
        self.select(now)

    def set_source(self, track: PublishedTrack | None) -> None:
        """Point the slot at ``track`` (or idle it); video waits for a keyframe from it."""
        if track is None:
            self.layers = []
        if track is self.source:
            return
        self.cancel_pending()
        if self.source is not None and self in self.source.slots:
            self.source.slots.remove(self)
        self.source = track
        self._pt_map = {}
        self._prev_layer = None
        self._remb = None
        self.remb_next = 0.0
        self._try_from = None
        self._layer_since = self._calm_since = self._clock()
        self.estimate_fell = False
        if track is not None:
            track.slots.append(self)
            if self.ready:
                self._restart_source()

    def _restart_source(self) -> None:
        self._rebase = True
        if self.kind is Kind.VIDEO and self.source is not None:
            self.waiting_keyframe = True
            self.waiting_since = self._clock()
            self.source.request_keyframe()

    def request_keyframe(self) -> None:
        """The subscriber lost its picture (PLI/FIR): ask the source, rate-limited.

        On simulcast that is a sign of congestion too: no try up for a while, and a try
        running fails (back to the layer it left, whose keyframe is asked for)."""
        if self.layers and self.pending is None:
            now = self._clock()
            self._calm_since = now
            if self._try_from is not None and now - self._layer_since > 0.5:
                self._loss_at = now
                self.select(now)
                if self.pending is not None:
                    return
        if self.source is not None:
            self.source.request_keyframe()

    def keyframe_overdue(self, now: float, after: float) -> bool:
        """Still waiting for a keyframe ``after`` seconds on (a PLI may have been lost)."""
        if self.waiting_keyframe and self.source is not None and now - self.waiting_since > after:
            self.waiting_since = now
            return True
        return False

    def forward(self, pkt: InPacket, codec: CodecInfo, now: float) -> None:
        """Rewrite and send one packet of the source (the hot path)."""
        if not self.ready:
            return
        if self.paused_until:
            if now < self.paused_until:
                return
            self.paused_until = 0.0
            self._restart_source()  # resume on a fresh keyframe
            self.waiting_since = now
        if self.waiting_keyframe:
            if not pkt.keyframe:
                return
            self.waiting_keyframe = False
        if self._rebase:
            self._rebase = False
            gap = 0
            if self._last_send is not None:
                gap = max(1, int((now - self._last_send) * self._clock_rate))
            self._seq_off = (self.last_seq + 1 - pkt.seq) & 0xFFFF
            self._ts_off = (self.last_ts + gap - pkt.timestamp) & 0xFFFFFFFF
            self._base_in_seq = pkt.seq
        elif ((pkt.seq - self._base_in_seq + 0x8000) & 0xFFFF) < 0x8000:  # seq_diff < 0
            return  # older than the switch point: would collide with the old source
        self._send(pkt, codec, now)

    def _send(self, pkt: InPacket, codec: CodecInfo, now: float) -> bool:
        pt = self._pt_map.get(pkt.payload_type, -1)
        if pt == -1:
            pt = self._pt_for.get(codec_key(codec))
            self._pt_map[pkt.payload_type] = pt
            if pt is None:
                logger.warning(
                    "slot %s/%s of %s cannot receive %s: not negotiated",
                    self.kind,
                    self.index,
                    self.endpoint_id,
                    codec.name,
                )
        if pt is None:
            return False
        key = self._ext_key
        ext = pkt.ext_cache.get(key)
        if ext is None:
            elements: list[tuple[int, bytes]] = []
            if key[0]:
                elements.append((key[0], key[1]))
            if key[2]:
                elements.append((key[2], pkt.abs_send_time or abs_send_time_now()))
            if key[3] and pkt.audio_level is not None:
                elements.append((key[3], bytes([pkt.audio_level])))
            ext = extension_block(elements)
            pkt.ext_cache[key] = ext
        seq = (pkt.seq + self._seq_off) & 0xFFFF
        ts = (pkt.timestamp + self._ts_off) & 0xFFFFFFFF
        parts = self._send_parts
        if parts is not None and not pkt.padding:
            sent = parts((pkt.marker << 7) | pt, seq, ts, self.ssrc, ext, pkt.payload)
        else:
            data = build_rtp(pt, pkt.marker, seq, ts, self.ssrc, ext, pkt.payload, pkt.padding)
            sent = len(data) if self.io.send_rtp(data) else 0
        if not sent:
            self.dropped += 1
            return False
        if ((seq - self.last_seq + 0x8000) & 0xFFFF) > 0x8000:  # seq_diff(seq, last) > 0
            self.last_seq = seq
            self.last_ts = ts
            self._last_send = now
        self.packets_out += 1
        self.bytes_out += sent
        if self.kind is Kind.VIDEO:
            self._in_frame = not pkt.marker
            if pkt.marker:
                self.frames_out += 1
                if self._pending_seq is not None and self.source is not None:
                    self.source._switching.append(self)  # switch after this packet's fan-out
        return True

    def _resend_previous(self, out_seq: int, now: float) -> bool:
        """Resend a packet the subscriber lost from the layer before the last switch (a
        failed try up loses the tail of the layer it floods; left unanswered, the hole
        holds the receiver's jitter buffer until it overflows: seconds without a picture)."""
        prev = self._prev_layer
        if prev is None:
            return False
        src, seq_off, ts_off, end = prev
        if (
            src.closed or src.cache is None or seq_diff(out_seq, end) >= 0
            or seq_diff(end, out_seq) > 512
        ):
            return False
        if out_seq in self._prev_resent or len(self._prev_resent) >= 256:
            return False
        pkt = src.cache.get((out_seq - seq_off) & 0xFFFF)
        codec = src.codecs.get(pkt.payload_type) if pkt is not None else None
        if pkt is None or codec is None:
            return False
        self._prev_resent.add(out_seq)
        offsets = self._seq_off, self._ts_off
        self._seq_off, self._ts_off = seq_off, ts_off  # as it was sent then
        try:
            return self._send(pkt, codec, now)
        finally:
            self._seq_off, self._ts_off = offsets

    def _note_loss(self, count: int) -> None:
        """The subscriber NACKed ``count`` packets: no try up for a while; a try running
        fails after ``TRY_NACKS`` (back to the layer it left)."""
        now = self._clock()
        self._calm_since = now
        if self._try_from is not None and self.pending is None:
            self._try_nacks += count
            if self._try_nacks >= TRY_NACKS:
                self._loss_at = now
                self.select(now)

    def on_nack(self, lost: list[int]) -> None:
        """Resend what the subscriber lost, from the source's packet cache."""
        if self.layers:
            self._note_loss(len(lost))
        src = self.source
        if src is None or src.cache is None or self._rebase:
            return
        now = self._clock()
        # a token bucket: a client cannot make the server resend more than this
        self._nack_budget = min(
            NACK_BURST, self._nack_budget + (now - self._nack_refill) * NACK_RATE
        )
        self._nack_refill = now
        for out_seq in lost:
            if self._nack_budget < 1:
                break
            in_seq = (out_seq - self._seq_off) & 0xFFFF
            if seq_diff(in_seq, self._base_in_seq) < 0:
                if self._resend_previous(out_seq, now):
                    self.retransmitted += 1
                    self._nack_budget -= 1
                continue
            pkt = src.cache.get(in_seq)
            if pkt is None:
                continue
            codec = src.codecs.get(pkt.payload_type)
            if codec is not None and self._send(pkt, codec, now):
                self.retransmitted += 1
                self._nack_budget -= 1

    def _can_step_down(self) -> bool:
        """On a simulcast source, above its lowest layer."""
        if len(self.layers) < 2 or self.source is None:
            return False
        ranked = ranked_layers(self.layers, self._clock())
        current = self.pending or self.source
        return len(ranked) >= 2 and current in ranked and ranked.index(current) > 0

    def _step_down_for_loss(self) -> bool:
        """Heavy loss on a simulcast source: step down (True), if not on its lowest layer.

        During a try up: back to the layer the try left. Otherwise to the layer the
        estimate fits below this one (the estimate has fallen with the loss): the link
        carries less than the layer. The layer left is the receiver's ceiling for a while.
        """
        if not self._can_step_down():
            return False
        now = self._clock()
        ranked = ranked_layers(self.layers, now)
        current = self.pending or self.source
        cur = ranked.index(current) if current in ranked else 0
        back = self._try_from
        self._try_from = None
        self._raise_ceiling(ranked[cur], now)
        want = self._back_to(ranked, cur, back) if back is not None else self._fit(ranked, cur - 1)
        logger.info("slot %s/%s of %s: heavy loss, simulcast layer %d of %d", self.kind,
                    self.index, self.endpoint_id, want, len(ranked))
        self.begin_switch(ranked[want], now)
        return True

    def on_receiver_report(self, report: RtcpReceiverInfo) -> None:
        """Loss, jitter and round trip as the subscriber sees this slot.

        On simulcast, one report with ``TRY_LOSS`` during a try up ends the try (back to
        the layer it left); heavy loss twice running steps down a layer or more. A video
        slot on its lowest layer (or without simulcast) whose subscriber reports heavy
        loss twice in a row is paused (its audio goes on): a weak bridge point link is
        not flooded with video it cannot carry. It resumes on a keyframe after a back-off
        that doubles while the loss persists (2 s up to 30 s) and resets after a run of
        clean reports.
        """
        self.fraction_lost = report.fraction_lost
        self.jitter = report.jitter
        if (
            self.kind is Kind.VIDEO and not self.paused_until
            and self._clock() >= self._settle_until
        ):
            trying = self._try_from is not None and self.pending is None
            if report.fraction_lost >= TRY_LOSS and self.layers:
                self._loss_at = self._calm_since = self._clock()
            if trying and report.fraction_lost >= TRY_LOSS:
                self._lossy_reports = 0
                self.select(self._loss_at)  # the try floods the link: back at once
            elif report.fraction_lost >= (
                LAYER_LOSS if self._can_step_down() else PAUSE_LOSS
            ):
                self._lossy_reports += 1
                self._clean_reports = 0
                if self._lossy_reports >= 2 and self._step_down_for_loss():
                    self._lossy_reports = 0  # a lower simulcast layer first, not a pause
                elif self._lossy_reports >= 2:
                    self._lossy_reports = 0
                    self.paused_until = self._clock() + self._pause_for
                    self.pauses += 1
                    logger.info(
                        "slot %s/%s of %s: %.0f%% loss, video paused for %.0f s",
                        self.kind, self.index, self.endpoint_id,
                        report.fraction_lost / 2.56, self._pause_for,
                    )
                    self._pause_for = min(self._pause_for * 2, PAUSE_MAX)
            else:
                self._lossy_reports = 0
                self._clean_reports += 1
                if self._clean_reports >= 10:
                    self._pause_for = PAUSE_MIN
        if report.lsr and report.lsr == self._sr_mid:
            rtt = time.time() - self._sr_time - report.dlsr / 65536
            if rtt >= 0:
                self.rtt = rtt if self.rtt is None else 0.8 * self.rtt + 0.2 * rtt

    def rtcp_report(self) -> bytes:
        """Sender report + SDES for this slot (empty if nothing was sent since the last one)."""
        if not self.ready or self._last_send is None or self.packets_out == self._sr_packets:
            return b""  # RFC 3550: only a sender that sent since the last report sends an SR
        self._sr_packets = self.packets_out
        ntp = ntp_now()
        elapsed = max(0.0, self._clock() - self._last_send)
        rtp_ts = (self.last_ts + int(elapsed * self._clock_rate)) & 0xFFFFFFFF
        self._sr_mid = (ntp >> 16) & 0xFFFFFFFF
        self._sr_time = time.time()
        sr = RtcpSrPacket(
            ssrc=self.ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp,
                rtp_timestamp=rtp_ts,
                packet_count=self.packets_out & 0xFFFFFFFF,
                octet_count=self.bytes_out & 0xFFFFFFFF,
            ),
        )
        sdes = RtcpSdesPacket(
            chunks=[RtcpSourceInfo(ssrc=self.ssrc, items=[(1, self.cname.encode())])]
        )
        return bytes(sr) + bytes(sdes)


def on_feedback(
    packet: object, tracks: Mapping[int, PublishedTrack], slots: Mapping[int, Slot]
) -> None:
    """One parsed RTCP packet from a peer: its sender reports to the tracks it publishes
    (by SSRC), its reports, NACKs, PLIs, FIRs and REMBs to the slots it receives (by
    SSRC). For a client's peer connection and for a link to another media node alike."""
    if isinstance(packet, RtcpSrPacket):
        track = tracks.get(packet.ssrc)
        if track is not None:
            track.on_sender_report(packet.sender_info.ntp_timestamp)
    if isinstance(packet, (RtcpSrPacket, RtcpRrPacket)):
        for report in packet.reports:
            slot = slots.get(report.ssrc)
            if slot is not None:
                slot.on_receiver_report(report)
    elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
        slot = slots.get(packet.media_ssrc)
        if slot is not None:
            slot.on_nack(list(packet.lost))
    elif isinstance(packet, RtcpPsfbPacket):
        if packet.fmt == RTCP_PSFB_PLI:
            slot = slots.get(packet.media_ssrc)
            if slot is not None:
                slot.request_keyframe()
        elif packet.fmt == RTCP_PSFB_FIR and len(packet.fci) >= 4:
            slot = slots.get(int.from_bytes(packet.fci[:4], "big"))
            if slot is not None:
                slot.request_keyframe()
        elif packet.fmt == RTCP_PSFB_APP:  # REMB with padding: the rare slow path
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                return
            for ssrc in ssrcs:
                slot = slots.get(ssrc)
                if slot is not None:
                    slot.remb = bitrate
