"""The path a secretary walks: log in, create a meeting with an agenda, invite, read it back."""

from __future__ import annotations

from typing import Any

from tests.conftest import PASSWORD, World


async def test_login_create_meeting_invite_and_read_back(client: Any, api_world: World) -> None:
    w = api_world
    r = await client.post("/api/v1/auth/login", json={"login": "secretary", "password": PASSWORD})
    assert r.status == 200, await r.text()
    token = (await r.json())["token"]
    h = {"Authorization": f"Bearer {token}"}
    r = await client.post("/api/v1/meetings", headers=h, json={
        "unit_id": w.units["D1"], "title": "Họp bàn phòng chống lụt bão",
        "starts_at": "2026-12-01T08:00:00+07:00", "chair_id": w.users["chair"],
    })
    assert r.status == 201, await r.text()
    meeting = await r.json()
    assert meeting["state"] == "draft" and meeting["starts_at"] == "2026-12-01T01:00:00Z"
    for title in ("Khai mạc", "Thảo luận"):
        r = await client.post(
            f"/api/v1/meetings/{meeting['id']}/agenda", headers=h, json={"title": title}
        )
        assert r.status == 201
    r = await client.post(f"/api/v1/meetings/{meeting['id']}/bridge-points", headers=h,
                          json={"ids": [w.bridge_points["bp1"], w.bridge_points["bp2"]]})
    assert r.status == 200, await r.text()
    r = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=h)
    got = await r.json()
    assert [a["title"] for a in got["agenda"]] == ["Khai mạc", "Thảo luận"]
    assert got["bridge_point_ids"] == sorted([w.bridge_points["bp1"], w.bridge_points["bp2"]])
    # The invited bridge point sees it; the other district's does not.
    r = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=w.auth("bp1"))
    assert r.status == 200
    r = await client.get(f"/api/v1/meetings/{meeting['id']}", headers=w.auth("bp3"))
    assert r.status == 404
