"""Who receives what: the forwarding policy of a room, as pure functions.

No network, no clock, no aiortc: the room feeds a :class:`RoomState` in and applies the
:class:`Assignment` that comes out by re-pointing receive slots. Keeping the rules here
means they are read, tested and changed in one place.

Rules:

* Audio: only the chairs and the current floor holders are audible, minus anyone the chair
  muted (the server drops their packets, whatever the client does), minus the subscriber
  itself. Sources keep their slot while they stay audible, so a floor change does not
  reshuffle the voices already playing.
* Video for a bridge point, delegate or observer: slot 0 shows the chair, slot 1 the
  current speaker (the first floor holder that is neither the chair shown nor the
  subscriber itself).
* Video for a chair: slot 0 shows the speaker, slots 1..page_size show one page of the
  bridge points that publish video, ordered by endpoint id.
* Nothing else is forwarded: a track nobody is assigned to is not sent and gets no
  keyframe requests (see :func:`forwarded_sources`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    """What an endpoint is in the meeting; decides what it may send and receive."""

    CHAIR = "chair"
    BRIDGE_POINT = "bridge_point"
    DELEGATE = "delegate"
    OBSERVER = "observer"


class Kind(enum.StrEnum):
    """Media kind of a track or slot."""

    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True)
class PolicyConfig:
    """Slot counts; fixed per room so no layout change needs renegotiation."""

    audio_slots: int = 4
    page_size: int = 16


@dataclass(frozen=True)
class RoomState:
    """Everything the policy needs to know about a room at one instant.

    ``endpoints`` maps id to role; ``publishing`` holds the (endpoint, kind) pairs with a
    live track; ``floor`` is ordered, the first holder being the main speaker; ``pages``
    holds the page each chair console shows.
    """

    endpoints: Mapping[str, Role]
    publishing: frozenset[tuple[str, Kind]] = frozenset()
    floor: tuple[str, ...] = ()
    muted: frozenset[str] = frozenset()
    pages: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Assignment:
    """The source endpoint id shown in each receive slot of one subscriber (None: idle)."""

    audio: tuple[str | None, ...]
    video: tuple[str | None, ...]


class LinkMode(enum.StrEnum):
    """How much of the room a bridge point's link is sent (weak-link mode).

    Audio is never dropped for video in any of them: every mode below ``normal`` keeps a
    reserve of the receiver's estimate for audio before video layers are chosen.
    ``audio_first``: only that reserve; ``capped``: video within a bitrate cap too;
    ``low``: the lowest simulcast layer only; ``audio_only``: no video (the presented
    document page travels on the data channel, not here). ``auto``: the room picks one
    of ``normal``/``low``/``audio_only`` from the receiver's estimate.
    """

    AUTO = "auto"
    NORMAL = "normal"
    AUDIO_FIRST = "audio_first"
    CAPPED = "capped"
    LOW = "low"
    AUDIO_ONLY = "audio_only"


#: simulcast layer index meaning "the best there is" for a big tile
TOP_LAYER = 2


def video_tile_layer(role: Role, index: int) -> int:
    """The highest simulcast layer the video slot ``index`` of ``role`` is shown at.

    A chair console's slot 0 is the speaker tile (top layer); slots 1.. are grid
    thumbnails (lowest layer). Other roles show two big tiles (chair and speaker).
    """
    if role is Role.CHAIR and index > 0:
        return 0
    return TOP_LAYER


def may_publish(role: Role, kind: Kind) -> bool:
    """Whether the server accepts and forwards a track of ``kind`` from ``role``."""
    return role is not Role.OBSERVER


def audio_slot_count(role: Role, config: PolicyConfig) -> int:
    """Audio receive slots negotiated for an endpoint of ``role``."""
    return config.audio_slots


def video_slot_count(role: Role, config: PolicyConfig) -> int:
    """Video receive slots negotiated for an endpoint of ``role``."""
    if role is Role.CHAIR:
        return 1 + config.page_size
    return 2


def grid(state: RoomState) -> list[str]:
    """Bridge points publishing video, in the order the chair's pages show them."""
    return sorted(
        eid
        for eid, role in state.endpoints.items()
        if role is Role.BRIDGE_POINT and (eid, Kind.VIDEO) in state.publishing
    )


