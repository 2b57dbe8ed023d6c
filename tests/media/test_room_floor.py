"""A floor change in one call: same policy result as the old two-step pattern, one run.

Rooms here are signalling only (no peer connections): each endpoint is told to publish
audio and video, which is all the policy looks at.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Collection, Sequence

import pytest

import media
from media import Kind, MediaPlane, Room
from media import policy as media_policy

ROLES = {"chair": "chair", "del1": "delegate", "del2": "delegate"} | {
    f"bp{i:02d}": "bridge_point" for i in range(12)
}


async def on_offer(sdp: str) -> None:
    return None


def make_room(plane: MediaPlane, room_id: str) -> Room:
    room = plane.create_room(room_id, page_size=4)
    for eid, role in ROLES.items():
        room.add_endpoint(eid, role, on_offer=on_offer)
    for ep in room.endpoints.values():
        ep.published_kinds = lambda: {Kind.AUDIO, Kind.VIDEO}  # type: ignore[method-assign]
    room.set_floor(["chair"])  # any change makes the policy read who publishes
    room.set_floor([])
    return room


def two_step(room: Room, floor: Sequence[str], muted: Collection[str]) -> None:
    """What meetingd's media bridge did before: the floor, then every endpoint's mute."""
    room.set_floor(floor)
    for eid in room.endpoints:
        room.set_muted(eid, eid in muted)


def seen(room: Room) -> dict[str, tuple[object, ...]]:
    return {
        eid: (
            tuple(s.source for s in lay.audio),
            tuple(s.source for s in lay.video),
            lay.page,
            lay.page_count,
        )
        for eid in room.endpoints
        for lay in [room.layout(eid)]
    }


# the media bridge's events, one floor change each: (floor holders, muted)
EVENTS: list[tuple[list[str], set[str]]] = [
    (["bp03"], set()),  # bp03 granted
    (["bp03", "del1"], set()),  # del1 granted too
    (["bp03", "del1"], {"del1"}),  # del1 muted
    (["bp03", "del1", "bp07"], {"del1"}),  # bp07 granted
    (["bp03", "del1", "bp07"], set()),  # del1 unmuted
    (["del1", "bp07"], set()),  # bp03 revoked
    (["del1", "bp07"], {"bp07", "bp10"}),  # bp07 muted (and one not on the floor)
    (["del1", "bp07", "bp10"], {"bp07"}),  # bp10 granted (a grant unmutes)
    ([], set()),  # everybody revoked
    (["bp00"], set()),  # bp00 granted
    (["bp00"], {"chair"}),  # the chair mutes itself
    (["bp00", "bp01"], {"chair"}),  # bp01 granted
    (["bp01"], {"chair"}),  # bp00 revoked
]


async def test_one_call_gives_what_the_two_step_pattern_gave(plane: MediaPlane) -> None:
    old, new = make_room(plane, "r-old"), make_room(plane, "r-new")
    assert seen(old) == seen(new)
    for floor, muted in EVENTS:
        two_step(old, floor, muted)
        new.set_floor(floor, muted)
        assert seen(new) == seen(old), (floor, muted)
        assert new.floor == old.floor == tuple(floor)
        assert new.muted == old.muted == frozenset(muted)


async def test_one_policy_run_per_call(
    plane: MediaPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = make_room(plane, "r-count")
    runs = 0
    real_assign = media_policy.assign

    def counting(*args: object, **kw: object) -> dict[str, media_policy.Assignment]:
        nonlocal runs
        runs += 1
        return real_assign(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(media_policy, "assign", counting)
    for floor, muted in EVENTS:
        before = runs
        room.set_floor(floor, muted)
        assert runs == before + 1, (floor, muted)
    assert room.policy_runs >= runs
    # the old pattern ran it once for the floor, then once per endpoint (now: per change)
    room.set_floor(["bp01"], {"chair"})
    before = runs
    two_step(room, ["bp05"], {"bp02", "bp04"})
    assert runs == before + 4  # the floor; chair unmuted, bp02 and bp04 muted


async def test_a_compound_change_only_places_newcomers_differently(plane: MediaPlane) -> None:
    # Two changes at once (the chair mutes itself as bp00 gets the floor): the two-step
    # pattern passed through a state where the chair was still heard, so bp00 took the
    # next free slot; in one call bp00 takes the slot the chair frees. What is heard is
    # the same, and no voice that keeps playing moves.
    old, new = make_room(plane, "r-old"), make_room(plane, "r-new")
    two_step(old, ["bp00"], {"chair"})
    new.set_floor(["bp00"], {"chair"})
    assert [s.source for s in old.layout("bp05").audio] == [None, "bp00", None, None]
    assert [s.source for s in new.layout("bp05").audio] == ["bp00", None, None, None]
    for eid in ROLES:
        o, n = old.layout(eid), new.layout(eid)
        assert {s.source for s in o.audio} == {s.source for s in n.audio}
        assert o.video == n.video


async def test_unchanged_floor_or_mute_runs_nothing(plane: MediaPlane) -> None:
    room = make_room(plane, "r-noop")
    room.set_floor(["bp01", "bp02"], {"bp02"})
    runs = room.policy_runs
    room.set_floor(["bp01", "bp02"], ["bp02"])
    room.set_floor(["bp01", "bp02", "bp01"])  # duplicates collapse; None keeps the mutes
    room.set_muted("bp02", True)
    room.set_muted("bp05", False)
    room.set_video_page("chair", 0)
    room.set_video_page("chair", 0)
    assert room.policy_runs == runs
    assert room.muted == {"bp02"}
    with pytest.raises(TypeError):
        room.set_floor(["bp01"], "bp02")


async def test_a_floor_change_touches_only_what_changed(plane: MediaPlane) -> None:
    room = make_room(plane, "r-touch")
    layouts: list[str] = []
    room.on_layout = lambda layout: layouts.append(layout.endpoint_id)
    room.set_floor(["bp03"])  # everybody sees and hears bp03 now, but bp03 itself
    assert sorted(layouts) == sorted(set(ROLES) - {"bp03"})
    layouts.clear()
    room.set_floor(["bp03"], {"bp09"})  # not audible anyway: no layout changes
    assert layouts == []
    room.set_video_page("chair", 1)
    assert layouts == ["chair"]


MEDIA_DIR = pathlib.Path(media.__file__).parent


def _foreign_private_accesses(path: pathlib.Path) -> list[str]:
    """``x._name`` where ``x`` is not ``self`` (or ``self._member._name``)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
            continue
        if node.attr.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        out.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return out


def test_room_and_endpoint_use_only_each_others_public_members() -> None:
    offenders = [
        line
        for name in ("room.py", "endpoint.py")
        for line in _foreign_private_accesses(MEDIA_DIR / name)
    ]
    assert offenders == []
