"""Configuration of the media plane and TURN REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IceServer:
    """One ICE server as a client should be told about it (``RTCIceServer``)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class MediaConfig:
    """Settings of the SFU; immutable, validated on construction.

    ``listen_ips`` are the only host addresses the server gathers ICE candidates on (the
    setting is process-wide in aioice: held from ``MediaPlane.start()`` to ``close()``, see
    ``_aiortc_private.restrict_host_addresses``).
    ``announced_ip`` replaces them in the SDP we send (1:1 NAT, like mediasoup's
    ``announcedIp``). ``ice_servers`` (STUN urls) and ``turn_urls`` are handed to
    *clients* through :meth:`MediaPlane.client_ice_servers`; the server itself never uses a
    public STUN server. TURN credentials follow the TURN REST API scheme with
    ``turn_secret`` shared with coturn's ``static-auth-secret``.
    """

    listen_ips: tuple[str, ...] = ("127.0.0.1",)
    announced_ip: str | None = None
    ice_servers: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl: int = 86400
    #: audio receive slots per endpoint (the chair plus floor holders audible at once)
    audio_slots: int = 4
    #: bridge-point thumbnails per page on the chair's console
    video_page_size: int = 16
    #: minimum seconds between two keyframe requests sent to one publisher track
    keyframe_min_interval: float = 0.35
    #: seconds between two stats callbacks
    stats_interval: float = 2.0
    #: seconds without any packet from a connected peer before it is dropped
    peer_timeout: float = 15.0
    #: REMB sent upstream is the minimum of the subscribers' REMB, clamped to this range;
    #: the floor keeps one weak bridge point from starving the whole room
    upstream_bitrate_floor: int = 250_000
    upstream_bitrate_ceiling: int = 2_500_000
    #: REMB sent to a publisher whose video nobody receives (asks its encoder to idle)
    idle_video_bitrate: int = 50_000
    #: bytes queued in a socket's user-space buffer above which packets are dropped
    max_send_buffer: int = 256 * 1024
    #: SO_RCVBUF/SO_SNDBUF requested on the server's ICE UDP sockets (0: system default);
    #: Linux caps the request at ``net.core.rmem_max`` / ``wmem_max`` (see media/README.md)
    udp_buffer_size: int = 2 * 1024 * 1024
    #: a subscriber's REMB is processed at most once per this many seconds per slot (aiortc
    #: receivers send ~15 a second; the rest are dropped before parsing)
    remb_min_interval: float = 0.25
    #: weak-link "auto": a receiver whose estimate stays under ``weak_link_low_bitrate``
    #: for ``weak_link_after`` seconds gets the low layer only; one still congested there
    #: (estimate < 70 % of what is sent) and under ``weak_link_audio_only_bitrate`` as
    #: long, audio only (video is tried again after 30 s); see ``Room._auto_links``
    weak_link_low_bitrate: int = 250_000
    weak_link_audio_only_bitrate: int = 80_000
    weak_link_after: float = 6.0
    #: bit/s of a weak link's estimate kept for audio before any video is chosen
    audio_reserve: int = 64_000
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.listen_ips, (list, str)):
            object.__setattr__(
                self,
                "listen_ips",
                (self.listen_ips,) if isinstance(self.listen_ips, str) else tuple(self.listen_ips),
            )
        for name in ("ice_servers", "turn_urls"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if not self.listen_ips:
            raise ValueError("media.listen_ips must name at least one address")
        if self.audio_slots < 1 or self.video_page_size < 1:
            raise ValueError("media.audio_slots and media.video_page_size must be >= 1")
        if self.turn_urls and not self.turn_secret:
            raise ValueError("media.turn_secret is required when media.turn_urls is set")
        if self.udp_buffer_size < 0 or self.remb_min_interval < 0:
            raise ValueError("media.udp_buffer_size and media.remb_min_interval must be >= 0")
        if self.turn_ttl <= 0:
            raise ValueError("media.turn_ttl must be positive")


def turn_credentials(
    secret: str, ttl: int, user: str, *, now: float | None = None
) -> tuple[str, str]:
    """Time-limited TURN credentials (TURN REST API, coturn ``use-auth-secret``).

    ``username = "<expiry unix time>:<user>"``,
    ``password = base64(HMAC-SHA1(secret, username))``.
    """
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()
