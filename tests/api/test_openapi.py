"""The OpenAPI document, the local docs page, /healthz, /metrics and request ids."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import OpenAPIV31SpecValidator
from prometheus_client.parser import text_string_to_metric_families

from meetingd.app import all_routes
from meetingd.logs import ContextFilter

#: The document does not depend on the database: its tests run on SQLite only.
ONE_DATABASE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

#: Routes that are not part of the REST API and so not in the document.
UNDOCUMENTED = {"/metrics", "/api/openapi.json", "/api/docs"}


@pytest.fixture
async def spec(client: Any) -> dict[str, Any]:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    doc: dict[str, Any] = await resp.json()
    return doc


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/"), ref
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[no-any-return]


@ONE_DATABASE
async def test_the_document_validates_as_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    errors = list(OpenAPIV31SpecValidator(spec).iter_errors())
    assert errors == [], errors[:3]


@ONE_DATABASE
async def test_every_endpoint_is_documented_with_schemas_and_errors(spec: dict[str, Any]) -> None:
    ids = []
    for ep in all_routes().endpoints:
        op = spec["paths"][ep.path][ep.method.lower()]
        ids.append(op["operationId"])
        assert op["summary"] and op["tags"] == [ep.tag]
        responses = op["responses"]
        if ep.body is not None:
            body = op["requestBody"]["content"]["application/json"]["schema"]
            assert resolve(spec, body)["type"] == "object", ep.path
        elif ep.raw_body is not None:  # a streamed upload: the body is the file itself
            assert op["requestBody"]["content"] == ep.raw_body, ep.path
        else:
            assert "requestBody" not in op, ep.path
        ok = [code for code in responses if code.startswith("2")]
        assert ok == [str(ep.status if ep.response is not None else 204)] or ok == ["204"], ep.path
        if ok != ["204"] and ep.raw_content is not None:  # a file, not JSON
            assert responses[ok[0]]["content"] == ep.raw_content, ep.path
        elif ok != ["204"]:
            schema = responses[ok[0]]["content"]["application/json"]["schema"]
            if schema.get("type") == "array":
                schema = schema["items"]
            assert resolve(spec, schema)["type"] == "object", ep.path
        errors = {code for code in responses if not code.startswith("2")}
        expected = {"400", "503", *(str(c) for c in ep.errors)}
        if ep.auth:
            expected.add("401")
            assert op["security"] == [{"bearer": []}]
        else:
            assert op["security"] == []
        if ep.body is not None or ep.raw_body is not None:
            expected.add("413")
        assert errors == expected, ep.path
        for code in errors:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert resolve(spec, schema)["required"] == ["error"], (ep.path, code)
        for param in re.findall(r"{(\w+)}", ep.path):
            assert {"name": param, "in": "path", "required": True} .items() <= {
                p["name"]: p for p in op["parameters"]
            }[param].items(), (ep.path, param)
    assert len(ids) == len(set(ids)), "operationIds are unique"


@ONE_DATABASE
async def test_every_api_route_of_the_app_is_in_the_document(
    app: web.Application, spec: dict[str, Any]
) -> None:
    documented = {
        (method.upper(), path) for path, ops in spec["paths"].items() for method in ops
    }
    served = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        path = re.sub(r"{(\w+):[^}]+}", r"{\1}", path)
        if route.method in ("HEAD", "OPTIONS", "*") or path in UNDOCUMENTED:
            continue
        if not (path.startswith("/api/") or path == "/healthz"):
            continue  # socket.io and other transports
        served.add((route.method, path))
    assert served == documented


@ONE_DATABASE
async def test_the_docs_page_is_served_locally(client: Any) -> None:
    resp = await client.get("/api/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert "/api/openapi.json" in html
    assert re.findall(r"(?:https?:)?//[\w.-]+\.\w", html) == [], "no external URL, no CDN"
    for attr in re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', html):
        assert attr.startswith(("/", "#", "./")) or ":" not in attr, attr


async def test_healthz(client: Any, db_url: str) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok"
    assert body["database"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
    assert body["version"]


async def test_metrics_count_requests(client: Any) -> None:
    for _ in range(3):
        assert (await client.get("/healthz")).status == 200
    assert (await client.get("/api/v1/auth/me")).status == 401
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(await resp.text())
        for s in family.samples
    }
    ok = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    denied = (("method", "GET"), ("route", "/api/v1/auth/me"), ("status", "401"))
    assert samples[("meetingd_http_requests_total", ok)] == 3
    assert samples[("meetingd_http_requests_total", denied)] == 1
    assert samples[("meetingd_http_request_seconds_count", (("route", "/healthz"),))] == 3


async def test_request_ids_are_echoed_or_made_and_logged(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    resp = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    resp = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    made = resp.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", made)
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.INFO, logger="meetingd"):
        resp = await client.get("/api/v1/auth/me", headers={"X-Request-Id": "req-7"})
    assert resp.status == 401
    assert [r.request_id for r in caplog.records if "auth/me" in r.getMessage()] == ["req-7"]
