"""The control plane's side of the media plane: meetings become media rooms.

It maps a meeting to a :class:`media.Room`, a socket.io connection to a media endpoint,
and keeps the room's policy in step with the meeting's stream: who holds the floor and who
is muted (``floor.*`` events), and the end of the meeting. Every process sees every event
of a meeting in ``seq`` order (the sequencer), so each keeps the rooms it hosts right.

The media plane knows nothing of meetings or users; this module is the only place where
the two vocabularies meet (endpoint ids are ``"<subject>#<sid>"``, e.g.
``"bridge_point:3#Xy7..."``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from media import (
    Endpoint,
    EndpointStats,
    IceServer,
    Kind,
    Layout,
    LinkState,
    MediaError,
    MediaPlane,
    RecordingInfo,
    RemoteMember,
    Role,
    Room,
    SlotInfo,
    link_state,
)
from meetingd.domain import MediaHealth, Meeting, MeetingEvent, Principal
from meetingd.errors import ConflictError, ErrorCode, MeetingdError, StateError
from meetingd.events import (
    Event,
    FloorGranted,
    FloorMuted,
    FloorRevoked,
    MeetingEnded,
    RtcLayout,
    RtcOffered,
    Slot,
    parse,
)
from meetingd.services import Services
from meetingd.services.authz import HELD, Permission, can_manage_meeting, require

logger = logging.getLogger(__name__)

#: Meeting states in which media flows: while the meeting is held.
MEDIA_STATES = HELD

Emit = Callable[[str, Event], Coroutine[Any, Any, None]]  # (sid, per-connection event)
Connected = Callable[[str], bool]  # is the connection with this sid still open here
#: told of every finished recording once it is kept (meeting id, what the media plane
#: recorded, the document holding it or None)
RecordingFinished = Callable[[int, RecordingInfo, int | None], Coroutine[Any, Any, None]]
#: how long closing the bridge waits for finished recordings to be kept as documents
KEEP_GRACE = 60.0


class MediaSignallingError(MeetingdError):
    """The media plane refused an offer, answer or candidate."""

    status = 400
    code = "media_error"


def _signalling(exc: MediaError) -> MediaSignallingError:
    """The media plane's refusal under its own code where the catalogue has it."""
    known = exc.code in ErrorCode.__members__.values()
    return MediaSignallingError(exc.message, code=exc.code if known else None)


@dataclass
class _FloorMirror:
    """The floor as the media plane needs it: holders in order, and who is muted."""

    holders: list[str] = field(default_factory=list)
    muted: set[str] = field(default_factory=set)


@dataclass
class _MeetingMedia:
    room: Room
    chair_subject: str | None
    floor: _FloorMirror
    #: endpoint id -> connection sid
    endpoints: dict[str, str] = field(default_factory=dict)
    #: since when the room records (the control plane's clock), while it does
    recording_since: datetime | None = None
    #: the recording's name, as ``recording.started`` gave it, while it records
    recording_name: str | None = None


def endpoint_id(principal: Principal, sid: str) -> str:
    return f"{principal.subject}#{sid}"


def subject_of(endpoint: str) -> str:
    return endpoint.partition("#")[0]


def media_role(principal: Principal, meeting: Meeting) -> str:
    """The media role: the meeting's chair leads; other managers watch like delegates."""
    if principal.kind == "bridge_point":
        return "bridge_point"
    if principal.id == meeting.chair_id:
        return "chair"
    if meeting.chair_id is None and can_manage_meeting(principal, meeting):
        return "chair"
    return "delegate" if principal.id in meeting.delegate_ids else "observer"


class Directory(Protocol):
    """Where a node's media rosters and figures go for the other nodes (cascading)."""

    def roster(
        self, meeting_id: int, members: Mapping[str, tuple[Role, frozenset[Kind]]]
    ) -> None: ...

    def health_measured(self, meeting_id: int, rows: list[MediaHealth]) -> None: ...

    async def media_of(self, meeting_id: int, subject: str) -> list[str]: ...

    async def send_link_mode(
        self, meeting_id: int, subject: str, mode: str, bitrate_cap: int | None
    ) -> None: ...


