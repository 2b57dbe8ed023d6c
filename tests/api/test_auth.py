"""Login, device login, token expiry, logout, disabled accounts and login rate limits,
over HTTP with the manual clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt

from meetingd.app import PARTS
from meetingd.clock import ManualClock
from meetingd.config import AuthConfig
from tests.api.checks import expect_error
from tests.conftest import PASSWORD, TEST_KEY, World

LOGIN = "/api/v1/auth/login"
DEVICE = "/api/v1/auth/device"
ME = "/api/v1/auth/me"
TTL = AuthConfig().token_ttl_seconds
DEVICE_TTL = AuthConfig().device_token_ttl_seconds


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: Any, name: str, password: str = PASSWORD, **headers: str) -> Any:
    return await client.post(LOGIN, json={"login": name, "password": password}, headers=headers)


async def test_login_answers_an_expiring_token_for_the_user(
    client: Any, api_world: World, clock: ManualClock
) -> None:
    resp = await login(client, "chair")
    assert resp.status == 200
    body = await resp.json()
    assert body["token_type"] == "Bearer"
    assert datetime.fromisoformat(body["expires_at"]) == clock.now() + timedelta(seconds=TTL)
    assert body["principal"] == {
        "kind": "user",
        "id": api_world.users["chair"],
        "name": "Nguyễn Thị Hoà",
        "is_admin": False,
        "grants": [{"unit_id": api_world.units["D1"], "role": "chair"}],
    }
    me = await client.get(ME, headers=bearer(body["token"]))
    assert (await me.json())["id"] == api_world.users["chair"]


async def test_login_is_case_insensitive_and_trims_the_login(client: Any, api_world: World) -> None:
    resp = await login(client, "  Chair ")
    assert resp.status == 200


async def test_wrong_password_and_unknown_login_are_indistinguishable(
    client: Any, api_world: World
) -> None:
    wrong = await expect_error(await login(client, "chair", "sai-mật-khẩu"), 401)
    unknown = await expect_error(await login(client, "không-có-ai"), 401)
    assert wrong == unknown == {"code": "unauthenticated", "message": "wrong login or password"}


async def test_device_login_and_last_seen(
    client: Any, api_world: World, clock: ManualClock
) -> None:
    w = api_world
    clock.advance(60)
    resp = await client.post(DEVICE, json={"credential": w.credentials["bp2"]})
    assert resp.status == 200
    body = await resp.json()
    assert body["principal"]["kind"] == "bridge_point"
    assert body["principal"]["id"] == w.bridge_points["bp2"]
    assert datetime.fromisoformat(body["expires_at"]) == clock.now() + timedelta(
        seconds=DEVICE_TTL
    )
    got = await client.get(f"/api/v1/bridge-points/{w.bridge_points['bp2']}", headers=w.auth("bp2"))
    assert datetime.fromisoformat((await got.json())["last_seen_at"]) == clock.now()


async def test_bad_device_credentials_are_indistinguishable(client: Any, api_world: World) -> None:
    good = api_world.credentials["bp1"]
    prefix, key, secret = good.split("_", 2)
    answers = []
    for credential in (
        f"{prefix}_{key}_{'A' * len(secret)}",  # right key, wrong secret
        f"{prefix}_0000000000000000_{secret}",  # unknown key
        "not-a-credential",
        f"{prefix}_{key}",
    ):
        resp = await client.post(DEVICE, json={"credential": credential})
        answers.append(await expect_error(resp, 401))
    assert all(a == answers[0] for a in answers), answers


async def test_a_rotated_credential_stops_working(client: Any, api_world: World) -> None:
    w = api_world
    resp = await client.post(
        f"/api/v1/bridge-points/{w.bridge_points['bp1']}/credential", headers=w.auth("operator")
    )
    assert resp.status == 201
    new = (await resp.json())["credential"]
    assert new != w.credentials["bp1"]
    await expect_error(await client.post(DEVICE, json={"credential": w.credentials["bp1"]}), 401)
    assert (await client.post(DEVICE, json={"credential": new})).status == 200


async def test_tokens_expire_on_the_clock(
    client: Any, api_world: World, clock: ManualClock
) -> None:
    w = api_world
    clock.advance(TTL - 1)
    assert (await client.get(ME, headers=w.auth("chair"))).status == 200
    assert (await client.get(ME, headers=w.auth("bp1"))).status == 200
    clock.advance(1)
    await expect_error(await client.get(ME, headers=w.auth("chair")), 401, code="token_expired")
    assert (await client.get(ME, headers=w.auth("bp1"))).status == 200  # devices last longer
    clock.advance(DEVICE_TTL - TTL)
    await expect_error(await client.get(ME, headers=w.auth("bp1")), 401, code="token_expired")
    # An expired token cannot be used to log out either.
    resp = await client.post("/api/v1/auth/logout", headers=w.auth("chair"))
    await expect_error(resp, 401, code="token_expired")


async def test_logout_revokes_that_token_only(client: Any, api_world: World) -> None:
    w = api_world
    second = (await (await login(client, "chair")).json())["token"]
    resp = await client.post("/api/v1/auth/logout", headers=w.auth("chair"))
    assert resp.status == 204
    err = await expect_error(await client.get(ME, headers=w.auth("chair")), 401)
    assert "revoked" in err["message"]
    assert (await client.get(ME, headers=bearer(second))).status == 200
    await expect_error(await client.post("/api/v1/auth/logout", headers=w.auth("chair")), 401)


async def test_revocations_are_forgotten_once_the_token_has_expired(
    client: Any, api_world: World, clock: ManualClock, app: Any
) -> None:
    w = api_world
    assert (await client.post("/api/v1/auth/logout", headers=w.auth("chair"))).status == 204
    clock.advance(TTL + 1)
    # The next logout purges revocations of tokens that expired anyway.
    fresh = (await (await login(client, "secretary")).json())["token"]
    assert (await client.post("/api/v1/auth/logout", headers=bearer(fresh))).status == 204
    async with app[PARTS].store.transaction() as uow:
        claims = jwt.decode(w.tokens["chair"], options={"verify_signature": False})
        assert not await uow.tokens.is_revoked(str(claims["jti"]))
        assert await uow.tokens.is_revoked(
            str(jwt.decode(fresh, options={"verify_signature": False})["jti"])
        )


async def test_missing_and_malformed_authorization(client: Any, api_world: World) -> None:
    err = await expect_error(await client.get(ME), 401, code="unauthenticated")
    assert "Authorization" in err["message"]
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", api_world.tokens["chair"]):
        await expect_error(await client.get(ME, headers={"Authorization": header}), 401)


async def test_tokens_that_do_not_verify(client: Any, api_world: World, app: Any) -> None:
    w = api_world
    now = app[PARTS].clock.now()
    good = {"sub": f"user:{w.users['admin']}", "jti": "t", "exp": int(now.timestamp()) + 60}
    for token in (
        jwt.encode(good, "another-key-" + "z" * 32, algorithm="HS256"),
        jwt.encode(good, TEST_KEY, algorithm="HS384"),  # not the algorithm we sign with
        jwt.encode({**good, "sub": "user:abc"}, TEST_KEY, algorithm="HS256"),
        jwt.encode({**good, "sub": "robot:1"}, TEST_KEY, algorithm="HS256"),
        jwt.encode({"sub": good["sub"], "jti": "t"}, TEST_KEY, algorithm="HS256"),  # no exp
        jwt.encode({**good, "sub": "user:999999"}, TEST_KEY, algorithm="HS256"),
        jwt.encode(good, None, algorithm="none"),
        w.tokens["admin"][:-2],
    ):
        await expect_error(await client.get(ME, headers=bearer(token)), 401)


async def test_a_disabled_user_is_locked_out_at_once(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    async with app[PARTS].store.transaction() as uow:
        await uow.users.update(w.users["chair"], disabled=True)
    await expect_error(await client.get(ME, headers=w.auth("chair")), 401)
    err = await expect_error(await login(client, "chair"), 401)
    assert err["message"] == "wrong login or password"


async def test_a_disabled_bridge_point_is_locked_out_at_once(
    client: Any, api_world: World
) -> None:
    w = api_world
    resp = await client.patch(
        f"/api/v1/bridge-points/{w.bridge_points['bp1']}",
        json={"disabled": True},
        headers=w.auth("operator"),
    )
    assert resp.status == 200 and (await resp.json())["disabled"] is True
    await expect_error(await client.get(ME, headers=w.auth("bp1")), 401)
    await expect_error(await client.post(DEVICE, json={"credential": w.credentials["bp1"]}), 401)


async def test_role_changes_apply_to_existing_tokens(client: Any, api_world: World) -> None:
    w = api_world
    body = {"unit_id": w.units["D1"], "title": "Họp", "starts_at": "2026-12-01T08:00:00Z"}
    resp = await client.delete(
        f"/api/v1/users/{w.users['chair']}/grants",
        json={"unit_id": w.units["D1"], "role": "chair"},
        headers=w.auth("operator"),
    )
    assert resp.status == 200
    resp = await client.post("/api/v1/meetings", json=body, headers=w.auth("chair"))
    await expect_error(resp, 404)  # the unit is no longer visible to them


# -- rate limits ---------------------------------------------------------------------------


async def test_login_is_slowed_per_account(
    client: Any, api_world: World, clock: ManualClock
) -> None:
    # Five wrong passwords a minute are free; each further one doubles the wait (1, 2, 4 s).
    for _ in range(5):
        await expect_error(await login(client, "secretary", "sai"), 401)
    assert (await login(client, "secretary")).status == 200  # a right password clears them
    for _ in range(6):
        await expect_error(await login(client, "secretary", "sai"), 401)
    resp = await login(client, "secretary")  # even the right password waits
    err = await expect_error(resp, 429, code="rate_limited")
    assert int(resp.headers["Retry-After"]) == 2 and "2 s" in err["message"]  # 1 s, rounded up
    # Other accounts from the same address are not held back by this one.
    assert (await login(client, "chair")).status == 200
    clock.advance(1)
    await expect_error(await login(client, "secretary", "sai"), 401)
    resp = await login(client, "secretary")
    await expect_error(resp, 429)
    clock.advance(2)
    assert (await login(client, "secretary")).status == 200


async def test_unknown_logins_are_slowed_too(client: Any, api_world: World) -> None:
    for _ in range(6):
        await expect_error(await login(client, "ai-do"), 401)
    await expect_error(await login(client, "ai-do"), 429)
    await expect_error(await login(client, "AI-DO"), 429)  # same account, other spelling


async def test_login_is_limited_per_address(
    client: Any, api_world: World, clock: ManualClock
) -> None:
    # Twenty attempts a minute per address, whichever accounts they name.
    for i in range(20):
        await expect_error(await login(client, f"khach{i}"), 401)
    resp = await login(client, "admin")
    await expect_error(resp, 429)
    assert int(resp.headers["Retry-After"]) >= 1
    # A forged X-Forwarded-For does not make a new address (proxies are not trusted).
    await expect_error(await login(client, "admin", **{"X-Forwarded-For": "203.0.113.9"}), 429)
    # Device logins from the address share the limit.
    resp = await client.post(DEVICE, json={"credential": api_world.credentials["bp1"]})
    await expect_error(resp, 429)
    clock.advance(60)
    assert (await login(client, "admin")).status == 200


async def test_device_login_is_limited_per_device(
    client: Any, api_world: World, clock: ManualClock
) -> None:
    prefix, key, _ = api_world.credentials["bp3"].split("_", 2)
    for _ in range(6):  # five a minute are free, the sixth starts the wait
        resp = await client.post(DEVICE, json={"credential": f"{prefix}_{key}_guess"})
        await expect_error(resp, 401)
    resp = await client.post(DEVICE, json={"credential": api_world.credentials["bp3"]})
    await expect_error(resp, 429)
    assert resp.headers["Retry-After"] == "2"  # one second, rounded up
    clock.advance(int(resp.headers["Retry-After"]))
    resp = await client.post(DEVICE, json={"credential": api_world.credentials["bp3"]})
    assert resp.status == 200
