"""The ``meetingd`` command: serve, migrate, seed a demo, and register units, devices and users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from meetingd.config import Config, ConfigError, load_config
from meetingd.domain import Role, UnitKind
from meetingd.errors import MeetingdError
from meetingd.logs import setup_logging

logger = logging.getLogger("meetingd")


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
    from meetingd.app import create_app

    app = create_app(config)
    url = config.server.public_url
    creds = Path(config.server.data_dir) / "demo-credentials.json"
    print(f"meetingd serving on {url}  (API docs: {url}/api/docs)", flush=True)
    if creds.exists():
        print(f"demo logins and device credentials: {creds.resolve()}", flush=True)
    web.run_app(app, host=config.server.host, port=config.server.port, print=None, access_log=None)
    return 0


def _agent(args: argparse.Namespace) -> int:
    from media.agent_cli import main as agent_main

    result: int = agent_main(args)
    return result


async def _with_parts(config: Config, fn: Callable[..., Awaitable[int]]) -> int:
    from meetingd.app import build
    from meetingd.store.migrate import upgrade

    parts = build(config)
    try:
        await upgrade(parts.store.engine)
        return await fn(parts)
    finally:
        await parts.store.close()


async def _run_command(args: argparse.Namespace, config: Config) -> int:
    from meetingd.app import Parts

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

        async def _bp(parts: Parts) -> int:
            async with parts.store.transaction() as uow:
                unit = await uow.units.get_by_code(args.unit)
            if unit is None:
                raise MeetingdError(f"no unit with code {args.unit!r}")
            new = await parts.services.directory.create_bridge_point(
                None, unit_id=unit.id, name=args.name, room=args.room
            )
            print(
                json.dumps(
                    {
                        "id": new.bridge_point.id,
                        "name": new.bridge_point.name,
                        "credential": new.credential,
                    },
                    ensure_ascii=False,
                )
            )
            print("Keep the credential now: only its hash is stored.", file=sys.stderr)
            return 0

        return await _with_parts(config, _bp)

    if args.command == "user":

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
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = getpass.getpass("password: ")
            if len(password) < 8:
                raise MeetingdError("the password must have at least 8 characters")
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


if __name__ == "__main__":
    sys.exit(main())
