"""The directory: units, bridge points and users, with their role grants."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from meetingd.clock import Clock
from meetingd.domain import PARENT_KIND, BridgePoint, Principal, Role, Unit, UnitKind, User
from meetingd.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from meetingd.services import authz
from meetingd.services.auth import PasswordHashing, new_device_credential
from meetingd.store import Store, UnitOfWork

logger = logging.getLogger(__name__)

LIST_ROLES = (Role.OPERATOR, Role.CHAIR, Role.SECRETARY)


@dataclass(frozen=True, slots=True)
class NewBridgePoint:
    """A bridge point just created; ``credential`` is shown once and never stored."""

    bridge_point: BridgePoint
    credential: str


async def _unit(
    uow: UnitOfWork, unit_id: int, principal: Principal | None, field: str = "unit_id"
) -> Unit:
    unit = await uow.units.get(unit_id)
    if unit is None or (principal is not None and not authz.can_see_unit(principal, unit.path)):
        raise NotFound(f"{field}: unit {unit_id} does not exist", field=field)
    return unit


class DirectoryService:
    def __init__(self, store: Store, clock: Clock, passwords: PasswordHashing) -> None:
        self._store = store
        self._clock = clock
        self._passwords = passwords

    # -- units ------------------------------------------------------------------

    async def create_unit(
        self,
        principal: Principal | None,
        *,
        code: str,
        name: str,
        kind: UnitKind,
        parent_id: int | None,
    ) -> Unit:
        """A unit under ``parent_id``; a province needs an administrator, others an operator."""
        async with self._store.transaction() as uow:
            parent = (
                await _unit(uow, parent_id, principal, "parent_id")
                if parent_id is not None
                else None
            )
            if principal is not None:  # who may add here, before what is added
                authz.require_user(principal)
                if parent is None:
                    authz.require_admin(principal)
                else:
                    authz.require_role(principal, parent.path, Role.OPERATOR, what="adding a unit")
            want = PARENT_KIND[kind]
            if (parent.kind if parent else None) != want:
                where = f"under a {want.value}" if want else "at the top level"
                raise ValidationError(
                    f"parent_id: a {kind.value} must sit {where}", field="parent_id"
                )
            if await uow.units.get_by_code(code) is not None:
                raise ConflictError(f"unit code {code!r} is already taken", field="code")
            unit = await uow.units.add(
                parent=parent, code=code, name=name, kind=kind, now=self._clock.now()
            )
            await self._audit(uow, principal, "unit.created", f"unit:{unit.id}", {"code": code})
            return unit

    async def get_unit(self, principal: Principal, unit_id: int) -> Unit:
        async with self._store.transaction() as uow:
            return await _unit(uow, unit_id, principal)

    async def list_units(
        self,
        principal: Principal,
        *,
        parent_id: int | None = None,
        kind: UnitKind | None = None,
        query: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[Unit]:
        within = (
            [principal.unit_path]
            if principal.kind == "bridge_point"
            else authz.paths_with(principal, *authz.READ_UNIT)
        )
        async with self._store.transaction() as uow:
            return await uow.units.find(
                within_paths=within,
                parent_id=parent_id,
                kind=kind,
                query=query,
                limit=limit,
                offset=offset,
            )

    async def rename_unit(self, principal: Principal, unit_id: int, name: str) -> Unit:
        async with self._store.transaction() as uow:
            unit = await _unit(uow, unit_id, principal)
            authz.require_role(principal, unit.path, Role.OPERATOR, what="renaming a unit")
            await uow.units.rename(unit_id, name)
            await self._audit(uow, principal, "unit.renamed", f"unit:{unit_id}", {"name": name})
            return await _unit(uow, unit_id, principal)

    # -- bridge points -------------------------------------------------------------

    async def create_bridge_point(
        self, principal: Principal | None, *, unit_id: int, name: str, room: str = ""
    ) -> NewBridgePoint:
        """Register a room device; its credential is returned once, only a hash is kept."""
        credential, key, hashed = new_device_credential()
        async with self._store.transaction() as uow:
            unit = await _unit(uow, unit_id, principal)
            if principal is not None:
                authz.require_role(
                    principal, unit.path, Role.OPERATOR, what="adding a bridge point"
                )
            bp = await uow.bridge_points.add(
                unit_id=unit_id,
                name=name,
                room=room,
                credential_key=key,
                credential_hash=hashed,
                now=self._clock.now(),
            )
            await self._audit(uow, principal, "bridge_point.created", f"bridge_point:{bp.id}", {})
        return NewBridgePoint(bridge_point=bp, credential=credential)

    async def _bridge_point(
        self, uow: UnitOfWork, principal: Principal | None, bp_id: int
    ) -> BridgePoint:
        """The bridge point if ``principal`` may see it (None: the command line sees all)."""
        bp = await uow.bridge_points.get(bp_id)
        if bp is None:
            raise NotFound(f"bridge point {bp_id} does not exist", field="bridge_point_id")
        if principal is None:
            return bp
        if principal.kind == "bridge_point":
            if principal.id != bp_id:
                raise NotFound(f"bridge point {bp_id} does not exist", field="bridge_point_id")
        elif not principal.has_role(bp.unit_path, *LIST_ROLES):
            raise NotFound(f"bridge point {bp_id} does not exist", field="bridge_point_id")
        return bp

    async def get_bridge_point(self, principal: Principal, bp_id: int) -> BridgePoint:
        async with self._store.transaction() as uow:
            return await self._bridge_point(uow, principal, bp_id)

    async def list_bridge_points(
        self,
        principal: Principal,
        *,
        unit_id: int | None = None,
        query: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[BridgePoint]:
        authz.require_user(principal)
        async with self._store.transaction() as uow:
            return await uow.bridge_points.find(
                within_paths=authz.paths_with(principal, *LIST_ROLES),
                unit_id=unit_id,
                query=query,
                limit=limit,
                offset=offset,
            )

    async def update_bridge_point(
        self,
        principal: Principal | None,
        bp_id: int,
        *,
        name: str | None = None,
        room: str | None = None,
        disabled: bool | None = None,
    ) -> BridgePoint:
        async with self._store.transaction() as uow:
            bp = await self._bridge_point(uow, principal, bp_id)
            if principal is not None:
                authz.require_role(
                    principal, bp.unit_path, Role.OPERATOR, what="changing a bridge point"
                )
            await uow.bridge_points.update(bp_id, name=name, room=room, disabled=disabled)
            changed = {"name": name, "room": room, "disabled": disabled}
            await self._audit(
                uow,
                principal,
                "bridge_point.updated",
                f"bridge_point:{bp_id}",
                {k: v for k, v in changed.items() if v is not None},
            )
            if disabled and not bp.disabled:
                uow.rights_changed(f"bridge_point:{bp_id}")
            return await self._bridge_point(uow, principal, bp_id)

    async def rotate_credential(self, principal: Principal | None, bp_id: int) -> NewBridgePoint:
        """Replace the device credential (the old one and its tokens stop working at once)."""
        credential, key, hashed = new_device_credential()
        async with self._store.transaction() as uow:
            bp = await self._bridge_point(uow, principal, bp_id)
            if principal is not None:
                authz.require_role(
                    principal, bp.unit_path, Role.OPERATOR, what="resetting a credential"
                )
            await uow.bridge_points.set_credential(bp_id, key, hashed)
            await self._audit(
                uow, principal, "bridge_point.credential_rotated", f"bridge_point:{bp_id}", {}
            )
            uow.rights_changed(f"bridge_point:{bp_id}")  # its tokens carry the old key
        return NewBridgePoint(bridge_point=bp, credential=credential)

    # -- users --------------------------------------------------------------------------

    async def create_user(
        self,
        principal: Principal | None,
        *,
        login: str,
        display_name: str,
        password: str,
        is_admin: bool = False,
        grants: list[tuple[int, Role]] | None = None,
    ) -> User:
        """A user with role grants; an operator may create users only for units they operate.

        Only an administrator may create an administrator or a user without any grant.
        """
        login = login.strip().lower()
        if principal is not None:
            authz.require_user(principal)
            if is_admin or not grants:
                authz.require_admin(principal)
            elif not principal.is_admin and not authz.paths_with(principal, Role.OPERATOR):
                raise PermissionDenied("adding a user needs the operator role for a unit")
        hashed = await self._passwords.hash(password)
        async with self._store.transaction() as uow:
            for unit_id, _role in grants or []:
                unit = await _unit(uow, unit_id, principal, "grants")
                if principal is not None:
                    authz.require_role(principal, unit.path, Role.OPERATOR, what="granting a role")
            if await uow.users.get_login(login) is not None:
                raise ConflictError(f"login {login!r} is already taken", field="login")
            user = await uow.users.add(
                login=login,
                display_name=display_name,
                password_hash=hashed,
                is_admin=is_admin,
                now=self._clock.now(),
            )
            for unit_id, role in grants or []:
                await self._grant(uow, principal, user.id, unit_id, role, "grants")
            await self._audit(uow, principal, "user.created", f"user:{user.id}", {"login": login})
            got = await uow.users.get(user.id)
            assert got is not None
            return got

    async def _grant(
        self,
        uow: UnitOfWork,
        principal: Principal | None,
        user_id: int,
        unit_id: int,
        role: Role,
        field: str = "unit_id",
    ) -> None:
        unit = await _unit(uow, unit_id, principal, field)
        if principal is not None:
            authz.require_role(principal, unit.path, Role.OPERATOR, what="granting a role")
        user = await uow.users.get(user_id)
        if user is not None and any(g.unit_id == unit_id and g.role == role for g in user.grants):
            raise ConflictError(
                f"the user already has the {role.value} role for unit {unit_id}", field="role"
            )
        await uow.users.grant(user_id, unit_id, role)

    def _visible_user(self, principal: Principal, user: User) -> bool:
        if principal.kind == "user" and (principal.id == user.id or principal.is_admin):
            return True
        if principal.kind != "user":
            return False
        return any(principal.has_role(g.unit_path, *LIST_ROLES) for g in user.grants)

    async def get_user(self, principal: Principal, user_id: int) -> User:
        async with self._store.transaction() as uow:
            user = await uow.users.get(user_id)
        if user is None or not self._visible_user(principal, user):
            raise NotFound(f"user {user_id} does not exist", field="user_id")
        return user

    async def list_users(
        self,
        principal: Principal,
        *,
        role: Role | None = None,
        query: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[User]:
        authz.require_user(principal)
        async with self._store.transaction() as uow:
            return await uow.users.find(
                within_paths=authz.paths_with(principal, *LIST_ROLES),
                role=role,
                query=query,
                limit=limit,
                offset=offset,
            )

    async def grant_role(
        self, principal: Principal, user_id: int, unit_id: int, role: Role
    ) -> User:
        async with self._store.transaction() as uow:
            user = await uow.users.get(user_id)
            # An operator may grant roles in their own units to any user they can name.
            if user is None or not (
                self._visible_user(principal, user) or authz.paths_with(principal, Role.OPERATOR)
            ):
                raise NotFound(f"user {user_id} does not exist", field="user_id")
            await self._grant(uow, principal, user_id, unit_id, role)
            await self._audit(
                uow,
                principal,
                "user.granted",
                f"user:{user_id}",
                {"unit_id": unit_id, "role": role.value},
            )
            got = await uow.users.get(user_id)
            assert got is not None
            return got

    async def revoke_role(
        self, principal: Principal, user_id: int, unit_id: int, role: Role
    ) -> User:
        async with self._store.transaction() as uow:
            unit = await _unit(uow, unit_id, principal)
            authz.require_role(principal, unit.path, Role.OPERATOR, what="revoking a role")
            if not await uow.users.revoke(user_id, unit_id, role):
                raise NotFound(
                    f"user {user_id} has no {role.value} role for unit {unit_id}", field="role"
                )
            await self._audit(
                uow,
                principal,
                "user.revoked",
                f"user:{user_id}",
                {"unit_id": unit_id, "role": role.value},
            )
            uow.rights_changed(f"user:{user_id}")
            got = await uow.users.get(user_id)
            assert got is not None
            return got

    async def _managed_user(
        self, uow: UnitOfWork, principal: Principal | None, user_id: int
    ) -> User:
        """A user whose account ``principal`` may manage: an operator over every unit the user
        holds a role in; an administrator, or a user with no grant, only by an administrator
        (None: the command line manages every account)."""
        user = await uow.users.get(user_id)
        if user is None or (principal is not None and not self._visible_user(principal, user)):
            raise NotFound(f"user {user_id} does not exist", field="user_id")
        if principal is None:
            return user
        if user.is_admin or not user.grants:
            authz.require_admin(principal)
        for g in user.grants:
            authz.require_role(principal, g.unit_path, Role.OPERATOR, what="managing an account")
        return user

    async def set_user_disabled(
        self, principal: Principal | None, user_id: int, disabled: bool
    ) -> User:
        """Disable (every token stops working, open connections close) or enable an account."""
        if (
            principal is not None
            and principal.kind == "user"
            and principal.id == user_id
            and disabled
        ):
            raise PermissionDenied("you cannot disable your own account")
        async with self._store.transaction() as uow:
            await self._managed_user(uow, principal, user_id)
            await uow.users.update(user_id, disabled=disabled)
            action = "user.disabled" if disabled else "user.enabled"
            await self._audit(uow, principal, action, f"user:{user_id}", {})
            if disabled:
                uow.rights_changed(f"user:{user_id}")
            got = await uow.users.get(user_id)
            assert got is not None
            return got

    async def reset_password(
        self, principal: Principal | None, user_id: int, password: str
    ) -> User:
        """Set a new password; every token issued before stops working (``principal`` None:
        the command line)."""
        hashed = await self._passwords.hash(password)
        async with self._store.transaction() as uow:
            await self._managed_user(uow, principal, user_id)
            await uow.users.set_password_hash(user_id, hashed)
            await self._audit(uow, principal, "user.password_reset", f"user:{user_id}", {})
            uow.rights_changed(f"user:{user_id}")
            got = await uow.users.get(user_id)
            assert got is not None
            return got

    async def _audit(
        self,
        uow: UnitOfWork,
        principal: Principal | None,
        action: str,
        subject: str,
        data: dict[str, object],
    ) -> None:
        uow.actor = principal.subject if principal else "cli"
        await uow.record(action, subject, data)
