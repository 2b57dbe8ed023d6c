"""Presence: which bridge points and people are connected to a meeting, and since when.

A participant is present while at least one of its connections has joined the meeting; a
bridge point with two devices counts once and stays present, with the same ``since``, until
its last device goes. Arrivals and departures are events of the meeting's stream
(``presence.joined``, ``presence.left``), written in the same transaction as the presence
rows, so a snapshot and the stream always agree.

Joins that come together (at 8:00 every commune of a province connects at once) are
written together: :meth:`PresenceService.enter_many` checks each caller on its own, records
every admitted connection in one transaction and emits one ``presence.arrived`` for all
the participants that arrived, instead of one transaction and one event per join (which
cost every connection already in one event per newcomer).

Connections are tagged with the server process (node) holding them. Each node beats a
heartbeat; when a node stops beating for ``offline_after_seconds`` (it crashed or lost the
database), any other node sweeps its connections away and the participants are shown
offline. A node swept while it was only slow finds, at its next heartbeat, that it is no
longer registered, and records its open connections again (they are shown present without
reconnecting). A connection that vanishes from a live node is noticed by the transport's
ping timeout, which ends in :meth:`PresenceService.leave`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from meetingd.clock import Clock
from meetingd.domain import Meeting, MeetingState, PresenceEntry, Principal
from meetingd.errors import MeetingdError, NotFound
from meetingd.events import PresenceArrived, PresenceJoined, PresenceLeft
from meetingd.schemas import PresenceOut
from meetingd.services import authz
from meetingd.services.stream import MeetingSnapshot, read_snapshot
from meetingd.store import Store, UnitOfWork
from meetingd.store.presence import NewConnection

logger = logging.getLogger(__name__)

#: Forget a silent node's heartbeat row after this many ``offline_after_seconds``.
_FORGET_NODES_AFTER = 20


def role_in(principal: Principal, meeting: Meeting) -> str:
    """What ``principal`` is in ``meeting``: bridge_point, chair, secretary, delegate, observer."""
    if principal.kind == "bridge_point":
        return "bridge_point"
    if principal.id == meeting.chair_id:
        return "chair"
    if principal.id == meeting.secretary_id:
        return "secretary"
    if principal.id in meeting.delegate_ids:
        return "delegate"
    return "observer"


def presence_fields(entry: PresenceEntry) -> dict[str, Any]:
    """The fields of ``presence.joined`` and ``presence.left``."""
    return dict(PresenceOut.of(entry))


class PresenceService:
    def __init__(self, store: Store, clock: Clock, *, offline_after_seconds: float) -> None:
        self._store = store
        self._clock = clock
        self._offline_after = timedelta(seconds=offline_after_seconds)

    async def enter(
        self, principal: Principal, meeting_id: int, node_id: str, connection_id: str
    ) -> PresenceEntry | None:
        """Record that a connection of ``principal`` joined the meeting.

        Emits ``presence.joined`` when the participant was not present before. Nothing is
        recorded for an ended meeting (answers None): it can still be read, not attended.
        """
        [outcome] = await self.enter_many(meeting_id, node_id, [(principal, connection_id)])
        if isinstance(outcome, MeetingdError):
            raise outcome
        return outcome

    async def enter_many(
        self, meeting_id: int, node_id: str, arrivals: Sequence[tuple[Principal, str]]
    ) -> list[PresenceEntry | MeetingdError | None]:
        """:meth:`enter` for several connections ``(principal, connection_id)`` in one
        transaction; answers, in order, each one's entry, None (an ended meeting) or the
        error that refused it (who may not read the meeting is refused alone, the others
        are recorded). The meeting missing altogether refuses them all (raises).

        One participant arriving is ``presence.joined``; several are one
        ``presence.arrived`` listing them.
        """
        outcomes, _ = await self.enter_many_and_read(meeting_id, node_id, arrivals, None)
        return outcomes

    async def enter_many_and_read(
        self,
        meeting_id: int,
        node_id: str,
        arrivals: Sequence[tuple[Principal, str]],
        viewer: Principal | None,
    ) -> tuple[list[PresenceEntry | MeetingdError | None], MeetingSnapshot | None]:
        """:meth:`enter_many`, then, with a ``viewer`` and anyone admitted, the meeting's
        snapshot as ``viewer`` sees it, read in the same transaction after the rows and
        their event: the state each of them would read alone right after its join, at the
        ``seq`` of that event. A join storm paid a second transaction per batch for it,
        each statement resuming only after a loop iteration busy with the storm."""
        async with self._store.transaction() as uow:
            await uow.meetings.lock(meeting_id)
            meeting = await uow.meetings.get(meeting_id)
            if meeting is None:
                raise NotFound(f"meeting {meeting_id} does not exist", field="meeting_id")
            outcomes: list[PresenceEntry | MeetingdError | None] = []
            admitted: list[int] = []
            for principal, _ in arrivals:
                try:
                    authz.require(principal, meeting, authz.Permission.READ_MEETING)
                except MeetingdError as exc:
                    outcomes.append(exc)
                    continue
                admitted.append(len(outcomes))
                outcomes.append(None)
            if not admitted:
                return outcomes, None
            if meeting.state is MeetingState.ENDED:  # read, not attended
                return outcomes, await self._read(uow, viewer, meeting)
            recorded = await uow.presence.add_many(
                meeting_id=meeting_id,
                node_id=node_id,
                connections=[
                    NewConnection(
                        connection_id=arrivals[i][1],
                        kind=arrivals[i][0].kind,
                        principal_id=arrivals[i][0].id,
                        name=arrivals[i][0].name,
                        role=role_in(arrivals[i][0], meeting),
                    )
                    for i in admitted
                ],
                now=self._clock.now(),
            )
            arrived: list[PresenceEntry] = []
            for i, (entry, new) in zip(admitted, recorded, strict=True):
                outcomes[i] = entry
                if new:
                    arrived.append(entry)
            if len(arrived) == 1:
                uow.actor = arrivals[admitted[0]][0].subject
                await uow.emit(meeting_id, PresenceJoined(**presence_fields(arrived[0])))
            elif arrived:
                await uow.emit(
                    meeting_id, PresenceArrived(entries=[PresenceOut.of(e) for e in arrived])
                )
            return outcomes, await self._read(uow, viewer, meeting)

    @staticmethod
    async def _read(
        uow: UnitOfWork, viewer: Principal | None, meeting: Meeting
    ) -> MeetingSnapshot | None:
        if viewer is None:
            return None
        seq = await uow.stream.hold(meeting.id)  # the meeting's row is locked already
        return await read_snapshot(uow, viewer, replace(meeting, seq=seq or meeting.seq))

    async def leave(
        self, meeting_id: int, node_id: str, connection_ids: list[str] | None = None
    ) -> list[PresenceEntry]:
        """Forget connections of a node (all of them, or those listed) in a meeting.

        Emits ``presence.left`` for each participant whose last connection this was.
        """
        async with self._store.transaction() as uow:
            await uow.meetings.lock(meeting_id)
            left = await uow.presence.remove(
                meeting_id=meeting_id, node_id=node_id, connection_ids=connection_ids
            )
            for entry in left:
                await uow.emit(meeting_id, PresenceLeft(**presence_fields(entry)))
        return left

    async def disconnect(self, node_id: str, connection_id: str) -> None:
        """A connection closed: it leaves every meeting it had joined."""
        async with self._store.transaction() as uow:
            meetings = await uow.presence.meetings_of(node_id, connection_id)
        for meeting_id in meetings:
            await self.leave(meeting_id, node_id, [connection_id])

    async def present(self, principal: Principal, meeting_id: int) -> list[PresenceEntry]:
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id)
            return await uow.presence.entries(meeting_id)

    async def heartbeat(self, node_id: str) -> bool:
        """Prove that ``node_id`` is alive (and register it the first time). Answers False
        when the node was not registered: the first time, or since other nodes took it for
        dead (its heartbeat late) and swept its connections away."""
        async with self._store.transaction() as uow:
            return await uow.nodes.heartbeat(node_id, self._clock.now())

    async def recorded(self, node_id: str) -> dict[int, set[str]]:
        """The connections of ``node_id`` recorded present, by meeting."""
        async with self._store.reading() as uow:
            return await uow.presence.connections_of_node(node_id)

    async def sweep(self, own_node_id: str) -> list[str]:
        """Remove the connections of nodes that stopped beating; answer those nodes."""
        now = self._clock.now()
        async with self._store.transaction() as uow:
            nodes = uow.nodes
            alive = await nodes.alive(now - self._offline_after)
            with_rows = await uow.presence.nodes_with_rows()
            await nodes.purge(now - self._offline_after * _FORGET_NODES_AFTER)
        dead = sorted(n for n in with_rows if n not in alive and n != own_node_id)
        for node_id in dead:
            logger.warning("node %s stopped beating: its connections are shown offline", node_id)
            await self.forget_node(node_id)
        return dead

    async def forget_node(self, node_id: str) -> None:
        """Every connection of ``node_id`` leaves (a dead node, or this one shutting down)."""
        async with self._store.transaction() as uow:
            meetings = await uow.presence.meetings_of(node_id)
        for meeting_id in meetings:
            await self.leave(meeting_id, node_id)
        async with self._store.transaction() as uow:
            await uow.nodes.delete([node_id])
