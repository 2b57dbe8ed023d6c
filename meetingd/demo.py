"""A realistic demo: a province, its districts and communes, bridge points, one user per
role and a meeting with an agenda. Logins and device credentials go to
``<data_dir>/demo-credentials.json`` (readable by the owner only)."""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from meetingd.app import Parts
from meetingd.domain import Principal, Role, RoleGrant, UnitKind

PROVINCE = ("TH", "Tỉnh Thanh Hóa")
DISTRICTS: list[tuple[str, str, list[str]]] = [
    (
        "TH-HH",
        "Huyện Hoằng Hóa",
        ["Xã Hoằng Đạo", "Xã Hoằng Châu", "Xã Hoằng Phụ", "Xã Hoằng Trường"],
    ),
    ("TH-DS", "Huyện Đông Sơn", ["Xã Đông Hòa", "Xã Đông Minh", "Thị trấn Rừng Thông"]),
    ("TH-QX", "Huyện Quảng Xương", ["Xã Quảng Ngọc", "Xã Quảng Đức", "Xã Quảng Ưng"]),
]
USERS: list[tuple[str, str, Role | None, str]] = [
    # login, display name, role, unit code ("" = province)
    ("admin", "Quản trị hệ thống", None, ""),
    ("kythuat", "Lê Văn Kỹ", Role.OPERATOR, ""),
    ("chutri", "Nguyễn Thị Hoà", Role.CHAIR, ""),
    ("thuky", "Trần Đức Thắng", Role.SECRETARY, ""),
    ("daibieu1", "Phạm Thị Ánh", Role.DELEGATE, "TH-HH-1"),
    ("daibieu2", "Đặng Quốc Bảo", Role.DELEGATE, "TH-DS-1"),
    ("chutri.hh", "Lê Thị Ưng", Role.CHAIR, "TH-HH"),
]
AGENDA = [
    ("Khai mạc, giới thiệu đại biểu", 10),
    ("Báo cáo tình hình kinh tế - xã hội tháng 11", 30),
    ("Ý kiến các điểm cầu", 40),
    ("Kết luận của chủ trì", 15),
]


async def has_data(parts: Parts) -> bool:
    async with parts.store.transaction() as uow:
        return bool(await uow.units.find(within_paths=None, limit=1))


async def seed(parts: Parts, data_dir: Path) -> dict[str, object]:
    """Create the demo and write its credentials file; returns what was written."""
    d = parts.services.directory
    m = parts.services.meetings
    province = await d.create_unit(
        None, code=PROVINCE[0], name=PROVINCE[1], kind=UnitKind.PROVINCE, parent_id=None
    )
    units = {"": province}
    bridge_points: list[dict[str, object]] = []
    bp_ids: list[int] = []
    hq = await d.create_bridge_point(
        None, unit_id=province.id, name="Hội trường UBND tỉnh", room="Phòng họp tầng 3"
    )
    bridge_points.append(
        {"id": hq.bridge_point.id, "name": hq.bridge_point.name, "credential": hq.credential}
    )
    for code, name, communes in DISTRICTS:
        district = await d.create_unit(
            None, code=code, name=name, kind=UnitKind.DISTRICT, parent_id=province.id
        )
        units[code] = district
        for i, commune_name in enumerate(communes, start=1):
            commune = await d.create_unit(
                None,
                code=f"{code}-{i}",
                name=commune_name,
                kind=UnitKind.COMMUNE,
                parent_id=district.id,
            )
            units[commune.code] = commune
            new = await d.create_bridge_point(
                None,
                unit_id=commune.id,
                name=f"Điểm cầu {commune_name}",
                room="Hội trường UBND xã",
            )
            bp_ids.append(new.bridge_point.id)
            bridge_points.append(
                {
                    "id": new.bridge_point.id,
                    "name": new.bridge_point.name,
                    "credential": new.credential,
                }
            )
    logins: list[dict[str, object]] = []
    ids: dict[str, int] = {}
    for login, name, role, unit_code in USERS:
        password = secrets.token_urlsafe(9)
        grants = [(units[unit_code].id, role)] if role else []
        user = await d.create_user(
            None,
            login=login,
            display_name=name,
            password=password,
            is_admin=role is None,
            grants=grants,
        )
        ids[login] = user.id
        logins.append(
            {
                "login": login,
                "password": password,
                "name": name,
                "role": role.value if role else "admin",
                "unit": units[unit_code].name,
            }
        )
    chair = Principal(
        kind="user",
        id=ids["chutri"],
        name="chutri",
        token_id="demo",
        grants=(RoleGrant(province.id, province.path, Role.CHAIR),),
    )
    start = parts.clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    meeting = await m.create(
        chair,
        unit_id=province.id,
        title="Giao ban trực tuyến tháng 11 năm 2026",
        description="Họp giao ban trực tuyến với các huyện, xã.",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        chair_id=ids["chutri"],
        secretary_id=ids["thuky"],
    )
    for title, minutes in AGENDA:
        await m.add_agenda_item(
            chair, meeting.id, title=title, description="", duration_minutes=minutes
        )
    await m.invite_bridge_points(chair, meeting.id, [hq.bridge_point.id, *bp_ids])
    await m.invite_delegates(chair, meeting.id, [ids["daibieu1"], ids["daibieu2"]])
    await m.transition(chair, meeting.id, "schedule")
    out: dict[str, object] = {
        "users": logins,
        "bridge_points": bridge_points,
        "meeting_id": meeting.id,
    }
    # A self-signed test certificate signs the demo's minutes (minutes.signing_* unset).
    from meetingd.services.minutes import DEMO_P12, make_test_certificate

    if not (data_dir / DEMO_P12).exists():
        make_test_certificate(data_dir, province.name)
    out["minutes_signing"] = str(data_dir / DEMO_P12)
    path = data_dir / "demo-credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=2)
    return out