class MediaBridge:
    """Owns this process's media rooms (one per meeting with media here)."""

    def __init__(
        self,
        plane: MediaPlane,
        services: Services,
        emit: Emit,
        connected: Connected = lambda sid: True,
    ) -> None:
        self.plane = plane
        self._services = services
        self._emit = emit
        self._connected = connected
        self._meetings: dict[int, _MeetingMedia] = {}
        self._by_sid: dict[str, set[tuple[int, str]]] = {}
        self._pending: set[asyncio.Task[None]] = set()
        #: recordings that ended with the meeting or its room, being kept as documents
        self._keeping: set[asyncio.Task[None]] = set()
        #: with cascading: where this node's rosters and health figures go (Redis)
        self.directory: Directory | None = None
        #: told of every finished recording once it is kept as a document of the meeting
        #: (the media plane hands the finished file back here; ``media/`` knows nothing of
        #: documents)
        self.on_recording_finished: RecordingFinished | None = None

    # -- commands ----------------------------------------------------------------------

    async def _meeting(self, principal: Principal, meeting_id: int) -> Meeting:
        meeting = await self._services.meetings.get(principal, meeting_id)
        if meeting.state not in MEDIA_STATES:
            raise StateError(
                f"media is off while the meeting is {meeting.state.value}; "
                "it flows once the meeting is open"
            )
        return meeting

    async def ice_servers(self, principal: Principal, meeting_id: int) -> tuple[IceServer, ...]:
        """ICE servers for this caller, TURN credentials included (time-limited)."""
        await self._services.meetings.get(principal, meeting_id)  # may they see it at all
        return self.plane.client_ice_servers(principal.subject)

    async def offer(self, principal: Principal, sid: str, meeting_id: int, sdp: str) -> str:
        """The client's offer (first or renegotiation); answers the server's SDP.

        The connection may close while the meeting and the room are read: its ``drop`` then
        found nothing to remove, so an endpoint made after it would belong to nobody. The
        connection is checked after those reads, with no suspension until the endpoint is
        registered under its sid (where ``drop`` finds it), and nothing is made for a
        connection that is gone (a room opened for it alone is closed again).
        """
        meeting = await self._meeting(principal, meeting_id)
        mm = await self._room(principal, meeting)
        if not self._connected(sid):
            if not mm.endpoints and self._meetings.get(meeting_id) is mm:
                await self.close_meeting(meeting_id)
            raise MeetingdError("the connection has closed", code="gone")
        eid = endpoint_id(principal, sid)
        created = eid not in mm.endpoints
        if created:
            role = media_role(principal, meeting)

            async def on_offer(offer_sdp: str) -> None:
                await self._emit(sid, RtcOffered(meeting_id=meeting_id, sdp=offer_sdp))

            try:
                mm.room.add_endpoint(eid, role, on_offer=on_offer)
            except MediaError as exc:
                raise _signalling(exc) from None
            mm.endpoints[eid] = sid
            self._by_sid.setdefault(sid, set()).add((meeting_id, eid))
            if role == "chair":
                mm.chair_subject = principal.subject
            self._apply_floor(meeting_id, mm)
            logger.info("meeting %s: %s joined the media as %s", meeting_id, eid, role)
        try:
            return await mm.room.endpoint(eid).handle_offer(sdp)
        except MediaError as exc:
            if created:  # a first offer that fails leaves nothing behind
                await self.drop(sid, meeting_id)
            raise _signalling(exc) from None

    async def answer(self, principal: Principal, sid: str, meeting_id: int, sdp: str) -> None:
        ep = self._endpoint(principal, sid, meeting_id)
        try:
            await ep.handle_answer(sdp)
        except MediaError as exc:
            raise _signalling(exc) from None

    async def candidate(
        self,
        principal: Principal,
        sid: str,
        meeting_id: int,
        candidate: str,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        ep = self._endpoint(principal, sid, meeting_id)
        try:
            await ep.add_ice_candidate(candidate, sdp_mid, sdp_mline_index)
        except MediaError as exc:
            raise _signalling(exc) from None

    def set_page(self, principal: Principal, sid: str, meeting_id: int, page: int) -> RtcLayout:
        """Page the chair's thumbnails; answers the new layout."""
        self._endpoint(principal, sid, meeting_id)
        mm = self._meetings[meeting_id]
        eid = endpoint_id(principal, sid)
        try:
            mm.room.set_video_page(eid, page)
        except MediaError as exc:
            raise _signalling(exc) from None
        return layout_view(meeting_id, mm.room.layout(eid))

    async def set_link_mode(
        self,
        principal: Principal,
        meeting_id: int,
        subject: str,
        mode: str,
        bitrate_cap: int | None,
    ) -> LinkState:
        """Weak-link mode for every media session of ``subject`` (operator/chair), on this
        node and (cascading) on the others: the answer is this node's session's state, or
        the mode as asked when the subject's media is elsewhere only."""
        meeting = await self._services.meetings.get(principal, meeting_id)  # 404 if unseen
        mm = self._meetings.get(meeting_id)
        if mm is None and self.directory is None:
            raise StateError("no media in this meeting yet", code="no_session")
        require(principal, meeting, Permission.WATCH_HEALTH)
        eids = [e for e in mm.endpoints if subject_of(e) == subject] if mm else []
        elsewhere: list[str] = []
        if self.directory is not None:
            elsewhere = await self.directory.media_of(meeting_id, subject)
        if not eids and not elsewhere:
            raise StateError(f"{subject} has no media session", code="no_session")
        try:
            asked = link_state(eids[0] if eids else elsewhere[0], mode, bitrate_cap)
            states = [mm.room.set_link_mode(e, mode, bitrate_cap) for e in eids] if mm else []
        except MediaError as exc:
            raise _signalling(exc) from None
        if elsewhere and self.directory is not None:
            await self.directory.send_link_mode(meeting_id, subject, mode, bitrate_cap)
        return states[0] if states else asked

    def link_mode_heard(
        self, meeting_id: int, subject: str, mode: str, bitrate_cap: int | None
    ) -> None:
        """A weak-link mode an operator set on another node (its rights checked there)."""
        mm = self._meetings.get(meeting_id)
        for eid in [e for e in mm.endpoints if subject_of(e) == subject] if mm else []:
            try:
                mm.room.set_link_mode(eid, mode, bitrate_cap)  # type: ignore[union-attr]
            except MediaError as exc:
                logger.warning("meeting %s: link mode for %s: %s", meeting_id, eid, exc)

    def recording_now(self, meeting_id: int) -> tuple[str, datetime] | None:
        """The meeting's recording in progress on this process (its name, since when)."""
        mm = self._meetings.get(meeting_id)
        if mm is None or mm.recording_since is None or mm.recording_name is None:
            return None
        return mm.recording_name, mm.recording_since

    async def start_recording(self, principal: Principal, meeting_id: int) -> str:
        """Record the meeting's media room (the chair); answers the recording's name (its
        file is that name with ``.webm`` or ``.mp4``, as the first picture decides)."""
        await self._meeting(principal, meeting_id)  # readers only; while it is held
        await self._services.recording.check(principal, meeting_id)
        mm = self._meetings.get(meeting_id)
        if mm is None:
            raise StateError("no media in this meeting yet: nothing to record", code="no_session")
        if mm.room.recording is not None:
            raise ConflictError("the meeting is being recorded already")
        path = self._services.recording.path_for(meeting_id)
        mm.room.start_recording(str(path))
        try:
            mm.recording_since = await self._services.recording.started(
                principal, meeting_id, path.name
            )
            mm.recording_name = path.name
        except BaseException:
            info = await mm.room.stop_recording()
            Path(info.path).unlink(missing_ok=True)  # noqa: ASYNC240 - nothing was announced
            raise
        logger.info("meeting %s: recording to %s", meeting_id, path)
        return path.name

    async def stop_recording(
        self, principal: Principal, meeting_id: int
    ) -> tuple[RecordingInfo, int | None]:
        """Stop the meeting's recording (the chair): the file is complete and kept as a
        document of the meeting when this returns; answers it and the document's id (None
        if it could not be kept: the file then stays in the recordings directory)."""
        await self._meeting(principal, meeting_id)
        await self._services.recording.check(principal, meeting_id)
        mm = self._meetings.get(meeting_id)
        if mm is None or mm.room.recording is None:
            raise StateError("the meeting is not being recorded")
        info = await mm.room.stop_recording()
        since, mm.recording_since, mm.recording_name = mm.recording_since, None, None
        document_id = await self._keep(meeting_id, info, since)
        await self._services.recording.stopped(
            principal, meeting_id, Path(info.path).name, info.duration, info.bytes, document_id
        )
        await self._recording_finished(meeting_id, info, document_id)
        return info, document_id

    async def _keep(
        self, meeting_id: int, info: RecordingInfo, since: datetime | None
    ) -> int | None:
        """The finished file as a document of the meeting; None (logged) if that failed."""
        logger.info("meeting %s: recording %s finished (%.0f s, %d bytes, %s)", meeting_id,
                    info.path, info.duration, info.bytes, info.media_type)  # fmt: skip
        if info.other_codec_frames:
            logger.info("meeting %s: %d frames of a speaker in another codec than the "
                        "recording's (%s) were left out of its picture", meeting_id,
                        info.other_codec_frames, info.video_codec)  # fmt: skip
        ended = self._services.health.now()
        started = since or ended - timedelta(seconds=info.duration)
        try:
            doc = await self._services.recording.keep(
                meeting_id, Path(info.path), info.media_type, started, ended
            )
        except Exception:
            logger.exception("meeting %s: the recording %s could not be kept as a document; "
                             "it stays where it was written", meeting_id, info.path)  # fmt: skip
            return None
        return doc.id

    async def _ended(self, meeting_id: int, info: RecordingInfo, since: datetime | None) -> None:
        """A recording that ended with its room (the meeting ended, everyone left, the
        server stops): kept, then announced in the system's name."""
        document_id = await self._keep(meeting_id, info, since)
        try:
            await self._services.recording.ended(
                meeting_id, Path(info.path).name, info.duration, info.bytes, document_id
            )
        except Exception:
            logger.exception("meeting %s: the end of its recording could not be announced",
                             meeting_id)  # fmt: skip
        await self._recording_finished(meeting_id, info, document_id)

    async def _recording_finished(
        self, meeting_id: int, info: RecordingInfo, document_id: int | None
    ) -> None:
        if self.on_recording_finished is not None:
            try:
                await self.on_recording_finished(meeting_id, info, document_id)
            except Exception:
                logger.exception("meeting %s: the finished recording's hook failed", meeting_id)

    def layout(self, principal: Principal, sid: str, meeting_id: int) -> RtcLayout:
        self._endpoint(principal, sid, meeting_id)
        room = self._meetings[meeting_id].room
        return layout_view(meeting_id, room.layout(endpoint_id(principal, sid)))

    def _endpoint(self, principal: Principal, sid: str, meeting_id: int) -> Endpoint:
        mm = self._meetings.get(meeting_id)
        eid = endpoint_id(principal, sid)
        if mm is None or eid not in mm.endpoints:
            raise StateError("no media session yet: send rtc.offer first", code="no_session")
        return mm.room.endpoint(eid)

    # -- rooms -----------------------------------------------------------------------

    async def _room(self, principal: Principal, meeting: Meeting) -> _MeetingMedia:
        mm = self._meetings.get(meeting.id)
        if mm is not None:
            return mm
        entries = await self._services.floor.entries(principal, meeting.id)
        mirror = _FloorMirror(
            holders=[e.subject for e in entries if e.state.value == "granted"],
            muted={e.subject for e in entries if e.muted},
        )
        if meeting.id in self._meetings:  # another offer created it meanwhile
            return self._meetings[meeting.id]

        def on_stats(_room_id: str, stats: Mapping[str, EndpointStats]) -> None:
            cur = self._meetings.get(meeting.id)
            if cur is not None:
                rows = self._health(meeting.id, stats)
                self._services.health.record(meeting.id, rows)
                if self.directory is not None:
                    self.directory.health_measured(meeting.id, rows)

        def on_layout(layout: Layout) -> None:
            cur = self._meetings.get(meeting.id)
            sid = cur.endpoints.get(layout.endpoint_id) if cur else None
            if sid is not None:
                self._send_layout(sid, meeting.id, layout)

        room = self.plane.create_room(str(meeting.id), on_stats=on_stats, on_layout=on_layout)
        directory = self.directory
        if directory is not None:
            room.on_members = lambda members: directory.roster(meeting.id, members)
        mm = _MeetingMedia(room=room, chair_subject=None, floor=mirror)
        self._meetings[meeting.id] = mm
        logger.info("meeting %s: media room opened", meeting.id)
        return mm

    def _health(self, meeting_id: int, stats: Mapping[str, EndpointStats]) -> list[MediaHealth]:
        now = self._services.health.now()
        return [
            MediaHealth(
                meeting_id=meeting_id,
                subject=subject_of(eid),
                connection=eid.partition("#")[2],
                role=st.role,
                state=st.state,
                bitrate_in=st.bitrate_in,
                bitrate_out=st.bitrate_out,
                loss_in=st.loss_in,
                loss_out=st.loss_out,
                jitter_in_ms=st.jitter_in_ms,
                jitter_out_ms=st.jitter_out_ms,
                rtt_ms=st.rtt_ms,
                fps_in=st.fps_in,
                fps_out=st.fps_out,
                last_keyframe_at=(
                    datetime.fromtimestamp(st.last_keyframe_at, UTC)
                    if st.last_keyframe_at is not None
                    else None
                ),
                measured_at=now,
            )
            for eid, st in stats.items()
        ]

    def _send_layout(self, sid: str, meeting_id: int, layout: Layout) -> None:
        # Called synchronously by the media plane; the emit runs as a kept task.
        task = asyncio.get_running_loop().create_task(
            self._emit(sid, layout_view(meeting_id, layout)),
            name=f"rtc-layout-{sid}",
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def set_remote(self, meeting_id: int, members: Mapping[str, RemoteMember]) -> None:
        """The meeting's media endpoints on the other nodes now (cascading): the policy
        decides for the whole meeting, floor holders there included."""
        mm = self._meetings.get(meeting_id)
        if mm is None:
            return
        mm.room.set_remote_members(members)
        self._apply_floor(meeting_id, mm)

    def _apply_floor(self, meeting_id: int, mm: _MeetingMedia) -> None:
        """Floor holders (in order) become the room's floor; mutes are enforced (on every
        node: a holder on another node is heard here from there, and muted there)."""
        by_subject: dict[str, list[str]] = {}
        for eid in [*mm.endpoints, *mm.room.remote_endpoints]:
            by_subject.setdefault(subject_of(eid), []).append(eid)
        floor = [eid for subject in mm.floor.holders for eid in by_subject.get(subject, [])]
        muted = [eid for subject in mm.floor.muted for eid in by_subject.get(subject, [])]
        mm.room.set_floor(floor, muted)  # one policy run for the whole change

    async def on_event(self, ev: MeetingEvent) -> None:
        """Follow the meeting's stream (called in ``seq`` order for every meeting)."""
        mm = self._meetings.get(ev.meeting_id)
        if mm is None or ev.type not in _FOLLOWED:
            return
        floor = mm.floor
        match parse(ev.type, ev.data):
            case FloorGranted(subject=subject):
                if subject not in floor.holders:
                    floor.holders.append(subject)
                floor.muted.discard(subject)
            case FloorRevoked(subject=subject):
                if subject in floor.holders:
                    floor.holders.remove(subject)
                floor.muted.discard(subject)
            case FloorMuted(subject=subject, muted=True):
                floor.muted.add(subject)
            case FloorMuted(subject=subject, muted=False):
                floor.muted.discard(subject)
            case MeetingEnded():
                await self.close_meeting(ev.meeting_id)
                return
            case _:
                return
        self._apply_floor(ev.meeting_id, mm)

    async def drop(self, sid: str, meeting_id: int | None = None) -> None:
        """The connection left a meeting (or every meeting, when it vanished)."""
        mine = self._by_sid.get(sid, set())
        for mid, eid in sorted(mine):
            if meeting_id is not None and mid != meeting_id:
                continue
            mine.discard((mid, eid))
            mm = self._meetings.get(mid)
            if mm is None or eid not in mm.endpoints:
                continue
            del mm.endpoints[eid]
            try:
                await mm.room.remove_endpoint(eid)
            except MediaError:
                logger.info("meeting %s: endpoint %s was already gone", mid, eid)
            if not mm.endpoints:
                await self.close_meeting(mid)
            else:
                self._apply_floor(mid, mm)
        if not mine:
            self._by_sid.pop(sid, None)

    async def close_meeting(self, meeting_id: int) -> None:
        mm = self._meetings.pop(meeting_id, None)
        if mm is None:
            return
        for eid, sid in mm.endpoints.items():
            self._by_sid.get(sid, set()).discard((meeting_id, eid))
        self._services.health.forget(meeting_id)
        if self.directory is not None:
            self.directory.roster(meeting_id, {})
        if mm.room.recording is not None:  # the room closes while it records
            info = await mm.room.stop_recording()  # the file is complete
            # kept beside the stream's processing: hashing a long recording takes a while
            task = asyncio.get_running_loop().create_task(
                self._ended(meeting_id, info, mm.recording_since),
                name=f"recording-kept-{meeting_id}",
            )
            self._keeping.add(task)
            task.add_done_callback(self._keeping.discard)
        await self.plane.close_room(str(meeting_id))
        logger.info("meeting %s: media room closed", meeting_id)

    async def close(self) -> None:
        """Close every room; the recordings they end are kept before this returns (for at
        most :data:`KEEP_GRACE` seconds: a file not kept by then stays where it was written)."""
        for meeting_id in list(self._meetings):
            await self.close_meeting(meeting_id)
        if self._keeping:
            _, late = await asyncio.wait(set(self._keeping), timeout=KEEP_GRACE)
            for task in late:
                logger.error("%s still running at shutdown", task.get_name())
        await self.plane.close()


#: The stream events the media follows.
_FOLLOWED = frozenset(c.type for c in (FloorGranted, FloorRevoked, FloorMuted, MeetingEnded))


def layout_view(meeting_id: int, layout: Layout) -> RtcLayout:
    """What a client needs to label its tiles: which subject each ``mid`` shows."""

    def slots(infos: tuple[SlotInfo, ...]) -> list[Slot]:
        return [
            Slot(mid=s.mid, kind=s.kind, subject=subject_of(s.source) if s.source else None)
            for s in infos
        ]

    return RtcLayout(
        meeting_id=meeting_id,
        page=layout.page,
        page_count=layout.page_count,
        audio=slots(layout.audio),
        video=slots(layout.video),
    )
