"""Password and device login, signed expiring tokens, logout, and turning a token into a caller."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from meetingd.clock import Clock
from meetingd.domain import BridgePoint, Principal, User
from meetingd.errors import AuthenticationError, RateLimited
from meetingd.services.ratelimit import FailureThrottle, RateLimiter
from meetingd.store import Store

logger = logging.getLogger(__name__)

CREDENTIAL_PREFIX = "mdbp"
_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class AuthSettings:
    signing_key: str
    token_ttl_seconds: int = 43200
    device_token_ttl_seconds: int = 2_592_000
    login_attempts_per_minute_account: int = 5
    login_attempts_per_minute_address: int = 20
    login_max_delay_seconds: float = 30.0
    login_tracked_keys: int = 100_000
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    principal: Principal


def token_key(jti: str) -> str:
    """The rights-change key of one token (see ``UnitOfWork.rights_changed``)."""
    return f"token:{jti}"


def new_device_credential() -> tuple[str, str, str]:
    """A fresh device credential: (credential shown once, lookup key, hash to store)."""
    key = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"{CREDENTIAL_PREFIX}_{key}_{secret}", key, hash_device_secret(secret)


def hash_device_secret(secret: str) -> str:
    # The secret has 256 bits of entropy: a fast hash is as strong as a slow one here.
    return hashlib.sha256(secret.encode()).hexdigest()


class PasswordHashing:
    """argon2id, run in a worker thread so the event loop never waits on it."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._dummy = self._ph.hash(secrets.token_hex(8))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._ph.hash, password)

    async def verify(self, hashed: str | None, password: str) -> bool:
        target = hashed or self._dummy  # spend the same time for unknown logins

        def _check() -> bool:
            try:
                return self._ph.verify(target, password)
            except (VerificationError, InvalidHashError):
                return False

        ok = await asyncio.to_thread(_check)
        return ok and hashed is not None


