"""Bad input: each gets a 4xx ``{"error": {"code", "message"}}`` naming the field, never a
500, and never a partial write (the whole database is compared before and after)."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.api.checks import diff, expect_error, snapshot
from tests.api.conftest import Both
from tests.api.worlds import fresh_meeting

Ids = dict[str, int]
JSON = "application/json"


@dataclass(frozen=True)
class Case:
    """One bad request: who sends what where, and the error expected."""

    name: str
    caller: str
    method: str
    path: str  # formatted with the ids
    status: int
    field: str | None
    body: Callable[[Ids], Any] | None = None  # a JSON value, sent as JSON
    raw: bytes | None = None  # or these bytes as they are
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    code: str | None = None
    mentions: str | None = None


def ids_of(b: Both) -> Ids:
    w = b.w
    return {
        **w.units,
        **{f"u_{k}": v for k, v in w.users.items()},
        **w.bridge_points,
        "M1": w.meeting_id,
        "item1": w.agenda_ids[0],
        "M2": b.m2.id,
        "m2item": b.m2.items[0],
    }


def meeting(i: Ids, **changes: Any) -> dict[str, Any]:
    """A valid meeting body for district D1, with ``changes`` applied (None removes)."""
    body: dict[str, Any] = {
        "unit_id": i["D1"],
        "title": "Họp bàn kế hoạch",
        "starts_at": "2026-12-01T08:00:00+07:00",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def unit(i: Ids, **changes: Any) -> dict[str, Any]:
    body = {"code": "C9", "name": "Xã Hoằng Lộc", "kind": "commune", "parent_id": i["D1"]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def user(i: Ids, **changes: Any) -> dict[str, Any]:
    body = {
        "login": "newbie",
        "display_name": "Ngô Thị Mới",
        "password": "mật-khẩu-dài",
        "grants": [{"unit_id": i["C1"], "role": "delegate"}],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def nested(depth: int) -> bytes:
    return b'{"title": ' + b"[" * depth + b"]" * depth + b"}"


MEETINGS = "/api/v1/meetings"
M1 = "/api/v1/meetings/{M1}"

BODY_CASES = [
    Case("malformed JSON", "chair", "POST", MEETINGS, 400, "body", raw=b'{"title": "x",'),
    Case("title is a number", "chair", "POST", MEETINGS, 400, "title",
         body=lambda i: meeting(i, title=5)),
    Case("unit_id is a string", "chair", "POST", MEETINGS, 400, "unit_id",
         body=lambda i: meeting(i, unit_id=str(i["D1"]))),
    Case("unit_id is a float", "chair", "POST", MEETINGS, 400, "unit_id",
         body=lambda i: meeting(i, unit_id=1.5)),
    Case("unit_id is a boolean", "chair", "POST", MEETINGS, 400, "unit_id",
         body=lambda i: meeting(i, unit_id=True)),
    Case("unit_id is zero", "chair", "POST", MEETINGS, 400, "unit_id",
         body=lambda i: meeting(i, unit_id=0)),
    Case("unit_id is 2**64", "chair", "POST", MEETINGS, 400, "unit_id",
         body=lambda i: meeting(i, unit_id=2**64)),
    Case("an integer of 5000 digits", "chair", "POST", MEETINGS, 400, "body",
         raw=b'{"unit_id": ' + b"9" * 5000 + b', "title": "x"}'),
    Case("unknown field", "chair", "POST", MEETINGS, 400, "colour",
         body=lambda i: meeting(i, colour="red"), mentions="unknown field 'colour'"),
    Case("missing title", "chair", "POST", MEETINGS, 400, "title",
         body=lambda i: meeting(i, title=None), mentions="missing field 'title'"),
    Case("missing starts_at", "chair", "POST", MEETINGS, 400, "starts_at",
         body=lambda i: meeting(i, starts_at=None)),
    Case("blank title", "chair", "POST", MEETINGS, 400, "title",
         body=lambda i: meeting(i, title="   ")),
    Case("title too long", "chair", "POST", MEETINGS, 400, "title",
         body=lambda i: meeting(i, title="Ơ" * 301)),
    Case("title is NaN", "chair", "POST", MEETINGS, 400, "title",
         raw=b'{"unit_id": 2, "title": NaN, "starts_at": "2026-12-01T08:00:00Z"}'),
    Case("description too long", "chair", "POST", MEETINGS, 400, "description",
         body=lambda i: meeting(i, description="x" * 20_001)),
    Case("10 MB body", "chair", "POST", MEETINGS, 413, "body", code="payload_too_large",
         raw=b'{"title": "' + b"x" * 10_000_000 + b'"}'),
    Case("JSON nested 10,000 deep", "chair", "POST", MEETINGS, 400, "body",
         raw=nested(10_000), mentions="nested deeper"),
    Case("JSON nested just past the limit", "chair", "POST", MEETINGS, 400, "body",
         raw=nested(64), mentions="nested deeper"),
    Case("invalid UTF-8", "chair", "POST", MEETINGS, 400, "body",
         raw=b'{"title": "Gi\xe1o ban"}', mentions="UTF-8"),
    Case("wrong Content-Type", "chair", "POST", MEETINGS, 400, "body",
         body=lambda i: meeting(i), headers={"Content-Type": "text/plain"},
         mentions="Content-Type"),
    Case("form-encoded", "chair", "POST", MEETINGS, 400, "body", raw=b"title=x",
         headers={"Content-Type": "application/x-www-form-urlencoded"}),
    Case("empty body", "chair", "POST", MEETINGS, 400, "body", raw=b"", mentions="empty"),
    Case("whitespace body", "chair", "POST", MEETINGS, 400, "body", raw=b"  \n",
         mentions="empty"),
    Case("a JSON array", "chair", "POST", MEETINGS, 400, "body", raw=b"[]",
         mentions="JSON object"),
    Case("JSON null", "chair", "POST", MEETINGS, 400, "body", raw=b"null",
         mentions="JSON object"),
    Case("unit that does not exist", "chair", "POST", MEETINGS, 404, "unit_id",
         body=lambda i: meeting(i, unit_id=999_999), mentions="unit 999999"),
    Case("unit of another district", "chair", "POST", MEETINGS, 404, "unit_id",
         body=lambda i: meeting(i, unit_id=i["D2"]), mentions="does not exist"),
    Case("ends_at before starts_at", "chair", "POST", MEETINGS, 400, "ends_at",
         body=lambda i: meeting(i, ends_at="2026-12-01T07:00:00+07:00")),
    Case("ends_at equal to starts_at", "chair", "POST", MEETINGS, 400, "ends_at",
         body=lambda i: meeting(i, ends_at="2026-12-01T01:00:00Z")),
    Case("naive starts_at", "chair", "POST", MEETINGS, 400, "starts_at",
         body=lambda i: meeting(i, starts_at="2026-12-01T08:00:00"), mentions="time zone"),
    Case("starts_at before year 1 in UTC", "chair", "POST", MEETINGS, 400, "starts_at",
         body=lambda i: meeting(i, starts_at="0001-01-01T00:00:00+01:00"), mentions="range"),
    Case("ends_at after year 9999 in UTC", "chair", "POST", MEETINGS, 400, "ends_at",
         body=lambda i: meeting(i, ends_at="9999-12-31T23:59:59-01:00"), mentions="range"),
    Case("starts_at not a date", "chair", "POST", MEETINGS, 400, "starts_at",
         body=lambda i: meeting(i, starts_at="ngày mai")),
    Case("starts_at a number", "chair", "POST", MEETINGS, 400, "starts_at",
         body=lambda i: meeting(i, starts_at=1_767_225_600)),
    Case("chair of another district", "chair", "POST", MEETINGS, 400, "chair_id",
         body=lambda i: meeting(i, chair_id=i["u_chair_d2"])),
    Case("chair without the chair role", "chair", "POST", MEETINGS, 400, "chair_id",
         body=lambda i: meeting(i, chair_id=i["u_delegate"])),
    Case("secretary who does not exist", "chair", "POST", MEETINGS, 400, "secretary_id",
         body=lambda i: meeting(i, secretary_id=999_999)),
    # strings PostgreSQL cannot store
    Case("NUL in a title", "chair", "POST", MEETINGS, 400, "title",
         body=lambda i: meeting(i, title="Giao\x00ban"), mentions="NUL"),
    Case("NUL in a description", "chair", "POST", M1 + "/agenda", 400, "description",
         body=lambda i: {"title": "x", "description": "a\x00"}),
    Case("NUL in a login", "none", "POST", "/api/v1/auth/login", 400, "login",
         body=lambda i: {"login": "chair\x00", "password": "x"}),
    Case("NUL in a nested field", "operator", "POST", "/api/v1/users", 400, "grants.0.role",
         body=lambda i: user(i, grants=[{"unit_id": i["C1"], "role": "\x00"}])),
    Case("NUL in a field name", "chair", "POST", MEETINGS, 400, "a\x00",
         body=lambda i: meeting(i, **{"a\x00": 1}), mentions="NUL"),
    Case("a lone surrogate", "chair", "POST", MEETINGS, 400, "title",
         raw=b'{"unit_id": 2, "title": "a\\ud800", "starts_at": "2026-12-01T08:00:00Z"}',
         mentions="surrogate"),
    # units
    Case("duplicate unit code", "admin", "POST", "/api/v1/units", 409, "code",
         body=lambda i: unit(i, code="C1"), code="conflict"),
    Case("unknown unit kind", "admin", "POST", "/api/v1/units", 400, "kind",
         body=lambda i: unit(i, kind="city")),
    Case("unit code with spaces", "admin", "POST", "/api/v1/units", 400, "code",
         body=lambda i: unit(i, code="C 9")),
    Case("commune under a province", "admin", "POST", "/api/v1/units", 400, "parent_id",
         body=lambda i: unit(i, parent_id=i["P"])),
    Case("district at the top", "admin", "POST", "/api/v1/units", 400, "parent_id",
         body=lambda i: unit(i, kind="district", parent_id=None)),
    Case("province with a parent", "admin", "POST", "/api/v1/units", 400, "parent_id",
         body=lambda i: unit(i, kind="province", parent_id=i["P"])),
    Case("parent that does not exist", "admin", "POST", "/api/v1/units", 404, "parent_id",
         body=lambda i: unit(i, parent_id=999_999), mentions="unit 999999"),
    Case("rename to nothing", "operator", "PATCH", "/api/v1/units/{C1}", 400, "name",
         body=lambda i: {"name": ""}),
    # users
    Case("duplicate login", "operator", "POST", "/api/v1/users", 409, "login",
         body=lambda i: user(i, login="chair"), code="conflict"),
    Case("duplicate login, other case", "operator", "POST", "/api/v1/users", 409, "login",
         body=lambda i: user(i, login="Chair"), code="conflict"),
    Case("short password", "operator", "POST", "/api/v1/users", 400, "password",
         body=lambda i: user(i, password="short")),
    Case("login with a space", "operator", "POST", "/api/v1/users", 400, "login",
         body=lambda i: user(i, login="ngo thi")),
    Case("unknown role in a grant", "operator", "POST", "/api/v1/users", 400, "grants.0.role",
         body=lambda i: user(i, grants=[{"unit_id": i["C1"], "role": "king"}])),
    Case("grant for a unit of another district", "operator", "POST", "/api/v1/users", 404,
         "grants", mentions="unit",
         body=lambda i: user(i, grants=[{"unit_id": i["C1"], "role": "delegate"},
                                        {"unit_id": i["C3"], "role": "delegate"}])),
    Case("grant that is held already", "operator", "POST", "/api/v1/users/{u_delegate}/grants",
         409, "role", body=lambda i: {"unit_id": i["C1"], "role": "delegate"}, code="conflict"),
    Case("revoke a role not held", "operator", "DELETE", "/api/v1/users/{u_delegate}/grants",
         404, "role", body=lambda i: {"unit_id": i["C1"], "role": "chair"}),
    # bridge points
    Case("bridge point in a unit that does not exist", "operator", "POST",
         "/api/v1/bridge-points", 404, "unit_id", mentions="unit 999999",
         body=lambda i: {"unit_id": 999_999, "name": "Điểm cầu"}),
    Case("bridge point disabled as a string", "operator", "PATCH",
         "/api/v1/bridge-points/{bp1}", 400, "disabled", body=lambda i: {"disabled": "yes"}),
    # meetings
    Case("change nothing", "chair", "PATCH", M1, 400, None, body=lambda i: {}),
    Case("move ends_at before starts_at", "chair", "PATCH", M1, 400, "ends_at",
         body=lambda i: {"ends_at": "2000-01-01T00:00:00Z"}),
    Case("invite a bridge point of another district", "chair", "POST",
         M1 + "/bridge-points", 400, "ids", body=lambda i: {"ids": [i["bp2"], i["bp3"]]}),
    Case("invite a bridge point that does not exist", "chair", "POST",
         M1 + "/bridge-points", 400, "ids", body=lambda i: {"ids": [999_999]}),
    Case("invite a delegate of another district", "chair", "POST", M1 + "/delegates",
         400, "ids", body=lambda i: {"ids": [i["u_delegate_other"]]}),
    Case("invite nobody", "chair", "POST", M1 + "/delegates", 400, "ids",
         body=lambda i: {"ids": []}),
    Case("invite with string ids", "chair", "POST", M1 + "/delegates", 400, "ids.0",
         body=lambda i: {"ids": [str(i["u_delegate"])]}),
    Case("uninvite a bridge point not invited", "chair", "DELETE",
         M1 + "/bridge-points/{bp3}", 404, "bridge_point_id", mentions="bridge point"),
    Case("uninvite a delegate not invited", "chair", "DELETE", M1 + "/delegates/{u_chair}",
         404, "user_id", mentions="user"),
    Case("change another meeting's agenda item", "chair", "PATCH", M1 + "/agenda/{m2item}",
         404, "item_id", body=lambda i: {"title": "x"}, mentions="agenda item"),
    Case("remove another meeting's agenda item", "chair", "DELETE", M1 + "/agenda/{m2item}",
         404, "item_id", mentions="agenda item"),
    Case("agenda item of zero minutes", "chair", "POST", M1 + "/agenda", 400,
         "duration_minutes", body=lambda i: {"title": "x", "duration_minutes": 0}),
    Case("agenda item of 10**30 minutes", "chair", "POST", M1 + "/agenda", 400,
         "duration_minutes", body=lambda i: {"title": "x", "duration_minutes": 10**30}),
    Case("agenda item made active directly", "chair", "PATCH", M1 + "/agenda/{item1}", 400,
         "state", body=lambda i: {"state": "active"}),
    Case("agenda item in an unknown state", "chair", "PATCH", M1 + "/agenda/{item1}", 400,
         "state", body=lambda i: {"state": "forgotten"}),
    Case("reorder leaving items out", "chair", "PUT", M1 + "/agenda/order", 400, "ids",
         body=lambda i: {"ids": [i["item1"]]}),
    Case("reorder with another meeting's item", "chair", "PUT", M1 + "/agenda/order", 400,
         "ids", body=lambda i: {"ids": [i["m2item"]]}),
    # state machine (the world's meeting is a draft)
    Case("start a draft", "chair", "POST", M1 + "/start", 409, None, code="invalid_state",
         mentions="draft"),
    Case("resume a draft", "chair", "POST", M1 + "/resume", 409, None, code="invalid_state",
         mentions="draft"),
    Case("end a draft", "chair", "POST", M1 + "/end", 409, None, code="invalid_state",
         mentions="draft"),
    Case("move on the agenda of a draft", "chair", "POST", M1 + "/agenda/current", 409, None,
         body=lambda i: {"item_id": i["item1"]}, code="invalid_state", mentions="draft"),
    # login
    Case("login without password", "none", "POST", "/api/v1/auth/login", 400, "password",
         body=lambda i: {"login": "chair"}),
    Case("login as a number", "none", "POST", "/api/v1/auth/login", 400, "login",
         body=lambda i: {"login": 5, "password": "x"}),
    Case("device login with an empty credential", "none", "POST", "/api/v1/auth/device", 400,
         "credential", body=lambda i: {"credential": ""}),
]

PATH_AND_QUERY_CASES = [
    Case("path id zero", "chair", "GET", "/api/v1/meetings/0", 400, "meeting_id"),
    Case("path id past 2**31-1", "chair", "GET", "/api/v1/meetings/2147483648", 400,
         "meeting_id"),
    Case("path id of 11 digits", "chair", "GET", "/api/v1/meetings/99999999999", 400,
         "meeting_id"),
    Case("path id of 5000 digits", "chair", "GET", "/api/v1/meetings/" + "9" * 5000, 400,
         "meeting_id"),
    Case("second path id out of range", "chair", "DELETE", M1 + "/agenda/0", 400, "item_id"),
    Case("meeting that does not exist", "chair", "GET", "/api/v1/meetings/999999", 404,
         "meeting_id", mentions="meeting 999999"),
    Case("meeting of another district", "chair", "GET", "/api/v1/meetings/{M2}", 404,
         "meeting_id", mentions="does not exist"),
    Case("user that does not exist", "operator", "GET", "/api/v1/users/999999", 404,
         "user_id", mentions="user 999999"),
    Case("unit that does not exist", "operator", "GET", "/api/v1/units/999999", 404,
         "unit_id", mentions="unit 999999"),
    Case("bridge point that does not exist", "operator", "GET",
         "/api/v1/bridge-points/999999", 404, "bridge_point_id",
         mentions="bridge point 999999"),
    Case("path id not a number", "chair", "GET", "/api/v1/meetings/abc", 404, None,
         code="not_found"),
    Case("no such address", "chair", "GET", "/api/v1/nothing", 404, None, code="not_found"),
    Case("method not allowed", "chair", "DELETE", MEETINGS, 405, None,
         code="method_not_allowed"),
    Case("unknown query parameter", "chair", "GET", MEETINGS + "?colour=red", 400, "colour",
         mentions="unknown query parameter 'colour'"),
    Case("query on an endpoint without one", "chair", "GET", "/api/v1/auth/me?x=1", 400, "x"),
    Case("limit zero", "chair", "GET", MEETINGS + "?limit=0", 400, "limit"),
    Case("limit not a number", "chair", "GET", MEETINGS + "?limit=many", 400, "limit"),
    Case("limit of 20 digits", "operator", "GET", "/api/v1/units?limit=" + "9" * 20, 400,
         "limit"),
    Case("negative offset", "operator", "GET", "/api/v1/users?offset=-1", 400, "offset"),
    Case("offset past any database integer", "operator", "GET",
         "/api/v1/units?offset=99999999999999999999", 400, "offset"),
    Case("offset past 2**63-1", "chair", "GET", MEETINGS + "?offset=9223372036854775808", 400,
         "offset"),
    Case("parent_id past any database integer", "operator", "GET",
         "/api/v1/units?parent_id=99999999999999999999", 400, "parent_id"),
    Case("unit_id past any database integer", "operator", "GET",
         "/api/v1/bridge-points?unit_id=99999999999999999999", 400, "unit_id"),
    Case("unknown state", "chair", "GET", MEETINGS + "?state=forgotten", 400, "state"),
    Case("query parameter twice", "chair", "GET", MEETINGS + "?state=draft&state=live", 400,
         "state"),
    Case("NUL in a search", "operator", "GET", "/api/v1/units?q=a%00b", 400, "q",
         mentions="NUL"),
    Case("search too long", "operator", "GET", "/api/v1/units?q=" + "a" * 101, 400, "q"),
]


async def send(client: Any, b: Both, case: Case) -> Any:
    i = ids_of(b)
    headers = dict(case.headers)
    if case.caller != "none":
        headers["Authorization"] = f"Bearer {b.w.tokens[case.caller]}"
    data: bytes | None = case.raw
    if case.body is not None:
        data = json.dumps(case.body(i), ensure_ascii=False).encode()
    if data is not None:
        headers.setdefault("Content-Type", JSON)
    payload = io.BytesIO(data) if data is not None and len(data) > 1_000_000 else data
    return await client.request(case.method, case.path.format(**i), data=payload, headers=headers)


async def check_cases(client: Any, b: Both, cases: list[Case], subtests: Any) -> None:
    for case in cases:
        with subtests.test(case.name):
            before = await snapshot(b.parts.store)
            resp = await send(client, b, case)
            await expect_error(
                resp, case.status, field=case.field, code=case.code, mentions=case.mentions
            )
            assert diff(before, await snapshot(b.parts.store)) == []


async def test_bad_bodies(client: Any, both: Both, subtests: Any) -> None:
    await check_cases(client, both, BODY_CASES, subtests)


async def test_bad_paths_and_queries(client: Any, both: Both, subtests: Any) -> None:
    await check_cases(client, both, PATH_AND_QUERY_CASES, subtests)


async def test_refused_transitions_are_409_and_write_nothing(
    client: Any, both: Both, subtests: Any
) -> None:
    for state, command in [("ended", "schedule"), ("ended", "open"), ("live", "open"),
                           ("paused", "pause"), ("scheduled", "resume")]:  # fmt: skip
        with subtests.test(f"{command} when {state}"):
            m = await fresh_meeting(both.parts, both.w, "own", state)
            before = await snapshot(both.parts.store)
            path = f"/api/v1/meetings/{m.id}/{command}"
            resp = await client.post(path, headers=both.w.auth("chair"))
            await expect_error(resp, 409, code="invalid_state", mentions=state)
            assert diff(before, await snapshot(both.parts.store)) == []


async def test_an_ended_meeting_cannot_be_changed(client: Any, both: Both) -> None:
    m = await fresh_meeting(both.parts, both.w, "own", "ended", items=1)
    h = both.w.auth("chair")
    before = await snapshot(both.parts.store)
    for method, path, body in [
        ("PATCH", "", {"title": "Sửa"}),
        ("POST", "/agenda", {"title": "Thêm"}),
        ("PATCH", f"/agenda/{m.items[0]}", {"title": "Sửa"}),
        ("DELETE", f"/agenda/{m.items[0]}", None),
        ("PUT", "/agenda/order", {"ids": list(m.items)}),
        ("POST", "/delegates", {"ids": [both.w.users["delegate"]]}),
        ("DELETE", f"/bridge-points/{both.w.bridge_points['bp1']}", None),
    ]:
        resp = await client.request(method, f"/api/v1/meetings/{m.id}{path}", json=body, headers=h)
        await expect_error(resp, 409, code="invalid_state", mentions="ended")
    assert diff(before, await snapshot(both.parts.store)) == []


async def test_move_to_another_meetings_item_is_404(client: Any, both: Both) -> None:
    m = await fresh_meeting(both.parts, both.w, "own", "live", items=1)
    before = await snapshot(both.parts.store)
    resp = await client.post(
        f"/api/v1/meetings/{m.id}/agenda/current",
        json={"item_id": both.m2.items[0]},
        headers=both.w.auth("chair"),
    )
    await expect_error(resp, 404, field="item_id", mentions="agenda item")
    assert diff(before, await snapshot(both.parts.store)) == []


async def test_the_body_limit_holds_for_every_endpoint_with_a_body(
    client: Any, both: Both
) -> None:
    from meetingd.app import all_routes

    big = b'{"x": "' + b"y" * 2_000_000 + b'"}'
    for ep in all_routes().endpoints:
        if ep.body is None:
            continue  # a raw upload has its own limit (tests/api/test_documents_api.py)
        path = ep.path.format(
            document_id=1,
            vote_id=1,
            meeting_id=both.w.meeting_id,
            item_id=both.w.agenda_ids[0],
            unit_id=both.w.units["C1"],
            user_id=both.w.users["delegate"],
            bridge_point_id=both.w.bridge_points["bp1"],
        )
        headers = {**both.w.auth("admin"), "Content-Type": JSON}
        resp = await client.request(ep.method, path, data=io.BytesIO(big), headers=headers)
        await expect_error(resp, 413, field="body", code="payload_too_large")
