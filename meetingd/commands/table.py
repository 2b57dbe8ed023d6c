"""The command table: every command of the system declared once.

A command is ``noun.verb`` with a payload model (everything it takes, ids included), an
answer model, the permission it needs (checked by the service, with the same
:class:`~meetingd.services.authz.Permission` value), the events it may cause, and where it
is served: on the socket (``emit(name, payload, ack)``), over REST (an optional
:class:`Rest` binding: method, path, status), or both. The REST routes, the socket
dispatch, the OpenAPI document, ``docs/realtime.md`` and the TypeScript types are all
derived from this table; a command missing from one transport says why.

The handler is transport-free: it gets a :class:`Context` (the caller, the services and,
on the socket, the connection) and the validated payload, and answers a pydantic model,
a list of them, or None (REST 204, socket ``{}``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, create_model

from meetingd.domain import Principal
from meetingd.errors import AuthenticationError
from meetingd.events import Event
from meetingd.services import Services
from meetingd.services.authz import Permission

if TYPE_CHECKING:
    from meetingd.realtime.connection import SocketSide

P = TypeVar("P", bound=BaseModel)

_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True, slots=True)
class Context:
    """What a command handler may use, whichever transport carried the command."""

    services: Services
    principal_or_none: Principal | None
    #: The caller's bearer token (REST: the header; socket: the one it connected with).
    token: str | None = None
    #: The caller's network address, for rate limits and logs.
    address: str = "?"
    #: The host name the caller reached this server by, when it came straight (not through
    #: a trusted proxy): the reading port's address is made from it. Empty: unknown.
    host: str = ""
    #: The socket connection, its rooms and the media bridge; None over REST.
    socket: SocketSide | None = None

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise AuthenticationError("this command needs a token")
        return self.principal_or_none


Handler = Callable[[Context, P], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Rest:
    """Where a command is served over HTTP."""

    method: str
    path: str
    #: The operationId in the OpenAPI document (kept stable for generated clients).
    operation: str
    status: int = 200
    #: Non-path payload fields come from the query string (GET) instead of a JSON body.
    query: bool = False
    #: HTTP statuses besides 400 (and 401 with a token, 413 with a body) it may answer.
    errors: tuple[int, ...] = ()
    #: Rules a request the schema admits may still break (answered 400), which no JSON Schema
    #: can state (the tree of units, one field against another, a file's content).
    rules: tuple[str, ...] = ()

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PATH_PARAM.findall(self.path))


@dataclass(frozen=True)
class Command(Generic[P]):
    """One command, as the table declares it."""

    name: str
    payload: type[P]
    answer: Any  # a model class, list[Model], or None
    handler: Handler[P]
    summary: str
    tag: str
    permission: Permission
    events: tuple[type[Event], ...] = ()
    rest: Rest | None = None
    #: Served on the socket; when False, ``socket_why_not`` says why.
    socket: bool = True
    socket_why_not: str = ""
    #: Why it has no REST binding (when ``rest`` is None).
    rest_why_not: str = ""
    #: On the socket, the connection must have joined ``payload.meeting_id`` first.
    needs_join: bool = True
    #: A token is needed (False only for logging in).
    auth: bool = True
    description: str = ""

    @property
    def answer_model(self) -> type[BaseModel] | None:
        """The model of the answer (of each element, for a list)."""
        if self.answer is None:
            return None
        if get_origin(self.answer) is list:
            inner: type[BaseModel] = get_args(self.answer)[0]
            return inner
        model: type[BaseModel] = self.answer
        return model

    @property
    def answers_list(self) -> bool:
        return get_origin(self.answer) is list

    def body_model(self) -> type[BaseModel] | None:
        """The REST body: the payload without the path (and query) fields; None if empty."""
        if self.rest is None or self.rest.query:
            return None
        skip = set(self.rest.path_params)
        fields = {n: f for n, f in self.payload.model_fields.items() if n not in skip}
        if not fields:
            return None
        return _part(self.payload, "Body", fields, skip)

    def query_model(self) -> type[BaseModel] | None:
        """The REST query parameters of a GET command; None when it has none."""
        if self.rest is None or not self.rest.query:
            return None
        skip = set(self.rest.path_params)
        fields = {n: f for n, f in self.payload.model_fields.items() if n not in skip}
        return _part(self.payload, "Query", fields, skip) if fields else None


_DERIVED: dict[tuple[type[BaseModel], str], type[BaseModel]] = {}


def _part(
    model: type[BaseModel], suffix: str, fields: dict[str, Any], skip: set[str]
) -> type[BaseModel]:
    """The model of ``fields``: ``model`` itself, or the base it extends with the path ids
    (``class MeetingUpdate(MeetingPatch): meeting_id: Id`` has the body ``MeetingPatch``)."""
    if not skip:
        return model
    for base in model.__mro__[1:]:
        if (
            isinstance(base, type)
            and issubclass(base, BaseModel)
            and set(base.model_fields) == set(fields)
            and base.model_fields
        ):
            return base
    return _derived(model, suffix, fields)


def _derived(model: type[BaseModel], suffix: str, fields: dict[str, Any]) -> type[BaseModel]:
    """A model with some of ``model``'s fields, for documentation (validation uses the
    whole payload, validators included)."""
    key = (model, suffix)
    if key not in _DERIVED:
        name = model.__name__.removesuffix("In").removesuffix("Command") + suffix
        _DERIVED[key] = create_model(  # type: ignore[call-overload]
            name,
            __config__=model.model_config,
            __doc__=model.__doc__,
            **{n: (f.annotation, f) for n, f in fields.items()},
        )
    return _DERIVED[key]


@dataclass
class CommandTable:
    """The table; modules add their commands with :meth:`command`."""

    commands: dict[str, Command[Any]] = field(default_factory=dict)

    def command(
        self,
        name: str,
        payload: type[P],
        *,
        answer: Any,
        summary: str,
        tag: str,
        permission: Permission,
        events: tuple[type[Event], ...] = (),
        rest: Rest | None = None,
        socket: bool = True,
        socket_why_not: str = "",
        rest_why_not: str = "",
        needs_join: bool | None = None,
        auth: bool = True,
    ) -> Callable[[Handler[P]], Handler[P]]:
        noun, dot, verb = name.partition(".")
        if not (noun and dot and verb):
            raise ValueError(f"command {name!r} is not noun.verb")
        if name in self.commands:
            raise ValueError(f"command {name} is declared twice")
        if not socket and not socket_why_not:
            raise ValueError(f"command {name}: say why it is not on the socket")
        if rest is None and not rest_why_not:
            raise ValueError(f"command {name}: give a REST binding or say why not")
        if rest is not None:
            missing = [p for p in rest.path_params if p not in payload.model_fields]
            if missing:
                raise ValueError(f"command {name}: path parameters {missing} not in the payload")
        join = "meeting_id" in payload.model_fields if needs_join is None else needs_join
        if join and "meeting_id" not in payload.model_fields:
            raise ValueError(f"command {name} needs a meeting_id in its payload")

        def deco(fn: Handler[P]) -> Handler[P]:
            self.commands[name] = Command(
                name=name,
                payload=payload,
                answer=answer,
                handler=fn,
                summary=summary,
                tag=tag,
                permission=permission,
                events=events,
                rest=rest,
                socket=socket,
                socket_why_not=socket_why_not,
                rest_why_not=rest_why_not,
                needs_join=join,
                auth=auth,
                description=" ".join((fn.__doc__ or "").split()),
            )
            return fn

        return deco

    def get(self, name: str) -> Command[Any] | None:
        return self.commands.get(name)

    def __iter__(self) -> Iterator[Command[Any]]:
        return iter(sorted(self.commands.values(), key=lambda c: c.name))

    def socket_commands(self) -> Iterator[Command[Any]]:
        return (c for c in self if c.socket)

    def rest_commands(self) -> Iterator[Command[Any]]:
        return (c for c in self.commands.values() if c.rest is not None)


#: The one table of the system.
COMMANDS = CommandTable()
