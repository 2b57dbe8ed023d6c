import dataclasses
import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from meetingd.config import (
    AuthConfig,
    Config,
    ConfigError,
    DatabaseConfig,
    MediaConfig,
    RealtimeConfig,
    ServerConfig,
    load_config,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "meetingd.example.toml"
KEY = "k" * 32


def write(tmp_path: Path, text: str, name: str = "meetingd.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(**kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"config: {info.value.key}: ")
    return info.value


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_defaults(tmp_path: Path) -> None:
    config = load_config(env={})
    assert config.server.host == "127.0.0.1"
    assert config.server.port == 8080
    assert config.server.data_dir == tmp_path / "data"
    assert config.server.public_url == "http://127.0.0.1:8080"
    assert config.database.url == f"sqlite+aiosqlite:///{tmp_path}/data/meetingd.sqlite3"
    assert config.auth == AuthConfig()
    assert config.auth.token_ttl_seconds == 12 * 3600
    assert config.realtime == RealtimeConfig()
    assert config.media == MediaConfig()


def test_toml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [server]
        host = "0.0.0.0"
        port = 9000
        data_dir = "/srv/meetingd"
        log_level = "debug"
        [database]
        url = "postgresql+asyncpg://meetingd@db.local:5432/meetingd"
        echo = true
        [realtime]
        redis_url = "redis://localhost:6379/0"
        ping_interval = 1
        [media]
        listen_ips = ["127.0.0.1", "::1"]
        ice_servers = ["stun:stun.example.vn:3478"]
        """,
    )
    config = load_config(path, env={})
    assert config.server.host == "0.0.0.0"
    assert config.server.port == 9000
    assert config.server.data_dir == Path("/srv/meetingd")
    assert config.server.public_url == "http://127.0.0.1:9000"
    assert config.server.log_level == "DEBUG"
    assert config.database.url == "postgresql+asyncpg://meetingd@db.local:5432/meetingd"
    assert config.database.echo is True
    assert config.realtime.redis_url == "redis://localhost:6379/0"
    assert config.realtime.ping_interval == 1.0
    assert config.media.listen_ips == ("127.0.0.1", "::1")
    assert config.media.ice_servers == ("stun:stun.example.vn:3478",)


def test_config_file_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9001\n")
    assert load_config(env={"MEETINGD_CONFIG": str(path)}).server.port == 9001


def test_env_beats_toml(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 9000\nhost = "10.0.0.1"\n[media]\nlisten_ips = []\n')
    config = load_config(
        path,
        env={
            "MEETINGD_SERVER_PORT": "9100",
            "MEETINGD_MEDIA_LISTEN_IPS": "127.0.0.1, ::1",
            "MEETINGD_DATABASE_ECHO": "1",
            "MEETINGD_REALTIME_PING_TIMEOUT": "4.5",
            "MEETINGD_SERVER_DATA_DIR": "state",
            "PATH": "/usr/bin",
        },
    )
    assert config.server.port == 9100
    assert config.server.host == "10.0.0.1"
    assert config.media.listen_ips == ("127.0.0.1", "::1")
    assert config.database.echo is True
    assert config.realtime.ping_timeout == 4.5
    assert config.server.data_dir == tmp_path / "state"
    assert config.database.url == f"sqlite+aiosqlite:///{tmp_path}/state/meetingd.sqlite3"


def test_overrides_beat_env(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\n")
    config = load_config(
        path,
        env={"MEETINGD_SERVER_PORT": "9100", "MEETINGD_SERVER_HOST": "10.0.0.1"},
        overrides={"server.port": 9200, "server.data_dir": "/x", "server.host": None},
    )
    assert config.server.port == 9200
    assert config.server.host == "10.0.0.1"  # None means the flag was not given
    assert config.server.data_dir == Path("/x")
    assert load_config(env={}, overrides={"server.port": "9300"}).server.port == 9300


def test_unknown_toml_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nprot = 9000\n")
    e = error(path=path, env={})
    assert e.key == "server.prot"
    assert str(e).startswith("config: server.prot: unknown key")


def test_unknown_toml_section(tmp_path: Path) -> None:
    assert error(path=write(tmp_path, "[sever]\nport = 1\n"), env={}).key == "sever"
    assert error(path=write(tmp_path, "port = 1\n"), env={}).key == "port"


def test_unknown_env_var() -> None:
    e = error(env={"MEETINGD_SERVER_PROT": "9000"})
    assert e.key == "MEETINGD_SERVER_PROT"
    assert str(e) == "config: MEETINGD_SERVER_PROT: unknown environment variable"


def test_unknown_override() -> None:
    assert error(env={}, overrides={"server.prot": 1}).key == "server.prot"


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("MEETINGD_SERVER_PORT", "abc", "server.port"),
        ("MEETINGD_SERVER_PORT", "", "server.port"),
        ("MEETINGD_DATABASE_ECHO", "yes", "database.echo"),
        ("MEETINGD_REALTIME_PING_INTERVAL", "soon", "realtime.ping_interval"),
        ("MEETINGD_REALTIME_PING_INTERVAL", "nan", "realtime.ping_interval"),
    ],
)
def test_bad_env_value(name: str, value: str, key: str) -> None:
    e = error(env={name: value})
    assert e.key == key
    assert name in str(e)


def test_bad_int_message() -> None:
    assert str(error(env={"MEETINGD_SERVER_PORT": "abc"})) == (
        "config: server.port: invalid integer 'abc' (from MEETINGD_SERVER_PORT)"
    )


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[server]\nport = "9000"', "server.port"),
        ("[server]\nport = 9000.0", "server.port"),
        ("[server]\nmax_json_depth = true", "server.max_json_depth"),
        ("[database]\necho = 1", "database.echo"),
        ("[realtime]\nping_interval = false", "realtime.ping_interval"),
        ('[media]\nlisten_ips = "127.0.0.1"', "media.listen_ips"),
        ("[media]\nlisten_ips = [1]", "media.listen_ips"),
        ("[auth]\nsigning_key_file = 3", "auth.signing_key_file"),
        ("[server]\nhost = 1", "server.host"),
    ],
)
def test_toml_types_are_strict(tmp_path: Path, toml: str, key: str) -> None:
    assert error(path=write(tmp_path, toml), env={}).key == key


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"MEETINGD_SERVER_PORT": "0"}, "server.port"),
        ({"MEETINGD_SERVER_PORT": "65536"}, "server.port"),
        ({"MEETINGD_AUTH_TOKEN_TTL_SECONDS": "59"}, "auth.token_ttl_seconds"),
        ({"MEETINGD_AUTH_TOKEN_TTL_SECONDS": str(31 * 86400)}, "auth.token_ttl_seconds"),
        ({"MEETINGD_REALTIME_EVENT_LOG_SIZE": "9"}, "realtime.event_log_size"),
        ({"MEETINGD_REALTIME_COMMAND_BURST": "10"}, "realtime.command_burst"),
        ({"MEETINGD_SERVER_LOG_LEVEL": "LOUD"}, "server.log_level"),
        ({"MEETINGD_SERVER_PUBLIC_URL": "ftp://example.vn"}, "server.public_url"),
        ({"MEETINGD_MEDIA_LISTEN_IPS": "127.0.0.1,localhost"}, "media.listen_ips"),
        ({"MEETINGD_MEDIA_LISTEN_IPS": ""}, "media.listen_ips"),
        ({"MEETINGD_MEDIA_ANNOUNCED_IP": "example.vn"}, "media.announced_ip"),
        ({"MEETINGD_MEDIA_ICE_SERVERS": "http://stun.example.vn"}, "media.ice_servers"),
        ({"MEETINGD_MEDIA_CASCADE_ADDRESS": "media.example.vn:4000"}, "media.cascade_address"),
        ({"MEETINGD_MEDIA_CASCADE_ADDRESS": "10.0.0.2"}, "media.cascade_address"),
        ({"MEETINGD_MEDIA_CASCADE_ADDRESS": "10.0.0.2:70000"}, "media.cascade_address"),
        ({"MEETINGD_MEDIA_CASCADE_ADDRESS": "0.0.0.0:4000"}, "media.cascade_announce"),
        ({"MEETINGD_MEDIA_CASCADE_ANNOUNCE": "0.0.0.0:4000"}, "media.cascade_announce"),
        ({"MEETINGD_MEDIA_CASCADE_ANNOUNCE": "10.0.0.2:0"}, "media.cascade_announce"),
        ({"MEETINGD_MEDIA_TURN_URLS": "stun:stun.example.vn"}, "media.turn_urls"),
        ({"MEETINGD_MEDIA_TURN_URLS": "turn:turn.example.vn"}, "media.turn_secret"),
        ({"MEETINGD_AUTH_SIGNING_KEY": "short"}, "auth.signing_key"),
        ({"MEETINGD_REALTIME_REDIS_URL": "http://localhost"}, "realtime.redis_url"),
        ({"MEETINGD_DATABASE_PASSWORD": "pw"}, "database.password"),
    ],
)
def test_bad_values(env: dict[str, str], key: str) -> None:
    assert error(env=env).key == key


def test_cascade_addresses() -> None:
    config = load_config(
        env={"MEETINGD_MEDIA_CASCADE_ADDRESS": "[::]:4000",
             "MEETINGD_MEDIA_CASCADE_ANNOUNCE": "[2001:db8::2]:4000"}
    )  # fmt: skip
    assert config.media.cascade_announce == "[2001:db8::2]:4000"
    assert load_config(env={}).media.cascade_address == "127.0.0.1:0"


def test_out_of_range_port_message() -> None:
    assert str(error(env={}, overrides={"server.port": 70000})) == (
        "config: server.port: must be between 1 and 65535, got 70000 (from the command line)"
    )


def test_bad_database_scheme(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "mysql://user@localhost/meetingd"\n')
    assert str(error(path=path, env={})) == (
        "config: database.url: unsupported scheme 'mysql'"
        " (use sqlite+aiosqlite:// or postgresql+asyncpg://)"
    )


def test_database_password_merged_into_url() -> None:
    config = load_config(
        env={
            "MEETINGD_DATABASE_URL": "postgresql+asyncpg://meetingd@db:5432/meetingd",
            "MEETINGD_DATABASE_PASSWORD": "p@ss/wörd",
        }
    )
    url = make_url(config.database.url)
    assert (url.username, url.password, url.host, url.database) == (
        "meetingd",
        "p@ss/wörd",
        "db",
        "meetingd",
    )
    assert "p@ss" not in repr(config)
    assert config.redacted()["database"] == {
        "url": "postgresql+asyncpg://meetingd:***@db:5432/meetingd",
        "password": "***",
        "pool_size": 10,
        "echo": False,
        "auto_migrate": False,
    }


def test_database_password_twice() -> None:
    e = error(
        env={
            "MEETINGD_DATABASE_URL": "postgresql+asyncpg://u:x@db/meetingd",
            "MEETINGD_DATABASE_PASSWORD": "y",
        }
    )
    assert e.key == "database.password"


def test_secret_from_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY + "\n")
    (tmp_path / "turn").write_text("turn-secret\r\n")
    path = write(tmp_path, '[auth]\nsigning_key_file = "key"\n')
    config = load_config(
        path,
        env={
            "MEETINGD_MEDIA_TURN_SECRET_FILE": str(tmp_path / "turn"),
            "MEETINGD_MEDIA_TURN_URLS": "turn:turn.example.vn:3478,turns:turn.example.vn:5349",
        },
    )
    assert config.auth.signing_key == KEY
    assert config.media.turn_secret == "turn-secret"
    assert KEY not in repr(config)
    assert config.redacted()["auth"]["signing_key"] == "***"
    assert config.redacted()["media"]["turn_secret"] == "***"


def test_unreadable_secret_file_names_the_file_key(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    e = error(env={"MEETINGD_AUTH_SIGNING_KEY_FILE": str(missing)})
    assert e.key == "auth.signing_key_file"
    assert str(missing) in str(e)
    path = write(tmp_path, f'[auth]\nsigning_key_file = "{missing}"\n')
    assert error(path=path, env={}).key == "auth.signing_key_file"
    (tmp_path / "empty").write_text("\n")
    assert error(env={"MEETINGD_AUTH_SIGNING_KEY_FILE": "empty"}).key == "auth.signing_key_file"


def test_secret_and_its_file_in_one_layer(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY)
    path = write(tmp_path, f'[auth]\nsigning_key = "{KEY}"\nsigning_key_file = "key"\n')
    assert error(path=path, env={}).key == "auth.signing_key"
    e = error(env={"MEETINGD_AUTH_SIGNING_KEY": KEY, "MEETINGD_AUTH_SIGNING_KEY_FILE": "key"})
    assert e.key == "auth.signing_key"


def test_secret_file_in_a_later_layer_wins(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("f" * 32)
    path = write(tmp_path, f'[auth]\nsigning_key = "{KEY}"\n')
    config = load_config(path, env={"MEETINGD_AUTH_SIGNING_KEY_FILE": "key"})
    assert config.auth.signing_key == "f" * 32


def test_overridden_secret_file_is_not_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\nsigning_key_file = "/nonexistent/key"\n')
    config = load_config(path, env={"MEETINGD_AUTH_SIGNING_KEY": KEY})
    assert config.auth.signing_key == KEY


def test_missing_and_invalid_config_file(tmp_path: Path) -> None:
    assert error(path=tmp_path / "missing.toml", env={}).key == str(tmp_path / "missing.toml")
    assert "invalid TOML" in str(error(path=write(tmp_path, "[server\n"), env={}))


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("::1", "http://[::1]:8080"),
    ],
)
def test_derived_public_url(host: str, url: str) -> None:
    assert load_config(env={}, overrides={"server.host": host}).server.public_url == url


def test_explicit_public_url_loses_trailing_slash() -> None:
    env = {"MEETINGD_SERVER_PUBLIC_URL": "https://hop.thanhhoa.gov.vn/"}
    assert load_config(env=env).server.public_url == "https://hop.thanhhoa.gov.vn"


def test_example_file_loads_and_matches_the_defaults() -> None:
    assert load_config(EXAMPLE, env={}) == load_config(env={})


def test_example_file_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    for section, cls in (
        ("server", ServerConfig),
        ("database", DatabaseConfig),
        ("auth", AuthConfig),
        ("realtime", RealtimeConfig),
        ("media", MediaConfig),
    ):
        for f in dataclasses.fields(cls):
            assert f.name in data[section], f"{section}.{f.name} missing from the example"
            assert f"MEETINGD_{section}_{f.name}".upper() in text
    for secret in ("password_file", "signing_key_file", "turn_secret_file"):
        assert re.search(rf"^# {secret} = ", text, re.MULTILINE)


def test_frozen() -> None:
    config = load_config(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.server.port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.server = ServerConfig()  # type: ignore[misc]


def test_sections_can_be_built_directly() -> None:
    config = Config(auth=AuthConfig(signing_key="test", token_ttl_seconds=1))
    assert config.auth.token_ttl_seconds == 1
    assert config.database.url == ""


def test_the_reading_port(tmp_path: Path) -> None:
    from meetingd.api.reading import reading_address

    assert load_config(env={}).documents.read_listen == ""
    assert reading_address(load_config(env={})) == ("127.0.0.1", 8081, False)
    off = load_config(env={"MEETINGD_DOCUMENTS_READ_LISTEN": "off"})
    assert reading_address(off) is None
    there = load_config(env={"MEETINGD_DOCUMENTS_READ_LISTEN": "[::1]:9001"})
    assert reading_address(there) == ("::1", 9001, True)
    for bad in ("9001", "host:", "host:99999", ":80"):
        err = error(env={"MEETINGD_DOCUMENTS_READ_LISTEN": bad})
        assert err.key == "documents.read_listen", bad
    for bad in ("doc.example.vn", "ftp://doc.example.vn", "https://doc.example.vn/tai-lieu"):
        err = error(env={"MEETINGD_DOCUMENTS_READ_PUBLIC_URL": bad})
        assert err.key == "documents.read_public_url", bad
    url = "https://doc.example.vn:8443"
    assert load_config(env={"MEETINGD_DOCUMENTS_READ_PUBLIC_URL": url}).documents.read_public_url
