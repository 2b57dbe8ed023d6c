"""Every event a client can receive, with its payload fields: the source of the reference.

Stream events are emitted by the services (``uow.emit``) and carry the envelope
``meeting_id``, ``seq`` and ``at`` besides the fields listed here. A test runs the services
and fails when one emits a type that is missing here, so the reference stays complete.
"""

from __future__ import annotations

from meetingd.realtime.registry import EventCatalog

EVENTS = EventCatalog()

_MEETING = {"meeting": "the whole meeting as `GET /api/v1/meetings/{id}` answers it"}
_TRANSITION = {
    "state": "the new state",
    "previous_state": "the state before",
    "by": "subject of who did it (`user:5`)",
}
_MANAGERS = "chair or secretary"
_PRESENCE = {
    "kind": "`user` or `bridge_point`",
    "id": "user or bridge point id",
    "name": "display name",
    "role": "`bridge_point`, `chair`, `secretary`, `delegate` or `observer`",
    "since": "when the participant became present (its first device joined)",
}
_FLOOR_ENTRY = {
    "subject": "`bridge_point:<id>` or `user:<id>`",
    "name": "display name",
    "state": "`requested` or `granted`",
    "requested_at": "when it asked",
    "granted_at": "when it got the floor, or null",
    "muted": "whether the chair muted it",
}
_ROLLCALL = {"rollcall": "the roll call, as `GET /api/v1/meetings/{id}/rollcall` answers it"}

# -- meetings ------------------------------------------------------------------------------
EVENTS.add("meeting.created", "A meeting was created", fields=_MEETING, caused_by=_MANAGERS)
EVENTS.add(
    "meeting.updated",
    "Title, times, chair or secretary changed",
    fields=_MEETING,
    caused_by=_MANAGERS,
)
for _verb, _what in (
    ("scheduled", "The draft was scheduled"),
    ("unscheduled", "The meeting went back to draft"),
    ("opened", "The meeting was opened: participants may gather"),
    ("started", "The meeting went live"),
    ("paused", "The meeting was paused"),
    ("resumed", "The meeting went live again after a pause"),
    ("ended", "The meeting ended; the current agenda item is done"),
):
    EVENTS.add(f"meeting.{_verb}", _what, fields=_TRANSITION, caused_by=_MANAGERS)
EVENTS.add(
    "meeting.bridge_points_invited",
    "Bridge points were invited",
    fields={"bridge_point_ids": "the newly invited ids"},
    caused_by=_MANAGERS,
)
EVENTS.add(
    "meeting.bridge_point_uninvited",
    "A bridge point was uninvited",
    fields={"bridge_point_id": "its id"},
    caused_by=_MANAGERS,
)
EVENTS.add(
    "meeting.delegates_invited",
    "Delegates were invited",
    fields={"user_ids": "the newly invited user ids"},
    caused_by=_MANAGERS,
)
EVENTS.add(
    "meeting.delegate_uninvited",
    "A delegate was uninvited",
    fields={"user_id": "their id"},
    caused_by=_MANAGERS,
)

# -- agenda --------------------------------------------------------------------------------
EVENTS.add(
    "agenda.moved",
    "Another agenda item became the current one (the previous one is done)",
    fields={"item_id": "the current item", "previous_item_id": "the item before, or null"},
    caused_by=_MANAGERS,
)
EVENTS.add(
    "agenda.item_added",
    "An agenda item was added at the end",
    fields={"item": "the item (id, position, title, description, duration_minutes, state)"},
    caused_by=_MANAGERS,
)
EVENTS.add(
    "agenda.item_updated",
    "An agenda item changed",
    fields={"item": "the item"},
    caused_by=_MANAGERS,
)
EVENTS.add(
    "agenda.item_removed",
    "An agenda item was removed",
    fields={"item_id": "its id"},
    caused_by=_MANAGERS,
)
EVENTS.add(
    "agenda.reordered",
    "The agenda was reordered",
    fields={"item_ids": "every item id, in the new order"},
    caused_by=_MANAGERS,
)

# -- presence and roll call ------------------------------------------------------------------
EVENTS.add(
    "presence.joined",
    "A participant connected to the meeting (its first device)",
    fields=_PRESENCE,
    caused_by="a connection joining (`meeting.join` or `meeting.resync`)",
)
EVENTS.add(
    "presence.left",
    "A participant is no longer connected (its last device left or vanished)",
    fields=_PRESENCE,
    caused_by="`meeting.leave`, a disconnect, a missed ping, or its server process dying",
)
EVENTS.add(
    "rollcall.started", "A roll call (điểm danh) started", fields=_ROLLCALL, caused_by=_MANAGERS
)
EVENTS.add(
    "rollcall.answered",
    "A bridge point counted the people in its room (again: replaces)",
    fields={
        "rollcall_id": "the roll call",
        "bridge_point_id": "who answered",
        "count": "people present in the room, 0 to 1000",
        "answered_at": "when",
    },
    caused_by="an invited bridge point",
)
EVENTS.add(
    "rollcall.confirmed",
    "A delegate confirmed their presence",
    fields={"rollcall_id": "the roll call", "user_id": "the delegate", "confirmed_at": "when"},
    caused_by="an invited delegate",
)
EVENTS.add(
    "rollcall.closed",
    "The roll call closed; `rollcall.result` holds the result and quorum",
    fields=_ROLLCALL,
    caused_by=_MANAGERS,
)

# -- floor -----------------------------------------------------------------------------------
EVENTS.add(
    "floor.requested",
    "A participant asked for the floor",
    fields=_FLOOR_ENTRY,
    caused_by="an invited bridge point or delegate",
)
EVENTS.add(
    "floor.withdrawn",
    "A participant took back its request",
    fields={"subject": "who"},
    caused_by="the participant",
)
EVENTS.add(
    "floor.granted", "A participant got the floor", fields=_FLOOR_ENTRY, caused_by="the chair"
)
EVENTS.add(
    "floor.revoked",
    "The floor was taken back, or a speaker finished",
    fields={"subject": "who", "was": "`requested` or `granted`", "by": "who did it"},
    caused_by="the chair, or the speaker itself",
)
EVENTS.add(
    "floor.muted",
    "The chair muted or unmuted a speaker",
    fields={"subject": "who", "muted": "true or false"},
    caused_by="the chair",
)

# -- per connection (no meeting_id, no seq) --------------------------------------------------
EVENTS.add(
    "connection.closed",
    "The server is about to close this connection, and why",
    fields={"code": "e.g. `rate_limited`", "message": "a sentence for the log or the user"},
    caused_by="the server (flooding)",
    stream=False,
)
EVENTS.add(
    "rtc.offered",
    "The media server offers a new SDP to this connection (its receive slots)",
    fields={"meeting_id": "the meeting", "sdp": "the offer"},
    caused_by="the media plane (renegotiation)",
    stream=False,
)
EVENTS.add(
    "rtc.layout",
    "What each receive slot of this connection shows now (after a floor or page change)",
    fields={
        "meeting_id": "the meeting",
        "page": "the chair's thumbnail page (0-based)",
        "page_count": "how many pages there are",
        "audio": "`[{mid, kind, subject}]`: the subject heard on each audio `mid`, or null",
        "video": "`[{mid, kind, subject}]`: the subject shown on each video `mid`, or null",
    },
    caused_by="the media plane, following the floor and the chair's paging",
    stream=False,
)
