"""Who may see and change what. Every service call goes through these checks."""

from __future__ import annotations

from meetingd.domain import Meeting, Principal, Role
from meetingd.errors import NotFound, PermissionDenied

MANAGE_MEETING = (Role.CHAIR, Role.SECRETARY)
READ_UNIT = (Role.OPERATOR, Role.CHAIR, Role.SECRETARY, Role.DELEGATE)


def paths_with(principal: Principal, *roles: Role) -> list[str] | None:
    """Unit paths under which ``principal`` holds one of ``roles`` (None = everywhere)."""
    if principal.is_admin:
        return None
    return [g.unit_path for g in principal.grants if g.role in roles]


def require_user(principal: Principal) -> None:
    if principal.kind != "user":
        raise PermissionDenied("a bridge point device cannot do this")


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise PermissionDenied("only an administrator can do this")


def require_role(principal: Principal, unit_path: str, *roles: Role, what: str) -> None:
    if not principal.has_role(unit_path, *roles):
        names = " or ".join(r.value for r in roles)
        raise PermissionDenied(f"{what} needs the {names} role for this unit")


def can_see_unit(principal: Principal, unit_path: str) -> bool:
    if principal.kind == "bridge_point":
        return unit_path == principal.unit_path
    return principal.has_role(unit_path, *READ_UNIT)


def is_participant(principal: Principal, meeting: Meeting) -> bool:
    """Invited delegate, invited bridge point, or the meeting's chair or secretary."""
    if principal.kind == "bridge_point":
        return principal.id in meeting.bridge_point_ids
    return principal.id in (meeting.chair_id, meeting.secretary_id) or (
        principal.id in meeting.delegate_ids
    )


def can_manage_meeting(principal: Principal, meeting: Meeting) -> bool:
    if principal.kind != "user":
        return False
    if principal.id in (meeting.chair_id, meeting.secretary_id):
        return True
    return principal.has_role(meeting.unit_path, *MANAGE_MEETING)


def can_read_meeting(principal: Principal, meeting: Meeting) -> bool:
    if is_participant(principal, meeting) or can_manage_meeting(principal, meeting):
        return True
    return principal.kind == "user" and principal.has_role(meeting.unit_path, Role.OPERATOR)


def require_read_meeting(principal: Principal, meeting: Meeting) -> None:
    # Someone with no business in the meeting is told it does not exist.
    if not can_read_meeting(principal, meeting):
        raise NotFound(f"meeting {meeting.id} does not exist", field="meeting_id")


def require_manage_meeting(principal: Principal, meeting: Meeting) -> None:
    require_read_meeting(principal, meeting)
    if not can_manage_meeting(principal, meeting):
        raise PermissionDenied("only the meeting's chair or secretary can do this")
