"""Users and their role grants per unit."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import Role, RoleGrant, User
from meetingd.store.models import RoleGrantRow, UnitRow, UserRow
from meetingd.store.names import fold, sort_key


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def _grants(self, user_ids: list[int]) -> dict[int, tuple[RoleGrant, ...]]:
        out: dict[int, list[RoleGrant]] = {uid: [] for uid in user_ids}
        if not user_ids:
            return {}
        res = await self._s.execute(
            select(RoleGrantRow.user_id, RoleGrantRow.unit_id, UnitRow.path, RoleGrantRow.role)
            .join(UnitRow, UnitRow.id == RoleGrantRow.unit_id)
            .where(RoleGrantRow.user_id.in_(user_ids))
            .order_by(RoleGrantRow.id)
        )
        for user_id, unit_id, path, role in res:
            out[user_id].append(RoleGrant(unit_id=unit_id, unit_path=path, role=Role(role)))
        return {k: tuple(v) for k, v in out.items()}

    def _user(self, row: UserRow, grants: tuple[RoleGrant, ...]) -> User:
        return User(
            id=row.id,
            login=row.login,
            display_name=row.display_name,
            is_admin=row.is_admin,
            disabled=row.disabled,
            grants=grants,
            token_stamp=hashlib.sha256(row.password_hash.encode()).hexdigest()[:16],
        )

    async def add(
        self, *, login: str, display_name: str, password_hash: str, is_admin: bool, now: datetime
    ) -> User:
        row = UserRow(
            login=login,
            display_name=display_name,
            name_fold=fold(display_name),
            sort_key=sort_key(display_name),
            password_hash=password_hash,
            is_admin=is_admin,
            disabled=False,
            created_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        return self._user(row, ())

    async def get(self, user_id: int) -> User | None:
        row = await self._s.get(UserRow, user_id, populate_existing=True)
        if row is None:
            return None
        return self._user(row, (await self._grants([row.id]))[row.id])

    async def get_many(self, ids: list[int]) -> list[User]:
        if not ids:
            return []
        rows = list(
            (
                await self._s.execute(
                    select(UserRow).where(UserRow.id.in_(ids)).order_by(UserRow.sort_key)
                )
            ).scalars()
        )
        grants = await self._grants([r.id for r in rows])
        return [self._user(r, grants[r.id]) for r in rows]

    async def get_login(self, login: str) -> tuple[User, str] | None:
        """The user with this login and their password hash."""
        row = (await self._s.execute(select(UserRow).where(UserRow.login == login))).scalar()
        if row is None:
            return None
        return self._user(row, (await self._grants([row.id]))[row.id]), row.password_hash

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._s.execute(
            update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash)
        )

    async def update(
        self, user_id: int, *, display_name: str | None = None, disabled: bool | None = None
    ) -> None:
        values: dict[str, object] = {}
        if display_name is not None:
            values.update(
                display_name=display_name,
                name_fold=fold(display_name),
                sort_key=sort_key(display_name),
            )
        if disabled is not None:
            values["disabled"] = disabled
        if values:
            await self._s.execute(update(UserRow).where(UserRow.id == user_id).values(**values))

    async def grant(self, user_id: int, unit_id: int, role: Role) -> None:
        self._s.add(RoleGrantRow(user_id=user_id, unit_id=unit_id, role=role.value))
        await self._s.flush()

    async def revoke(self, user_id: int, unit_id: int, role: Role) -> bool:
        res = await self._s.execute(
            delete(RoleGrantRow).where(
                RoleGrantRow.user_id == user_id,
                RoleGrantRow.unit_id == unit_id,
                RoleGrantRow.role == role.value,
            )
        )
        return bool(res.rowcount)  # type: ignore[attr-defined]

    async def find(
        self,
        *,
        within_paths: list[str] | None,
        role: Role | None = None,
        query: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[User]:
        """Users holding a grant under any of ``within_paths`` (None = every user)."""
        stmt = select(UserRow)
        if within_paths is not None or role is not None:
            cond = RoleGrantRow.user_id == UserRow.id
            sub = (
                select(RoleGrantRow.id)
                .join(UnitRow, UnitRow.id == RoleGrantRow.unit_id)
                .where(cond)
            )
            if within_paths is not None:
                if not within_paths:
                    return []
                sub = sub.where(or_(*(UnitRow.path.startswith(p) for p in within_paths)))
            if role is not None:
                sub = sub.where(RoleGrantRow.role == role.value)
            stmt = stmt.where(exists(sub))
        for word in fold(query or "").split():
            stmt = stmt.where(UserRow.name_fold.contains(word, autoescape=True))
        stmt = stmt.order_by(UserRow.sort_key, UserRow.id).limit(limit).offset(offset)
        rows = list((await self._s.execute(stmt)).scalars())
        grants = await self._grants([r.id for r in rows])
        return [self._user(r, grants[r.id]) for r in rows]
