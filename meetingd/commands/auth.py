"""Logging in (password, or a bridge point's device credential), logging out, who am I."""

from __future__ import annotations

from meetingd.commands.table import COMMANDS, Context, Rest
from meetingd.domain import Principal
from meetingd.errors import AuthenticationError
from meetingd.schemas import DeviceLoginIn, GrantOut, LoginIn, PrincipalOut, Request, TokenOut
from meetingd.services.auth import IssuedToken
from meetingd.services.authz import Permission

BEFORE_SOCKET = "the socket connects with the token this answers"


class NoPayload(Request):
    pass


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


@COMMANDS.command(
    "auth.login",
    LoginIn,
    answer=TokenOut,
    summary="Log in with login and password",
    tag="auth",
    permission=Permission.PUBLIC,
    rest=Rest("POST", "/api/v1/auth/login", "login", errors=(401, 429)),
    socket=False,
    socket_why_not=BEFORE_SOCKET,
    auth=False,
)
async def login(ctx: Context, p: LoginIn) -> TokenOut:
    """Answers a signed token that expires; send it as `Authorization: Bearer <token>`.
    Rate-limited per account and per address."""
    return _token(await ctx.services.auth.login(p.login, p.password, ctx.address))


@COMMANDS.command(
    "auth.device_login",
    DeviceLoginIn,
    answer=TokenOut,
    summary="Log in a bridge point with its device credential",
    tag="auth",
    permission=Permission.PUBLIC,
    rest=Rest("POST", "/api/v1/auth/device", "device_login", errors=(401, 429)),
    socket=False,
    socket_why_not=BEFORE_SOCKET,
    auth=False,
)
async def device_login(ctx: Context, p: DeviceLoginIn) -> TokenOut:
    return _token(await ctx.services.auth.device_login(p.credential, ctx.address))


@COMMANDS.command(
    "auth.logout",
    NoPayload,
    answer=None,
    summary="Revoke the token of this request",
    tag="auth",
    permission=Permission.AUTHENTICATED,
    rest=Rest("POST", "/api/v1/auth/logout", "logout", 204),
)
async def logout(ctx: Context, p: NoPayload) -> None:
    """Every connection opened with the token is closed at once, on every server process.
    On the socket it revokes the token the connection was opened with."""
    if ctx.token is None:
        raise AuthenticationError("this command needs a token")
    await ctx.services.auth.logout(ctx.token)


@COMMANDS.command(
    "auth.me",
    NoPayload,
    answer=PrincipalOut,
    summary="Who the token belongs to",
    tag="auth",
    permission=Permission.AUTHENTICATED,
    rest=Rest("GET", "/api/v1/auth/me", "me"),
)
async def me(ctx: Context, p: NoPayload) -> PrincipalOut:
    return principal_out(ctx.principal)
