"""Configuration: a TOML file, then ``MEETINGD_*`` environment variables, then CLI overrides.

Everything is read and checked once, at start-up, into frozen dataclasses; a mistake stops the
server with one line naming the key (``config: server.port: must be between 1 and 65535``)
instead of surfacing later as a confusing failure. ``config/meetingd.example.toml`` documents
every key.

Secrets (``database.password``, ``auth.signing_key``, ``media.turn_secret``,
``server.metrics_token``) can be read from a file instead, by giving ``<key>_file`` (TOML) or
``MEETINGD_<SECTION>_<KEY>_FILE`` (env).

The dataclasses can be built directly in tests; only :func:`load_config` validates.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "AuthConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DocumentsConfig",
    "MediaConfig",
    "RealtimeConfig",
    "ServerConfig",
    "load_config",
]

ENV_PREFIX = "MEETINGD_"
ENV_CONFIG_FILE = "MEETINGD_CONFIG"
REDACTED = "***"


class ConfigError(Exception):
    """A configuration value is missing, unknown or invalid; ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = " ".join(message.split())  # always one line
        super().__init__(key, self.message)

    def __str__(self) -> str:
        return f"config: {self.key}: {self.message}"


@dataclass(frozen=True)
class ServerConfig:
    """The HTTP listener and where data is kept."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    #: The URL clients reach us at; load_config derives ``http://host:port`` when empty.
    public_url: str = ""
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    max_json_depth: int = 64
    #: Bearer token that unlocks the per-connection series of ``/metrics`` (meeting ids,
    #: participants, connections). Empty: ``/metrics`` shows aggregates only, to anyone.
    metrics_token: str = field(default="", repr=False)
    #: Reverse proxies (IP addresses or CIDRs) whose ``X-Forwarded-For`` is believed; the
    #: client is the right-most address in it that is not one of them. Empty: never read.
    trusted_proxies: tuple[str, ...] = ()
    #: The built front end served at ``/`` (``make web-build``). Empty: ``web/dist`` of the
    #: source tree.
    web_dir: str = ""


@dataclass(frozen=True, repr=False)
class DatabaseConfig:
    """The SQLAlchemy database; SQLite in ``data_dir`` unless a PostgreSQL URL is given."""

    #: load_config fills in ``sqlite+aiosqlite:///<data_dir>/meetingd.sqlite3`` when empty
    #: and merges ``password`` into a PostgreSQL URL.
    url: str = ""
    password: str = ""
    pool_size: int = 10
    echo: bool = False
    #: ``serve`` on a database at an older schema revision migrates it instead of refusing.
    auto_migrate: bool = False

    def __repr__(self) -> str:
        return (
            f"DatabaseConfig(url={_redact_url(self.url)!r}, pool_size={self.pool_size!r}, "
            f"echo={self.echo!r}, auto_migrate={self.auto_migrate!r})"
        )


@dataclass(frozen=True)
class AuthConfig:
    """Tokens, login throttling and password hashing."""

    #: Empty means the app generates one and keeps it in ``data_dir/signing-key``.
    signing_key: str = field(default="", repr=False)
    token_ttl_seconds: int = 43_200
    device_token_ttl_seconds: int = 2_592_000
    login_attempts_per_minute_account: int = 5
    login_attempts_per_minute_address: int = 20
    #: Longest wait imposed on an account after repeated wrong passwords (doubling up to it).
    login_max_delay_seconds: float = 30.0
    #: Accounts and addresses whose login attempts are remembered (least recent forgotten).
    login_tracked_keys: int = 100_000
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19_456


@dataclass(frozen=True)
class RealtimeConfig:
    """The socket.io layer: fan-out backend, event log, rate limits and liveness."""

    #: Empty means in-process fan-out (a single server process).
    redis_url: str = ""
    #: Pub/sub channel prefix; processes sharing it (and the database) form one deployment.
    redis_channel: str = "meetingd"
    event_log_size: int = 1000
    commands_per_second: int = 20
    command_burst: int = 40
    offline_after_seconds: float = 5.0
    ping_interval: float = 2.0
    ping_timeout: float = 3.0
    #: Packets one connection's outgoing queue may hold; a client that reads nothing (a
    #: slow consumer) is dropped when its queue is full instead of growing it.
    max_queued_packets: int = 1000


@dataclass(frozen=True)
class MediaConfig:
    """The WebRTC media server: addresses, ICE/TURN and forwarding."""

    listen_ips: tuple[str, ...] = ("127.0.0.1",)
    announced_ip: str = ""
    ice_servers: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = field(default="", repr=False)
    turn_ttl_seconds: int = 86_400
    video_page_size: int = 16
    stats_interval_seconds: float = 2.0
    #: With Redis: the cascade link socket other media nodes send this node's meetings'
    #: media to, ``host:port`` (port 0: any free one).
    cascade_address: str = "127.0.0.1:0"
    #: The ``host:port`` other nodes are told to send to (empty: the address bound).
    cascade_announce: str = ""


@dataclass(frozen=True)
class DocumentsConfig:
    """Uploaded documents: size and checking limits, conversion, signatures, watermarks."""

    #: Largest upload accepted, enforced while it streams in (413 past it).
    max_upload_bytes: int = 100 * 1024 * 1024
    #: Most pages a document may have.
    max_pages: int = 2000
    #: Most bytes a PDF's streams may decompress to (decompression bombs are refused).
    max_decompressed_bytes: int = 512 * 1024 * 1024
    #: Seconds one check (or watermark) may take before its worker is killed.
    check_seconds: float = 30.0
    #: Address-space ceiling of each checking worker (RLIMIT_AS).
    check_memory_bytes: int = 1024 * 1024 * 1024
    #: Checking workers (processes) running at once.
    check_workers: int = 2
    #: The LibreOffice executable that converts office documents to PDF.
    soffice: str = "soffice"
    #: Seconds and address space one conversion may use.
    convert_seconds: float = 120.0
    convert_memory_bytes: int = 4 * 1024 * 1024 * 1024
    #: Certificates (PEM or DER files) that signatures are trusted up to.
    trust_roots: tuple[str, ...] = ()
    #: The TrueType font of watermarks (must cover Vietnamese).
    watermark_font: str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    #: Where the reading port listens (``host:port``): readers' range requests under a grant
    #: are answered there without the app's router and middleware. Empty: ``server.host``,
    #: ``server.port + 1`` when ``meetingd serve`` starts (if that port is taken, readers
    #: fetch from the main port); ``"off"``: no reading port.
    read_listen: str = ""
    #: The reading port's address as browsers reach it (``https://host[:port]``, a proxy's),
    #: when it is not ``http://<the host the browser used>:<the reading port>``.
    read_public_url: str = ""
    #: Serve the reading port from a process of its own (``meetingd serve``), so readers'
    #: range requests and the meeting's commands do not wait for each other; false: on the
    #: server's own event loop.
    read_process: bool = True


@dataclass(frozen=True)
class MinutesConfig:
    """The minutes ("biên bản"): who issues them, where, and the key that signs them."""

    #: The issuing body printed top left, e.g. "ỦY BAN NHÂN DÂN HUYỆN HOẰNG HÓA" (default:
    #: the meeting's unit, in capitals); ``parent_body`` is the line above it, if any.
    issuing_body: str = ""
    parent_body: str = ""
    #: The place before the date ("Hoằng Hóa, ngày ..."; default: the unit's name).
    place: str = ""
    #: The organisation's signing certificate and key: a PKCS#12 file and its password, or a
    #: PEM key and certificate. With none, ``data_dir/minutes-signing.p12`` (and
    #: ``minutes-signing.password`` beside it) are used when present (the demo makes them).
    signing_pkcs12: str = ""
    signing_pkcs12_password: str = field(default="", repr=False)
    signing_key: str = ""
    signing_cert: str = ""
    #: Certificates (PEM or DER) that ``meetingd minutes verify`` trusts besides the signer's.
    trust_roots: tuple[str, ...] = ()
    #: The serif font family of the PDF (Debian fonts-liberation2: Liberation Serif, metric-
    #: compatible with Times New Roman): the directory holding its four TTF files.
    font_dir: str = "/usr/share/fonts/truetype/liberation2"


@dataclass(frozen=True)
class Config:
    """The whole configuration, one frozen dataclass per section."""

    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    realtime: RealtimeConfig = field(default_factory=RealtimeConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    documents: DocumentsConfig = field(default_factory=DocumentsConfig)
    minutes: MinutesConfig = field(default_factory=MinutesConfig)

    def redacted(self) -> dict[str, dict[str, object]]:
        """Return the configuration as plain data with secrets masked, for start-up logging."""
        out: dict[str, dict[str, object]] = {}
        for setting in _SETTINGS.values():
            value: object = getattr(getattr(self, setting.section), setting.key)
            if setting.secret and value:
                value = REDACTED
            elif setting.dotted == "database.url":
                value = _redact_url(str(value))
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out.setdefault(setting.section, {})[setting.key] = value
        return out


_SECTIONS: dict[str, type] = {
    "server": ServerConfig,
    "database": DatabaseConfig,
    "auth": AuthConfig,
    "realtime": RealtimeConfig,
    "media": MediaConfig,
    "documents": DocumentsConfig,
    "minutes": MinutesConfig,
}
_SECRETS = frozenset(
    {
        "database.password",
        "auth.signing_key",
        "media.turn_secret",
        "server.metrics_token",
        "minutes.signing_pkcs12_password",
    }
)
_FILE_SUFFIX = "_file"

_Kind = Literal["str", "int", "float", "bool", "path", "strs"]
_KINDS: dict[object, _Kind] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    Path: "path",
    tuple[str, ...]: "strs",
}


@dataclass(frozen=True)
class _Setting:
    section: str
    key: str
    kind: _Kind
    secret: bool

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env(self) -> str:
        return f"{ENV_PREFIX}{self.section}_{self.key}".upper()


def _settings() -> dict[str, _Setting]:
    settings = {}
    for section, cls in _SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            dotted = f"{section}.{f.name}"
            settings[dotted] = _Setting(section, f.name, _KINDS[hints[f.name]], dotted in _SECRETS)
    return settings


_SETTINGS = _settings()

# Inclusive numeric ranges, checked after the layers are merged.
_DAY = 86_400
_RANGES: dict[str, tuple[float, float]] = {
    "server.port": (1, 65_535),
    "server.max_body_bytes": (1024, 1 << 30),
    "server.max_json_depth": (1, 1000),
    "database.pool_size": (1, 1000),
    "auth.token_ttl_seconds": (60, 30 * _DAY),
    "auth.device_token_ttl_seconds": (60, 366 * _DAY),
    "auth.login_attempts_per_minute_account": (1, 10_000),
    "auth.login_attempts_per_minute_address": (1, 10_000),
    "auth.login_max_delay_seconds": (1, 3600),
    "auth.login_tracked_keys": (100, 10_000_000),
    "auth.argon2_time_cost": (1, 100),
    "auth.argon2_memory_kib": (8, 4 * 1024 * 1024),
    "realtime.event_log_size": (10, 1_000_000),
    "realtime.commands_per_second": (1, 10_000),
    "realtime.command_burst": (1, 100_000),
    "realtime.offline_after_seconds": (0.1, 3600),
    "realtime.ping_interval": (0.1, 3600),
    "realtime.ping_timeout": (0.1, 3600),
    "realtime.max_queued_packets": (10, 1_000_000),
    "media.turn_ttl_seconds": (60, 7 * _DAY),
    "media.video_page_size": (1, 100),
    "media.stats_interval_seconds": (0.1, 3600),
    "documents.max_upload_bytes": (1024, 1 << 40),
    "documents.max_pages": (1, 100_000),
    "documents.max_decompressed_bytes": (1 << 20, 1 << 40),
    "documents.check_seconds": (1, 3600),
    "documents.check_memory_bytes": (64 << 20, 1 << 40),
    "documents.check_workers": (1, 64),
    "documents.convert_seconds": (1, 3600),
    "documents.convert_memory_bytes": (256 << 20, 1 << 40),
}
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_MIN_SIGNING_KEY_CHARS = 32
_MIN_METRICS_TOKEN_CHARS = 16


# --- reading the layers -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Given:
    """One value from one layer, before the layers are merged."""

    setting: _Setting
    from_file: bool  # the value is the path of a file holding the secret
    value: object
    origin: str  # for messages: "", "from MEETINGD_SERVER_PORT", ...

    @property
    def name(self) -> str:
        return self.setting.dotted + (_FILE_SUFFIX if self.from_file else "")


def _lookup(dotted: str) -> tuple[_Setting, bool] | None:
    if dotted in _SETTINGS:
        return _SETTINGS[dotted], False
    if dotted.endswith(_FILE_SUFFIX):
        setting = _SETTINGS.get(dotted.removesuffix(_FILE_SUFFIX))
        if setting is not None and setting.secret:
            return setting, True
    return None


def _from_toml(path: Path) -> Iterator[_Given]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(str(path), f"cannot read the configuration file: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), f"invalid TOML: {e}") from e
    for section, table in data.items():
        if section not in _SECTIONS:
            raise ConfigError(section, f"unknown section (known: {', '.join(_SECTIONS)})")
        if not isinstance(table, dict):
            raise ConfigError(section, "must be a table ([section])")
        for key, value in table.items():
            dotted = f"{section}.{key}"
            found = _lookup(dotted)
            if found is None:
                raise ConfigError(dotted, f"unknown key in {path}")
            setting, from_file = found
            yield _Given(setting, from_file, _strict(dotted, setting, from_file, value), "")


def _env_names() -> dict[str, tuple[_Setting, bool]]:
    names = {}
    for setting in _SETTINGS.values():
        names[setting.env] = (setting, False)
        if setting.secret:
            names[setting.env + _FILE_SUFFIX.upper()] = (setting, True)
    return names


_ENV_NAMES = _env_names()


def _from_env(env: Mapping[str, str]) -> Iterator[_Given]:
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_FILE:
            continue
        if name not in _ENV_NAMES:
            raise ConfigError(name, "unknown environment variable")
        setting, from_file = _ENV_NAMES[name]
        dotted = setting.dotted + (_FILE_SUFFIX if from_file else "")
        value = _coerce(dotted, setting, from_file, env[name], f"(from {name})")
        yield _Given(setting, from_file, value, f"(from {name})")


def _from_overrides(overrides: Mapping[str, object]) -> Iterator[_Given]:
    origin = "(from the command line)"
    for dotted, value in overrides.items():
        if value is None:  # an option that was not given
            continue
        found = _lookup(dotted)
        if found is None:
            raise ConfigError(dotted, "unknown setting")
        setting, from_file = found
        if isinstance(value, str):
            value = _coerce(dotted, setting, from_file, value, origin)
        else:
            value = _strict(dotted, setting, from_file, value, origin)
        yield _Given(setting, from_file, value, origin)


# --- types ------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list"}.get(
        type(value), type(value).__name__
    )


def _strict(
    dotted: str, setting: _Setting, from_file: bool, value: object, origin: str = ""
) -> object:
    """Check a value that arrives already typed (TOML, or a non-string override)."""

    def wrong(expected: str) -> ConfigError:
        got = _type_name(value)
        return ConfigError(dotted, f"expected {expected}, got {got} {value!r} {origin}")

    kind: _Kind = "path" if from_file else setting.kind
    match kind:
        case "str":
            if not isinstance(value, str):
                raise wrong("a string")
            return value
        case "path":
            if isinstance(value, Path):
                return value
            if not isinstance(value, str):
                raise wrong("a path string")
            return _coerce(dotted, setting, from_file, value, origin)
        case "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise wrong("an integer")
            return value
        case "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise wrong("a number")
            if not math.isfinite(value):
                raise ConfigError(dotted, f"must be a finite number {origin}")
            return float(value)
        case "bool":
            if not isinstance(value, bool):
                raise wrong("true or false")
            return value
        case "strs":
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise wrong("a list of strings")
            return tuple(value)


def _coerce(dotted: str, setting: _Setting, from_file: bool, text: str, origin: str) -> object:
    """Convert a string (environment variable or command-line flag) to the setting's type."""
    kind: _Kind = "path" if from_file else setting.kind
    match kind:
        case "str":
            return text
        case "path":
            if not text.strip():
                raise ConfigError(dotted, f"must not be empty {origin}")
            return Path(text).expanduser()
        case "int":
            try:
                return int(text.strip())
            except ValueError:
                raise ConfigError(dotted, f"invalid integer {text!r} {origin}") from None
        case "float":
            try:
                number = float(text.strip())
            except ValueError:
                raise ConfigError(dotted, f"invalid number {text!r} {origin}") from None
            if not math.isfinite(number):
                raise ConfigError(dotted, f"must be a finite number {origin}")
            return number
        case "bool":
            word = text.strip().lower()
            if word in ("true", "1"):
                return True
            if word in ("false", "0"):
                return False
            raise ConfigError(dotted, f"invalid boolean {text!r} (use true/false/1/0) {origin}")
        case "strs":
            return tuple(part.strip() for part in text.split(",") if part.strip())


