"""A room: its endpoints, the policy state, and who receives whom.

The media plane's interface is MediaPlane (plane.py) -> Room -> Endpoint (endpoint.py).
One endpoint is one client with one ``RTCPeerConnection``; what it sends becomes
published tracks, what it receives arrives on a fixed set of receive slots the server
negotiates itself, so layout changes never need another negotiation. The room owns the
policy state (floor, mutes, pages), re-points slots when it changes (media.policy decides),
and runs one shared RTCP/stats timer for all its endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import policy
from .cascade import RemoteEndpoint, RemoteMember
from .config import MediaConfig
from .endpoint import Endpoint, OfferCallback, StateCallback
from .errors import ConflictError, NotFoundError, SignallingError
from .forwarder import Slot
from .policy import TOP_LAYER, Assignment, Kind, LinkMode, PolicyConfig, Role, RoomState
from .recording import Recording, RecordingInfo
from .stats import EndpointStats

if TYPE_CHECKING:
    from .plane import MediaPlane

logger = logging.getLogger(__name__)

#: distinct slot labellings kept for reuse before the memo starts over
_SLOT_INFO_MEMO_SIZE = 4096

#: called every ``stats_interval`` with the room id and every endpoint's stats
StatsCallback = Callable[[str, Mapping[str, EndpointStats]], None]
#: called when what an endpoint receives changes
LayoutCallback = Callable[["Layout"], None]
#: called when this node's endpoints of the room, or what they publish, change (cascading:
#: the other nodes must learn it): endpoint id -> (role, kinds published)
Members = Mapping[str, tuple[Role, frozenset[Kind]]]
MembersCallback = Callable[[Members], None]


@dataclass(frozen=True)
class _Host:
    """The room as its endpoints see it (:class:`~media.endpoint.EndpointHost`)."""

    room_id: str
    config: MediaConfig
    policy_config: PolicyConfig
    tracks_changed: Callable[[], None]
    slots_negotiated: Callable[[Endpoint], None]
    spawn: Callable[[Awaitable[None], str], asyncio.Task[None]]


@dataclass(frozen=True)
class SlotInfo:
    """One receive slot: the m-line (``mid``) a client plays, and whose media it shows."""

    kind: str
    index: int
    mid: str | None
    source: str | None


@dataclass(frozen=True)
class LinkState:
    """An endpoint's weak-link mode: as set (``mode``) and in force (``effective``)."""

    endpoint_id: str
    mode: LinkMode
    effective: LinkMode
    bitrate_cap: int | None = None


def link_state(endpoint_id: str, mode: LinkMode | str, bitrate_cap: int | None) -> LinkState:
    """The weak-link mode asked for, checked (``SignallingError`` ``bad_link_mode``); what
    is in force at first: ``normal`` for ``auto``, else the mode itself."""
    try:
        mode = LinkMode(mode)
    except ValueError as exc:
        raise SignallingError("bad_link_mode", f"unknown weak-link mode {mode!r}") from exc
    if mode is LinkMode.CAPPED and (bitrate_cap is None or bitrate_cap < 10_000):
        raise SignallingError("bad_link_mode", "capped needs bitrate_cap >= 10000 bit/s")
    cap = bitrate_cap if mode is LinkMode.CAPPED else None
    return LinkState(endpoint_id, mode, LinkMode.NORMAL if mode is LinkMode.AUTO else mode, cap)


#: seconds an automatic "audio only" lasts before video is tried again (low layer)
AUTO_AUDIO_ONLY_FOR = 30.0

#: called when an endpoint's weak-link mode in force changes
LinkCallback = Callable[[LinkState], None]


@dataclass(frozen=True)
class Layout:
    """What an endpoint currently receives, for the client to label its tiles."""

    endpoint_id: str
    page: int
    page_count: int
    audio: tuple[SlotInfo, ...]
    video: tuple[SlotInfo, ...]


