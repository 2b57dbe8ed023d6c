"""AuthService: password and device login, tokens, expiry, revocation, rate limits."""

from __future__ import annotations

import pytest

from meetingd.app import Parts
from meetingd.clock import ManualClock
from meetingd.errors import AuthenticationError, RateLimited
from tests.conftest import PASSWORD, World


async def test_argon2_cost_comes_from_the_config(parts: Parts) -> None:
    # The test config asks for the cheapest parameters; the hash must say so.
    hashed = await parts.services.auth.passwords.hash("một mật khẩu dài")
    assert "$m=8,t=1,p=1$" in hashed
    assert await parts.services.auth.passwords.verify(hashed, "một mật khẩu dài")


async def test_the_account_limit_holds_across_addresses(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    auth = parts.services.auth
    for i in range(6):  # five a minute are free; the sixth starts the wait
        with pytest.raises(AuthenticationError):
            await auth.login("chair", "sai", f"10.0.0.{i}")
    with pytest.raises(RateLimited) as exc:
        await auth.login("chair", PASSWORD, "10.0.1.1")
    assert exc.value.retry_after == pytest.approx(1.0)
    clock.advance(1)
    assert (await auth.login("chair", PASSWORD, "10.0.1.1")).principal.id == world.users["chair"]


async def test_the_address_limit_holds_across_accounts(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    auth = parts.services.auth
    for i in range(20):
        with pytest.raises(AuthenticationError):
            await auth.login(f"khach{i}", "sai", "198.51.100.7")
    with pytest.raises(RateLimited) as exc:
        await auth.login("admin", PASSWORD, "198.51.100.7")
    assert exc.value.retry_after == pytest.approx(3.0)  # twenty a minute
    assert (await auth.login("admin", PASSWORD, "198.51.100.8")).principal.is_admin
    clock.advance(3)
    assert (await auth.login("operator", PASSWORD, "198.51.100.7")).principal.grants


async def test_tokens_expire_and_revoke(parts: Parts, world: World, clock: ManualClock) -> None:
    auth = parts.services.auth
    issued = await auth.login("delegate", PASSWORD, "10.0.0.1")
    assert (await auth.authenticate(issued.token)).id == world.users["delegate"]
    clock.advance(parts.config.auth.token_ttl_seconds)
    with pytest.raises(AuthenticationError) as exc:
        await auth.authenticate(issued.token)
    assert exc.value.code == "token_expired"
    fresh = await auth.login("delegate", PASSWORD, "10.0.0.1")
    await auth.logout(fresh.token)
    with pytest.raises(AuthenticationError, match="revoked"):
        await auth.authenticate(fresh.token)


async def test_a_disabled_bridge_point_cannot_log_in(parts: Parts, world: World) -> None:
    async with parts.store.transaction() as uow:
        await uow.bridge_points.update(world.bridge_points["bp2"], disabled=True)
    with pytest.raises(AuthenticationError, match="not valid"):
        await parts.services.auth.device_login(world.credentials["bp2"], "10.0.0.1")
    with pytest.raises(AuthenticationError):
        await parts.services.auth.authenticate(world.tokens["bp2"])


async def test_a_signed_token_with_an_absurd_subject_is_refused(parts: Parts) -> None:
    # Only someone holding the signing key could make one; it still gets a clean 401.
    import jwt

    from tests.conftest import TEST_KEY

    now = int(parts.clock.now().timestamp())
    for sub in ("user:99999999999999999999", "user:-1", "robot:1", "user:"):
        token = jwt.encode(
            {"sub": sub, "jti": "x", "iat": now, "exp": now + 60}, TEST_KEY, algorithm="HS256"
        )
        with pytest.raises(AuthenticationError):
            await parts.services.auth.authenticate(token)
