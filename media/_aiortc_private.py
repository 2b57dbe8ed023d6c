"""Every use of an aiortc / aioice / pylibsrtp private member lives in this module.

aiortc has no public raw-RTP hook, so the forwarder reaches under its API here, and only
here:

* ``RTCRtpReceiver.receive`` / ``RTCRtpSender.send`` are replaced on the server's own
  transceivers, so no jitter buffer, decoder thread, encoder or RTP task is ever started;
  the negotiated parameters are handed to the forwarder instead (on every negotiation).
* ``RTCDtlsTransport._handle_rtp_data`` / ``_handle_rtcp_data`` are replaced on the
  server's transports, so decrypted packets reach the forwarder as bytes.
* Outgoing packets are protected with ``RTCDtlsTransport._tx_srtp`` (calling libsrtp on
  the pylibsrtp session's own buffers) and written with one non-blocking ``sendto`` on the
  nominated aioice candidate pair (``Connection._nominated``), skipping three layers of
  coroutines per packet. That pair's socket also gets larger kernel buffers
  (``set_socket_buffers``, ``MediaConfig.udp_buffer_size``) the first time it is used.
* ``aioice.ice.Connection.data_received`` is wrapped on the server's connections to drop
  most standalone REMBs before they are queued and SRTCP-decrypted (``TransportIO``).
* ``aioice.ice.StunProtocol.datagram_received`` is wrapped on the socket of the selected
  pair: an RTP or RTCP datagram (first byte 128-191, RFC 7983) goes straight to
  ``Connection.data_received`` instead of through aioice's STUN parse, which fails on it
  by raising; STUN and DTLS take aioice's path as before.
* That socket is ``connect``-ed to the selected remote address, and packets are written
  with ``send``: the kernel keeps the route, Python parses no address per packet.
* The links between media nodes (``media.cascade``) are protected with pylibsrtp's public
  ``Session`` (:class:`LinkSrtp`): no private member, but pylibsrtp is reached from here only.
* ``aioice.ice.Connection.query_consent`` is replaced on the server's connections
  (:func:`patient_consent`): aioice sends each consent check once with a 0.5 s timeout and
  closes after six misses in a row, so an event loop slowed for 30 s (a join storm on a
  small machine) closed every peer whose answers came late; RFC 7675 expires consent 30 s
  after the last answer, and checks are retransmitted.
* ``aioice.ice.get_host_addresses`` is wrapped so ICE gathers only the configured
  listen addresses (it leaves out 127.0.0.1 and would use every other interface). This is
  the one process-wide patch: it is held by leases (``restrict_host_addresses``), installed
  with the first and removed with the last; nothing is patched at import.

The versions are pinned in pyproject.toml and checked at import: a different version
raises :class:`~media.errors.PrivateApiError` instead of failing strangely at run time.
``check_internals()`` verifies the members exist; tests/media/test_private_api.py runs it.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import random
import socket
import struct
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aioice.ice
import aioice.stun
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcdtlstransport import State as DtlsState
from pylibsrtp import SRTP_MAX_TRAILER_LEN
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

from .errors import PrivateApiError

logger = logging.getLogger(__name__)

PINNED_VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0", "pylibsrtp": "1.0.0"}


def _check_versions() -> None:
    for dist, wanted in PINNED_VERSIONS.items():
        try:
            found = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError as exc:  # pragma: no cover
            raise PrivateApiError(f"media/ needs {dist}=={wanted}, which is not installed") from exc
        if found != wanted:
            raise PrivateApiError(
                f"media/ uses private internals of {dist}=={wanted} but {found} is installed; "
                "re-check media/_aiortc_private.py against the new version before un-pinning"
            )


_check_versions()

#: SRTCP adds the E flag + index (4 bytes) and an auth tag (10 bytes HMAC-SHA1-80,
#: 16 bytes AES-GCM) after the RTCP packet
_SRTCP_MAX_TRAILER = 4 + 16
#: Sender SSRCs whose REMB interval the pre-filter remembers per transport.
_REMB_SENDERS = 1024

class HostAddressLease:
    """One holder's claim on the ICE host-address restriction; :meth:`release` ends it."""

    def __init__(self, patch: _HostAddressPatch, ips: tuple[str, ...]) -> None:
        self.ips = ips
        self._patch = patch
        self.held = True

    def release(self) -> None:
        """Give the claim back (idempotent); the last one out removes the patch."""
        if self.held:
            self.held = False
            self._patch.drop(self)