class AuthService:
    def __init__(self, store: Store, clock: Clock, settings: AuthSettings) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self.passwords = PasswordHashing(settings.argon2_time_cost, settings.argon2_memory_kib)
        # Wrong passwords slow one account down (never lock it); every attempt from one
        # address is rate limited, and counted there first, so a flood from one address never
        # reaches the accounts' records (see meetingd.services.ratelimit for the rules).
        self._by_account = FailureThrottle(
            clock,
            free_per_minute=settings.login_attempts_per_minute_account,
            max_delay=settings.login_max_delay_seconds,
            max_keys=settings.login_tracked_keys,
        )
        self._by_address = RateLimiter(
            clock,
            rate=settings.login_attempts_per_minute_address / 60.0,
            burst=settings.login_attempts_per_minute_address,
            max_keys=settings.login_tracked_keys,
        )

    def _limit(self, account: str, address: str) -> None:
        """Refuse (429) an attempt from a flooding address or on a slowed-down account."""
        wait = self._by_address.take(address) or self._by_account.attempt(account)
        if wait > 0:
            logger.info("login attempt on %r from %s slowed down: %.1f s", account, address, wait)
            raise RateLimited(
                f"too many login attempts; try again in {int(wait) + 1} s", retry_after=wait
            )

    async def login(self, login: str, password: str, address: str) -> IssuedToken:
        """Password login; answers the same error for an unknown login and a wrong password."""
        login = login.strip().lower()
        self._limit(f"user:{login}", address)
        async with self._store.transaction() as uow:
            found = await uow.users.get_login(login)
        user, hashed = found if found else (None, None)
        if not await self.passwords.verify(hashed, password) or user is None or user.disabled:
            logger.info("login failed for %r from %s", login, address)
            self._by_account.failed(f"user:{login}")
            raise AuthenticationError("wrong login or password")
        self._by_account.succeeded(f"user:{login}")
        principal = Principal(
            kind="user",
            id=user.id,
            name=user.display_name,
            token_id="",
            is_admin=user.is_admin,
            grants=user.grants,
        )
        return self._issue(principal, self._settings.token_ttl_seconds, user.token_stamp)

    async def device_login(self, credential: str, address: str) -> IssuedToken:
        """Bridge-point login with its device credential."""
        parts = credential.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != CREDENTIAL_PREFIX:
            self._limit("device:malformed", address)
            self._by_account.failed("device:malformed")
            raise AuthenticationError("the device credential is not valid")
        _, key, secret = parts
        self._limit(f"device:{key}", address)
        async with self._store.transaction() as uow:
            found = await uow.bridge_points.get_credential(key)
            if (
                found
                and not found[0].disabled
                and hmac.compare_digest(found[1], hash_device_secret(secret))
            ):
                await uow.bridge_points.touch(found[0].id, self._clock.now())
            else:
                found = None
        if found is None:
            logger.info("device login failed from %s", address)
            self._by_account.failed(f"device:{key}")
            raise AuthenticationError("the device credential is not valid")
        self._by_account.succeeded(f"device:{key}")
        bp = found[0]
        principal = Principal(
            kind="bridge_point", id=bp.id, name=bp.name, token_id="", unit_path=bp.unit_path
        )
        return self._issue(principal, self._settings.device_token_ttl_seconds, bp.token_stamp)

    def _issue(self, principal: Principal, ttl: int, stamp: str) -> IssuedToken:
        now = self._clock.now()
        exp = now + timedelta(seconds=ttl)
        jti = secrets.token_urlsafe(16)
        token = jwt.encode(
            {
                "sub": principal.subject,
                "jti": jti,
                "iat": int(now.timestamp()),
                "exp": int(exp.timestamp()),
                "stp": stamp,
            },
            self._settings.signing_key,
            algorithm=_ALGORITHM,
        )
        return IssuedToken(
            token=token,
            expires_at=exp,
            principal=Principal(
                kind=principal.kind,
                id=principal.id,
                name=principal.name,
                token_id=jti,
                is_admin=principal.is_admin,
                grants=principal.grants,
                unit_path=principal.unit_path,
                expires_at=datetime.fromtimestamp(int(exp.timestamp()), tz=UTC),
            ),
        )

    def _decode(self, token: str) -> dict[str, object]:
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                self._settings.signing_key,
                algorithms=[_ALGORITHM],
                options={"require": ["sub", "jti", "exp"], "verify_exp": False},
            )
        except jwt.PyJWTError:
            raise AuthenticationError("the token is not valid") from None
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= int(self._clock.now().timestamp()):
            raise AuthenticationError("the token has expired; log in again", code="token_expired")
        return claims

    async def authenticate(self, token: str) -> Principal:
        """The caller behind ``token``, with their current grants; 401 if expired or revoked.

        A token stops working when it is logged out, when it expires, when its account or
        device is disabled or removed, and when the password or the device credential it was
        issued under is reset (the token carries a stamp of it).
        """
        [outcome] = await self.authenticate_many([token])
        if isinstance(outcome, AuthenticationError):
            raise outcome
        return outcome

    async def authenticate_many(
        self, tokens: Sequence[str]
    ) -> list[Principal | AuthenticationError]:
        """:meth:`authenticate` for several tokens at once, each checked as fully as alone,
        in one transaction of three reads (the revoked ones, the accounts, the devices):
        what a storm of connections costs. Answers, in order, each caller or its refusal."""
        claimed: list[_Claims | AuthenticationError] = []
        for token in tokens:
            try:
                claimed.append(self._claims(token))
            except AuthenticationError as exc:
                claimed.append(exc)
        valid = [c for c in claimed if isinstance(c, _Claims)]
        if not valid:
            return [c for c in claimed if isinstance(c, AuthenticationError)]
        async with self._store.reading() as uow:  # reads only: never queued behind writers
            revoked = await uow.tokens.revoked_among(sorted({c.jti for c in valid}))
            user_ids = sorted({c.id for c in valid if c.kind == "user"})
            bp_ids = sorted({c.id for c in valid if c.kind == "bridge_point"})
            users = {u.id: u for u in await uow.users.get_many(user_ids)}
            bps = {b.id: b for b in await uow.bridge_points.get_many(bp_ids)}
        out: list[Principal | AuthenticationError] = []
        for c in claimed:
            if isinstance(c, AuthenticationError):
                out.append(c)
            elif c.jti in revoked:
                out.append(
                    AuthenticationError(
                        "the token has been revoked (logged out); log in again", code="revoked"
                    )
                )
            elif c.kind == "user":
                out.append(_user_principal(c, users.get(c.id)))
            else:
                out.append(_device_principal(c, bps.get(c.id)))
        return out

    def _claims(self, token: str) -> _Claims:
        claims = self._decode(token)
        sub, jti = str(claims["sub"]), str(claims["jti"])
        stamp = claims.get("stp")
        expires_at = datetime.fromtimestamp(int(str(claims["exp"])), tz=UTC)
        kind, _, raw_id = sub.partition(":")
        if (
            not raw_id.isdigit()
            or len(raw_id) > 10
            or int(raw_id) > 2**31 - 1
            or kind not in ("user", "bridge_point")
        ):
            raise AuthenticationError("the token is not valid")
        return _Claims(kind, int(raw_id), jti, stamp, expires_at)

    async def logout(self, token: str) -> None:
        """Revoke ``token`` until it would have expired anyway."""
        claims = self._decode(token)
        exp = datetime.fromtimestamp(int(str(claims["exp"])), tz=UTC)
        async with self._store.transaction() as uow:
            await uow.tokens.revoke(str(claims["jti"]), exp)
            await uow.tokens.purge_expired(self._clock.now())
            uow.rights_changed(token_key(str(claims["jti"])))


@dataclass(frozen=True, slots=True)
class _Claims:
    """What a token says, once its signature and expiry are checked."""

    kind: str
    id: int
    jti: str
    stamp: object
    expires_at: datetime


def _user_principal(c: _Claims, user: User | None) -> Principal | AuthenticationError:
    if user is None or user.disabled:
        return AuthenticationError("the account no longer exists or is disabled", code="revoked")
    if c.stamp != user.token_stamp:
        return AuthenticationError(
            "the password was changed since this login; log in again", code="revoked"
        )
    return Principal(
        kind="user",
        id=user.id,
        name=user.display_name,
        token_id=c.jti,
        is_admin=user.is_admin,
        grants=user.grants,
        expires_at=c.expires_at,
    )


def _device_principal(c: _Claims, bp: BridgePoint | None) -> Principal | AuthenticationError:
    if bp is None or bp.disabled:
        return AuthenticationError(
            "the bridge point no longer exists or is disabled", code="revoked"
        )
    if c.stamp != bp.token_stamp:
        return AuthenticationError(
            "the device credential was reset since this login", code="revoked"
        )
    return Principal(
        kind="bridge_point",
        id=bp.id,
        name=bp.name,
        token_id=c.jti,
        unit_path=bp.unit_path,
        expires_at=c.expires_at,
    )
