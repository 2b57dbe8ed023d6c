"""Login (password and device), logout, and who am I."""

from __future__ import annotations

from typing import Any

from meetingd.api.context import client_address, services
from meetingd.api.routing import Call, Routes, bearer_token
from meetingd.domain import Principal
from meetingd.schemas import DeviceLoginIn, GrantOut, LoginIn, PrincipalOut, TokenOut
from meetingd.services.auth import IssuedToken

routes = Routes()


def principal_out(p: Principal) -> PrincipalOut:
    return PrincipalOut(
        kind="user" if p.kind == "user" else "bridge_point",
        id=p.id,
        name=p.name,
        is_admin=p.is_admin,
        grants=[GrantOut.of(g) for g in p.grants],
    )


def _token(t: IssuedToken) -> TokenOut:
    return TokenOut(token=t.token, expires_at=t.expires_at, principal=principal_out(t.principal))


@routes.route(
    "POST",
    "/api/v1/auth/login",
    summary="Log in with login and password",
    tag="auth",
    body=LoginIn,
    response=TokenOut,
    auth=False,
    errors=(401, 429),
)
async def login(call: Call[LoginIn, Any]) -> TokenOut:
    """Answers a signed token that expires; send it as `Authorization: Bearer <token>`.
    Rate-limited per account and per address."""
    issued = await services(call.request).auth.login(
        call.body.login, call.body.password, client_address(call.request)
    )
    return _token(issued)


@routes.route(
    "POST",
    "/api/v1/auth/device",
    summary="Log in a bridge point with its device credential",
    tag="auth",
    body=DeviceLoginIn,
    response=TokenOut,
    auth=False,
    errors=(401, 429),
)
async def device_login(call: Call[DeviceLoginIn, Any]) -> TokenOut:
    issued = await services(call.request).auth.device_login(
        call.body.credential, client_address(call.request)
    )
    return _token(issued)


@routes.route(
    "POST",
    "/api/v1/auth/logout",
    summary="Revoke the token of this request",
    tag="auth",
    status=204,
)
async def logout(call: Call[Any, Any]) -> None:
    await services(call.request).auth.logout(bearer_token(call.request))


@routes.route(
    "GET", "/api/v1/auth/me", summary="Who the token belongs to", tag="auth", response=PrincipalOut
)
async def me(call: Call[Any, Any]) -> PrincipalOut:
    return principal_out(call.principal)
