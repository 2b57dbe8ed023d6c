"""Presence: which bridge points and people are connected to a meeting, and since when.

A participant is present while at least one of its connections has joined the meeting; a
bridge point with two devices counts once and stays present, with the same ``since``, until
its last device goes. Arrivals and departures are events of the meeting's stream
(``presence.joined``, ``presence.left``), written in the same transaction as the presence
rows, so a snapshot and the stream always agree.

Connections are tagged with the server process (node) holding them. Each node beats a
heartbeat; when a node stops beating for ``offline_after_seconds`` (it crashed or lost the
database), any other node sweeps its connections away and the participants are shown
offline. A connection that vanishes from a live node is noticed by the transport's ping
timeout, which ends in :meth:`PresenceService.leave`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from meetingd.clock import Clock
from meetingd.domain import Meeting, MeetingState, PresenceEntry, Principal
from meetingd.events import PresenceJoined, PresenceLeft
from meetingd.schemas import PresenceOut
from meetingd.services import authz
from meetingd.store import Store

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
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id, lock=True)
            if meeting.state is MeetingState.ENDED:
                return None
            entry, arrived = await uow.presence.add(
                meeting_id=meeting_id,
                node_id=node_id,
                connection_id=connection_id,
                kind=principal.kind,
                principal_id=principal.id,
                name=principal.name,
                role=role_in(principal, meeting),
                now=self._clock.now(),
            )
            if arrived:
                await uow.emit(meeting_id, PresenceJoined(**presence_fields(entry)))
            return entry

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

    async def heartbeat(self, node_id: str) -> None:
        """Prove that ``node_id`` is alive (and register it the first time)."""
        async with self._store.transaction() as uow:
            await uow.nodes.heartbeat(node_id, self._clock.now())

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
