"""The command and event reference, generated from the registries, as Markdown.

``python -m meetingd.realtime.reference`` prints it; ``--write docs/realtime.md`` replaces
the generated part of that file (between the markers) and ``--check docs/realtime.md``
exits 1 when the file is out of date (a test runs the check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from meetingd.realtime.catalog import EVENTS
from meetingd.realtime.commands import COMMANDS, WHO
from meetingd.realtime.registry import CommandRegistry, EventCatalog

BEGIN = "<!-- BEGIN GENERATED: python -m meetingd.realtime.reference --write docs/realtime.md -->"
END = "<!-- END GENERATED -->"

#: Error codes a socket ack can carry, and what they mean.
ERROR_CODES: dict[str, str] = {
    "invalid_request": "the payload is not valid; `field` names the field",
    "unknown_command": "no command by that name",
    "not_joined": "send `meeting.join` for this meeting on this connection first",
    "unauthenticated": "the connection has no valid token (on connect: `connect_error`)",
    "token_expired": "the token has expired: log in again (on connect)",
    "forbidden": "the caller's role does not allow this",
    "not_found": "no such meeting or item, or not visible to the caller",
    "invalid_state": "not allowed in the current state (e.g. pausing a draft)",
    "conflict": "collides with stored data",
    "rate_limited": "too many commands on this connection; wait and retry",
    "busy": "the meeting changed too fast to join consistently; retry",
    "gone": "the connection closed while the command ran",
    "not_implemented": "reserved command, not served yet",
    "internal": "a bug; it has been logged with its traceback",
}


def _type(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    kind = str(prop.get("type", "object"))
    limits = []
    if "minimum" in prop:
        limits.append(f"≥ {prop['minimum']}")
    if "maximum" in prop:
        limits.append(f"≤ {prop['maximum']}")
    if "minLength" in prop:
        limits.append(f"length ≥ {prop['minLength']}")
    if "maxLength" in prop:
        limits.append(f"length ≤ {prop['maxLength']}")
    return f"{kind} ({', '.join(limits)})" if limits else kind


def _payload(model: Any) -> str:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        optional = "" if name in required else ", optional"
        fields.append(f"`{name}`: {_type(prop)}{optional}")
    return "<br>".join(fields) or "none"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(commands: CommandRegistry = COMMANDS, events: EventCatalog = EVENTS) -> str:
    out: list[str] = []
    out.append("### Commands\n")
    out.append(
        "Send `emit(name, payload, ack)`; the ack is `{ok: true, data}` or "
        "`{ok: false, error: {code, message, field?}}`.\n"
    )
    out.append(
        "Who may call: "
        + "; ".join(f"**{word}**: {meaning}" for word, meaning in WHO.items())
        + ". The services check it; the table only says it.\n"
    )
    out.append("| command | payload | who may call | ack `data` | events |")
    out.append("|---|---|---|---|---|")
    for c in commands:
        name = f"`{c.name}`" + (" (reserved)" if c.reserved else "")
        evs = ", ".join(f"`{e}`" for e in c.events) or "none"
        out.append(
            f"| {name} | {_payload(c.payload)} | {_cell(c.who)} | {_cell(c.answer)} | {evs} |"
        )
    out.append("")
    for c in commands:
        out.append(f"- **`{c.name}`**: {_cell(c.summary)}.")
        if c.description:
            out.append(f"  {_cell(c.description)}")
        if c.needs_join:
            out.append("  Needs `meeting.join` on this connection first.")
    out.append("\n### Stream events\n")
    out.append(
        "Emitted to the meeting's room under their name; every payload has `meeting_id`, "
        "`seq` and `at` (when it happened, UTC) besides the fields listed.\n"
    )
    out.append("| event | meaning | fields | caused by |")
    out.append("|---|---|---|---|")
    for e in events:
        if not e.stream:
            continue
        fields = "<br>".join(f"`{k}`: {_cell(v)}" for k, v in e.fields.items())
        out.append(f"| `{e.name}` | {_cell(e.summary)} | {fields} | {_cell(e.caused_by)} |")
    out.append("\n### Connection events\n")
    out.append("Sent to one connection; not part of a meeting's stream (no `seq`).\n")
    out.append("| event | meaning | fields | caused by |")
    out.append("|---|---|---|---|")
    for e in events:
        if e.stream:
            continue
        fields = "<br>".join(f"`{k}`: {_cell(v)}" for k, v in e.fields.items())
        out.append(f"| `{e.name}` | {_cell(e.summary)} | {fields} | {_cell(e.caused_by)} |")
    out.append("\n### Error codes\n")
    out.append("| code | meaning |")
    out.append("|---|---|")
    for code, meaning in ERROR_CODES.items():
        out.append(f"| `{code}` | {meaning} |")
    return "\n".join(out) + "\n"


def render_into(text: str, generated: str) -> str:
    """``text`` with the part between the markers replaced by ``generated``."""
    head, sep, rest = text.partition(BEGIN)
    if not sep or END not in rest:
        raise ValueError(f"the markers {BEGIN!r} ... {END!r} are missing")
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{generated}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m meetingd.realtime.reference")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE", help="update FILE in place")
    group.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE is stale")
    args = p.parse_args(argv)
    generated = markdown()
    if args.write is None and args.check is None:
        sys.stdout.write(generated)
        return 0
    path: Path = args.write or args.check
    text = path.read_text(encoding="utf-8")
    updated = render_into(text, generated)
    if args.check is not None:
        if updated != text:
            print(
                f"{path} is out of date: run python -m meetingd.realtime.reference --write {path}"
            )
            return 1
        return 0
    path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
