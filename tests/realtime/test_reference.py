"""The command and event reference is complete and docs/realtime.md is up to date."""

from __future__ import annotations

import re
from pathlib import Path

from meetingd.realtime import reference
from meetingd.realtime.catalog import EVENTS
from meetingd.realtime.commands import COMMANDS
from meetingd.realtime.wire import ENVELOPE
from meetingd.services.meetings import TRANSITIONS

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "meetingd" / "services"
EMIT = re.compile(r"(?:\.emit|_emit_meeting)\(\s*[^,()]+,\s*\"([a-z_]+\.[a-z_]+)\"", re.S)


def emitted_types() -> set[str]:
    found = {t.event for t in TRANSITIONS.values()}
    for path in SERVICES.glob("*.py"):
        found |= set(EMIT.findall(path.read_text(encoding="utf-8")))
    return found


def test_docs_are_generated_from_the_code() -> None:
    assert reference.main(["--check", str(ROOT / "docs" / "realtime.md")]) == 0, (
        "run: python -m meetingd.realtime.reference --write docs/realtime.md"
    )


def test_every_event_the_services_emit_is_documented() -> None:
    emitted = emitted_types()
    assert {"meeting.started", "presence.joined", "rollcall.closed"} <= emitted  # the scan works
    missing = sorted(t for t in emitted if t not in EVENTS)
    assert missing == [], f"add these to meetingd/realtime/catalog.py: {missing}"


def test_commands_name_documented_events_and_payloads_are_objects() -> None:
    for command in COMMANDS:
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", command.name)
        for event in command.events:
            assert event in EVENTS, f"{command.name} names unknown event {event}"
        assert command.payload.model_config.get("extra") == "forbid"
        assert command.payload.model_config.get("strict") is True
    for event in EVENTS:
        if event.stream:  # the envelope is added to these
            assert not set(event.fields) & set(ENVELOPE), event.name
