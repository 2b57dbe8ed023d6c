"""The ``meetingd`` command: serve, migrate, seed a demo, and manage units, devices and users."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from meetingd.config import Config, ConfigError, load_config
from meetingd.domain import BridgePoint, MeetingEvent, Role, UnitKind, User
from meetingd.errors import MeetingdError, NotFound
from meetingd.logs import setup_logging

if TYPE_CHECKING:
    from meetingd.app import Parts

logger = logging.getLogger("meetingd")


#: What a running server learns of a right removed from the command line (see the README).
_NOTIFY = (
    "A server running on the same database hears of it at once only when Redis is "
    "configured here too (realtime.redis_url, as for the server): it then closes the open "
    "connections concerned within a second. Without Redis this command cannot tell it (it "
    "has no real-time server): each such connection is refused at its next command (tokens "
    "are checked again at most 1 s after the last check) and until then still receives "
    "the events of its meetings."
)


def _described(what: str, notify: bool) -> str:
    text = what[0].upper() + what[1:] + "."
    return f"{text} {_NOTIFY}" if notify else text


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML configuration file (default: $MEETINGD_CONFIG, else none)",
    )
    common.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where the database, files and secrets live (default: ./data)",
    )

    p = argparse.ArgumentParser(
        prog="meetingd",
        description="Video-conference and paperless-meeting server for local government.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser(
        "serve",
        parents=[common],
        help="run the server",
        description="Run the server. Creates the database schema when the database is empty.",
    )
    s.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port to listen on (default 8080)")

    db = sub.add_parser("db", help="database maintenance")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("upgrade", parents=[common], help="bring the database schema up to date")

    d = sub.add_parser(
        "demo",
        parents=[common],
        help="fill an empty database with a realistic demo",
        description="Seed a demo province with districts, communes, bridge points, one "
        "user per role and a meeting; write the logins to DIR/demo-credentials.json.",
    )
    d.add_argument("--if-empty", action="store_true", help="do nothing if the database has data")

    u = sub.add_parser("user", help="manage users")
    usub = u.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    ua = usub.add_parser("add", parents=[common], help="add a user (asks for the password)")
    ua.add_argument("login")
    ua.add_argument("--name", required=True, help="display name, e.g. 'Nguyễn Văn An'")
    ua.add_argument("--admin", action="store_true", help="may do everything, everywhere")
    ua.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE@UNIT_CODE",
        help="grant a role for a unit, e.g. chair@TH (repeatable); roles: "
        + ", ".join(r.value for r in Role),
    )
    ua.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of asking",
    )
    for verb, what, notify in (
        ("disable", "disable an account: it can no longer log in, its tokens stop working", True),
        ("enable", "enable a disabled account: it may log in again", False),
    ):
        usw = usub.add_parser(
            verb, parents=[common], help=what, description=_described(what, notify)
        )
        usw.add_argument("login")
    urp = usub.add_parser(
        "reset-password",
        parents=[common],
        help="set a new password (asks twice); every earlier login stops working",
        description="Set a new password for LOGIN, asked twice at the prompt or read from "
        "--password-file (never from the command line, where other users could see it); "
        "every token issued before stops working. " + _NOTIFY,
        allow_abbrev=False,  # "--password SECRET" is refused, not taken for a file name
    )
    urp.add_argument("login")
    urp.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="read the new password from the first line of FILE instead of asking",
    )

    un = sub.add_parser("unit", help="manage units")
    unsub = un.add_subparsers(dest="unit_command", required=True, metavar="ACTION")
    una = unsub.add_parser("add", parents=[common], help="add a province, district or commune")
    una.add_argument("code", help="short unique code, e.g. TH-HH")
    una.add_argument("--name", required=True, help="Vietnamese name, e.g. 'Huyện Hoằng Hóa'")
    una.add_argument("--kind", required=True, choices=[k.value for k in UnitKind])
    una.add_argument("--parent", metavar="CODE", help="code of the parent unit")

    bp = sub.add_parser("bridge-point", help="manage bridge points (meeting-room devices)")
    bpsub = bp.add_subparsers(dest="bp_command", required=True, metavar="ACTION")
    bpa = bpsub.add_parser(
        "add", parents=[common], help="register a room device; prints its credential once"
    )
    bpa.add_argument("unit", metavar="UNIT_CODE")
    bpa.add_argument("--name", required=True)
    bpa.add_argument("--room", default="")
    for verb, what, notify in (
        (
            "disable",
            "disable a room device: it can no longer log in, its tokens stop working",
            True,
        ),
        ("enable", "enable a disabled room device: it may log in with its credential again", False),
        (
            "reset-credential",
            "issue a new device credential, printed once; the old one and its tokens stop working",
            True,
        ),
    ):
        bpsw = bpsub.add_parser(
            verb, parents=[common], help=what, description=_described(what, notify)
        )
        bpsw.add_argument("id", type=int, metavar="ID", help="the bridge point's id")

    au = sub.add_parser("audit", help="the audit log")
    ausub = au.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    ausub.add_parser(
        "verify",
        parents=[common],
        help="check the audit log's hash chain (a changed, deleted or reordered row)",
    )
    mi = sub.add_parser("minutes", help="meeting minutes (biên bản)")
    misub = mi.add_subparsers(dest="minutes_command", required=True, metavar="ACTION")
    miv = misub.add_parser(
        "verify",
        parents=[common],
        help="check a signed minutes PDF: its signature, its integrity, the signer",
    )
    miv.add_argument("file", type=Path, metavar="FILE", help="the PDF")

    ag = sub.add_parser(
        "agent",
        help="join a meeting as a headless bridge point",
        description="Join as a bridge point: publish a file or a device, optionally "
        "record what arrives, reconnect by itself.",
    )
    ag.add_argument("--server", required=True, help="server URL, e.g. http://127.0.0.1:8080")
    ag.add_argument(
        "--credential",
        required=True,
        type=Path,
        metavar="FILE",
        help="file holding the device credential",
    )
    ag.add_argument("--meeting", type=int, help="meeting id (default: the live or next one)")
    ag.add_argument("--video", help="video source: a file (looped) or a device like /dev/video0")
    ag.add_argument("--audio", help="audio source: a file (looped) or a device")
    ag.add_argument("--record", type=Path, metavar="FILE", help="record what is received")
    ag.add_argument(
        "--local-ip",
        action="append",
        metavar="IP",
        help="only offer ICE candidates on this address (repeatable), e.g. 127.0.0.1",
    )
    return p


def _config(args: argparse.Namespace) -> Config:
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["server.data_dir"] = args.data_dir
    if getattr(args, "host", None) is not None:
        overrides["server.host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["server.port"] = args.port
    return load_config(getattr(args, "config", None), overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args) if args.command != "agent" else None
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if config is not None:
        setup_logging(config.server.log_level)
        Path(config.server.data_dir).mkdir(parents=True, exist_ok=True)
    else:
        setup_logging("INFO")
    try:
        if args.command == "serve":
            assert config is not None
            return _serve(config)
        if args.command == "agent":
            return _agent(args)
        assert config is not None
        return asyncio.run(_run_command(args, config))
    except MeetingdError as exc:
        print(f"meetingd: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(config: Config) -> int:
    from meetingd.api.reading import serve_reading
    from meetingd.app import create_app
    from meetingd.store.migrate import SchemaMismatch

    try:
        app = create_app(config)
    except ConfigError as exc:  # e.g. an empty or short signing-key file
        print(exc, file=sys.stderr)
        return 2
    # documents.read_listen: the readers' range requests, in a process of their own
    serve_reading(app, config, process=config.documents.read_process)
    url = config.server.public_url
    creds = Path(config.server.data_dir) / "demo-credentials.json"
    print(f"meetingd serving on {url}  (API docs: {url}/api/docs)", flush=True)
    if creds.exists():
        print(f"demo logins and device credentials: {creds.resolve()}", flush=True)
    app.on_startup.append(_freeze_startup_objects)  # last: after the store and socket.io
    try:
        web.run_app(
            app, host=config.server.host, port=config.server.port, print=None, access_log=None
        )
    except SchemaMismatch as exc:
        print(f"meetingd: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:  # documents.read_listen that cannot be listened on
        print(exc, file=sys.stderr)
        return 2
    return 0


async def _freeze_startup_objects(app: web.Application) -> None:
    """Keep what start-up built (modules, mappers, schemas, the command table) out of the
    garbage collector's full passes: they live as long as the process, and scanning them
    paused the event loop for 100-300 ms at a time, delaying every ack and event."""
    gc.collect()
    gc.freeze()


def _agent(args: argparse.Namespace) -> int:
    from media.agent_cli import main as agent_main

    result: int = agent_main(args)
    return result


async def _with_parts(config: Config, fn: Callable[..., Awaitable[int]]) -> int:
    from meetingd.app import build
    from meetingd.store.migrate import upgrade

    parts = build(config)
    notices = _RedisNotices(config) if config.realtime.redis_url else None
    parts.store.publisher = notices
    try:
        await upgrade(parts.store.engine)
        return await fn(parts)
    finally:
        await parts.store.close()
        if notices is not None:
            await notices.close()


class _RedisNotices:
    """Tells the running servers, over their Redis channel, what this process committed.

    The command line has no real-time server of its own: without this, a server on the
    same database would learn of a removed right only at the next command of each
    connection concerned (see ``RECHECK_SECONDS`` in :mod:`meetingd.realtime.namespace`).
    """

    def __init__(self, config: Config) -> None:
        import redis.asyncio as aioredis

        from meetingd.realtime.bus import RedisEventBus

        rc = config.realtime
        self._node = f"cli-{os.getpid()}"
        # The bus names the channel; it is not started (nothing is received here).
        self._channel = RedisEventBus(rc.redis_url, rc.redis_channel, self._node, _ignore).channel
        self._redis = aioredis.Redis.from_url(
            rc.redis_url, socket_connect_timeout=3, socket_timeout=3
        )

    async def publish(self, events: Sequence[MeetingEvent]) -> None:
        await self._send(list(events), [])

    async def rights_changed(self, keys: Sequence[str]) -> None:
        await self._send([], list(keys))

    async def _send(self, events: list[MeetingEvent], keys: list[str]) -> None:
        from redis.exceptions import RedisError

        from meetingd.realtime.bus import encode

        try:
            await self._redis.publish(self._channel, encode(self._node, events, keys))
        except (RedisError, OSError) as exc:
            logger.warning(
                "could not tell the running servers through Redis (%s): open connections "
                "concerned are refused at their next command",
                exc,
            )

    async def close(self) -> None:
        await self._redis.aclose()


def _ignore(events: list[MeetingEvent]) -> None:
    """Nothing is received from the bus by the command line."""


async def _run_command(args: argparse.Namespace, config: Config) -> int:
    if args.command in ("audit", "minutes"):
        from meetingd import record_cli

        return await record_cli.run(args, config)
    if args.command == "db":

        async def _up(parts: Parts) -> int:
            print("database schema is up to date")
            return 0

        return await _with_parts(config, _up)

    if args.command == "demo":
        from meetingd import demo

        async def _demo(parts: Parts) -> int:
            if await demo.has_data(parts):
                if args.if_empty:
                    print("the database already has data; demo not seeded")
                    return 0
                print(
                    "meetingd: the database already has data; the demo needs an empty one",
                    file=sys.stderr,
                )
                return 1
            data_dir = Path(config.server.data_dir)
            await demo.seed(parts, data_dir)
            print(f"demo seeded; logins in {data_dir / 'demo-credentials.json'}")
            return 0

        return await _with_parts(config, _demo)

    if args.command == "unit":

        async def _unit(parts: Parts) -> int:
            parent_id = None
            if args.parent:
                async with parts.store.transaction() as uow:
                    parent = await uow.units.get_by_code(args.parent)
                if parent is None:
                    raise MeetingdError(f"no unit with code {args.parent!r}")
                parent_id = parent.id
            unit = await parts.services.directory.create_unit(
                None, code=args.code, name=args.name, kind=UnitKind(args.kind), parent_id=parent_id
            )
            print(
                json.dumps(
                    {"id": unit.id, "code": unit.code, "name": unit.name}, ensure_ascii=False
                )
            )
            return 0

        return await _with_parts(config, _unit)

    if args.command == "bridge-point":
        if args.bp_command in ("disable", "enable"):
            disable = args.bp_command == "disable"

            async def _bp_switch(parts: Parts) -> int:
                bp = await _set_bridge_point_disabled(parts, args.id, disable)
                print(json.dumps({"id": bp.id, "name": bp.name, "disabled": disable}))
                return 0

            return await _with_parts(config, _bp_switch)

        async def _bp(parts: Parts) -> int:
            if args.bp_command == "reset-credential":
                bp, credential = await _reset_credential(parts, args.id)
            else:
                async with parts.store.transaction() as uow:
                    unit = await uow.units.get_by_code(args.unit)
                if unit is None:
                    raise MeetingdError(f"no unit with code {args.unit!r}")
                new = await parts.services.directory.create_bridge_point(
                    None, unit_id=unit.id, name=args.name, room=args.room
                )
                bp, credential = new.bridge_point, new.credential
            print(
                json.dumps(
                    {"id": bp.id, "name": bp.name, "credential": credential}, ensure_ascii=False
                )
            )
            print("Keep the credential now: only its hash is stored.", file=sys.stderr)
            return 0

        return await _with_parts(config, _bp)

    if args.command == "user":
        if args.user_command in ("disable", "enable"):
            disable = args.user_command == "disable"

            async def _user_switch(parts: Parts) -> int:
                user = await _set_user_disabled(parts, args.login, disable)
                print(json.dumps({"id": user.id, "login": user.login, "disabled": disable}))
                return 0

            return await _with_parts(config, _user_switch)

        if args.user_command == "reset-password":

            async def _reset(parts: Parts) -> int:
                user = await _user_by_login(parts, args.login)
                password = _new_password(args.password_file, confirm=True)
                await parts.services.directory.reset_password(None, user.id, password)
                print(json.dumps({"id": user.id, "login": user.login}, ensure_ascii=False))
                print("Every earlier login of this user has stopped working.", file=sys.stderr)
                return 0

            return await _with_parts(config, _reset)

        async def _user(parts: Parts) -> int:
            grants: list[tuple[int, Role]] = []
            for spec in args.role:
                role_name, _, code = spec.partition("@")
                try:
                    role = Role(role_name)
                except ValueError:
                    raise MeetingdError(f"unknown role {role_name!r} in --role {spec}") from None
                async with parts.store.transaction() as uow:
                    unit = await uow.units.get_by_code(code)
                if unit is None:
                    raise MeetingdError(f"no unit with code {code!r} in --role {spec}")
                grants.append((unit.id, role))
            password = (
                _checked(sys.stdin.readline().rstrip("\n"))
                if args.password_stdin
                else _new_password(None, confirm=False)
            )
            user = await parts.services.directory.create_user(
                None,
                login=args.login,
                display_name=args.name,
                password=password,
                is_admin=args.admin,
                grants=grants,
            )
            print(json.dumps({"id": user.id, "login": user.login}, ensure_ascii=False))
            return 0

        return await _with_parts(config, _user)
    raise AssertionError(args.command)


# -- accounts and devices -----------------------------------------------------------------
#
# These act as an administrator at the console (principal None): the audit names the actor
# "cli". The running servers hear of a removed right through Redis when it is configured;
# without it, each connection is refused at its next command (tokens are re-checked at most
# a second after their last check).


async def _user_by_login(parts: Parts, login: str) -> User:
    async with parts.store.transaction() as uow:
        found = await uow.users.get_login(login.strip().lower())
    if found is None:
        raise MeetingdError(f"no user with login {login!r}")
    return found[0]


async def _set_user_disabled(parts: Parts, login: str, disabled: bool) -> User:
    user = await _user_by_login(parts, login)
    return await parts.services.directory.set_user_disabled(None, user.id, disabled)


async def _set_bridge_point_disabled(parts: Parts, bp_id: int, disabled: bool) -> BridgePoint:
    try:
        return await parts.services.directory.update_bridge_point(None, bp_id, disabled=disabled)
    except NotFound:
        raise MeetingdError(f"no bridge point with id {bp_id}") from None


async def _reset_credential(parts: Parts, bp_id: int) -> tuple[BridgePoint, str]:
    try:
        new = await parts.services.directory.rotate_credential(None, bp_id)
    except NotFound:
        raise MeetingdError(f"no bridge point with id {bp_id}") from None
    return new.bridge_point, new.credential


def _new_password(path: Path | None, *, confirm: bool) -> str:
    """A new password from the first line of ``path``, else asked at the prompt."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MeetingdError(f"cannot read --password-file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise MeetingdError(f"--password-file {path} is not UTF-8 text") from None
        return _checked(text.splitlines()[0] if text else "")
    password = _checked(getpass.getpass("new password: " if confirm else "password: "))
    if confirm and getpass.getpass("repeat it: ") != password:
        raise MeetingdError("the two passwords differ; nothing was changed")
    return password


def _checked(password: str) -> str:
    if len(password) < 8:
        raise MeetingdError("the password must have at least 8 characters")
    return password


if __name__ == "__main__":
    sys.exit(main())