def page_count(state: RoomState, config: PolicyConfig) -> int:
    """Number of thumbnail pages (at least one, possibly empty)."""
    n = len(grid(state))
    return max(1, -(-n // config.page_size))


def clamp_page(state: RoomState, config: PolicyConfig, page: int) -> int:
    """``page`` limited to the pages that exist."""
    return min(max(0, page), page_count(state, config) - 1)


def audible(state: RoomState) -> list[str]:
    """Endpoints whose audio is forwarded at all: chairs and floor holders, unmuted."""
    out: list[str] = []
    chairs = [e for e, r in state.endpoints.items() if r is Role.CHAIR]
    for eid in [*chairs, *state.floor]:
        if (
            eid in state.endpoints
            and eid not in out
            and eid not in state.muted
            and (eid, Kind.AUDIO) in state.publishing
            and may_publish(state.endpoints[eid], Kind.AUDIO)
        ):
            out.append(eid)
    return out


def _has_video(state: RoomState, eid: str) -> bool:
    role = state.endpoints.get(eid)
    return (
        role is not None
        and (eid, Kind.VIDEO) in state.publishing
        and may_publish(role, Kind.VIDEO)
    )


def speaker(state: RoomState, exclude: Sequence[str] = ()) -> str | None:
    """The first floor holder with video that is not in ``exclude``."""
    for eid in state.floor:
        if eid not in exclude and _has_video(state, eid):
            return eid
    return None


def recorded(state: RoomState) -> tuple[str | None, list[str]]:
    """What a recording shows: the speaker's video (the chair's when nobody speaks) and
    the audio of the chairs and floor holders (the muted left out)."""
    video = speaker(state)
    if video is None:
        video = next(
            (e for e, r in state.endpoints.items() if r is Role.CHAIR and _has_video(state, e)),
            None,
        )
    return video, audible(state)


def stable_fill(
    wanted: Sequence[str], previous: Sequence[str | None], n: int
) -> tuple[str | None, ...]:
    """Public name of :func:`_stable_fill` (the recorder fills its audio slots with it)."""
    return _stable_fill(wanted, previous, n)


def _stable_fill(
    wanted: Sequence[str], previous: Sequence[str | None], n: int
) -> tuple[str | None, ...]:
    """Put ``wanted[:n]`` into ``n`` slots, keeping each source where it already was."""
    chosen = list(wanted[:n])
    slots: list[str | None] = [None] * n
    for i, src in enumerate(previous[:n]):
        if src is not None and src in chosen:
            slots[i] = src
    placed = {s for s in slots if s is not None}
    free = [i for i, s in enumerate(slots) if s is None]
    for src in chosen:
        if src not in placed:
            slots[free.pop(0)] = src
    return tuple(slots)


def assign(
    state: RoomState,
    config: PolicyConfig,
    previous: Mapping[str, Assignment] | None = None,
) -> dict[str, Assignment]:
    """Compute every endpoint's slot assignment from the room state.

    An endpoint whose assignment does not change gets the very ``previous`` object back,
    so a caller can find what changed by identity. Subscribers in the same position (same
    role kind, same previous audio, neither audible nor shown themselves) share one
    computation: with 500 bridge points a change costs about one dict lookup per endpoint.
    """
    previous = previous or {}
    voices = audible(state)
    voice_set = frozenset(voices)
    chairs_with_video = [
        e for e, r in state.endpoints.items() if r is Role.CHAIR and _has_video(state, e)
    ]
    floor_video = [e for e in dict.fromkeys(state.floor) if _has_video(state, e)]
    bridge_grid = grid(state)
    pages = max(1, -(-len(bridge_grid) // config.page_size))
    audio_memo: dict[tuple[str | None, tuple[str | None, ...], int], tuple[str | None, ...]] = {}
    video_memo: dict[tuple[object, ...], tuple[str | None, ...]] = {}
    interned: dict[tuple[tuple[str | None, ...], tuple[str | None, ...]], Assignment] = {}
    out: dict[str, Assignment] = {}
    for eid, role in state.endpoints.items():
        prev = previous.get(eid)
        prev_audio = prev.audio if prev else ()
        n_audio = audio_slot_count(role, config)
        # only whether (and which) voice the subscriber itself is changes what it hears
        audio_key = (eid if eid in voice_set else None, prev_audio, n_audio)
        audio = audio_memo.get(audio_key)
        if audio is None:
            audio = _stable_fill([v for v in voices if v != eid], prev_audio, n_audio)
            audio_memo[audio_key] = audio
        # likewise for video: whether it is a chair shown or a floor holder with video
        if role is Role.CHAIR:
            page = min(max(0, state.pages.get(eid, 0)), pages - 1)
            video_key: tuple[object, ...] = (True, page, eid if eid in floor_video else None)
        else:
            video_key = (False, eid if eid in chairs_with_video or eid in floor_video else None)
        video = video_memo.get(video_key)
        if video is None:
            if role is Role.CHAIR:
                start = page * config.page_size
                thumbs: list[str | None] = list(bridge_grid[start : start + config.page_size])
                thumbs += [None] * (config.page_size - len(thumbs))
                video = (_first(floor_video, (eid,)), *thumbs)
            else:
                main = _first(chairs_with_video, (eid,))
                video = (main, _first(floor_video, (eid, main)))
            video_memo[video_key] = video
        if prev is not None and prev.audio == audio and prev.video == video:
            out[eid] = prev
            continue
        a = interned.get((audio, video))
        if a is None:
            a = interned[(audio, video)] = Assignment(audio=audio, video=video)
        out[eid] = a
    return out


def _first(candidates: Sequence[str], exclude: Sequence[str | None]) -> str | None:
    """The first candidate not in ``exclude``."""
    for eid in candidates:
        if eid not in exclude:
            return eid
    return None


def forwarded_sources(assignments: Mapping[str, Assignment]) -> frozenset[tuple[str, Kind]]:
    """Tracks somebody receives; everything else is neither forwarded nor keyframed."""
    out: set[tuple[str, Kind]] = set()
    for a in assignments.values():
        out.update((s, Kind.AUDIO) for s in a.audio if s is not None)
        out.update((s, Kind.VIDEO) for s in a.video if s is not None)
    return frozenset(out)
