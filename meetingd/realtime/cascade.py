"""The media nodes of a deployment find each other through Redis (cascading).

With ``realtime.redis_url`` set, every process that serves media is a media node: it binds
its cascade link socket (``media.cascade_address``), and this module keeps in Redis

* its registration, ``<prefix>:media:node:<node id>`` = ``{"host", "port", "secret"}``
  (the address other nodes send to, ``media.cascade_announce`` or the one bound, and the
  secret its link keys derive from), with a time to live of :data:`NODE_TTL` s, renewed
  every :data:`REFRESH` s; the nodes registered are the media plane's peers;
* each meeting's roster, the hash ``<prefix>:media:room:<meeting id>``: one field per
  media endpoint, ``{"n": node, "r": role, "k": kinds published, "t": written at}``, each
  node writing its own endpoints' fields (again every :data:`REFRESH` s: Redis may have
  restarted empty) and announcing a change on ``<prefix>:media:rooms``; every node reads
  the rosters of the meetings it has media of, and hands the other nodes' endpoints to its
  room (:meth:`media.Room.set_remote_members`): one policy decision for the meeting;
* each node's media health figures of a meeting, ``<prefix>:media:health:<meeting id>:
  <node id>``, for the operator's view on any node (:meth:`MediaDirectory.health`).

Endpoints of a node that is no longer registered are ignored (and their fields removed
once stale): a node that dies leaves nothing shown. Redis away: the links already made go
on (they are soft state between the nodes themselves), new rosters wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from media import CascadeNode, Kind, PeerNode, RemoteMember, Role
from meetingd.config import host_port
from meetingd.domain import MediaHealth
from meetingd.errors import Unavailable

logger = logging.getLogger(__name__)

#: seconds between renewals of the registration and the rosters
REFRESH = 2.0
#: a registration not renewed for this long is gone (its node is taken for dead)
NODE_TTL = 10
#: roster fields of unregistered nodes older than this are removed (seconds)
STALE_AFTER = 3 * NODE_TTL
#: seconds a roster hash outlives its last write (a meeting left by everyone)
ROOM_TTL = 24 * 3600


class MediaDirectory:
    """This media node in Redis: its registration, its rosters, the others' (see module)."""

    def __init__(
        self,
        url: str,
        prefix: str,
        node: CascadeNode,
        announce: tuple[str, int] | None,
        on_members: Callable[[int, Mapping[str, RemoteMember]], None],
        on_link_mode: Callable[[int, str, str, int | None], None] | None = None,
    ) -> None:
        self._url = url
        self._prefix = f"{prefix}:media"
        self.node = node
        self._announce = announce
        #: (meeting id, {endpoint id: RemoteMember}) -> None: the other nodes' endpoints
        self._on_members = on_members
        #: (meeting id, subject, mode, bitrate cap) -> None: an operator's weak-link mode
        #: asked on another node for a subject whose media may be here
        self._on_link_mode = on_link_mode
        self._redis: aioredis.Redis | None = None
        self._rosters: dict[int, Mapping[str, tuple[Role, frozenset[Kind]]]] = {}
        self._written: dict[int, set[str]] = {}
        self._to_write: set[int] = set()
        self._to_read: set[int] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._live: dict[str, PeerNode] = {}
        self._failing = False
        self.up = False
        self._since = time.time()
        #: the other nodes' registrations and when a scan last found them (monotonic)
        self._seen: dict[str, tuple[PeerNode, float]] = {}
        #: what this node last announced of each meeting (a change is published)
        self._announced: dict[int, dict[str, tuple[str, tuple[str, ...]]]] = {}
        self._lock = asyncio.Lock()

    # -- lifetime ------------------------------------------------------------------------

    async def start(self) -> None:
        self._redis = aioredis.Redis.from_url(self._url)
        self._tasks = [
            asyncio.create_task(self._refresh_loop(), name="media-directory-refresh"),
            asyncio.create_task(self._work_loop(), name="media-directory-work"),
            asyncio.create_task(self._listen_loop(), name="media-directory-listen"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._redis is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    pipe = self._redis.pipeline()
                    pipe.delete(self._node_key(self.node.node_id))
                    for meeting_id, fields in self._written.items():
                        if fields:
                            pipe.hdel(self._room_key(meeting_id), *fields)
                        pipe.publish(self._channel, str(meeting_id))
                    await pipe.execute()
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    # -- what the media bridge tells it ---------------------------------------------------

    def roster(self, meeting_id: int, members: Mapping[str, tuple[Role, frozenset[Kind]]]) -> None:
        """This node's endpoints of a meeting now (empty: it has none left)."""
        if members:
            self._rosters[meeting_id] = dict(members)
        else:
            self._rosters.pop(meeting_id, None)
        self._to_write.add(meeting_id)
        self._to_read.add(meeting_id)
        self._wake.set()

    def health_measured(self, meeting_id: int, rows: list[MediaHealth]) -> None:
        """This node's latest figures of a meeting, for the other nodes' operators."""
        if self._redis is None:
            return
        body = json.dumps([_health_json(h) for h in rows])
        task = asyncio.get_running_loop().create_task(
            self._write_health(meeting_id, body), name=f"media-health-{meeting_id}"
        )
        self._tasks.append(task)
        task.add_done_callback(self._forget_task)

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)

    async def health(self, meeting_id: int) -> list[MediaHealth]:
        """The other nodes' latest figures of a meeting (none while Redis is away)."""
        if self._redis is None:
            return []
        keys = [self._health_key(meeting_id, node) for node in self._live]
        if not keys:
            return []
        try:
            values = await self._redis.mget(keys)
        except (RedisError, OSError):
            return []
        rows: list[MediaHealth] = []
        for value in values:
            try:
                items = json.loads(value) if value else []
            except ValueError:
                continue
            for item in items if isinstance(items, list) else []:
                row = _health_of(item)
                if row is not None and row.meeting_id == meeting_id:
                    rows.append(row)
        return rows

    # -- keys --------------------------------------------------------------------------

    def _node_key(self, node_id: str) -> str:
        return f"{self._prefix}:node:{node_id}"

    def _room_key(self, meeting_id: int) -> str:
        return f"{self._prefix}:room:{meeting_id}"

    def _health_key(self, meeting_id: int, node_id: str) -> str:
        return f"{self._prefix}:health:{meeting_id}:{node_id}"

    @property
    def _channel(self) -> str:
        return f"{self._prefix}:rooms"

    @property
    def _control(self) -> str:
        return f"{self._prefix}:control"

    async def media_of(self, meeting_id: int, subject: str) -> list[str]:
        """The subject's media endpoints of the meeting on the other live nodes."""
        if self._redis is None:
            return []
        try:
            raw = await self._redis.hgetall(self._room_key(meeting_id))
        except (RedisError, OSError):
            return []
        out = []
        for field_b, value in raw.items():
            eid = field_b.decode() if isinstance(field_b, bytes) else field_b
            with contextlib.suppress(ValueError, KeyError, TypeError):
                node_id = str(json.loads(value)["n"])
                if eid.partition("#")[0] == subject and node_id in self._live:
                    out.append(eid)
        return out

    async def send_link_mode(
        self, meeting_id: int, subject: str, mode: str, bitrate_cap: int | None
    ) -> None:
        """Ask every other node to apply a weak-link mode to the subject's media there
        (the caller's rights were checked where it asked)."""
        body = {"m": meeting_id, "s": subject, "mode": mode, "cap": bitrate_cap,
                "from": self.node.node_id}  # fmt: skip
        try:
            if self._redis is None:
                raise RedisError("the media directory has not started")
            await self._redis.publish(self._control, json.dumps(body))
        except (RedisError, OSError) as exc:
            raise Unavailable(
                "the other media servers cannot be reached for the moment: try again"
            ) from exc

    # -- loops -------------------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        while True:
            try:
                await self._refresh()
                if self._failing:
                    logger.info("media directory: Redis answers again")
                    self._announced.clear()  # tell the others again what is here
                self._failing, self.up = False, True
            except (RedisError, OSError) as exc:
                if not self._failing:
                    logger.warning("media directory: Redis is away (%s); links made go on", exc)
                self._failing, self.up = True, False
            except Exception:  # never the end of this node's registration
                logger.exception("media directory: the refresh failed")
            await asyncio.sleep(REFRESH)

    async def _refresh(self) -> None:
        """Registration renewed, peers read, every roster written and read again."""
        assert self._redis is not None
        address = self._announce or self.node.address
        if address is None:
            return
        me = {"host": address[0], "port": address[1], "secret": self.node.secret.hex(),
              "since": self._since}  # fmt: skip
        await self._redis.set(self._node_key(self.node.node_id), json.dumps(me), ex=NODE_TTL)
        live: dict[str, PeerNode] = {}
        async for key in self._redis.scan_iter(match=self._node_key("*"), count=100):
            node_id = key.decode().rpartition(":")[2]
            if node_id == self.node.node_id:
                continue
            raw = await self._redis.get(key)
            if raw is None:
                continue
            peer = _registration(node_id, raw)
            if peer is None:
                logger.warning("media directory: node %s registered garbage", node_id)
            else:
                live[node_id] = peer
        # a node missing from one scan (Redis restarted empty, and it has not written
        # itself again yet) is kept until its registration would have expired
        now = time.monotonic()
        for node_id, peer in live.items():
            self._seen[node_id] = (peer, now)
        for node_id, (peer, seen) in list(self._seen.items()):
            if node_id not in live and now - seen < NODE_TTL:
                live[node_id] = peer
            elif node_id not in live:
                del self._seen[node_id]
        self._live = live
        self.node.set_peers(live.values())
        self._to_write.update(self._rosters)
        self._to_read.update(self._rosters)
        self._wake.set()

    async def _work_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._work()
            except (RedisError, OSError):
                await asyncio.sleep(1.0)  # the refresh loop says it; the work comes again
            except Exception:
                logger.exception("media directory: roster work failed")
                await asyncio.sleep(1.0)

    async def _work(self) -> None:
        async with self._lock:  # one at a time: a later roster is never overtaken
            await self._work_locked()

    async def _work_locked(self) -> None:
        assert self._redis is not None
        writes, self._to_write = self._to_write, set()
        for meeting_id in writes:
            try:
                await self._write(meeting_id)
            except BaseException:
                self._to_write.add(meeting_id)
                raise
        reads, self._to_read = self._to_read, set()
        for meeting_id in reads:
            if meeting_id not in self._rosters:
                continue
            try:
                await self._read(meeting_id)
            except BaseException:
                self._to_read.add(meeting_id)
                raise

    async def _write(self, meeting_id: int) -> None:
        assert self._redis is not None
        members = self._rosters.get(meeting_id, {})
        now = time.time()
        fields = {
            eid: json.dumps({"n": self.node.node_id, "r": role.value,
                             "k": sorted(k.value for k in kinds), "t": round(now, 1)})
            for eid, (role, kinds) in members.items()
        }  # fmt: skip
        key = self._room_key(meeting_id)
        gone = self._written.get(meeting_id, set()) - set(fields)
        said = {
            eid: (role.value, tuple(sorted(k.value for k in kinds)))
            for eid, (role, kinds) in members.items()
        }
        changed = bool(gone) or said != self._announced.get(meeting_id)
        pipe = self._redis.pipeline()
        if gone:
            pipe.hdel(key, *gone)
        if fields:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(key, ROOM_TTL)
        if changed:  # the others re-read it now (else at their next refresh)
            pipe.publish(self._channel, str(meeting_id))
        await pipe.execute()
        if fields:
            self._written[meeting_id] = set(fields)
            self._announced[meeting_id] = said
        else:
            self._written.pop(meeting_id, None)
            self._announced.pop(meeting_id, None)

    async def _read(self, meeting_id: int) -> None:
        assert self._redis is not None
        raw = await self._redis.hgetall(self._room_key(meeting_id))
        now = time.time()
        remote: dict[str, RemoteMember] = {}
        stale: list[bytes | str] = []
        for field_b, value in raw.items():
            try:
                entry = json.loads(value)
                node_id = str(entry["n"])
                if node_id == self.node.node_id:
                    continue
                if node_id not in self._live:
                    if now - float(entry.get("t", 0)) > STALE_AFTER:
                        stale.append(field_b)
                    continue
                kinds = frozenset(Kind(k) for k in entry["k"])
                eid = field_b.decode() if isinstance(field_b, bytes) else field_b
                remote[eid] = RemoteMember(node_id, Role(entry["r"]), kinds)
            except (ValueError, KeyError, TypeError):
                stale.append(field_b)
        if stale:
            await self._redis.hdel(self._room_key(meeting_id), *stale)
        if meeting_id in self._rosters:
            self._on_members(meeting_id, remote)

    async def _listen_loop(self) -> None:
        assert self._redis is not None
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel, self._control)
                async for message in pubsub.listen():
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode()
                    if channel == self._control:
                        self._control_heard(message["data"])
                        continue
                    with contextlib.suppress(ValueError, TypeError):
                        meeting_id = int(message["data"])
                        if meeting_id in self._rosters:
                            self._to_read.add(meeting_id)
                            self._wake.set()
            except (RedisError, OSError):
                await asyncio.sleep(1.0)  # the refresh loop reads every roster meanwhile
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _control_heard(self, data: bytes | str) -> None:
        try:
            body = json.loads(data)
            if body.get("from") == self.node.node_id or self._on_link_mode is None:
                return
            cap = body.get("cap")
            self._on_link_mode(
                int(body["m"]), str(body["s"]), str(body["mode"]),
                int(cap) if cap is not None else None,
            )  # fmt: skip
        except Exception:
            logger.exception("media directory: a control message could not be applied")

    async def _write_health(self, meeting_id: int, body: str) -> None:
        assert self._redis is not None
        with contextlib.suppress(RedisError, OSError):
            await self._redis.set(
                self._health_key(meeting_id, self.node.node_id), body, ex=NODE_TTL
            )


