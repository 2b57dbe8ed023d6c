"""The wire contract: one declaration per command, typed events, the generated reference."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from meetingd import contract
from meetingd.commands import COMMANDS
from meetingd.errors import ERROR_TEXTS, ErrorCode
from meetingd.events import ENVELOPE, EVENT_TYPES, parse, to_data
from meetingd.services.authz import MEANINGS, Permission

ROOT = Path(__file__).resolve().parents[1]


def test_docs_are_generated_from_the_code() -> None:
    assert contract.main(["reference", "--check", str(ROOT / "docs" / "realtime.md")]) == 0, (
        "run: python -m meetingd.contract reference --write docs/realtime.md"
    )


def test_every_command_is_declared_once_with_a_strict_payload() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names)) >= 60
    for command in COMMANDS:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", command.name), command.name
        assert command.payload.model_config.get("extra") == "forbid", command.name
        assert command.payload.model_config.get("strict") is True, command.name
        assert command.permission in MEANINGS
        for event in command.events:
            assert EVENT_TYPES[event.type] is event, command.name
        assert command.socket or command.socket_why_not, command.name
        assert command.rest is not None or command.rest_why_not, command.name


def test_no_command_name_is_written_twice_in_the_source() -> None:
    # Each name appears in exactly one declaration: the table's (transports derive theirs).
    found: dict[str, int] = {}
    for path in (ROOT / "meetingd").rglob("*.py"):
        for name in re.findall(r'COMMANDS\.command\(\s*"([a-z_.]+)"', path.read_text("utf-8")):
            found[name] = found.get(name, 0) + 1
    assert found and all(n == 1 for n in found.values()), found
    assert not list((ROOT / "meetingd" / "api").glob("meetings.py"))  # no parallel list


def test_events_are_typed_and_round_trip_through_the_wire_form() -> None:
    assert {"meeting.started", "floor.granted", "presence.joined", "rollcall.closed"} <= set(
        EVENT_TYPES
    )
    for name, cls in EVENT_TYPES.items():
        assert dataclasses.is_dataclass(cls), name
        assert cls.__dataclass_params__.frozen, name  # type: ignore[attr-defined]
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", name)
        if cls.stream:
            assert not {f.name for f in dataclasses.fields(cls)} & set(ENVELOPE), name
    sample = EVENT_TYPES["floor.muted"](subject="user:5", muted=True)  # type: ignore[call-arg]
    data = to_data(sample)
    assert data == {"subject": "user:5", "muted": True}
    assert parse("floor.muted", {**data, "meeting_id": 1, "seq": 3, "at": "x"}) == sample
    assert parse("something.new", {}) is None  # a newer process's event is ignored


def test_error_codes_are_one_catalogue_with_both_languages() -> None:
    assert set(ERROR_TEXTS) == set(ErrorCode)
    for code, text in ERROR_TEXTS.items():
        assert 400 <= text.status <= 599, code
        assert text.vi and text.en and text.vi != text.en, code
    # Every code the control plane raises is in it.
    raised: set[str] = set()
    for path in (ROOT / "meetingd").rglob("*.py"):
        raised |= set(re.findall(r'code\s*=\s*"([a-z_]+)"', path.read_text("utf-8")))
    assert raised <= {c.value for c in ErrorCode}, raised - {c.value for c in ErrorCode}


def test_the_contract_document_names_every_part() -> None:
    doc = contract.schema()
    json.dumps(doc)  # JSON-ready
    assert set(doc["commands"]) == {c.name for c in COMMANDS}
    assert set(doc["events"]) == set(EVENT_TYPES)
    assert set(doc["errors"]) == {c.value for c in ErrorCode}
    assert set(doc["permissions"]) == {p.value for p in Permission}
    refs = set(re.findall(r'"#/\$defs/([A-Za-z0-9_]+)"', json.dumps(doc)))
    assert refs <= set(doc["$defs"]), refs - set(doc["$defs"])
    grant = doc["commands"]["floor.grant"]
    assert grant["rest"]["path"] == "/api/v1/meetings/{meeting_id}/floor/grant"
    assert grant["events"] == ["floor.granted"] and grant["socket"] is True
    assert doc["commands"]["auth.login"]["socket"] is False
    assert doc["commands"]["meeting.join"]["rest"] is None
    paths = doc["openapi"]["paths"]
    assert "/api/v1/meetings/{meeting_id}/floor/grant" in paths
