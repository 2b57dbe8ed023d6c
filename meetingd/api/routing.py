"""Declarative routes: each endpoint names its request and response models once.

The same declarations register the aiohttp handlers and generate the OpenAPI 3.1
document, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import models_json_schema

from meetingd.api.context import MAX_BODY, client_address, request_host, services
from meetingd.commands.table import Command, CommandTable, Context
from meetingd.domain import Principal
from meetingd.errors import AuthenticationError, PayloadTooLarge, ValidationError, invalid
from meetingd.schemas import (
    MAX_ID,
    ErrorOut,
    Offset,
    WireJsonSchema,
    answer_adapter,
    integral_numbers,
)

__all__ = ["MAX_ID", "Offset", "QueryId"]

B = TypeVar("B", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)


class NoBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


QueryId = Annotated[int, Field(ge=1, le=MAX_ID)]


@dataclass(frozen=True, slots=True)
class Call(Generic[B, Q]):
    """What a handler gets: the parsed body and query, path ids and the caller."""

    request: web.Request
    body: B
    query: Q
    path: dict[str, int]
    principal_or_none: Principal | None

    @property
    def principal(self) -> Principal:
        assert self.principal_or_none is not None
        return self.principal_or_none


Handler = Callable[[Call[Any, Any]], Awaitable[BaseModel | list[Any] | web.StreamResponse | None]]
Authenticator = Callable[[web.Request], Awaitable[Principal]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any  # a model class, list[Model], or None for 204
    status: int
    auth: bool
    errors: tuple[int, ...]
    description: str = ""
    #: Rules the schema cannot state, answered 400 (documented on the 400 and in ``x-rules``).
    rules: tuple[str, ...] = ()
    #: The command this endpoint serves (None for the system routes).
    command: Command[Any] | None = None
    #: OpenAPI ``requestBody`` / success ``content`` of a route whose body or answer is not
    #: JSON (a streamed upload, a file); its handler answers a ``web.StreamResponse``.
    raw_body: dict[str, Any] | None = None
    raw_content: dict[str, Any] | None = None

    @property
    def operation(self) -> str:
        return self.handler.__name__


@dataclass
class Routes:
    """A set of endpoints; ``register`` wires them into an app, ``openapi`` documents them."""

    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        auth: bool = True,
        errors: tuple[int, ...] = (),
        raw_body: dict[str, Any] | None = None,
        raw_content: dict[str, Any] | None = None,
        rules: tuple[str, ...] = (),
    ) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=fn,
                    summary=summary,
                    tag=tag,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    auth=auth,
                    errors=errors,
                    description=(fn.__doc__ or "").strip(),
                    raw_body=raw_body,
                    raw_content=raw_content,
                    rules=rules,
                )
            )
            return fn

        return deco

    def extend(self, other: Routes) -> None:
        self.endpoints.extend(other.endpoints)

    def commands(self, table: CommandTable) -> None:
        """Serve every command of ``table`` that has a REST binding."""
        for c in table.rest_commands():
            rest = c.rest
            assert rest is not None

            async def unused(call: Call[Any, Any]) -> None:  # the command runs instead
                raise AssertionError("a command endpoint runs its command")

            unused.__name__ = rest.operation
            self.endpoints.append(
                Endpoint(
                    method=rest.method,
                    path=rest.path,
                    handler=unused,
                    summary=c.summary,
                    tag=c.tag,
                    body=c.body_model(),
                    query=c.query_model(),
                    response=c.answer,
                    status=rest.status,
                    auth=c.auth,
                    errors=rest.errors,
                    description=_command_doc(c),
                    command=c,
                    rules=rest.rules,
                )
            )

    def register(self, app: web.Application, authenticate: Authenticator, max_depth: int) -> None:
        for ep in self.endpoints:
            app.router.add_route(
                ep.method, _aiohttp_path(ep.path), _make_handler(ep, authenticate, max_depth)
            )


_PARAM = re.compile(r"{(\w+)}")


def _aiohttp_path(path: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group(1) + r":[0-9]+}", path)


def _make_handler(
    ep: Endpoint, authenticate: Authenticator, max_depth: int
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = await authenticate(request) if ep.auth else None
        path = {k: _path_id(k, v) for k, v in request.match_info.items()}
        if ep.command is not None:
            result = await _run_command(ep, ep.command, request, path, principal, max_depth)
        else:
            body = await parse_body(request, ep.body, max_depth) if ep.body else NoBody()
            query = parse_query(request, ep.query) if ep.query else _no_query(request)
            result = await ep.handler(Call(request, body, query, path, principal))
            if isinstance(result, web.StreamResponse):
                return result  # a file or another non-JSON answer
        if ep.response is None or result is None:
            return web.Response(status=204)
        data = answer_adapter(ep.response).dump_python(result, mode="json")
        return json_response(data, status=ep.status)

    handler.__name__ = ep.handler.__name__
    return handler


async def _run_command(
    ep: Endpoint,
    command: Command[Any],
    request: web.Request,
    path: dict[str, int],
    principal: Principal | None,
    max_depth: int,
) -> Any:
    """Parse the payload from the path, the body or the query string, and run ``command``."""
    if ep.query is not None:
        raw: dict[str, Any] = _query_strings(request)
        payload = _lax(command.payload, {**raw, **path}, "query parameter")
    else:
        _no_query(request)
        raw = await read_json_object(request, max_depth) if ep.body is not None else {}
        clash = next((k for k in raw if k in path), None)
        if clash is not None:
            raise ValidationError(f"unknown field '{_printable(clash)}'", field=clash)
        payload = validate_payload(command.payload, {**raw, **path}, "field")
    ctx = Context(
        services=services(request),
        principal_or_none=principal,
        token=bearer_token(request) if ep.auth else None,
        address=client_address(request),
        host=request_host(request),
    )
    return await command.handler(ctx, payload)


def validate_payload(model: type[B], data: dict[str, Any], noun: str) -> B:
    """Validate ``data`` strictly, as JSON (so an enum or a date-time arrives as a string)."""
    try:
        return model.model_validate_json(json.dumps(integral_numbers(data), ensure_ascii=False))
    except PydanticValidationError as exc:
        raise _validation_error(exc, noun) from None


def _lax(model: type[B], data: dict[str, Any], noun: str) -> B:
    # Query strings are text: numbers and enum values are read from it.
    try:
        return model.model_validate(data, strict=False)
    except PydanticValidationError as exc:
        raise _validation_error(exc, noun) from None


def _command_doc(c: Command[Any]) -> str:
    who = f"Who may call: {c.permission.meaning}."
    twin = f"Socket twin: `{c.name}`." if c.socket else f"Not on the socket: {c.socket_why_not}."
    return " ".join(part for part in (c.description, who, twin) if part)


def _path_id(name: str, raw: str) -> int:
    # Length first: int() of thousands of digits is slow, and refused past 4300.
    if len(raw) > 10 or not 1 <= int(raw) <= MAX_ID:
        raise ValidationError(
            f"path parameter '{name}' is out of range (1 to {MAX_ID})", field=name
        )
    return int(raw)


def json_response(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def _no_query(request: web.Request) -> NoQuery:
    if request.query:
        name = next(iter(request.query))
        raise ValidationError(f"unknown query parameter '{_printable(name)}'", field=name)
    return NoQuery()


def _query_strings(request: web.Request) -> dict[str, str]:
    raw: dict[str, str] = {}
    for k, v in request.query.items():
        for text in (k, v):
            why = _unstorable(text)
            if why:
                raise ValidationError(f"query parameter '{_printable(k)}' {why}", field=k)
        if k in raw:
            raise ValidationError(f"query parameter '{k}' is given twice", field=k)
        raw[k] = v
    return raw


def parse_query(request: web.Request, model: type[Q]) -> Q:
    try:
        return model.model_validate(_query_strings(request))
    except PydanticValidationError as exc:
        raise _validation_error(exc, "query parameter") from None


async def parse_body(request: web.Request, model: type[B], max_depth: int) -> B:
    """Read and validate a JSON body; every failure names the field or says what is wrong."""
    data = integral_numbers(await read_json_object(request, max_depth))
    text = json.dumps(data, ensure_ascii=False)
    try:
        # JSON mode: strict about types, yet enum values and date-times arrive as strings.
        return model.model_validate_json(text)
    except PydanticValidationError as exc:
        raise _validation_error(exc, "field") from None


async def read_json_object(request: web.Request, max_depth: int) -> dict[str, Any]:
    """The JSON object of the body; every failure names the field or says what is wrong."""
    ctype = request.content_type
    if ctype != "application/json":
        raise ValidationError(
            f"the body must be JSON (Content-Type: application/json), not {ctype or 'nothing'}",
            field="body",
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(
            f"the body is larger than {request.app[MAX_BODY]} bytes", field="body"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"the body is not valid UTF-8 (byte {exc.start})", field="body"
        ) from None
    if not text.strip():
        raise ValidationError("the body is empty; a JSON object is expected", field="body")
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValidationError(
            f"the JSON is nested deeper than {max_depth} levels", field="body"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            field="body",
        ) from None
    except ValueError:  # an integer of more than 4300 digits
        raise ValidationError(
            "the body holds a number with too many digits", field="body"
        ) from None
    if _depth(data, max_depth) > max_depth:
        raise ValidationError(f"the JSON is nested deeper than {max_depth} levels", field="body")
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    bad = _bad_string(data, ())
    if bad is not None:
        loc, why = bad
        raise ValidationError(f"field '{_printable(loc)}' {why}", field=loc)
    return data


def _unstorable(text: str) -> str:
    """Why no database can store ``text`` (PostgreSQL refuses NUL), or "" when it can."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    return ""