def _health_json(h: MediaHealth) -> dict[str, Any]:
    out = asdict(h)
    for key in ("last_keyframe_at", "measured_at"):
        value = out[key]
        out[key] = value.isoformat() if value is not None else None
    return out


_HEALTH_TYPES: dict[str, tuple[type, ...]] = {
    "meeting_id": (int,), "subject": (str,), "connection": (str,), "role": (str,),
    "state": (str,), "bitrate_in": (int,), "bitrate_out": (int,), "loss_in": (int, float),
    "loss_out": (int, float), "jitter_in_ms": (int, float), "jitter_out_ms": (int, float),
    "rtt_ms": (int, float, type(None)), "fps_in": (int, float), "fps_out": (int, float),
}  # fmt: skip


def _health_of(item: object) -> MediaHealth | None:
    """One row of another node's figures; None if it is not one (garbage in Redis)."""
    if not isinstance(item, dict) or set(item) != {*_HEALTH_TYPES, "last_keyframe_at",
                                                   "measured_at"}:  # fmt: skip
        return None
    if any(not isinstance(item[k], t) or isinstance(item[k], bool)
           for k, t in _HEALTH_TYPES.items()):  # fmt: skip
        return None
    try:
        keyframe = item["last_keyframe_at"]
        return MediaHealth(
            **{k: item[k] for k in _HEALTH_TYPES},
            last_keyframe_at=datetime.fromisoformat(keyframe) if keyframe else None,
            measured_at=datetime.fromisoformat(item["measured_at"]),
        )
    except (TypeError, ValueError):
        return None


def _registration(node_id: str, raw: bytes | str) -> PeerNode | None:
    """Another node's registration; None if it is not one (an IP literal, a port, a
    secret of 16 bytes or more)."""
    try:
        info = json.loads(raw)
        host, port, secret = str(info["host"]), int(info["port"]), bytes.fromhex(info["secret"])
        since = float(info.get("since", 0.0))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    address = host_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    if address is None or not 0 < port < 65536 or len(secret) < 16:
        return None
    return PeerNode(node_id, address[0], port, secret, since)
