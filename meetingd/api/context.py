"""Typed access to what the app factory put on the application."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from aiohttp import web

from meetingd.services import Services

SERVICES = web.AppKey("services", Services)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: The reverse proxies whose ``X-Forwarded-For`` is believed (``server.trusted_proxies``).
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def proxy_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """``server.trusted_proxies`` (addresses or CIDRs) as networks."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in proxies)


def forwarded_client(peer: str, forwarded_for: str, proxies: tuple[Network, ...]) -> str:
    """The client behind ``peer``: the right-most ``X-Forwarded-For`` hop that is not a proxy.

    ``X-Forwarded-For`` is read only when ``peer`` itself is a trusted proxy; each proxy appends
    the address it heard from, so the entries left of the last untrusted one are the client's
    own to forge and are never believed. When every hop is a trusted proxy, the left-most is it.
    """
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def client_address(request: web.Request) -> str:
    """The caller's address, through ``X-Forwarded-For`` only from trusted proxies."""
    peer = request.remote or "unknown"
    proxies = request.app.get(TRUSTED_PROXIES, ())
    if not proxies:
        return peer
    return forwarded_client(peer, ",".join(request.headers.getall("X-Forwarded-For", [])), proxies)


#: A host name or an IPv4 address, or an IPv6 address in brackets (the Host field's host).
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


def direct_host(host_field: str, peer: str, proxies: tuple[Network, ...]) -> str:
    """The host name of ``host_field`` (a Host field: ``name[:port]``) when the caller
    reached us straight from ``peer``, not through one of ``proxies``; else empty (a proxy's
    Host names the proxy's side, and an odd one is not repeated back)."""
    if proxies and _trusted(peer, proxies):
        return ""
    name = host_field.rsplit(":", 1)[0] if host_field.count(":") == 1 else host_field
    if name.startswith("[") and "]" in name:
        name = name[: name.index("]") + 1]
    return name if _HOST.fullmatch(name) else ""


def request_host(request: web.Request) -> str:
    """:func:`direct_host` of a request."""
    return direct_host(
        request.headers.get("Host", ""),
        request.remote or "",
        request.app.get(TRUSTED_PROXIES, ()),
    )


MAX_BODY = web.AppKey("max_body_bytes", int)