class Room:
    """A meeting's media: its endpoints and who receives whom (see :mod:`media.policy`)."""

    def __init__(
        self,
        plane: MediaPlane,
        room_id: str,
        on_stats: StatsCallback | None,
        on_layout: LayoutCallback | None,
        page_size: int | None,
    ) -> None:
        self.plane = plane
        self.room_id = room_id
        self.config = plane.config
        self.on_stats = on_stats
        self.on_layout = on_layout
        self.policy_config = PolicyConfig(
            audio_slots=self.config.audio_slots,
            page_size=page_size or self.config.video_page_size,
        )
        self._endpoints: dict[str, Endpoint] = {}
        #: endpoints of the room on other media nodes (cascading), and what this node
        #: needs of each node's sources
        self._remote: dict[str, RemoteEndpoint] = {}
        #: told when :meth:`members` changes (the control plane publishes it to other nodes)
        self.on_members: MembersCallback | None = None
        self._members: Members = {}
        self._floor: tuple[str, ...] = ()
        self._muted: set[str] = set()
        self._pages: dict[str, int] = {}
        self._assignments: dict[str, Assignment] = {}
        self._layouts: dict[str, Layout] = {}
        self._layout_keys: dict[str, tuple[Assignment, int, int, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._prev_counters: dict[str, tuple[float, int, int, int, int]] = {}
        self._page_count = 1
        self._slot_info_memo: dict[
            tuple[Kind, tuple[str | None, ...], tuple[str | None, ...]], tuple[SlotInfo, ...]
        ] = {}
        self._recording: Recording | None = None
        self._recorded_video: str | None = None
        self._links: dict[str, LinkState] = {}
        #: per endpoint in "auto": the condition seen and since when (clock)
        self._auto_seen: dict[str, tuple[str, float]] = {}
        #: told when an endpoint's weak-link mode in force changes
        self.on_link_mode: LinkCallback | None = None
        self._closed = False
        #: policy runs so far (one per change that could alter an assignment)
        self.policy_runs = 0
        self._host = _Host(
            room_id=room_id,
            config=self.config,
            policy_config=self.policy_config,
            tracks_changed=self._update,
            slots_negotiated=self._apply_assignment,
            spawn=self._spawn,
        )
        self._timer = asyncio.get_running_loop().create_task(
            self._run_timer(), name=f"media-room-{room_id}"
        )
        if plane.cascade is not None:
            plane.cascade.add_room(self)

    # -- membership --------------------------------------------------------------------

    def add_endpoint(
        self,
        endpoint_id: str,
        role: Role | str,
        *,
        on_offer: OfferCallback | None = None,
        on_state: StateCallback | None = None,
    ) -> Endpoint:
        """Create an endpoint; ``on_offer`` delivers server-initiated offers to the client."""
        if endpoint_id in self._endpoints:
            raise ConflictError("endpoint_exists", f"endpoint {endpoint_id} is already in the room")
        try:
            role = Role(role)
        except ValueError as exc:
            raise SignallingError("bad_role", f"unknown role {role!r}") from exc
        ep = Endpoint(self._host, endpoint_id, role, on_offer, on_state)
        self._endpoints[endpoint_id] = ep
        self._update()
        return ep

    def endpoint(self, endpoint_id: str) -> Endpoint:
        """The endpoint with this id (NotFoundError if unknown)."""
        try:
            return self._endpoints[endpoint_id]
        except KeyError:
            raise NotFoundError("endpoint_not_found", f"no endpoint {endpoint_id}") from None

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        """Endpoints by id (read-only view)."""
        return dict(self._endpoints)

    def local_endpoint(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint with this id on this node, if any."""
        return self._endpoints.get(endpoint_id)

    # -- cascading (endpoints on other media nodes) --------------------------------------

    def set_remote_members(self, members: Mapping[str, RemoteMember]) -> None:
        """The room's endpoints on other nodes now (the whole set, replacing the last).

        The policy decides for them as for the local ones (one decision for the room on
        every node); the sources this node's receivers are given are then asked of their
        nodes (:mod:`media.cascade`). An id that is also a local endpoint is this node's.
        """
        members = {k: v for k, v in members.items() if k not in self._endpoints}
        changed = False
        for eid in [e for e in self._remote if e not in members]:
            self._forget_remote(self._remote.pop(eid))
            changed = True
        for eid, member in members.items():
            cur = self._remote.get(eid)
            if cur is not None and cur.member == member:
                continue
            if cur is not None and cur.node_id != member.node_id:
                self._forget_remote(cur)
                cur = None
            if cur is None:
                self._remote[eid] = RemoteEndpoint(eid, member)
            else:
                cur.member, cur.role = member, member.role
            changed = True
        if changed:
            self._update()

    def _forget_remote(self, ep: RemoteEndpoint) -> None:
        if self.plane.cascade is not None:
            self.plane.cascade.forget_remote(ep)
        else:
            ep.close()

    @property
    def remote_endpoints(self) -> Mapping[str, RemoteEndpoint]:
        """The room's endpoints on other nodes, by id (read-only view)."""
        return dict(self._remote)

    def remote_endpoint(self, endpoint_id: str) -> RemoteEndpoint | None:
        return self._remote.get(endpoint_id)

    def members(self) -> dict[str, tuple[Role, frozenset[Kind]]]:
        """This node's endpoints as other nodes must know them: role and kinds published."""
        return {
            eid: (ep.role, frozenset(ep.published_kinds())) for eid, ep in self._endpoints.items()
        }

    def cascade_changed(self) -> None:
        """Proxy tracks of remote endpoints came or went: re-point the slots."""
        self._update()

    def _member(self, endpoint_id: str) -> Endpoint | RemoteEndpoint | None:
        ep = self._endpoints.get(endpoint_id)
        return ep if ep is not None else self._remote.get(endpoint_id)

    def _sync_cascade(self, st: RoomState) -> None:
        """Tell the cascade what this node needs of the others (``a:<id>`` for a source's
        audio, ``v:<id>`` for its video, ``t:<id>`` for its lowest simulcast layer only:
        it is shown here in thumbnails, or to weak links in ``low``, and nowhere bigger),
        and re-point what it sends them."""
        cascade = self.plane.cascade
        if cascade is None:
            return
        cascade.room_changed(self)
        needs: dict[str, set[str]] = {}
        if self._remote:
            wanted: set[tuple[str, str | None]] = set()
            big: set[str | None] = set()  # sources shown in a big tile somewhere here
            for eid, ep in self._endpoints.items():
                a = self._assignments.get(eid)
                if a is None:
                    continue
                wanted.update(("a", s) for s in a.audio)
                link = self._links.get(eid)
                low = link is not None and link.effective is LinkMode.LOW
                if link is not None and link.effective is LinkMode.AUDIO_ONLY:
                    continue  # no video to it, from anywhere
                for i, s in enumerate(a.video):
                    wanted.add(("t", s))
                    if not low and policy.video_tile_layer(ep.role, i) > 0:
                        big.add(s)
            if self._recording is not None:
                video, voices = policy.recorded(st)
                wanted.update(("a", s) for s in voices)
                wanted.add(("t", video))
                big.add(video)
            for kind, src in wanted:
                rem = self._remote.get(src) if src is not None else None
                if rem is not None:
                    kind = "v" if kind == "t" and src in big else kind
                    needs.setdefault(rem.node_id, set()).add(f"{kind}:{rem.endpoint_id}")
        cascade.want(self.room_id, {k: frozenset(v) for k, v in needs.items()})

    async def remove_endpoint(self, endpoint_id: str) -> None:
        """Close the endpoint's peer connection and forget it, and all kept about it.

        Its floor place, mute and stats counters go with it: nothing per endpoint outlives
        it, so a room that sees thousands of reconnects holds only what its endpoints need.
        """
        ep = self.endpoint(endpoint_id)
        del self._endpoints[endpoint_id]
        self._floor = tuple(e for e in self._floor if e != endpoint_id)
        self._muted.discard(endpoint_id)
        self._prev_counters.pop(endpoint_id, None)
        self._pages.pop(endpoint_id, None)
        self._layouts.pop(endpoint_id, None)
        self._layout_keys.pop(endpoint_id, None)
        self._assignments.pop(endpoint_id, None)
        self._links.pop(endpoint_id, None)
        self._auto_seen.pop(endpoint_id, None)
        await ep.close()
        self._update()

    # -- policy inputs ------------------------------------------------------------------

    def set_floor(self, endpoint_ids: Sequence[str], muted: Collection[str] | None = None) -> None:
        """Who holds the floor, in order (the first is the speaker shown in video).

        With ``muted``, also who is muted by the chair: the whole set, replacing the
        previous one (``set_muted`` changes one endpoint). Floor and mutes take effect
        together, with one run of the policy; nothing runs when neither changed.
        """
        if isinstance(muted, str):
            raise TypeError("muted is a collection of endpoint ids, not one id")
        floor = tuple(dict.fromkeys(endpoint_ids))
        new_muted = self._muted if muted is None else set(muted)
        if floor == self._floor and new_muted == self._muted:
            return
        self._floor = floor
        self._muted = new_muted
        self._update(repoint=False)

    def set_muted(self, endpoint_id: str, muted: bool) -> None:
        """Mute (server-side: packets dropped) or unmute an endpoint's audio."""
        if muted == (endpoint_id in self._muted):
            return
        if muted:
            self._muted.add(endpoint_id)
        else:
            self._muted.discard(endpoint_id)
        self._update(repoint=False)

    def set_video_page(self, endpoint_id: str, page: int) -> None:
        """Show thumbnail page ``page`` (0-based, clamped) on a chair's console."""
        ep = self.endpoint(endpoint_id)
        if ep.role is not Role.CHAIR:
            raise SignallingError("not_chair", "only a chair console has thumbnail pages")
        page = max(0, int(page))
        if self._pages.get(endpoint_id, 0) == page:
            return
        self._pages[endpoint_id] = page
        self._update(repoint=False, dirty=(endpoint_id,))

    def set_link_mode(
        self, endpoint_id: str, mode: LinkMode | str, bitrate_cap: int | None = None
    ) -> LinkState:
        """Set an endpoint's weak-link mode (the operator's choice; ``auto`` by default).

        ``bitrate_cap`` (bit/s of video to this endpoint, shared by its video slots) is
        required for ``capped`` and ignored otherwise. Takes effect at once: layers
        switch at the next keyframe, ``audio_only`` idles the video slots.
        """
        self.endpoint(endpoint_id)
        asked = link_state(endpoint_id, mode, bitrate_cap)
        mode, cap, effective = asked.mode, asked.bitrate_cap, asked.effective
        old = self._links.get(endpoint_id)
        if old is not None and old.mode is LinkMode.AUTO and mode is LinkMode.AUTO:
            effective = old.effective
        self._auto_seen.pop(endpoint_id, None)
        return self._set_link(LinkState(endpoint_id, mode, effective, cap))

    def link_mode(self, endpoint_id: str) -> LinkState:
        """The endpoint's weak-link mode as set and in force."""
        self.endpoint(endpoint_id)
        return self._links.get(endpoint_id, LinkState(endpoint_id, LinkMode.AUTO, LinkMode.NORMAL))

    def _set_link(self, state: LinkState) -> LinkState:
        old = self._links.get(state.endpoint_id)
        self._links[state.endpoint_id] = state
        if old != state:
            ep = self._endpoints.get(state.endpoint_id)
            if ep is not None:
                self._apply_assignment(ep)
            if self._remote:  # a weak link in "low" needs only the lowest layers from afar
                self._sync_cascade(self.state())
            if (old is None or old.effective is not state.effective) and self.on_link_mode:
                self.on_link_mode(state)
        return state

    def _auto_links(self, now: float) -> None:
        """Weak-link "auto": follow each receiver's estimate (see ``MediaConfig``).

        A REMB estimate never exceeds 1.5x what arrives, so it is read against the video
        being sent: "congested" means it fell (an overuse) to under 70 % of it.
        ``normal`` -> ``low`` when the estimate stays congested and under the low
        threshold for ``weak_link_after`` s; ``low`` -> ``audio_only`` when, even so, it
        stays congested and under the audio-only threshold as long; ``audio_only`` ->
        ``low`` after 30 s (video is tried again); ``low`` -> ``normal`` after 30 s
        without congestion (the layers then climb by their own tries).
        """
        cfg = self.config
        for eid, ep in self._endpoints.items():
            state = self._links.get(eid)
            if state is not None and state.mode is not LinkMode.AUTO:
                continue
            effective = state.effective if state else LinkMode.NORMAL
            watched = [s for s in ep.slots(Kind.VIDEO) if s.source is not None and s.remb]
            est = min((s.remb or 0) for s in watched) if watched else None
            sent = sum(s.source.bitrate for s in watched if s.source is not None)
            # congestion: an estimate that *fell* under what is sent (an overuse); a low
            # one that did not is still climbing after a step up (slow start)
            congested = (
                est is not None and est < 0.7 * sent and any(s.estimate_fell for s in watched)
            )
            cond, target, wait = "", effective, cfg.weak_link_after
            if effective is LinkMode.AUDIO_ONLY:
                cond, target, wait = "audio_only", LinkMode.LOW, AUTO_AUDIO_ONLY_FOR
            elif est is None:
                pass
            elif effective is LinkMode.NORMAL and congested and est < cfg.weak_link_low_bitrate:
                cond, target = "low", LinkMode.LOW
            elif (
                effective is LinkMode.LOW and congested and (est < cfg.weak_link_audio_only_bitrate)
            ):
                cond, target = "audio_only", LinkMode.AUDIO_ONLY
            elif effective is LinkMode.LOW and not congested:
                cond, target, wait = "normal", LinkMode.NORMAL, AUTO_AUDIO_ONLY_FOR
            prev = self._auto_seen.get(eid)
            if not cond:
                self._auto_seen.pop(eid, None)
                continue
            if prev is None or prev[0] != cond:
                self._auto_seen[eid] = prev = (cond, now)
            if now - prev[1] >= wait:
                self._auto_seen.pop(eid, None)
                logger.info(
                    "endpoint %s/%s: weak link, auto -> %s (estimate %s bit/s)",
                    self.room_id,
                    eid,
                    target,
                    est,
                )
                self._set_link(LinkState(eid, LinkMode.AUTO, target))
                if target is LinkMode.AUDIO_ONLY:
                    self._auto_seen[eid] = ("audio_only", now)

    @property
    def floor(self) -> tuple[str, ...]:
        """Current floor holders."""
        return self._floor

    @property
    def muted(self) -> frozenset[str]:
        """Endpoints muted by the chair."""
        return frozenset(self._muted)

    def state(self) -> RoomState:
        """The policy input for this instant."""
        members: dict[str, Endpoint | RemoteEndpoint] = {**self._remote, **self._endpoints}
        publishing = frozenset(
            (eid, kind) for eid, ep in members.items() for kind in ep.published_kinds()
        )
        return RoomState(
            endpoints={eid: ep.role for eid, ep in members.items()},
            publishing=publishing,
            floor=self._floor,
            muted=frozenset(self._muted),
            pages=dict(self._pages),
        )

    def _update(self, *, repoint: bool = True, dirty: Collection[str] = ()) -> None:
        """Re-run the policy once and re-point slots; synchronous.

        ``repoint``: re-point every endpoint's slots, needed when tracks or members
        changed (a source's track object is looked up again). Without it (floor, mutes,
        pages) only the endpoints whose assignment changed, and those in ``dirty``, are
        touched; every one if the number of pages changed, as each layout names it.
        """
        if self._closed:
            return
        self.policy_runs += 1
        st = self.state()
        old = self._assignments
        self._assignments = policy.assign(st, self.policy_config, old)
        pages = policy.page_count(st, self.policy_config)
        if repoint or pages != self._page_count:
            targets: Collection[Endpoint] = self._endpoints.values()
        else:
            targets = [
                ep
                for eid, ep in self._endpoints.items()
                if self._assignments.get(eid) is not old.get(eid) or eid in dirty
            ]
        self._page_count = pages
        for ep in targets:
            self._apply_assignment(ep, pages)
        if self._recording is not None:
            self._apply_recording(st, self._recording)
        if repoint and self.on_members is not None:
            members = self.members()
            if members != self._members:
                self._members = members
                self.on_members(members)
        self._sync_cascade(st)

    def _apply_assignment(self, ep: Endpoint, pages: int | None = None) -> None:
        a = self._assignments.get(ep.endpoint_id)
        if a is None:
            return
        for kind, sources in ((Kind.AUDIO, a.audio), (Kind.VIDEO, a.video)):
            slots = ep.slots(kind)
            if kind is Kind.VIDEO:
                self._apply_video(ep, slots, sources)
                continue
            for i, slot in enumerate(slots):
                src = sources[i] if i < len(sources) else None
                member = self._member(src) if src is not None else None
                slot.set_source(member.primary_track(kind) if member is not None else None)
        if pages is None:
            pages = self._page_count
        key = (a, pages, self._pages.get(ep.endpoint_id, 0), ep.slots_version)
        if self._layout_keys.get(ep.endpoint_id) == key:
            return  # nothing a client could see has changed
        self._layout_keys[ep.endpoint_id] = key
        layout = self._layout(ep, pages)
        if self._layouts.get(ep.endpoint_id) != layout:
            self._layouts[ep.endpoint_id] = layout
            if self.on_layout is not None:
                self.on_layout(layout)

    # -- recording ----------------------------------------------------------------------

    def start_recording(self, path: str) -> Recording:
        """Record the room into ``path``, its suffix the container's: ``.webm`` when the first
        picture is VP8, ``.mp4`` when it is H.264 (the speaker's video as sent, mixed Opus)."""
        if self._recording is not None:
            raise ConflictError("recording", "the room is being recorded already")
        rec = Recording(path, self.config.audio_slots, self.config.clock)
        self._recording = rec
        self._recorded_video = None
        self._apply_recording(self.state(), rec)
        return rec

    async def stop_recording(self) -> RecordingInfo:
        """Finish the recording; its file is complete when this returns."""
        rec = self._recording
        if rec is None:
            raise NotFoundError("no_recording", "the room is not being recorded")
        self._recording = None
        return await rec.stop()

    @property
    def recording(self) -> Recording | None:
        """The recording in progress, if any."""
        return self._recording

    def _apply_recording(self, st: RoomState, rec: Recording) -> None:
        video, voices = policy.recorded(st)
        shown = self._member(video) if video else None
        layers = shown.primary_layers(Kind.VIDEO) if shown is not None else []
        if video != self._recorded_video:
            if self._recorded_video is not None and video is not None:
                rec.source_switches += 1
            self._recorded_video = video
        rec.video_slot.set_layers(layers, TOP_LAYER)
        previous = [s.source.endpoint_id if s.source else None for s in rec.audio_slots]
        for slot, src in zip(
            rec.audio_slots,
            policy.stable_fill(voices, previous, len(rec.audio_slots)),
            strict=True,
        ):
            voice = self._member(src) if src else None
            slot.set_source(voice.primary_track(Kind.AUDIO) if voice is not None else None)

    def _apply_video(
        self, ep: Endpoint, slots: Sequence[Slot], sources: tuple[str | None, ...]
    ) -> None:
        """Point the video slots at their sources' layers, within the weak-link mode."""
        link = self._links.get(ep.endpoint_id)
        mode = link.effective if link is not None else LinkMode.NORMAL
        layers = []
        for i in range(len(slots)):
            src = sources[i] if i < len(sources) else None
            found = None
            member = self._member(src) if src is not None else None
            if member is not None and mode is not LinkMode.AUDIO_ONLY:
                found = member.primary_layers(Kind.VIDEO)
            layers.append(found or [])
        # audio first: a weak link's estimate keeps room for audio; a cap is the link's
        # whole budget, so audio comes out of it before video slots share the rest
        reserve = 0 if mode is LinkMode.NORMAL else self.config.audio_reserve
        cap = None
        if mode is LinkMode.CAPPED and link is not None and link.bitrate_cap is not None:
            video = max(10_000, link.bitrate_cap - reserve)
            cap, reserve = video // max(1, sum(1 for x in layers if x)), 0
        for i, slot in enumerate(slots):
            tile = 0 if mode is LinkMode.LOW else policy.video_tile_layer(ep.role, i)
            slot.set_layers(layers[i], tile, cap, reserve)

    def layout(self, endpoint_id: str) -> Layout:
        """Which source each receive slot of ``endpoint_id`` shows."""
        return self._layout(self.endpoint(endpoint_id))

    def _layout(self, ep: Endpoint, pages: int | None = None) -> Layout:
        if pages is None:
            pages = self._page_count
        a = self._assignments.get(ep.endpoint_id, Assignment((), ()))
        return Layout(
            endpoint_id=ep.endpoint_id,
            page=min(max(0, self._pages.get(ep.endpoint_id, 0)), pages - 1),
            page_count=pages,
            audio=self._slot_infos(Kind.AUDIO, a.audio, ep),
            video=self._slot_infos(Kind.VIDEO, a.video, ep),
        )

    def _slot_infos(
        self, kind: Kind, sources: tuple[str | None, ...], ep: Endpoint
    ) -> tuple[SlotInfo, ...]:
        """The slots' labels; shared by the endpoints that show the same (they mostly do)."""
        mids = tuple(s.mid for s in ep.slots(kind))
        key = (kind, sources, mids)
        infos = self._slot_info_memo.get(key)
        if infos is None:
            if len(self._slot_info_memo) >= _SLOT_INFO_MEMO_SIZE:
                self._slot_info_memo.clear()
            infos = self._slot_info_memo[key] = tuple(
                SlotInfo(
                    kind=kind.value,
                    index=i,
                    mid=mids[i] if i < len(mids) else None,
                    source=src,
                )
                for i, src in enumerate(sources)
            )
        return infos

    # -- stats and timers ---------------------------------------------------------------

    def stats(self) -> dict[str, EndpointStats]:
        """Health of every endpoint since the previous call (bitrates, loss, rtt, fps)."""
        now = self.config.clock()
        out: dict[str, EndpointStats] = {}
        for eid, ep in self._endpoints.items():
            tracks = ep.tracks()
            slots = ep.slots(Kind.AUDIO) + ep.slots(Kind.VIDEO)
            b_in = sum(t.bytes_in for t in tracks)
            b_out = sum(s.bytes_out for s in slots)
            f_in = sum(t.frames_in for t in tracks if t.kind is Kind.VIDEO)
            f_out = sum(s.frames_out for s in slots)
            prev = self._prev_counters.get(eid)
            self._prev_counters[eid] = (now, b_in, b_out, f_in, f_out)
            if prev is None or now <= prev[0]:
                dt, db_in, db_out, df_in, df_out = 0.0, 0, 0, 0, 0
            else:
                dt = now - prev[0]
                db_in = max(0, b_in - prev[1])
                db_out = max(0, b_out - prev[2])
                df_in = max(0, f_in - prev[3])
                df_out = max(0, f_out - prev[4])
            active = [s for s in slots if s.packets_out]
            rtts = [s.rtt for s in slots if s.rtt is not None]
            jit_in = [
                t.stats.jitter / t.stats.clock_rate * 1000 for t in tracks if t.stats is not None
            ]
            jit_out = [s.jitter / (90 if s.kind is Kind.VIDEO else 48) for s in active]
            loss_in = [t.stats.last_fraction_lost / 256 for t in tracks if t.stats is not None]
            keyframes = [t.last_keyframe for t in tracks if t.last_keyframe is not None]
            out[eid] = EndpointStats(
                endpoint_id=eid,
                role=ep.role.value,
                state=ep.state,
                bitrate_in=int(db_in * 8 / dt) if dt else 0,
                bitrate_out=int(db_out * 8 / dt) if dt else 0,
                packets_in=sum(t.packets_in for t in tracks),
                packets_out=sum(s.packets_out for s in slots),
                packets_dropped=sum(s.dropped for s in slots),
                loss_in=max(loss_in, default=0.0),
                loss_out=max((s.fraction_lost / 256 for s in active), default=0.0),
                jitter_in_ms=max(jit_in, default=0.0),
                jitter_out_ms=max(jit_out, default=0.0),
                rtt_ms=(sum(rtts) / len(rtts) * 1000) if rtts else None,
                fps_in=df_in / dt if dt else 0.0,
                fps_out=df_out / dt if dt else 0.0,
                last_keyframe_at=max(keyframes, default=None),
                keyframe_requests=sum(t.keyframe_requests_sent for t in tracks),
                video_paused=sum(1 for s in slots if s.paused_until > now),
            )
        return out

    async def _run_timer(self) -> None:
        next_stats = self.config.clock() + self.config.stats_interval
        while True:
            await asyncio.sleep(0.5 + random.random() * 0.5)
            now = self.config.clock()
            for ep in list(self._endpoints.values()):
                try:
                    ep.tick(now)
                except Exception:
                    logger.exception("rtcp tick failed for %s", ep.endpoint_id)
            try:
                self._auto_links(now)
                if self._recording is not None:
                    self._recording.tick(now)
            except Exception:
                logger.exception("weak-link auto mode or recording tick failed")
            if now >= next_stats:
                next_stats = now + self.config.stats_interval
                stats = self.stats()
                if self.on_stats is not None:
                    try:
                        self.on_stats(self.room_id, stats)
                    except Exception:
                        logger.exception("stats callback failed")

    def _spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("media task %s failed", name)

        task = asyncio.get_running_loop().create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Close every endpoint and stop the room's timer."""
        self._closed = True
        if self.plane.cascade is not None:
            self.plane.cascade.remove_room(self.room_id)
        for rem in self._remote.values():
            self._forget_remote(rem)
        self._remote.clear()
        if self._recording is not None:
            with contextlib.suppress(Exception):
                await self.stop_recording()
        self._timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._timer
        for ep in list(self._endpoints.values()):
            await ep.close()
        self._endpoints.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