def _bad_string(value: Any, loc: tuple[str, ...]) -> tuple[str, str] | None:
    """The first string (key or value) in ``value`` that cannot be stored, and why."""
    if isinstance(value, str):
        why = _unstorable(value)
        return (".".join(loc) or "body", why) if why else None
    if isinstance(value, dict):
        for k, v in value.items():
            where = (*loc, k)
            why = _unstorable(k)
            found = (".".join(where), why) if why else _bad_string(v, where)
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _bad_string(v, (*loc, str(i)))
            if found:
                return found
    return None


def _printable(name: str) -> str:
    return name.encode("ascii", "backslashreplace").decode()[:64]


def _depth(value: Any, limit: int, level: int = 0) -> int:
    """Nesting depth of containers, counted no further than ``limit + 1``."""
    if not isinstance(value, dict | list):
        return level
    level += 1
    if level > limit:
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(v, limit, level) for v in items), default=level)


def _validation_error(exc: PydanticValidationError, noun: str) -> ValidationError:
    return invalid(exc, noun)


# -- OpenAPI ---------------------------------------------------------------------------

_STATUS_TEXT = {
    400: "Malformed request: bad JSON, wrong type, unknown or missing field",
    401: "No token, or an invalid, expired or revoked token",
    403: "The caller's role does not allow this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with stored data or the current state",
    413: "The body is larger than the limit",
    429: "Too many attempts",
    501: "This server does not offer this (a component is not installed)",
    503: "The database cannot be reached for the moment; retry shortly",
}


