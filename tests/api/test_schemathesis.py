"""A peer's fuzzer against the running server's own OpenAPI document (issue 13 §6).

Schemathesis reads ``/api/openapi.json`` from a live server on loopback (SQLite, the seeded
world) and sends every operation generated requests as each role, with all its checks: no
5xx, every answer matches its documented status, headers and schema, a 405 names the allowed
methods (``Allow``, RFC 9110), and a body the schema admits is not refused by a rule the
schema does not state. The number of examples is bounded so the run stays near a minute.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES

from meetingd.app import PARTS, create_app
from meetingd.config import AuthConfig, Config, DatabaseConfig, ServerConfig
from tests.conftest import TEST_KEY, World, seed_world

#: The callers the fuzzer acts as (one of each kind of right).
ROLES = ("admin", "operator", "chair", "delegate", "bp1")
#: Examples per operation and role.
EXAMPLES = 4
#: Checks not run yet (none: ``positive_data_acceptance`` runs since the document states
#: the rules the server keeps: no NUL in a string, path ids up to 2**31-1, 1.0 read as the
#: integer 1, a PATCH gives at least one field, and the rules no schema can state are listed
#: on the operation's 400 in ``x-rules``, which alone lets that operation answer 400).
NOT_YET: list[schemathesis.CheckFunction] = []
#: Operations left out, and why: logging out revokes the very token the run uses.
SKIPPED = {"POST /api/v1/auth/logout"}


@dataclass
class LiveApi:
    url: str
    world: World

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.tokens[role]}"}


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """A real server on loopback, in a thread of its own (schemathesis calls it blocking)."""
    data = tmp_path_factory.mktemp("schemathesis")
    config = Config(
        server=ServerConfig(data_dir=data, public_url="http://127.0.0.1"),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{Path(data) / 'fuzz.sqlite3'}"),
        auth=AuthConfig(
            signing_key=TEST_KEY,
            argon2_time_cost=1,
            argon2_memory_kib=8,
            login_attempts_per_minute_address=10_000,
        ),
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="schemathesis-server", daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, str, World]:
        app = create_app(config, migrate=True)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        world = await seed_world(app[PARTS])
        return runner, f"http://127.0.0.1:{port}", world

    runner, url, world = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    try:
        yield LiveApi(url, world)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _config(document: dict[str, Any]) -> schemathesis.Config:
    """Schemathesis's settings: a 400 is a fit answer to a schema-valid request only where
    the operation's 400 lists the rules (``x-rules``) that no JSON Schema can state."""
    ruled = [
        op["operationId"]
        for methods in document["paths"].values()
        for op in methods.values()
        if op["responses"].get("400", {}).get("x-rules")
    ]
    accepted = [*POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "400"]
    return schemathesis.Config.from_dict(
        {
            "operations": [
                {
                    "include-operation-id": ruled,
                    "checks": {"positive_data_acceptance": {"expected-statuses": accepted}},
                }
            ]
        }
    )


def test_the_api_holds_against_a_fuzzer(live_api: LiveApi) -> None:
    """Every operation, a bounded number of generated requests, each as every role."""
    document = requests.get(f"{live_api.url}/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_url(
        f"{live_api.url}/api/openapi.json", config=_config(document)
    )
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if f"{operation.method.upper()} {operation.path}" in SKIPPED:
            continue  # logging out would revoke the token the run uses
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            for role in ROLES:  # the same request, as each kind of caller
                case.call_and_validate(
                    base_url=live_api.url,
                    headers=live_api.headers(role),
                    timeout=10,
                    excluded_checks=NOT_YET,
                )

        try:
            run()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # schemathesis's FailureGroup: collect them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations > 20
    assert not failures, f"{len(failures)} operations failed:\n" + "\n\n".join(failures)
