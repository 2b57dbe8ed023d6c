"""The forwarding policy as pure functions (no network)."""

from __future__ import annotations

from media.policy import (
    Assignment,
    Kind,
    PolicyConfig,
    Role,
    RoomState,
    assign,
    audible,
    forwarded_sources,
    page_count,
)

A, V = Kind.AUDIO, Kind.VIDEO


def room(
    n_bridges: int = 3,
    floor: tuple[str, ...] = (),
    muted: frozenset[str] = frozenset(),
    pages: dict[str, int] | None = None,
) -> RoomState:
    endpoints = {"chair": Role.CHAIR, "obs": Role.OBSERVER, "del": Role.DELEGATE}
    endpoints.update({f"bp{i:02d}": Role.BRIDGE_POINT for i in range(n_bridges)})
    publishing = frozenset((e, k) for e in endpoints for k in (A, V))
    return RoomState(endpoints, publishing, floor, muted, pages or {})


CFG = PolicyConfig(audio_slots=3, page_size=2)


def test_only_chair_and_floor_are_audible_and_mute_wins() -> None:
    assert audible(room()) == ["chair"]
    assert audible(room(floor=("bp01", "del"))) == ["chair", "bp01", "del"]
    assert audible(room(floor=("bp01",), muted=frozenset({"bp01"}))) == ["chair"]
    assert audible(room(muted=frozenset({"chair"}))) == []
    # an observer never publishes, even with the floor
    assert audible(room(floor=("obs",))) == ["chair"]


def test_nobody_hears_themselves_and_slots_stay_stable() -> None:
    a = assign(room(floor=("bp01", "bp02")), CFG)
    assert a["bp01"].audio == ("chair", "bp02", None)
    assert a["bp00"].audio == ("chair", "bp01", "bp02")
    # bp01 leaves the floor: bp02 keeps its slot, no reshuffle
    b = assign(room(floor=("bp02",)), CFG, a)
    assert b["bp00"].audio == ("chair", None, "bp02")
    # a newcomer takes the free slot
    c = assign(room(floor=("bp02", "del")), CFG, b)
    assert c["bp00"].audio == ("chair", "del", "bp02")


def test_bridge_points_see_chair_and_speaker() -> None:
    a = assign(room(floor=("bp02",)), CFG)
    assert a["bp00"].video == ("chair", "bp02")
    assert a["bp02"].video == ("chair", None)  # not itself
    assert a["obs"].video == ("chair", "bp02")
    assert assign(room(), CFG)["bp00"].video == ("chair", None)


def test_chair_pages_through_bridge_points() -> None:
    a = assign(room(n_bridges=5, floor=("bp03",)), CFG)
    assert a["chair"].video == ("bp03", "bp00", "bp01")
    a = assign(room(n_bridges=5, pages={"chair": 1}), CFG)
    assert a["chair"].video == (None, "bp02", "bp03")
    a = assign(room(n_bridges=5, pages={"chair": 2}), CFG)
    assert a["chair"].video == (None, "bp04", None)
    # out of range pages are clamped to the last one
    a = assign(room(n_bridges=5, pages={"chair": 9}), CFG)
    assert a["chair"].video == (None, "bp04", None)
    assert page_count(room(n_bridges=5), CFG) == 3
    assert page_count(room(n_bridges=0), CFG) == 1


def test_default_page_size_is_sixteen() -> None:
    a = assign(room(n_bridges=40), PolicyConfig())
    assert len(a["chair"].video) == 17
    assert a["chair"].video[1:] == tuple(f"bp{i:02d}" for i in range(16))


def test_last_n_nothing_unwatched_is_forwarded() -> None:
    a = assign(room(n_bridges=6), CFG)
    fwd = forwarded_sources(a)
    assert ("bp00", V) in fwd and ("bp01", V) in fwd
    assert ("bp05", V) not in fwd  # not on the chair's page, not speaking
    assert ("bp05", A) not in fwd  # not on the floor
    assert ("chair", V) in fwd and ("chair", A) in fwd
    assert not any(src == "obs" for src, _ in fwd)


def test_bridge_point_without_video_is_not_a_thumbnail() -> None:
    st = room(n_bridges=3)
    st = RoomState(st.endpoints, st.publishing - {("bp00", V)}, (), frozenset(), {})
    assert assign(st, CFG)["chair"].video == (None, "bp01", "bp02")


def test_assignment_is_a_value() -> None:
    assert Assignment(("a",), ()) == Assignment(("a",), ())
