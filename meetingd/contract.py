"""The wire contract, generated from the command table and the event classes.

``python -m meetingd.contract schema`` prints one JSON document: the OpenAPI document of the
REST API, every command (payload, answer, events, REST binding, socket), every event's
payload schema and every error code with its Vietnamese and English text; ``web/`` turns it
into TypeScript. ``python -m meetingd.contract reference`` prints the Markdown reference;
``--write FILE`` replaces its generated part in ``FILE`` (``docs/realtime.md``) and
``--check FILE`` exits 1 when the file is stale (a test runs the check).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from meetingd import __version__
from meetingd.commands import COMMANDS
from meetingd.commands.table import Command, CommandTable
from meetingd.errors import ERROR_TEXTS
from meetingd.events import EVENT_TYPES, Event, json_schema, summary
from meetingd.schemas import answer_adapter
from meetingd.services.authz import MEANINGS

BEGIN = "<!-- BEGIN GENERATED: python -m meetingd.contract reference --write docs/realtime.md -->"
END = "<!-- END GENERATED -->"
REF = "#/$defs/{model}"

#: What an ack with no answer holds.
EMPTY: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


class _Defs:
    """Collects named schemas; the same name must always mean the same schema."""

    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}

    def add(self, name: str, schema: dict[str, Any]) -> None:
        have = self.defs.get(name)
        if have is not None and have != schema:
            raise ValueError(f"two different schemas are both named {name}")
        self.defs[name] = schema

    def of(self, type_: Any) -> dict[str, Any]:
        """The schema of ``type_`` (a reference where it is named), its parts collected."""
        schema = dict(answer_adapter(type_).json_schema(ref_template=REF, mode="serialization"))
        for name, sub in schema.pop("$defs", {}).items():
            self.add(name, sub)
        name = getattr(type_, "__name__", None)
        if name and schema.get("type") == "object" and "title" in schema:
            self.add(name, schema)
            return {"$ref": REF.format(model=name)}
        return schema

    def payload(self, model: Any) -> dict[str, Any]:
        schema = dict(model.model_json_schema(ref_template=REF, mode="validation"))
        for name, sub in schema.pop("$defs", {}).items():
            self.add(name, sub)
        self.add(model.__name__, schema)
        return {"$ref": REF.format(model=model.__name__)}

    def event(self, cls: type[Event]) -> dict[str, Any]:
        schema = json_schema(cls)
        for name, sub in schema.pop("$defs", {}).items():
            self.add(name, sub)
        self.add(cls.__name__, schema)
        return {"$ref": REF.format(model=cls.__name__)}


def _rest(c: Command[Any]) -> dict[str, Any] | None:
    if c.rest is None:
        return None
    return {
        "method": c.rest.method,
        "path": c.rest.path,
        "status": c.rest.status,
        "operation": c.rest.operation,
    }


def schema(table: CommandTable = COMMANDS) -> dict[str, Any]:
    """The whole contract as one JSON-ready document."""
    from meetingd.api.routing import openapi
    from meetingd.app import API_DESCRIPTION, all_routes

    defs = _Defs()
    commands = {
        c.name: {
            "summary": c.summary,
            "permission": c.permission.value,
            "payload": defs.payload(c.payload),
            "answer": EMPTY if c.answer is None else defs.of(c.answer),
            "events": [e.type for e in c.events],
            "rest": _rest(c),
            "socket": c.socket,
            "needs_join": c.needs_join and c.socket,
        }
        for c in table
    }
    events = {
        name: {"stream": cls.stream, "summary": summary(cls), "schema": defs.event(cls)}
        for name, cls in sorted(EVENT_TYPES.items())
    }
    errors = {
        code.value: {"status": text.status, "vi": text.vi, "en": text.en}
        for code, text in ERROR_TEXTS.items()
    }
    return {
        "version": __version__,
        "openapi": openapi(
            all_routes(), title="meetingd API", version=__version__, description=API_DESCRIPTION
        ),
        "permissions": {p.value: meaning for p, meaning in MEANINGS.items()},
        "commands": commands,
        "events": events,
        "errors": errors,
        "$defs": dict(sorted(defs.defs.items())),
    }


# -- the Markdown reference --------------------------------------------------------------------


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"`{prop['$ref'].rsplit('/', 1)[-1]}`"
    if "anyOf" in prop:
        return " or ".join(_type(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    kind = str(prop.get("type", "object"))
    if kind == "array" and "items" in prop:
        return f"list of {_type(prop['items'])}"
    limits = []
    for key, word in (
        ("minimum", "≥ "),
        ("maximum", "≤ "),
        ("minLength", "length ≥ "),
        ("maxLength", "length ≤ "),
    ):
        if key in prop:
            limits.append(f"{word}{prop[key]}")
    return f"{kind} ({', '.join(limits)})" if limits else kind


def _fields(schema: dict[str, Any], defs: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        if name in skip:
            continue
        optional = "" if name in required else ", optional"
        meaning = prop.get("description", "")
        out.append(f"`{name}`: {_type(prop)}{optional}" + (f": {meaning}" if meaning else ""))
    return "<br>".join(out) or "none"


def _answer(answer: dict[str, Any]) -> str:
    if answer == EMPTY:
        return "`{}`"
    return _type(answer)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown(doc: dict[str, Any] | None = None) -> str:
    doc = doc or schema()
    defs = doc["$defs"]
    out: list[str] = ["### Commands\n"]
    out.append(
        "Send `emit(name, payload, ack)`; the ack is `{ok: true, data}` or "
        "`{ok: false, error: {code, message, field?}}`. The same command over REST (where it "
        "has a binding) takes the ids from the path and the rest of the payload as the JSON "
        "body (or the query string of a GET), and answers `data` itself.\n"
    )
    out.append("| command | payload | who may call | answer `data` | events | REST |")
    out.append("|---|---|---|---|---|---|")
    for name, c in doc["commands"].items():
        rest = c["rest"]
        binding = f"`{rest['method']} {rest['path']}`" if rest else "none"
        if not c["socket"]:
            binding += " (REST only)"
        evs = ", ".join(f"`{e}`" for e in c["events"]) or "none"
        out.append(
            f"| `{name}` | {_fields(c['payload'], defs)} | `{c['permission']}` | "
            f"{_answer(c['answer'])} | {evs} | {binding} |"
        )
    out.append("")
    for c in COMMANDS:
        line = f"- **`{c.name}`**: {_cell(c.summary)}."
        if c.description:
            line += f" {_cell(c.description)}"
        if c.needs_join and c.socket:
            line += " Needs `meeting.join` on this connection first."
        if not c.socket:
            line += f" Not on the socket: {c.socket_why_not}."
        if c.rest is None:
            line += f" Not over REST: {c.rest_why_not}."
        out.append(line)
    out.append("\n### Who may call\n")
    out.append("The service checks the permission the table names; this is what each means.\n")
    out.append("| permission | meaning |")
    out.append("|---|---|")
    for perm, meaning in doc["permissions"].items():
        out.append(f"| `{perm}` | {_cell(meaning)} |")
    for stream, title, intro in (
        (
            True,
            "Stream events",
            "Emitted to the meeting's room under their name; every payload has `meeting_id`, "
            "`seq` and `at` (when it happened, UTC) besides the fields listed.",
        ),
        (False, "Connection events", "Sent to one connection; not part of a meeting's stream."),
    ):
        out.append(f"\n### {title}\n")
        out.append(intro + "\n")
        out.append("| event | meaning | fields | caused by |")
        out.append("|---|---|---|---|")
        for name, e in doc["events"].items():
            if e["stream"] is not stream:
                continue
            cls = EVENT_TYPES[name]
            fields = _fields(e["schema"], defs, skip=("meeting_id", "seq", "at") if stream else ())
            out.append(f"| `{name}` | {_cell(e['summary'])} | {fields} | {_cell(cls.caused_by)} |")
    out.append("\n### Error codes\n")
    out.append(
        "`message` is the precise detail in English; a screen shows the sentence for the "
        "code (Vietnamese first).\n"
    )
    out.append("| code | HTTP | Tiếng Việt | English |")
    out.append("|---|---|---|---|")
    for code, e in doc["errors"].items():
        out.append(f"| `{code}` | {e['status']} | {e['vi']} | {e['en']} |")
    return "\n".join(out) + "\n"


def render_into(text: str, generated: str) -> str:
    """``text`` with the part between the markers replaced by ``generated``."""
    head, sep, rest = text.partition(BEGIN)
    if not sep or END not in rest:
        raise ValueError(f"the markers {BEGIN!r} ... {END!r} are missing")
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n\n{generated}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m meetingd.contract")
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("schema", help="print the contract as JSON (for the TypeScript types)")
    ref = sub.add_parser("reference", help="print or update the Markdown reference")
    group = ref.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE", help="update FILE in place")
    group.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE is stale")
    args = p.parse_args(argv)
    if args.what == "schema":
        json.dump(schema(), sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
        sys.stdout.write("\n")
        return 0
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
                f"{path} is out of date: run python -m meetingd.contract reference --write {path}"
            )
            return 1
        return 0
    path.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
