"""Test clients for the socket: a python-socketio client that records what it receives, and
a mirror that rebuilds a meeting's state from a snapshot and the events, the way a screen
does."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import socketio


class LiveClient:
    """One connection: sends commands, records every event in order."""

    def __init__(self, url: str, token: str | None, *, name: str = "") -> None:
        self.url = url
        self.token = token
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.disconnected = asyncio.Event()
        self._changed = asyncio.Event()
        self.mirror: Mirror | None = None
        self.sio.on("*", self._on_event)
        self.sio.on("disconnect", self._on_disconnect)

    async def _on_event(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        if self.mirror is not None and isinstance(data, dict) and "seq" in data:
            self.mirror.live(event, data)
        self._changed.set()

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnected.set()
        self._changed.set()

    async def connect(self) -> LiveClient:
        auth = {"token": self.token} if self.token is not None else None
        await self.sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=5)
        return self

    async def call(self, event: str, data: Any = None, within: float = 10) -> dict[str, Any]:
        answer, _ = await self._call(event, data, within)
        return answer

    async def _call(self, event: str, data: Any, within: float = 10) -> tuple[dict[str, Any], int]:
        """The ack, and where it arrived among the events (its index in ``events``)."""
        done: asyncio.Future[tuple[dict[str, Any], int]] = (
            asyncio.get_running_loop().create_future()
        )

        def on_ack(answer: Any = None) -> None:
            # Runs as the ack packet is read, in order with the event packets.
            self.events.append(("<ack>", event))
            if not done.done():
                done.set_result((answer, len(self.events) - 1))

        await self.sio.emit(event, data, callback=on_ack)
        return await asyncio.wait_for(done, within)

    async def ok(self, event: str, data: Any = None) -> Any:
        got = await self.call(event, data)
        assert got.get("ok") is True, f"{self.name} {event} {data} -> {got}"
        return got["data"]

    async def error(self, event: str, data: Any = None) -> dict[str, Any]:
        got = await self.call(event, data)
        assert got.get("ok") is False, f"{self.name} {event} {data} -> {got}"
        assert set(got) == {"ok", "error"} and {"code", "message"} <= set(got["error"])
        err: dict[str, Any] = got["error"]
        return err

    async def join(self, meeting_id: int) -> Mirror:
        """Join and start mirroring the meeting."""
        answer, at = await self._call("meeting.join", {"meeting_id": meeting_id})
        assert answer["ok"], answer
        data = answer["data"]
        self._check_before(at, data["seq"])
        self.mirror = Mirror(data["snapshot"], data["seq"])
        self._catch_up(at)
        return self.mirror

    async def resync(self, meeting_id: int, mirror: Mirror) -> dict[str, Any]:
        """Carry ``mirror`` (from an earlier connection) on over this one."""
        answer, at = await self._call(
            "meeting.resync", {"meeting_id": meeting_id, "after_seq": mirror.seq}
        )
        assert answer["ok"], answer
        data: dict[str, Any] = answer["data"]
        self._check_before(at, data["seq"])
        if "snapshot" in data:
            mirror.restart(data["snapshot"], data["seq"])
        else:
            mirror.replay(data["events"])
            assert mirror.seq == data["seq"] or not data["events"]
        self.mirror = mirror
        self._catch_up(at)
        return data

    def _check_before(self, at: int, seq: int) -> None:
        early = [d["seq"] for _, d in self.events[:at] if isinstance(d, dict) and "seq" in d]
        assert all(s <= seq for s in early), f"events after {seq} came before the ack: {early}"

    def _catch_up(self, at: int) -> None:
        assert self.mirror is not None
        for event, data in self.events[at + 1 :]:
            if isinstance(data, dict) and "seq" in data:
                self.mirror.live(event, data)

    async def wait_until(self, check: Callable[[], bool], within: float = 10) -> None:
        async def loop() -> None:
            while not check():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), within)

    async def wait_event(self, name: str, within: float = 10, count: int = 1) -> Any:
        await self.wait_until(lambda: len(self.of(name)) >= count, within)
        return self.of(name)[count - 1]

    def of(self, name: str) -> list[Any]:
        return [d for e, d in self.events if e == name]

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        await self.sio.shutdown()


class Mirror:
    """A meeting's state rebuilt from a snapshot and the events after it.

    ``live`` and ``replay`` apply events; one whose ``seq`` is not above the state's is a
    repeat and is counted, one that skips a ``seq`` is a gap and is recorded.
    """

    def __init__(self, snapshot: dict[str, Any], seq: int) -> None:
        self.state = by_vote_id(snapshot)
        self.seq = seq
        self.applied: list[int] = []
        self.repeats = 0
        self.gaps: list[tuple[int, int]] = []
        self.snapshots = 1

    def restart(self, snapshot: dict[str, Any], seq: int) -> None:
        self.state = by_vote_id(snapshot)
        self.seq = seq
        self.snapshots += 1

    def live(self, event: str, data: dict[str, Any]) -> None:
        seq = data["seq"]
        if seq <= self.seq:
            self.repeats += 1
            return
        if seq != self.seq + 1:
            self.gaps.append((self.seq, seq))
        apply(self.state, event, data)
        self.seq = seq
        self.applied.append(seq)

    def replay(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            self.live(ev["type"], ev)

    def view(self) -> dict[str, Any]:
        return normalised(self.state)


def by_vote_id(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``snapshot`` whose votes (a list on the wire) are held by id, as events
    name them."""
    s = copy.deepcopy(snapshot)
    if isinstance(s.get("votes"), list):
        s["votes"] = {v["id"]: v for v in s["votes"]}
    return s


