"""The command registry: each socket command named once, with its payload model and its doc.

A command is ``noun.verb``; its payload is one JSON object validated strictly by a pydantic
model (unknown fields refused, no type coercion). The same declaration drives dispatch and
the generated reference (``docs/realtime.md``), so the two cannot drift. Adding a family of
commands (``rtc.*`` for WebRTC signalling, ``vote.*``...) is a set of ``@COMMANDS.command``
entries in its own module, imported by :mod:`meetingd.realtime.commands`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from meetingd.realtime.connection import CommandContext

P = TypeVar("P", bound=BaseModel)

Handler = Callable[["CommandContext", P], Awaitable[Any]]


@dataclass(frozen=True)
class Command(Generic[P]):
    """One socket command."""

    name: str
    payload: type[P]
    handler: Handler[P]
    summary: str
    who: str  # who may call it, in words, for the reference
    answer: str  # what ``data`` holds in a successful ack
    events: tuple[str, ...] = ()  # stream events it may cause
    #: The connection must have joined ``payload.meeting_id`` first.
    needs_join: bool = True
    #: Declared for the wire contract, answered ``not_implemented`` until built.
    reserved: bool = False
    description: str = ""


@dataclass
class CommandRegistry:
    commands: dict[str, Command[Any]] = field(default_factory=dict)

    def command(
        self,
        name: str,
        payload: type[P],
        *,
        summary: str,
        who: str,
        answer: str,
        events: tuple[str, ...] = (),
        needs_join: bool = True,
        reserved: bool = False,
    ) -> Callable[[Handler[P]], Handler[P]]:
        existing = self.commands.get(name)
        if existing is not None and not existing.reserved:
            raise ValueError(f"command {name} is registered twice")
        # A reserved placeholder (rtc.*) is replaced by the real command when it arrives.
        noun, dot, verb = name.partition(".")
        if not (noun and dot and verb):
            raise ValueError(f"command {name!r} is not noun.verb")
        if needs_join and "meeting_id" not in payload.model_fields:
            raise ValueError(f"command {name} needs a meeting_id in its payload")

        def deco(fn: Handler[P]) -> Handler[P]:
            self.commands[name] = Command(
                name=name,
                payload=payload,
                handler=fn,
                summary=summary,
                who=who,
                answer=answer,
                events=events,
                needs_join=needs_join,
                reserved=reserved,
                description=(fn.__doc__ or "").strip(),
            )
            return fn

        return deco

    def get(self, name: str) -> Command[Any] | None:
        return self.commands.get(name)

    def __iter__(self) -> Any:
        return iter(sorted(self.commands.values(), key=lambda c: c.name))


@dataclass(frozen=True)
class EventDoc:
    """One event a client may receive."""

    name: str
    summary: str
    fields: dict[str, str]  # payload field -> meaning (envelope fields not repeated)
    caused_by: str
    stream: bool = True  # a meeting stream event (has meeting_id and seq); else per connection


@dataclass
class EventCatalog:
    events: dict[str, EventDoc] = field(default_factory=dict)

    def add(
        self,
        name: str,
        summary: str,
        *,
        fields: dict[str, str],
        caused_by: str,
        stream: bool = True,
    ) -> None:
        if name in self.events:
            raise ValueError(f"event {name} is documented twice")
        self.events[name] = EventDoc(name, summary, fields, caused_by, stream)

    def __contains__(self, name: object) -> bool:
        return name in self.events

    def __iter__(self) -> Any:
        return iter(sorted(self.events.values(), key=lambda e: (not e.stream, e.name)))