class _HostAddressPatch:
    """``aioice.ice.get_host_addresses`` restricted while at least one lease is held.

    aioice looks the function up in its module on every gathering, so the restriction is
    process-wide: it is installed when the first lease is taken and the original is put
    back when the last is released. While several are held (two planes, a plane and an
    agent) ICE gathers on the union of their addresses, in the order they were asked for.
    """

    def __init__(self) -> None:
        self._leases: list[HostAddressLease] = []
        self._original: Callable[[bool, bool], list[str]] | None = None
        self._wrapper = self._get_host_addresses  # one bound method, compared by identity

    @property
    def installed(self) -> bool:
        """The wrapper is what aioice calls now."""
        return bool(aioice.ice.get_host_addresses is self._wrapper)

    @property
    def holders(self) -> int:
        """Leases held (the reference count)."""
        return len(self._leases)

    def take(self, ips: Sequence[str]) -> HostAddressLease:
        lease = HostAddressLease(self, tuple(ips))
        if self._original is None:  # else still installed, or under somebody's wrapper
            self._original = aioice.ice.get_host_addresses
            aioice.ice.get_host_addresses = self._wrapper
        self._leases.append(lease)
        return lease

    def drop(self, lease: HostAddressLease) -> None:
        self._leases.remove(lease)
        if self._leases or self._original is None:
            return
        if self.installed:
            aioice.ice.get_host_addresses = self._original  # type: ignore[assignment]
            self._original = None
        else:  # wrapped again by somebody else since: leave their wrapper, we pass through
            logger.debug("media: aioice.ice.get_host_addresses was re-wrapped; left in place")

    def _get_host_addresses(self, use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if not self._leases:
            assert self._original is not None
            return list(self._original(use_ipv4, use_ipv6))
        ips = dict.fromkeys(ip for lease in self._leases for ip in lease.ips)
        return [ip for ip in ips if (":" in ip and use_ipv6) or (":" not in ip and use_ipv4)]


#: the only process-wide patch of this module (aioice offers no per-connection setting)
_HOST_ADDRESSES = _HostAddressPatch()


def restrict_host_addresses(ips: Sequence[str]) -> HostAddressLease:
    """Make aioice gather host candidates on ``ips`` only, until the lease is released.

    Reference-counted across the process: :class:`~media.MediaPlane` holds a lease from
    ``start()`` to ``close()``, the bridge-point agent while it runs. With no lease held,
    aioice's own function is back in place.
    """
    return _HOST_ADDRESSES.take(ips)


def host_address_patch() -> tuple[bool, int]:
    """Whether the host-address patch is installed, and how many leases hold it."""
    return _HOST_ADDRESSES.installed, _HOST_ADDRESSES.holders


@dataclass(frozen=True)
class CodecInfo:
    """A negotiated codec: payload type, upper-case name (``VP8``, ``H264``, ``OPUS``)."""

    payload_type: int
    name: str
    clock_rate: int
    parameters: tuple[tuple[str, str], ...]


def _link_profile() -> tuple[int, int]:
    """The SRTP profile of links between media nodes and its key + salt length: AEAD
    AES-128-GCM (about half the time of AES-CM + HMAC-SHA1 per packet here), or AES-128-CM
    + HMAC-SHA1-80 where libsrtp was built without it (the nodes of one deployment run
    the same build)."""
    from pylibsrtp import Error, Policy

    try:
        Policy(srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM)
    except Error:  # pragma: no cover - libsrtp without OpenSSL
        return Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30
    return Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28


LINK_SRTP_PROFILE, LINK_KEY_LENGTH = _link_profile()


class LinkSrtp:
    """SRTP/SRTCP of one direction of a link between media nodes (``LINK_SRTP_PROFILE``,
    a ``LINK_KEY_LENGTH``-byte master key and salt); a packet that fails answers None,
    never raises."""

    def __init__(self, key: bytes, outbound: bool) -> None:
        from pylibsrtp import Error, Policy, Session

        self._error = Error
        policy = Policy(
            key=key[:LINK_KEY_LENGTH],
            ssrc_type=Policy.SSRC_ANY_OUTBOUND if outbound else Policy.SSRC_ANY_INBOUND,
            srtp_profile=LINK_SRTP_PROFILE,
        )
        policy.allow_repeat_tx = True  # a NACK is answered with the packet's own index
        self._session = Session(policy)

    def protect(self, packet: bytes, rtcp: bool = False) -> bytes | None:
        try:
            s = self._session
            return s.protect_rtcp(packet) if rtcp else s.protect(packet)
        except self._error:
            return None

    def unprotect(self, packet: bytes, rtcp: bool = False) -> bytes | None:
        try:
            s = self._session
            return s.unprotect_rtcp(packet) if rtcp else s.unprotect(packet)
        except self._error:
            return None


@dataclass(frozen=True)
class RtpParams:
    """What the forwarder needs from one negotiated m-line."""

    mid: str | None
    codecs: tuple[CodecInfo, ...]
    #: header extension uri -> id
    extensions: tuple[tuple[str, int], ...]
    #: SSRCs the remote announced for this m-line (receive side only)
    ssrcs: tuple[int, ...]
    cname: str | None

    def extension_id(self, uri: str) -> int | None:
        """The id negotiated for ``uri``, if any."""
        for u, i in self.extensions:
            if u == uri:
                return i
        return None


def rtp_params(parameters: Any, ssrcs: tuple[int, ...] | None = None) -> RtpParams:
    """Convert aiortc's RTCRtp*Parameters (or an SDP section's ``rtp``) to :class:`RtpParams`."""
    codecs = tuple(
        CodecInfo(
            payload_type=int(c.payloadType),
            name=str(c.mimeType).split("/")[1].upper(),
            clock_rate=int(c.clockRate),
            parameters=tuple(sorted((str(k), str(v)) for k, v in c.parameters.items())),
        )
        for c in parameters.codecs
    )
    if ssrcs is None:
        ssrcs = tuple(int(e.ssrc) for e in getattr(parameters, "encodings", []) if e.ssrc)
    rtcp = getattr(parameters, "rtcp", None)
    return RtpParams(
        mid=parameters.muxId,
        codecs=codecs,
        extensions=tuple((str(h.uri), int(h.id)) for h in parameters.headerExtensions),
        ssrcs=ssrcs,
        cname=getattr(rtcp, "cname", None),
    )


def hook_transceiver(
    transceiver: RTCRtpTransceiver,
    on_send: Callable[[RtpParams], None],
    on_receive: Callable[[RtpParams], None],
) -> None:
    """Replace the transceiver's sender ``send`` and receiver ``receive``.

    aiortc's ``RTCPeerConnection`` calls them after every negotiation once DTLS is up; our
    versions only report the negotiated parameters. Nothing is started: no encoder, no
    decoder thread, no jitter buffer, no per-sender RTP/RTCP task.
    """

    async def send(parameters: Any) -> None:
        on_send(rtp_params(parameters))

    async def receive(parameters: Any) -> None:
        on_receive(rtp_params(parameters))

    transceiver.sender.send = send  # type: ignore[method-assign]
    transceiver.receiver.receive = receive  # type: ignore[method-assign]


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC aiortc put in the SDP for this sender (also our RTCP sender SSRC)."""
    return int(sender._ssrc)


#: RFC 7675: consent expires this long after the last answer to a check (seconds)
CONSENT_EXPIRY = 30.0
#: a consent check's STUN request is sent again after 0.5 and 1.5 s (aioice's RTO,
#: doubling): an answer up to 3.5 s late still counts
CONSENT_RETRANSMISSIONS = 2


def patient_consent(connection: Any) -> None:
    """Consent freshness (RFC 7675) on one of the server's aioice connections, in place of
    aioice's: a check every 4-6 s, retransmitted, and expiry only when no check has been
    answered for :data:`CONSENT_EXPIRY` seconds. Before ICE connects the replacement is
    what ``connect()`` starts; after, it takes the place of the task running."""

    async def query_consent() -> None:
        password = connection.remote_password
        assert password is not None
        answered = time.monotonic()
        while True:
            interval = aioice.ice.CONSENT_INTERVAL * (0.8 + 0.4 * random.random())
            await asyncio.sleep(interval)
            for pair in list(connection._nominated.values()):
                request = connection.build_request(pair, nominate=False)
                try:
                    await pair.protocol.request(
                        request, pair.remote_addr, integrity_key=password.encode("utf8"),
                        retransmissions=CONSENT_RETRANSMISSIONS,
                    )  # fmt: skip
                    answered = time.monotonic()
                except Exception:  # TransactionError, or the socket went: not answered
                    pass
            if time.monotonic() - answered > CONSENT_EXPIRY:
                logger.info("media: ICE consent expired (no answer for %.0f s)",
                            time.monotonic() - answered)  # fmt: skip
                connection._query_consent_task = None
                await connection.close()
                return

    connection.query_consent = query_consent
    running = getattr(connection, "_query_consent_task", None)
    if running is not None and not running.done():
        running.cancel()
        connection._query_consent_task = asyncio.get_running_loop().create_task(
            query_consent()
        )


_RTP_HEADER = struct.Struct("!BBHII")


class TransportIO:
    """Raw, synchronous access to one bundled DTLS/SRTP transport of a peer connection.

    ``install`` routes decrypted RTP/RTCP to the given callbacks. ``send_rtp`` /
    ``send_rtcp`` protect and write one packet without awaiting; they return False (and
    drop the packet) when the transport is not connected or the socket cannot take it:
    sending never blocks or queues on one slow peer.

    For a host candidate the datagram goes straight to the UDP socket under asyncio's
    transport (``_SelectorDatagramTransport._sock``): a full kernel buffer raises
    ``BlockingIOError`` and the packet is dropped, where asyncio would queue it in user
    space. Other transports (TURN relays) go through their ``sendto``.
    """

    def __init__(
        self,
        dtls: Any,
        max_send_buffer: int,
        socket_buffer: int = 0,
        remb_min_interval: float = 0.0,
    ) -> None:
        self._dtls = dtls
        self._connection = dtls.transport._connection
        if hasattr(self._connection, "query_consent"):  # a real aioice connection
            patient_consent(self._connection)
        self._max_buffer = max_send_buffer
        self._socket_buffer = socket_buffer
        self._remb_interval = remb_min_interval
        #: standalone REMBs dropped before decryption (see ``install``)
        self.remb_dropped = 0
        self._pair: Any = None
        self._addr: Any = None
        self._transport: Any = None
        self._sock: socket.socket | None = None
        #: ``_sock`` is connected to ``_addr`` (written with ``send``)
        self._connected = False
        #: the datagram being handled came from the selected pair's remote address
        self._from_selected = False
        self._filtering = False
        self.installed = False
        self.dropped = 0
        self.failures = 0
        self.protect_errors = 0
        # pylibsrtp's Session.protect allocates and checks per call; we call libsrtp
        # directly on the session's own buffers (same work, ~40 % less time)
        self._srtp_session: Any = None
        self._srtp_ctx: Any = None
        self._srtp_cdata: Any = None
        self._srtp_buf: Any = None
        self._srtp_view: Any = None  # memoryview of the session buffer
        self._srtp_max = 0
        self._srtp_len = _srtp_ffi.new("int *")

    @property
    def connected(self) -> bool:
        """DTLS is connected and SRTP keys exist."""
        return bool(self._dtls._state is DtlsState.CONNECTED and self._dtls._tx_srtp is not None)

    def install(
        self,
        on_rtp: Callable[[bytes, int], None],
        on_rtcp: Callable[[bytes], None],
    ) -> None:
        """Send every decrypted RTP packet to ``on_rtp(data, arrival_ms)``, RTCP to ``on_rtcp``."""
        if self.installed:
            return

        # an exception here would end aiortc's receive loop, i.e. the peer's connection
        async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
            try:
                on_rtp(data, arrival_time_ms)
            except Exception:
                self._log_failure("RTP")

        async def handle_rtcp_data(data: bytes) -> None:
            try:
                on_rtcp(data)
            except Exception:
                self._log_failure("RTCP")

        self._dtls._handle_rtp_data = handle_rtp_data
        self._dtls._handle_rtcp_data = handle_rtcp_data
        if self._remb_interval > 0:
            self._install_remb_filter()
        self.installed = True

    def _install_remb_filter(self) -> None:
        """Drop most standalone REMBs where aioice hands datagrams over, before SRTCP.

        aiortc receivers send a REMB on its own ~15 times a second per stream; each one
        would be queued, awaited, SRTCP-decrypted and dispatched. An SRTCP packet's first
        header and sender SSRC are in clear text: one that is a REMB (V=2, P=0, PSFB,
        FMT 15) with nothing after it but the SRTCP trailer passes at most once per
        ``remb_min_interval`` per sender SSRC (aiortc: one per receiving m-line); the
        rest are dropped unauthenticated, which only ever delays a bandwidth estimate.
        Compounds (a browser's RR + REMB) and all other RTCP pass untouched.

        Only datagrams from the remote address ICE selected are filtered (see
        ``_watch``): anyone else who copies a peer's clear-text SSRC into forged datagrams
        from another address reaches SRTCP authentication, which drops them, instead of
        using up the peer's interval and starving its real estimates.
        """
        connection = self._connection
        original = connection.data_received
        interval = self._remb_interval
        next_at: dict[bytes, float] = {}
        clock = time.monotonic

        def data_received(data: bytes, component: int) -> None:
            if (
                self._from_selected
                and len(data) >= 8
                and data[0] == 0x8F
                and data[1] == 206
                and len(data) - 4 - ((data[2] << 8) | data[3]) * 4 <= _SRTCP_MAX_TRAILER
            ):
                key = data[4:8]
                now = clock()
                if now < next_at.get(key, 0.0):
                    self.remb_dropped += 1
                    return
                next_at.pop(key, None)
                if len(next_at) >= _REMB_SENDERS:  # bounded: the oldest sender is forgotten
                    del next_at[next(iter(next_at))]
                next_at[key] = now + interval
            original(data, component)

        connection.data_received = data_received
        self._filtering = True

    def _watch(self, protocol: Any) -> None:
        """Take the datagrams of ``protocol`` (the selected pair's socket) before aioice.

        aioice's ``StunProtocol.datagram_received(data, addr)`` tries to parse every
        datagram as STUN and hands what fails (raising ``ValueError``) to
        ``Connection.data_received(data, component)``, synchronously and without the
        address. RTP and RTCP (first byte 128-191, RFC 7983) can never be STUN: they go to
        ``data_received`` directly; anything else takes aioice's path. Around that call a
        flag says whether the selected pair's remote address sent the datagram: the REMB
        filter reads it.
        """
        received = getattr(protocol, "datagram_received", None)
        if received is None or getattr(protocol, "_meetingd_watched", False):
            return
        connection: Any = getattr(protocol, "receiver", None)
        candidate = getattr(protocol, "local_candidate", None)
        component = getattr(candidate, "component", None)
        direct = connection is not None and component is not None

        def datagram_received(data: bytes, addr: tuple[Any, ...]) -> None:
            pair = self._pair
            self._from_selected = (
                pair is not None
                and protocol is pair.protocol
                and (addr[0], addr[1]) == tuple(self._addr or ())[:2]
            )
            try:
                if direct and data and 127 < data[0] < 192:
                    connection.data_received(data, component)  # the REMB filter, if any
                else:
                    received(data, addr)
            finally:
                self._from_selected = False

        protocol.datagram_received = datagram_received
        protocol._meetingd_watched = True

    def _log_failure(self, what: str) -> None:
        self.failures += 1
        if self.failures <= 10 or self.failures % 1000 == 0:
            logger.exception("media: handling an incoming %s packet failed (%d)", what,
                             self.failures)

    def _select(self, pair: Any) -> None:
        self._pair = pair
        self._addr = pair.remote_addr
        self._watch(pair.protocol)
        self._transport = pair.protocol.transport
        sock = getattr(self._transport, "_sock", None)
        self._sock = sock if isinstance(sock, socket.socket) else None
        self._connected = False
        if self._sock is not None:
            if self._socket_buffer > 0:
                set_socket_buffers(self._sock, self._socket_buffer)
            # the socket now talks to this remote only (ICE chose it; aioice's consent
            # checks go to the same address): the kernel keeps the route and Python
            # parses no address per packet. A new selected pair connects it anew.
            try:
                self._sock.connect(tuple(self._addr)[:2])
                self._connected = True
            except OSError:
                logger.debug("media: could not connect the media socket to %s", self._addr)

    def _write(self, data: bytes) -> bool:
        pair = self._connection._nominated.get(1)
        if pair is None:
            return False
        if pair is not self._pair:
            self._select(pair)
        sock = self._sock
        if sock is not None:
            try:
                if self._connected:
                    sock.send(data)
                else:
                    sock.sendto(data, self._addr)
            except (BlockingIOError, InterruptedError):
                self.dropped += 1
                return False
            except OSError:  # closed, or ICMP unreachable reported on this socket
                return False
            return True
        transport = self._transport
        size = getattr(transport, "get_write_buffer_size", None)
        if size is not None and size() > self._max_buffer:
            self.dropped += 1
            return False
        transport.sendto(data, self._addr)
        return True

    def send_rtp(self, packet: bytes) -> bool:
        """Protect and send one RTP packet; False if dropped."""
        dtls = self._dtls
        if dtls._state is not DtlsState.CONNECTED:
            return False
        session = dtls._tx_srtp
        if session is not self._srtp_session:
            if session is None:
                return False
            self._srtp_session = session
            self._srtp_ctx = session._srtp[0]
            self._srtp_cdata = session._cdata
            self._srtp_buf = session._buffer
            self._srtp_view = memoryview(session._buffer)
            self._srtp_max = len(session._cdata) - SRTP_MAX_TRAILER_LEN
        n = len(packet)
        if n > self._srtp_max:
            return False
        length = self._srtp_len
        length[0] = n
        buf = self._srtp_buf
        buf[0:n] = packet
        if _srtp_lib.srtp_protect(self._srtp_ctx, self._srtp_cdata, length) != 0:
            self.protect_errors += 1
            return False
        return self._write(buf[0 : length[0]])

    def send_rtp_parts(
        self, b1: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes
    ) -> int:
        """:meth:`send_rtp` of the packet these parts make (no padding; ``b1`` is the marker
        bit and payload type), written straight into libsrtp's buffer and sent from it: no
        packet object is built, copied in and copied out again. Answers the bytes sent
        before protection, 0 when dropped. The per-subscriber hot path."""
        dtls = self._dtls
        if dtls._state is not DtlsState.CONNECTED:
            return 0
        session = dtls._tx_srtp
        if session is not self._srtp_session:
            if session is None:
                return 0
            self._srtp_session = session
            self._srtp_ctx = session._srtp[0]
            self._srtp_cdata = session._cdata
            self._srtp_buf = session._buffer
            self._srtp_view = memoryview(session._buffer)
            self._srtp_max = len(session._cdata) - SRTP_MAX_TRAILER_LEN
        head = 12 + len(ext)
        n = head + len(payload)
        if n > self._srtp_max:
            return 0
        buf = self._srtp_view  # a memoryview's slices are cheaper to fill than cffi's
        _RTP_HEADER.pack_into(buf, 0, 0x90 if ext else 0x80, b1, seq, ts, ssrc)
        if ext:
            buf[12:head] = ext
        buf[head:n] = payload
        length = self._srtp_len
        length[0] = n
        if _srtp_lib.srtp_protect(self._srtp_ctx, self._srtp_cdata, length) != 0:
            self.protect_errors += 1
            return 0
        out = buf[0 : length[0]]
        if self._connection._nominated.get(1) is not self._pair or not self._connected:
            return n if self._write(bytes(out)) else 0
        try:
            self._sock.send(out)  # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            self.dropped += 1
            return 0
        except OSError:  # closed, or ICMP unreachable reported on this socket
            return 0
        return n

    def send_rtcp(self, packet: bytes) -> bool:
        """Protect and send one (compound) RTCP packet; False if dropped."""
        dtls = self._dtls
        if dtls._state is not DtlsState.CONNECTED or dtls._tx_srtp is None:
            return False
        return self._write(dtls._tx_srtp.protect_rtcp(packet))


_tuned_sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
_buffer_size_logged = False


def set_socket_buffers(sock: socket.socket, size: int) -> tuple[int, int]:
    """Ask for ``size``-byte kernel receive and send buffers on a UDP socket (once per socket).

    When the event loop falls behind, datagrams queue in the receive buffer; the default
    (~200 KiB) overflows within a few hundred ms of a busy server. Linux caps the request
    at ``net.core.rmem_max`` / ``wmem_max`` and reports twice the granted value. The
    effective sizes are logged once per process (debug). Returns them (rcv, snd).
    """
    global _buffer_size_logged
    if sock in _tuned_sockets:
        return (sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    _tuned_sockets.add(sock)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            if sock.getsockopt(socket.SOL_SOCKET, opt) < size:
                sock.setsockopt(socket.SOL_SOCKET, opt, size)
        except OSError:  # pragma: no cover - closed socket or refused by the OS
            pass
    rcv = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    snd = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    if not _buffer_size_logged:
        _buffer_size_logged = True
        logger.debug(
            "media: UDP socket buffers requested %d, effective rcv %d / snd %d bytes%s",
            size, rcv, snd,
            " (raise net.core.rmem_max / wmem_max for more)" if rcv < size else "",
        )
    return rcv, snd


def observe_received_rtp(
    receiver: RTCRtpReceiver, callback: Callable[[int, int, int, int], None]
) -> None:
    """Call ``callback(seq, timestamp, ssrc, marker)`` for every RTP packet an aiortc
    *client* receiver gets, before its jitter buffer (tests and benches check what the
    SFU sends: one continuous sequence across layer switches)."""
    original = receiver._handle_rtp_packet

    async def handle(packet: Any, arrival_time_ms: int) -> None:
        callback(packet.sequence_number, packet.timestamp, packet.ssrc, int(packet.marker))
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle  # type: ignore[method-assign]


def dtls_transport_of(transceiver: RTCRtpTransceiver) -> Any:
    """The (bundled) DTLS transport a transceiver uses."""
    return transceiver.receiver.transport


async def check_internals() -> None:
    """Fail loudly if the private members this module touches have changed.

    Checks the call sites we replace are still the ones aiortc/aioice call, and that the
    attributes exist on a real (never connected) peer connection.
    """
    import inspect

    from aiortc import rtcdtlstransport, rtcpeerconnection

    problems: list[str] = []
    src_pc = inspect.getsource(rtcpeerconnection.RTCPeerConnection)
    if "transceiver.sender.send(" not in src_pc or "transceiver.receiver.receive(" not in src_pc:
        problems.append("RTCPeerConnection no longer starts senders/receivers via send()/receive()")
    src_dtls = inspect.getsource(rtcdtlstransport.RTCDtlsTransport._recv_next)
    for needle in ("self._handle_rtp_data(", "self._handle_rtcp_data(", "self._rx_srtp"):
        if needle not in src_dtls:
            problems.append(f"RTCDtlsTransport._recv_next no longer uses {needle}")
    if "receiver._handle_rtp_packet(packet" not in inspect.getsource(
        rtcdtlstransport.RTCDtlsTransport
    ) or not hasattr(RTCRtpReceiver, "_handle_rtp_packet"):
        problems.append("RTCDtlsTransport no longer hands RTP to RTCRtpReceiver._handle_rtp_packet")
    src_ice = inspect.getsource(aioice.ice.Connection)
    if "get_host_addresses(" not in src_ice:
        problems.append("aioice.ice.Connection no longer calls get_host_addresses")
    if "active_pair.protocol.send_data(data, active_pair.remote_addr)" not in src_ice:
        problems.append("aioice.ice.Connection.sendto changed")
    if not hasattr(aioice.ice.CandidatePair, "remote_addr"):
        problems.append("aioice.ice.CandidatePair.remote_addr is gone")
    import asyncio.selector_events

    selector_transport = getattr(asyncio.selector_events, "_SelectorTransport", None)
    if selector_transport is None or "self._sock = sock" not in inspect.getsource(
        selector_transport
    ):
        problems.append("asyncio's selector transports no longer keep their socket in _sock")
    src_recv = inspect.getsource(aioice.ice.StunProtocol.datagram_received)
    if "self.receiver.data_received(data, self.local_candidate.component)" not in src_recv:
        problems.append("aioice.ice.StunProtocol no longer hands data to Connection.data_received")
    if "stun.parse_message(data)" not in src_recv:
        problems.append("aioice.ice.StunProtocol no longer tries STUN first")
    if "self._queue.put_nowait((data, component))" not in inspect.getsource(
        aioice.ice.Connection.data_received
    ):
        problems.append("aioice.ice.Connection.data_received changed")
    src_consent = inspect.getsource(aioice.ice.Connection.query_consent)
    for needle in ("self.build_request(pair, nominate=False)", "pair.protocol.request(",
                   "retransmissions=0", "self._query_consent_task = None"):  # fmt: skip
        if needle not in src_consent:
            problems.append(f"aioice.ice.Connection.query_consent no longer has {needle!r}")
    if "self._query_consent_task = asyncio.create_task(self.query_consent())" not in (
        inspect.getsource(aioice.ice.Connection.connect)
    ):
        problems.append("aioice.ice.Connection.connect no longer starts self.query_consent()")
    if not isinstance(getattr(aioice.ice, "CONSENT_INTERVAL", None), (int, float)):
        problems.append("aioice.ice.CONSENT_INTERVAL is gone")
    if not hasattr(aioice.stun, "TransactionError"):
        problems.append("aioice.stun.TransactionError is gone")
    src_stun = inspect.getsource(aioice.ice.StunProtocol.send_data)
    if "self.transport.sendto(data, addr)" not in src_stun:
        problems.append("aioice.ice.StunProtocol.send_data changed")

    import os

    from pylibsrtp import Policy, Session

    key = os.urandom(30)
    a, b = (
        Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)) for _ in range(2)
    )
    for name in ("_srtp", "_cdata", "_buffer"):
        if not hasattr(a, name):
            problems.append(f"pylibsrtp.Session.{name} is gone")
    if not problems:
        packet = bytes([0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]) + b"payload"
        length = _srtp_ffi.new("int *")
        length[0] = len(packet)
        b._buffer[0 : len(packet)] = packet
        rc = _srtp_lib.srtp_protect(b._srtp[0], b._cdata, length)
        if rc != 0 or b._buffer[0 : length[0]] != a.protect(packet):
            problems.append("calling libsrtp directly no longer matches Session.protect")

    pc = RTCPeerConnection()
    try:
        t = pc.addTransceiver("video", direction="sendonly")
        dtls = dtls_transport_of(t)
        if not isinstance(getattr(dtls, "_state", None), DtlsState):
            problems.append("RTCDtlsTransport._state is no longer a State")
        for name in ("_tx_srtp", "_rx_srtp", "_handle_rtp_data", "_handle_rtcp_data", "state"):
            if not hasattr(dtls, name):
                problems.append(f"RTCDtlsTransport has no {name}")
        connection = getattr(dtls.transport, "_connection", None)
        if connection is None:
            problems.append("RTCIceTransport._connection is gone")
        elif not isinstance(getattr(connection, "_nominated", None), dict):
            problems.append("aioice Connection._nominated is gone")
        if not isinstance(getattr(t.sender, "_ssrc", None), int):
            problems.append("RTCRtpSender._ssrc is gone")
        if not isinstance(t.sender, RTCRtpSender) or not isinstance(t.receiver, RTCRtpReceiver):
            problems.append("transceiver sender/receiver types changed")
    finally:
        await pc.close()
    if problems:
        raise PrivateApiError("aiortc/aioice internals changed: " + "; ".join(problems))