# --- loading ----------------------------------------------------------------------------------


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Config:
    """Read, merge and validate the configuration; raise :class:`ConfigError` on any mistake.

    ``path`` is the TOML file (default: ``$MEETINGD_CONFIG``, else none). ``env`` defaults to
    ``os.environ``. ``overrides`` maps dotted keys (``"server.port"``) to values from the
    command line; ``None`` values are ignored. Later layers win: file, environment, overrides.
    Within one layer a secret may be given directly or as ``<key>_file``, not both.
    """
    if env is None:
        env = os.environ
    if path is None and env.get(ENV_CONFIG_FILE):
        path = Path(env[ENV_CONFIG_FILE]).expanduser()

    layers = [
        _from_toml(path) if path is not None else iter(()),
        _from_env(env),
        _from_overrides(overrides or {}),
    ]
    merged: dict[str, _Given] = {}
    for layer in layers:
        seen: dict[str, _Given] = {}
        for given in layer:
            other = seen.get(given.setting.dotted)
            if other is not None and other.from_file != given.from_file:
                plain = given.setting.dotted
                raise ConfigError(
                    plain, f"give either {plain} or {plain}{_FILE_SUFFIX}, not both {given.origin}"
                )
            seen[given.setting.dotted] = given
        merged.update(seen)

    values: dict[str, dict[str, object]] = {section: {} for section in _SECTIONS}
    for given in merged.values():
        value = _read_secret(given) if given.from_file else given.value
        values[given.setting.section][given.setting.key] = value

    server = ServerConfig(**values["server"])  # type: ignore[arg-type]
    data_dir = Path.cwd() / server.data_dir.expanduser()
    server = dataclasses.replace(server, data_dir=data_dir)
    config = Config(
        server=server,
        database=DatabaseConfig(**values["database"]),  # type: ignore[arg-type]
        auth=AuthConfig(**values["auth"]),  # type: ignore[arg-type]
        realtime=RealtimeConfig(**values["realtime"]),  # type: ignore[arg-type]
        media=MediaConfig(**values["media"]),  # type: ignore[arg-type]
        documents=DocumentsConfig(**values["documents"]),  # type: ignore[arg-type]
        minutes=MinutesConfig(**values["minutes"]),  # type: ignore[arg-type]
    )
    origins = {dotted: given.origin for dotted, given in merged.items()}
    _validate(config, origins)
    return _derive(config)


