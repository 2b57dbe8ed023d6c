"""Who may see and change what. Every service call goes through these checks."""

from __future__ import annotations

import enum
from collections.abc import Collection
from typing import TYPE_CHECKING

from meetingd.domain import Meeting, MeetingState, Principal, Role
from meetingd.errors import NotFound, PermissionDenied, StateError

if TYPE_CHECKING:
    from meetingd.store import UnitOfWork

#: The states in which a meeting is being held (participants gather, speak, are counted).
HELD = frozenset({MeetingState.OPEN, MeetingState.LIVE, MeetingState.PAUSED})


class Permission(enum.StrEnum):
    """What a command needs of its caller. The command table names one per command; the
    service checks the same value (:func:`require` for those about one meeting)."""

    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    JOINED = "joined"
    READ_MEETING = "read_meeting"
    MANAGE_MEETING = "manage_meeting"
    CHAIR_CONSOLE = "chair_console"
    SPEAK = "speak"
    RELEASE_FLOOR = "release_floor"
    ANSWER_ROLLCALL = "answer_rollcall"
    CONFIRM_ROLLCALL = "confirm_rollcall"
    VOTE = "vote"
    WATCH_HEALTH = "watch_health"
    READ_DOCUMENT = "read_document"
    PRESENT_DOCUMENT = "present_document"
    CREATE_MEETING = "create_meeting"
    READ_DIRECTORY = "read_directory"
    MANAGE_DIRECTORY = "manage_directory"

    @property
    def meaning(self) -> str:
        return MEANINGS[self]


MEANINGS: dict[Permission, str] = {
    Permission.PUBLIC: "anyone, without a token",
    Permission.AUTHENTICATED: "any caller with a valid token",
    Permission.JOINED: "a connection that has joined the meeting (`meeting.join`)",
    Permission.READ_MEETING: "anyone who may read the meeting: its chair and secretary, its "
    "invited delegates and bridge points, and the chairs, secretaries and operators of its unit",
    Permission.MANAGE_MEETING: "the meeting's chair or secretary, or a chair or secretary of "
    "its unit",
    Permission.CHAIR_CONSOLE: "the connection of the meeting's chair console (its media role "
    "is chair)",
    Permission.SPEAK: "an invited bridge point or delegate",
    Permission.RELEASE_FLOOR: "a manager of the meeting, or the floor holder itself",
    Permission.ANSWER_ROLLCALL: "an invited bridge point",
    Permission.CONFIRM_ROLLCALL: "an invited delegate",
    Permission.VOTE: "an invited delegate or bridge point; the vote itself says who of them "
    "may vote (its electorate)",
    Permission.READ_DOCUMENT: "the meeting's chair and secretary (every document); anyone who "
    "may read the meeting, for a published document whose audience includes them (everyone, "
    "their role, or them by name)",
    Permission.PRESENT_DOCUMENT: "the meeting's chair or secretary, or a presenter the document "
    "names",
    Permission.WATCH_HEALTH: "the operators, chairs and secretaries of the meeting's unit, and "
    "its chair and secretary",
    Permission.CREATE_MEETING: "a chair or secretary of the unit",
    Permission.READ_DIRECTORY: "staff of the unit (operator, chair, secretary, delegate); a "
    "bridge point sees its own unit and itself",
    Permission.MANAGE_DIRECTORY: "an operator of the unit (or an administrator)",
}


def require(principal: Principal, meeting: Meeting, need: Permission) -> None:
    """Refuse ``principal`` unless it has ``need`` in ``meeting``.

    Anyone who may not read the meeting is told it does not exist (404); a reader without
    the permission is refused (403).
    """
    require_read_meeting(principal, meeting)
    if need is Permission.READ_MEETING or need is Permission.JOINED:
        return
    if need is Permission.READ_DOCUMENT or need is Permission.PRESENT_DOCUMENT:
        return  # the document's own audience and presenters decide (services/documents.py)
    if need is Permission.MANAGE_MEETING:
        if not can_manage_meeting(principal, meeting):
            raise PermissionDenied("only the meeting's chair or secretary can do this")
    elif need is Permission.SPEAK:
        if not is_invited(principal, meeting):
            raise PermissionDenied("only invited bridge points and delegates ask for the floor")
    elif need is Permission.ANSWER_ROLLCALL:
        if principal.kind != "bridge_point" or principal.id not in meeting.bridge_point_ids:
            raise PermissionDenied("only an invited bridge point answers a roll call")
    elif need is Permission.VOTE:
        if not is_invited(principal, meeting):
            raise PermissionDenied("only invited delegates and bridge points vote")
    elif need is Permission.CONFIRM_ROLLCALL:
        if principal.kind != "user" or principal.id not in meeting.delegate_ids:
            raise PermissionDenied("only an invited delegate confirms their presence")
    elif need is Permission.WATCH_HEALTH:
        if not (
            can_manage_meeting(principal, meeting)
            or (principal.kind == "user" and principal.has_role(meeting.unit_path, Role.OPERATOR))
        ):
            raise PermissionDenied("only the meeting's staff and operators see its media health")
    else:
        raise ValueError(f"{need} is not a meeting permission")


async def meeting_for(
    uow: UnitOfWork,
    principal: Principal,
    meeting_id: int,
    *,
    need: Permission = Permission.READ_MEETING,
    states: Collection[MeetingState] | None = None,
    doing: str = "this",
    lock: bool = False,
) -> Meeting:
    """The meeting, once ``principal`` is known to have ``need`` in it and it is in one of
    ``states``; the unit of work then acts (and audits) in the principal's name.

    ``lock`` takes the meeting's write lock first, so that the checks still hold when the
    change commits (every change to a meeting does).
    """
    if lock:
        await uow.meetings.lock(meeting_id)
    meeting = await uow.meetings.get(meeting_id)
    if meeting is None:
        raise NotFound(f"meeting {meeting_id} does not exist", field="meeting_id")
    require(principal, meeting, need)
    if states is not None and meeting.state not in states:
        allowed = ", ".join(s.value for s in MeetingState if s in states)
        raise StateError(
            f"{doing} is not possible while the meeting is {meeting.state.value} "
            f"(only when {allowed})"
        )
    uow.actor = principal.subject
    return meeting


def is_invited(principal: Principal, meeting: Meeting) -> bool:
    """An invited bridge point or an invited delegate (who may speak and be counted)."""
    if principal.kind == "bridge_point":
        return principal.id in meeting.bridge_point_ids
    return principal.id in meeting.delegate_ids


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