def openapi(routes: Routes, *, title: str, version: str, description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes``."""
    models: list[tuple[type[BaseModel], Any]] = [(ErrorOut, "serialization")]
    for ep in routes.endpoints:
        if ep.body:
            models.append((ep.body, "validation"))
        resp = _resp_model(ep.response)
        if resp is not None:
            models.append((resp, "serialization"))
    seen: set[tuple[type[BaseModel], Any]] = set()
    unique = [m for m in models if not (m in seen or seen.add(m))]  # type: ignore[func-returns-value]
    keymap, top = models_json_schema(
        unique, ref_template="#/components/schemas/{model}", schema_generator=WireJsonSchema
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(keymap[(model, mode)])  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for ep in routes.endpoints:
        op: dict[str, Any] = {
            "operationId": ep.handler.__name__,
            "summary": ep.summary,
            "tags": [ep.tag],
            "responses": {},
        }
        if ep.description:
            op["description"] = ep.description
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
            }
            for name in _PARAM.findall(ep.path)
        ]
        if ep.query:
            qs = ep.query.model_json_schema(
                ref_template="#/components/schemas/{model}", schema_generator=WireJsonSchema
            )
            for name, definition in qs.get("$defs", {}).items():  # e.g. an enum's values
                schemas.setdefault(name, definition)
            required = set(qs.get("required", []))
            for name, prop in qs.get("properties", {}).items():
                params.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in required,
                        "schema": _inline(prop),
                    }
                )
        if params:
            op["parameters"] = params
        if ep.raw_body is not None:
            op["requestBody"] = {"required": True, "content": ep.raw_body}
        if ep.body:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(ep.body, "validation")}},
            }
        if ep.raw_content is not None:
            op["responses"][str(ep.status)] = {"description": "Success", "content": ep.raw_content}
        elif ep.response is None:
            op["responses"][str(ep.status if ep.status != 200 else 204)] = {"description": "Done"}
        else:
            model = _resp_model(ep.response)
            assert model is not None
            schema = ref(model, "serialization")
            if _is_list(ep.response):
                schema = {"type": "array", "items": schema}
            op["responses"][str(ep.status)] = {
                "description": "Success",
                "content": {"application/json": {"schema": schema}},
            }
        errors = set(ep.errors) | {400, 503}  # any handler may find its database away
        if ep.auth:
            errors |= {401}
            op["security"] = [{"bearer": []}]
        else:
            op["security"] = []
        if ep.body or ep.raw_body is not None:
            errors |= {413}
        for code in sorted(errors):
            op["responses"][str(code)] = {
                "description": _STATUS_TEXT[code],
                "content": {"application/json": {"schema": ref(ErrorOut, "serialization")}},
            }
        if ep.rules:  # a schema-valid request may still be refused: say by which rules
            bad = op["responses"]["400"]
            bad["description"] += "; or a rule the schema cannot state: " + "; ".join(ep.rules)
            bad["x-rules"] = list(ep.rules)
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def _inline(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k != "title"}


def _is_list(resp: Any) -> bool:
    return getattr(resp, "__origin__", None) is list


def _resp_model(resp: Any) -> type[BaseModel] | None:
    if resp is None:
        return None
    if _is_list(resp):
        inner: type[BaseModel] = resp.__args__[0]
        return inner
    assert isinstance(resp, type) and issubclass(resp, BaseModel)
    return resp


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing 'Authorization: Bearer <token>' header")
    return token.strip()
