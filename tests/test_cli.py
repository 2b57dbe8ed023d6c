"""The ``meetingd`` command, run as a real subprocess on a SQLite file in a temporary dir."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meetingd.app import Parts, build, create_app
from meetingd.config import Config, DatabaseConfig, ServerConfig
from meetingd.errors import AuthenticationError

TIMEOUT = 60


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any MEETINGD_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


async def meetingd(cwd: Path, *args: str, stdin: str | None = None, **env: str) -> Run:
    # A session of its own: no controlling terminal, so a password prompt reads ``stdin``.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "meetingd", *args,
        cwd=cwd, env=clean_env(**env),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else None), TIMEOUT
    )
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def db_files(data: Path) -> bytes:
    """Everything SQLite keeps on disk for the database (the file, its WAL and shm)."""
    return b"".join(p.read_bytes() for p in sorted(data.glob("meetingd.sqlite3*")))


def config_on(data: Path) -> Config:
    """The configuration the CLI used on ``data`` (the signing key is the one it kept there)."""
    return Config(
        server=ServerConfig(data_dir=data),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{data / 'meetingd.sqlite3'}"),
    )


@contextlib.asynccontextmanager
async def parts_on(data: Path) -> AsyncIterator[Parts]:
    """The services on the database the CLI wrote, in this process, closed again before
    the next CLI run (and with a fresh login rate limit each time)."""
    parts = build(config_on(data))
    try:
        yield parts
    finally:
        await parts.store.close()


@pytest.fixture
async def app_on(tmp_path: Path) -> Any:
    """Open an in-process app on the data dir the CLI wrote, to check what it made."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def open_(data: Path) -> TestClient[web.Request, web.Application]:
        config = config_on(data)
        client = TestClient(TestServer(create_app(config, migrate=False), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield open_
    for c in clients:
        await c.close()


# -- db upgrade, demo --------------------------------------------------------------------------


async def test_db_upgrade_creates_and_keeps_the_schema(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for _ in range(2):  # a second run finds nothing to do
        run = await meetingd(tmp_path, "db", "upgrade", "--data-dir", str(data))
        assert run.code == 0, run.err
        assert "database schema is up to date" in run.out
    assert (data / "meetingd.sqlite3").stat().st_size > 0


async def test_demo_seeds_once_and_its_logins_work(tmp_path: Path, app_on: Any) -> None:
    data = tmp_path / "data"
    run = await meetingd(tmp_path, "demo", "--data-dir", str(data))
    assert run.code == 0, run.err
    creds_path = data / "demo-credentials.json"
    assert str(creds_path) in run.out
    assert stat.S_IMODE(creds_path.stat().st_mode) == 0o600
    creds = json.loads(creds_path.read_text(encoding="utf-8"))
    roles = {u["role"] for u in creds["users"]}
    assert roles == {"admin", "operator", "chair", "secretary", "delegate"}
    assert len(creds["bridge_points"]) >= 10

    again = await meetingd(tmp_path, "demo", "--if-empty", "--data-dir", str(data))
    assert again.code == 0 and "already has data" in again.out
    assert json.loads(creds_path.read_text(encoding="utf-8")) == creds
    refused = await meetingd(tmp_path, "demo", "--data-dir", str(data))
    assert refused.code == 1 and "already has data" in refused.err
    stored = db_files(data)
    for user in creds["users"]:
        assert user["password"].encode() not in stored
    for bp in creds["bridge_points"]:
        assert bp["credential"].encode() not in stored

    client = await app_on(data)
    tokens = {}
    for user in creds["users"]:
        resp = await client.post(
            "/api/v1/auth/login", json={"login": user["login"], "password": user["password"]}
        )
        assert resp.status == 200, (user["login"], await resp.text())
        tokens[user["login"]] = (await resp.json())["token"]
    for bp in creds["bridge_points"]:
        resp = await client.post("/api/v1/auth/device", json={"credential": bp["credential"]})
        assert resp.status == 200, bp["name"]
    resp = await client.get(
        f"/api/v1/meetings/{creds['meeting_id']}",
        headers={"Authorization": f"Bearer {tokens['chutri']}"},
    )
    meeting = await resp.json()
    assert resp.status == 200 and meeting["state"] == "scheduled"
    assert len(meeting["agenda"]) == 4 and len(meeting["bridge_point_ids"]) == len(
        creds["bridge_points"]
    )


# -- unit, bridge-point, user ---------------------------------------------------------------------


async def test_unit_bridge_point_and_user_add(tmp_path: Path, app_on: Any) -> None:
    data = tmp_path / "data"
    d = ["--data-dir", str(data)]

    async def ok(*args: str, stdin: str | None = None) -> dict[str, Any]:
        run = await meetingd(tmp_path, *args, *d, stdin=stdin)
        assert run.code == 0, run.err
        out: dict[str, Any] = json.loads(run.out)
        return out

    province = await ok("unit", "add", "TH", "--name", "Tỉnh Thanh Hóa", "--kind", "province")
    assert province["name"] == "Tỉnh Thanh Hóa"
    await ok("unit", "add", "TH-HH", "--name", "Huyện Hoằng Hóa", "--kind", "district",
             "--parent", "TH")  # fmt: skip
    await ok("unit", "add", "TH-HH-1", "--name", "Xã Hoằng Đạo", "--kind", "commune",
             "--parent", "TH-HH")  # fmt: skip

    run = await meetingd(tmp_path, "bridge-point", "add", "TH-HH-1", "--name", "Điểm cầu Hoằng Đạo",
                         "--room", "Hội trường", *d)  # fmt: skip
    assert run.code == 0, run.err
    bp = json.loads(run.out)
    assert bp["credential"].startswith("mdbp_") and "only its hash is stored" in run.err
    secret = bp["credential"].split("_", 2)[2]
    stored = db_files(data)
    assert bp["credential"].encode() not in stored and secret.encode() not in stored

    password = "mật-khẩu-chủ-trì"
    user = await ok("user", "add", "chutri", "--name", "Nguyễn Thị Hoà", "--role", "chair@TH-HH",
                    "--role", "delegate@TH-HH-1", "--password-stdin",
                    stdin=password + "\n")  # fmt: skip
    assert user["login"] == "chutri"
    assert password.encode() not in db_files(data)

    client = await app_on(data)
    resp = await client.post("/api/v1/auth/login", json={"login": "chutri", "password": password})
    assert resp.status == 200
    grants = (await resp.json())["principal"]["grants"]
    assert sorted(g["role"] for g in grants) == ["chair", "delegate"]
    resp = await client.post("/api/v1/auth/device", json={"credential": bp["credential"]})
    assert resp.status == 200


COMMAND_ERRORS: list[tuple[list[str], str | None, str]] = [
    (["unit", "add", "X", "--name", "Xã", "--kind", "commune", "--parent", "NONE"], None,
     "no unit with code 'NONE'"),
    (["unit", "add", "X", "--name", "Huyện", "--kind", "district"], None,
     "parent_id: a district must sit under a province"),
    (["bridge-point", "add", "NONE", "--name", "Điểm cầu"], None, "no unit with code 'NONE'"),
    (["user", "add", "ab", "--name", "A", "--password-stdin"], "short\n",
     "the password must have at least 8 characters"),
    (["user", "add", "ab", "--name", "A", "--role", "king@X", "--password-stdin"],
     "long enough\n", "unknown role 'king' in --role king@X"),
    (["user", "add", "ab", "--name", "A", "--role", "chair@NONE", "--password-stdin"],
     "long enough\n", "no unit with code 'NONE' in --role chair@NONE"),
    (["user", "disable", "nobody"], None, "no user with login 'nobody'"),
    (["user", "enable", "nobody"], None, "no user with login 'nobody'"),
    (["user", "reset-password", "nobody"], "long enough\nlong enough\n",
     "no user with login 'nobody'"),
    (["bridge-point", "disable", "99"], None, "no bridge point with id 99"),
    (["bridge-point", "enable", "99"], None, "no bridge point with id 99"),
    (["bridge-point", "reset-credential", "99"], None, "no bridge point with id 99"),
]  # fmt: skip


async def test_command_errors_are_one_line_and_exit_1(tmp_path: Path, subtests: Any) -> None:
    runs = await asyncio.gather(
        *(
            meetingd(tmp_path, *args, "--data-dir", str(tmp_path / f"data{i}"), stdin=stdin)
            for i, (args, stdin, _) in enumerate(COMMAND_ERRORS)
        )
    )
    for (args, _, says), run in zip(COMMAND_ERRORS, runs, strict=True):
        with subtests.test(" ".join(args)):
            assert run.code == 1, run
            assert run.err.strip().splitlines()[-1] == f"meetingd: {says}", run.err


# -- disable, enable, reset ------------------------------------------------------------------------


async def refused(call: Any) -> AuthenticationError:
    """The AuthenticationError ``call`` (an awaitable) fails with."""
    with pytest.raises(AuthenticationError) as caught:
        await call
    return caught.value


async def test_user_disable_enable_and_reset_password(tmp_path: Path) -> None:
    data = tmp_path / "data"
    d = ["--data-dir", str(data)]
    old, new = "mật-khẩu-cũ-1", "mật-khẩu-mới-2"
    run = await meetingd(tmp_path, "user", "add", "thuky", "--name", "Trần Văn Thư",
                         "--password-stdin", *d, stdin=old + "\n")  # fmt: skip
    assert run.code == 0, run.err
    uid = json.loads(run.out)["id"]
    async with parts_on(data) as parts:
        token = (await parts.services.auth.login("thuky", old, "test")).token
        assert (await parts.services.auth.authenticate(token)).id == uid

    run = await meetingd(tmp_path, "user", "disable", "thuky", *d)
    assert run.code == 0, run.err
    assert json.loads(run.out) == {"id": uid, "login": "thuky", "disabled": True}
    async with parts_on(data) as parts:
        assert (await refused(parts.services.auth.authenticate(token))).code == "revoked"
        await refused(parts.services.auth.login("thuky", old, "test"))

    run = await meetingd(tmp_path, "user", "enable", "ThuKy", *d)  # logins are case-blind
    assert run.code == 0, run.err
    assert json.loads(run.out) == {"id": uid, "login": "thuky", "disabled": False}
    async with parts_on(data) as parts:
        token = (await parts.services.auth.login("thuky", old, "test")).token

    # From a file (its first line), or asked twice at the prompt; never as an argument.
    (tmp_path / "pw.txt").write_text(new + "\n", encoding="utf-8")
    run = await meetingd(tmp_path, "user", "reset-password", "thuky",
                         "--password-file", "pw.txt", *d)  # fmt: skip
    assert run.code == 0, run.err
    assert json.loads(run.out) == {"id": uid, "login": "thuky"}
    assert "stopped working" in run.err
    assert new.encode() not in db_files(data)
    async with parts_on(data) as parts:
        assert (await refused(parts.services.auth.authenticate(token))).code == "revoked"
        await refused(parts.services.auth.login("thuky", old, "test"))
        token = (await parts.services.auth.login("thuky", new, "test")).token

    third = "mật-khẩu-thứ-ba"
    run = await meetingd(tmp_path, "user", "reset-password", "thuky", *d,
                         stdin=f"{third}\n{third}\n")  # fmt: skip
    assert run.code == 0, run.err
    async with parts_on(data) as parts:
        await refused(parts.services.auth.authenticate(token))
        await refused(parts.services.auth.login("thuky", new, "test"))
        await parts.services.auth.login("thuky", third, "test")
        async with parts.store.transaction() as uow:
            audit = await uow.audit.for_subject(f"user:{uid}")
    assert [(actor, action) for _, actor, action in audit] == [
        ("cli", "user.created"),
        ("cli", "user.disabled"),
        ("cli", "user.enabled"),
        ("cli", "user.password_reset"),
        ("cli", "user.password_reset"),
    ]

    # Refusals change nothing: the password still works afterwards.
    (tmp_path / "short.txt").write_text("ngắn\n", encoding="utf-8")
    refusals = [
        (["--password-file", "short.txt"], None,
         "the password must have at least 8 characters"),
        ([], f"{third}x\n{third}y\n", "the two passwords differ; nothing was changed"),
        ([], "ngắn\nngắn\n", "the password must have at least 8 characters"),
    ]  # fmt: skip
    for extra, stdin, says in refusals:
        run = await meetingd(tmp_path, "user", "reset-password", "thuky", *extra, *d, stdin=stdin)
        assert run.code == 1, run
        assert run.err.strip().splitlines()[-1] == f"meetingd: {says}", run.err
    run = await meetingd(tmp_path, "user", "reset-password", "thuky",
                         "--password-file", "missing.txt", *d)  # fmt: skip
    assert run.code == 1, run
    assert run.err.strip().splitlines()[-1] == (
        "meetingd: cannot read --password-file missing.txt: No such file or directory"
    )
    run = await meetingd(tmp_path, "user", "reset-password", "thuky", "--password", third, *d)
    assert run.code == 2 and "unrecognized arguments" in run.err
    async with parts_on(data) as parts:
        await parts.services.auth.login("thuky", third, "test")


async def test_bridge_point_disable_enable_and_reset_credential(tmp_path: Path) -> None:
    data = tmp_path / "data"
    d = ["--data-dir", str(data)]
    for args in (
        ["TH", "--name", "Tỉnh Thanh Hóa", "--kind", "province"],
        ["TH-HH", "--name", "Huyện Hoằng Hóa", "--kind", "district", "--parent", "TH"],
    ):
        assert (await meetingd(tmp_path, "unit", "add", *args, *d)).code == 0
    run = await meetingd(tmp_path, "bridge-point", "add", "TH-HH", "--name", "Điểm cầu huyện", *d)
    assert run.code == 0, run.err
    added = json.loads(run.out)
    bp_id, old = str(added["id"]), added["credential"]
    async with parts_on(data) as parts:
        token = (await parts.services.auth.device_login(old, "test")).token

    run = await meetingd(tmp_path, "bridge-point", "disable", bp_id, *d)
    assert run.code == 0, run.err
    assert json.loads(run.out) == {"id": added["id"], "name": "Điểm cầu huyện", "disabled": True}
    async with parts_on(data) as parts:
        assert (await refused(parts.services.auth.authenticate(token))).code == "revoked"
        await refused(parts.services.auth.device_login(old, "test"))

    run = await meetingd(tmp_path, "bridge-point", "enable", bp_id, *d)
    assert run.code == 0 and json.loads(run.out)["disabled"] is False, run.err
    async with parts_on(data) as parts:
        token = (await parts.services.auth.device_login(old, "test")).token

    run = await meetingd(tmp_path, "bridge-point", "reset-credential", bp_id, *d)
    assert run.code == 0, run.err
    reset = json.loads(run.out)
    assert reset["id"] == added["id"] and reset["name"] == "Điểm cầu huyện"
    assert reset["credential"].startswith("mdbp_") and reset["credential"] != old
    assert "only its hash is stored" in run.err
    assert reset["credential"].encode() not in db_files(data)
    async with parts_on(data) as parts:
        assert (await refused(parts.services.auth.authenticate(token))).code == "revoked"
        await refused(parts.services.auth.device_login(old, "test"))
        await parts.services.auth.device_login(reset["credential"], "test")
        async with parts.store.transaction() as uow:
            audit = await uow.audit.for_subject(f"bridge_point:{bp_id}")
    assert [(actor, action) for _, actor, action in audit] == [
        ("cli", "bridge_point.created"),
        ("cli", "bridge_point.updated"),
        ("cli", "bridge_point.updated"),
        ("cli", "bridge_point.credential_rotated"),
    ]


async def test_a_duplicate_unit_code_is_refused(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path / "data")]
    unit = ["unit", "add", "TH", "--name", "Tỉnh", "--kind", "province", *d]
    assert (await meetingd(tmp_path, *unit)).code == 0
    run = await meetingd(tmp_path, *unit)
    assert run.code == 1 and "unit code 'TH' is already taken" in run.err


# -- configuration and help ------------------------------------------------------------------


CONFIG_ERRORS: list[tuple[list[str], dict[str, str], str]] = [
    (["db", "upgrade"], {"MEETINGD_SERVER_PORT": "abc"}, "config: server.port: invalid"),
    (["serve", "--port", "0"], {}, "config: server.port: must be between 1 and 65535"),
    (["demo", "--config", "bad.toml"], {}, "config: server.colour: unknown key"),
    (["db", "upgrade", "--config", "missing.toml"], {}, "config: missing.toml: cannot read"),
    (["unit", "add", "X", "--name", "x", "--kind", "province"],
     {"MEETINGD_AUTH_SIGNING_KEY_FILE": "/nonexistent/key"},
     "config: auth.signing_key_file: cannot read"),
    (["db", "upgrade"], {"MEETINGD_DATABASE_POOL_SIZE": "-3"}, "config: database.pool_size"),
]  # fmt: skip


async def test_bad_configuration_is_one_line_naming_the_key(tmp_path: Path, subtests: Any) -> None:
    (tmp_path / "bad.toml").write_text('[server]\ncolour = "red"\n')
    runs = await asyncio.gather(*(meetingd(tmp_path, *a, **env) for a, env, _ in CONFIG_ERRORS))
    for (_, _, line), run in zip(CONFIG_ERRORS, runs, strict=True):
        with subtests.test(line):
            assert run.code == 2, run
            lines = run.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(line), run.err
            assert run.out == ""


HELP = [
    ([], ["serve", "db", "demo", "user", "unit", "bridge-point", "agent"]),
    (["serve"], ["--host", "--port", "--config", "--data-dir"]),
    (["db", "upgrade"], ["--data-dir"]),
    (["demo"], ["--if-empty", "demo-credentials.json"]),
    (["user", "add"], ["--name", "--role", "--admin", "--password-stdin", "chair@"]),
    (["unit", "add"], ["--kind", "--parent", "province"]),
    (["bridge-point", "add"], ["UNIT_CODE", "--name", "--room"]),
    (["bridge-point"], ["add", "disable", "enable", "reset-credential"]),
    (["bridge-point", "disable"], ["ID", "Redis", "next command"]),
    (["bridge-point", "enable"], ["ID", "log in"]),
    (["bridge-point", "reset-credential"], ["ID", "printed once", "Redis"]),
    (["user"], ["add", "disable", "enable", "reset-password"]),
    (["user", "disable"], ["login", "Redis", "next command"]),
    (["user", "reset-password"], ["--password-file", "asked twice", "Redis"]),
    (["agent"], ["--server", "--credential", "--meeting"]),
]


async def test_help_texts(tmp_path: Path) -> None:
    runs = await asyncio.gather(*(meetingd(tmp_path, *args, "--help") for args, _ in HELP))
    for (args, words), run in zip(HELP, runs, strict=True):
        assert run.code == 0 and run.out.startswith("usage: meetingd"), (args, run.err)
        text = " ".join(run.out.split())  # as wrapped for any terminal width
        for word in words:
            assert word in text, (args, word)


# -- serve -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Path, asyncio.subprocess.Process]]:
    data = tmp_path / "data"
    assert (await meetingd(tmp_path, "demo", "--data-dir", str(data))).code == 0
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "meetingd", "serve", "--data-dir", str(data), "--port", str(port),
        cwd=tmp_path, env=clean_env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", data, proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_serve_answers_health_and_the_demo_login(
    served: tuple[str, Path, asyncio.subprocess.Process],
) -> None:
    url, data, proc = served
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            assert proc.returncode is None, "the server exited"
            try:
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        assert (await resp.json())["database"] == "sqlite"
                        break
            except aiohttp.ClientConnectionError:
                pass
            assert loop.time() < deadline, "no answer on /healthz within 30 s"
            await asyncio.sleep(0.1)
        creds = json.loads((data / "demo-credentials.json").read_text(encoding="utf-8"))
        admin = next(u for u in creds["users"] if u["role"] == "admin")
        body = {"login": admin["login"], "password": admin["password"]}
        async with http.post(f"{url}/api/v1/auth/login", json=body) as resp:
            assert resp.status == 200
            token = (await resp.json())["token"]
        async with http.get(
            f"{url}/api/v1/units", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 200 and len(await resp.json()) > 10
        async with http.get(f"{url}/api/docs") as resp:
            assert resp.status == 200
    proc.terminate()
    out, _ = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0
    text = out.decode()
    assert f"serving on {url}" in text and "demo-credentials.json" in text