def _read_secret(given: _Given) -> str:
    path = given.value
    assert isinstance(path, Path)
    path = Path.cwd() / path
    try:
        secret = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ConfigError(given.name, f"cannot read {path}: {reason} {given.origin}") from e
    if not secret:
        raise ConfigError(given.name, f"{path} is empty {given.origin}")
    return secret


# --- validation -------------------------------------------------------------------------------


def _validate(config: Config, origins: Mapping[str, str]) -> None:
    def fail(dotted: str, message: str) -> ConfigError:
        return ConfigError(dotted, f"{message} {origins.get(dotted, '')}")

    for dotted, (low, high) in _RANGES.items():
        section, key = dotted.split(".")
        value = getattr(getattr(config, section), key)
        if not low <= value <= high:
            raise fail(dotted, f"must be between {low:g} and {high:g}, got {value!r}")

    server, database, auth = config.server, config.database, config.auth
    realtime, media = config.realtime, config.media

    if not server.host.strip():
        raise fail("server.host", "must not be empty")
    if server.public_url:
        parts = urlsplit(server.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail("server.public_url", "must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment:
            raise fail("server.public_url", "must not have a query or fragment")
    if server.log_level.upper() not in _LOG_LEVELS:
        raise fail("server.log_level", f"unknown level {server.log_level!r}")
    if server.metrics_token and len(server.metrics_token) < _MIN_METRICS_TOKEN_CHARS:
        raise fail(
            "server.metrics_token", f"must be at least {_MIN_METRICS_TOKEN_CHARS} characters"
        )
    for proxy in server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise fail("server.trusted_proxies", f"not an IP address or CIDR: {proxy!r}") from None

    _check_database(database, fail)

    if auth.signing_key and len(auth.signing_key) < _MIN_SIGNING_KEY_CHARS:
        raise fail(
            "auth.signing_key",
            f"must be at least {_MIN_SIGNING_KEY_CHARS} characters (or empty to generate one)",
        )

    if realtime.redis_url:
        scheme = _scheme(realtime.redis_url)
        if scheme not in ("redis", "rediss"):
            raise fail(
                "realtime.redis_url",
                f"unsupported scheme {scheme!r} (use redis:// or rediss://,"
                " or leave empty for a single process)",
            )
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,100}", realtime.redis_channel):
        raise fail(
            "realtime.redis_channel",
            "must be 1 to 100 letters, digits or . _ : - characters",
        )
    if realtime.command_burst < realtime.commands_per_second:
        raise fail("realtime.command_burst", "must be at least realtime.commands_per_second")

    if not media.listen_ips:
        raise fail("media.listen_ips", "must list at least one address")
    for ip in media.listen_ips:
        if not _is_ip(ip):
            raise fail("media.listen_ips", f"not an IP address: {ip!r}")
    if media.announced_ip and not _is_ip(media.announced_ip):
        raise fail("media.announced_ip", f"not an IP address: {media.announced_ip!r}")
    for name, text in (
        ("media.cascade_address", media.cascade_address),
        ("media.cascade_announce", media.cascade_announce),
    ):
        if (text or name == "media.cascade_address") and host_port(text) is None:
            raise fail(name, f"not an IP address and port (host:port, [v6]:port): {text!r}")
    announce = host_port(media.cascade_announce) if media.cascade_announce else None
    bound = host_port(media.cascade_address)
    if announce is not None and (
        ipaddress.ip_address(announce[0]).is_unspecified or not announce[1]
    ):
        raise fail("media.cascade_announce", "must name the address and port other nodes send to")
    if announce is None and bound is not None and ipaddress.ip_address(bound[0]).is_unspecified:
        raise fail(
            "media.cascade_announce",
            "must be set when media.cascade_address binds every interface (0.0.0.0 or ::)",
        )
    for url in media.ice_servers:
        if _ice_scheme(url) not in ("stun", "turn", "turns"):
            raise fail("media.ice_servers", f"not a stun:, turn: or turns: URL: {url!r}")
    for url in media.turn_urls:
        if _ice_scheme(url) not in ("turn", "turns"):
            raise fail("media.turn_urls", f"not a turn: or turns: URL: {url!r}")
    if media.turn_urls and not media.turn_secret:
        raise fail("media.turn_secret", "is required when media.turn_urls is set")

    docs = config.documents
    listen = docs.read_listen.strip()
    if listen not in ("", "off"):
        try:
            split_listen(listen)
        except ValueError:
            raise fail(
                "documents.read_listen", f'must be host:port, empty or "off", got {listen!r}'
            ) from None
    if docs.read_public_url:
        parts = urlsplit(docs.read_public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail(
                "documents.read_public_url", "must be an http:// or https:// URL with a host"
            )
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise fail("documents.read_public_url", "must be scheme://host[:port] only")


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) as (host, port); raises ValueError."""
    host, sep, port_text = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host.strip() or not port_text.isdigit() or int(port_text) > 65_535:
        raise ValueError(f"not host:port: {listen!r}")
    return host, int(port_text)


def _check_database(database: DatabaseConfig, fail: Callable[[str, str], ConfigError]) -> None:
    if not database.url:
        if database.password:
            raise fail("database.password", "is only used with a postgresql+asyncpg:// URL")
        return
    scheme = _scheme(database.url)
    if scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise fail(
            "database.url",
            f"unsupported scheme {scheme!r} (use sqlite+aiosqlite:// or postgresql+asyncpg://)",
        )
    try:
        url = make_url(database.url)
    except (ArgumentError, ValueError) as e:
        raise fail("database.url", f"invalid URL: {e}") from e
    if database.password:
        if scheme != "postgresql+asyncpg":
            raise fail("database.password", "is only used with a postgresql+asyncpg:// URL")
        if url.password is not None:
            raise fail("database.password", "database.url already contains a password")
        if not url.username:
            raise fail("database.password", "database.url must name a user to use a password")


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else ""


def _ice_scheme(url: str) -> str:
    scheme, sep, rest = url.partition(":")
    return scheme.lower() if sep and rest.strip() else ""


def host_port(text: str) -> tuple[str, int] | None:
    """``"127.0.0.1:4000"`` or ``"[::1]:4000"`` as (host, port); None if it is neither."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not _is_ip(host) or not port.isdigit() or int(port) > 65535:
        return None
    return str(ipaddress.ip_address(host)), int(port)  # as the kernel writes it


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _redact_url(url: str) -> str:
    if not url:
        return url
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return REDACTED
    return parsed.render_as_string(hide_password=True)


# --- derived values ---------------------------------------------------------------------------


def _derive(config: Config) -> Config:
    server, database = config.server, config.database
    public_url = server.public_url.rstrip("/")
    if not public_url:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(server.host, server.host)
        if ":" in host:
            host = f"[{host}]"
        public_url = f"http://{host}:{server.port}"
    server = dataclasses.replace(server, public_url=public_url, log_level=server.log_level.upper())

    url = database.url
    if not url:
        url = f"sqlite+aiosqlite:///{server.data_dir / 'meetingd.sqlite3'}"
    elif database.password:
        url = make_url(url).set(password=database.password).render_as_string(hide_password=False)
    database = dataclasses.replace(database, url=url)
    return dataclasses.replace(config, server=server, database=database)