def normalised(snapshot: dict[str, Any]) -> dict[str, Any]:
    s = by_vote_id(snapshot)
    s["meeting"].pop("seq", None)
    s["presence"] = sorted(s["presence"], key=lambda p: (p["kind"], p["id"]))
    if s.get("rollcall"):
        s["rollcall"]["answers"].sort(key=lambda a: a["bridge_point_id"])
        s["rollcall"]["confirmations"].sort(key=lambda c: c["user_id"])
    s["floor"] = sorted(s.get("floor", []), key=lambda f: f["subject"])
    return s


def apply(state: dict[str, Any], event: str, d: dict[str, Any]) -> None:
    """What a screen does with each stream event."""
    m = state["meeting"]
    agenda = {a["id"]: a for a in m["agenda"]}
    noun = event.partition(".")[0]
    if event in ("meeting.created", "meeting.updated"):
        state["meeting"] = copy.deepcopy(d["meeting"])
    elif noun == "meeting" and "state" in d:
        if d["state"] == "ended" and m["current_agenda_item_id"] in agenda:
            agenda[m["current_agenda_item_id"]]["state"] = "done"
        m["state"] = d["state"]
    elif event == "agenda.moved":
        if d["previous_item_id"] in agenda:
            agenda[d["previous_item_id"]]["state"] = "done"
        agenda[d["item_id"]]["state"] = "active"
        m["current_agenda_item_id"] = d["item_id"]
    elif event == "meeting.bridge_points_invited":
        m["bridge_point_ids"] = sorted(set(m["bridge_point_ids"]) | set(d["bridge_point_ids"]))
    elif event == "meeting.delegates_invited":
        m["delegate_ids"] = sorted(set(m["delegate_ids"]) | set(d["user_ids"]))
    elif event == "meeting.bridge_point_uninvited":
        m["bridge_point_ids"] = [i for i in m["bridge_point_ids"] if i != d["bridge_point_id"]]
    elif event == "meeting.delegate_uninvited":
        m["delegate_ids"] = [i for i in m["delegate_ids"] if i != d["user_id"]]
    elif event == "presence.joined":
        state["presence"].append({k: d[k] for k in ("kind", "id", "name", "role", "since")})
    elif event == "presence.arrived":
        state["presence"].extend(dict(e) for e in d["entries"])
    elif event == "presence.left":
        state["presence"] = [
            p for p in state["presence"] if (p["kind"], p["id"]) != (d["kind"], d["id"])
        ]
    elif event in ("rollcall.started", "rollcall.closed"):
        state["rollcall"] = copy.deepcopy(d["rollcall"])
    elif event == "rollcall.answered":
        answers = [
            a for a in state["rollcall"]["answers"] if a["bridge_point_id"] != d["bridge_point_id"]
        ]
        answers.append({k: d[k] for k in ("bridge_point_id", "count", "answered_at")})
        state["rollcall"]["answers"] = answers
    elif event == "rollcall.confirmed":
        state["rollcall"]["confirmations"].append({k: d[k] for k in ("user_id", "confirmed_at")})
    elif event in ("floor.requested", "floor.granted"):
        entry = {
            k: d[k] for k in ("subject", "name", "state", "requested_at", "granted_at", "muted")
        }
        state["floor"] = [f for f in state["floor"] if f["subject"] != d["subject"]] + [entry]
    elif event in ("floor.withdrawn", "floor.revoked"):
        state["floor"] = [f for f in state["floor"] if f["subject"] != d["subject"]]
    elif event == "floor.muted":
        for f in state["floor"]:
            if f["subject"] == d["subject"]:
                f["muted"] = d["muted"]
    elif event in ("vote.opened", "vote.closed"):
        state.setdefault("votes", {})[d["vote"]["id"]] = copy.deepcopy(d["vote"])
    elif event == "vote.counted":
        vote = state.setdefault("votes", {}).get(d["vote_id"])
        if vote is not None:
            vote["ballots"], vote["counts"] = d["ballots"], d["counts"]
    elif event in ("recording.started", "recording.stopped", "document.uploaded"):
        pass  # not in a snapshot (a new draft's event carries no document: screens fetch it)
    else:
        raise AssertionError(f"the mirror does not know {event}")


class SilentDevice:
    """A device that joins a meeting over a bare websocket, then goes silent.

    It speaks just enough Engine.IO v4 / Socket.IO v5 to connect and join, then stops
    reading and answering pings, as a tablet does when its Wi-Fi drops without a goodbye.
    """

    def __init__(self, url: str, token: str) -> None:
        self.url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.token = token
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def join(self, meeting_id: int) -> dict[str, Any]:
        self._http = aiohttp.ClientSession()
        self._ws = ws = await self._http.ws_connect(self.url)
        opened = await ws.receive_str()
        assert opened.startswith("0{"), opened
        await ws.send_str("40" + json.dumps({"token": self.token}))
        while not (msg := await ws.receive_str()).startswith("40"):
            pass
        await ws.send_str("420" + json.dumps(["meeting.join", {"meeting_id": meeting_id}]))
        while True:
            msg = await ws.receive_str()
            if msg == "2":
                await ws.send_str("3")
            elif msg.startswith("430"):
                ack: dict[str, Any] = json.loads(msg[3:])[0]
                return ack

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()


class DeafDevice(SilentDevice):
    """A device that joins, then keeps its connection alive but reads nothing more: it
    sends a pong every ``every`` seconds without reading the pings (a slow consumer)."""

    def keep_alive(self, every: float = 0.3) -> None:
        async def pong() -> None:
            assert self._ws is not None
            while not self._ws.closed:
                await self._ws.send_str("3")
                await asyncio.sleep(every)

        self._pong = asyncio.create_task(pong())

    async def close(self) -> None:
        pong = getattr(self, "_pong", None)
        if pong is not None:
            pong.cancel()
        await super().close()

