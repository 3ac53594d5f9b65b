"""Placement: which server process hosts a consultation's room.

Redis holds the truth, with short TTLs so that a dead process needs no one to clean up:

    <prefix>:node:<id>    hash {url, load_pps, rooms, draining, load_level}
                          TTL = heartbeat × factor
    <prefix>:nodes        sorted set of node ids, score = last heartbeat (discovery only)
    <prefix>:room:<cid>   the id of the node hosting that room      TTL refreshed by its host

A process heart-beats its node hash and the pins of the rooms it hosts. If it dies, both expire
within one TTL, and the next `locate` of its rooms picks a live node.

The heartbeat runs in a thread of its own, on its own Redis connection: a saturated event loop
(a media process at full load, a join storm) lags for seconds, and a heartbeat on the loop then
let a live node's pins expire, so later joins of its rooms were placed on another node and the
room split in two. The thread keeps the TTLs short (a dead process is noticed within one TTL)
while a busy but live process keeps its rooms. The loop only reconciles which rooms are pinned
(open rooms, pins nobody used) when it gets to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .load import LoadProbe
from .node import NodeInfo
from .settings import ClusterSettings

logger = logging.getLogger(__name__)

# Compare-and-act in one round trip: a pin is only refreshed or released by the node it names,
# so a node that lost a pin (expired, taken by another) can never extend or delete the new one.
_REFRESH_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_DELETE_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
_MAX_PLACEMENT_ATTEMPTS = 5


class ServerBusy(Exception):
    """No live node has media headroom for a new room: the join is refused, to be retried."""


class Placement(Protocol):
    """What the realtime layer asks at join time."""

    @property
    def node(self) -> NodeInfo: ...

    @property
    def draining(self) -> bool: ...

    async def locate(self, consultation_id: str) -> NodeInfo: ...

    async def release(self, consultation_id: str) -> None: ...

    async def drain(self) -> None: ...


class LocalPlacement:
    """One process, no Redis: every room is here."""

    def __init__(self, node: NodeInfo) -> None:
        self._node = node
        self._draining = False

    @property
    def node(self) -> NodeInfo:
        return self._node

    @property
    def draining(self) -> bool:
        return self._draining

    async def locate(self, consultation_id: str) -> NodeInfo:
        return self._node

    async def release(self, consultation_id: str) -> None:
        return None

    async def drain(self) -> None:
        self._draining = True


class RedisPlacement:
    """Room affinity across processes, coordinated in Redis.

    `hosted` lists the room ids this process has open (the media RoomRegistry), `load` gives its
    cumulative forwarded packet count; both are read on the event loop at each reconcile, never
    from the heartbeat thread. `sync_redis` is the thread's connection (default: a blocking
    client to the same server as `redis`).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        settings: ClusterSettings,
        url: str,
        *,
        hosted: Callable[[], Iterable[str]] = tuple,
        forwarded_packets: Callable[[], int] = lambda: 0,
        sync_redis: redis.Redis | None = None,
        load: LoadProbe | None = None,
    ) -> None:
        self._redis = redis
        self._load = load
        self._settings = settings
        self._id = settings.node_id
        self._url = url
        self._hosted_rooms = hosted
        self._forwarded_packets = forwarded_packets
        self._prefix = settings.redis_prefix
        self._ttl_ms = int(settings.ttl_s * 1000)
        self._grace_ms = int(settings.pin_grace_s * 1000)
        self._pins: dict[str, float] = {}
        "Rooms pinned to this node -> monotonic time of the last locate that returned self."
        self._draining = False
        self._load_pps = 0.0
        self._last_sample: tuple[float, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self._refresh = redis.register_script(_REFRESH_IF_OWNER)
        self._delete = redis.register_script(_DELETE_IF_OWNER)
        self._sync_redis = sync_redis or _sync_twin(redis)
        self._sync_refresh = self._sync_redis.register_script(_REFRESH_IF_OWNER)
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self.thread_beats = 0
        "Heartbeats written by the thread (tests and diagnostics)."

    # ------------------------------------------------------------------ keys

    def _node_key(self, node_id: str) -> str:
        return f"{self._prefix}:node:{node_id}"

    def _room_key(self, consultation_id: str) -> str:
        return f"{self._prefix}:room:{consultation_id}"

    @property
    def _nodes_key(self) -> str:
        return f"{self._prefix}:nodes"

    # ------------------------------------------------------------------ state

    @property
    def node(self) -> NodeInfo:
        return NodeInfo(
            self._id,
            self._url,
            load_pps=self._load_pps,
            rooms=len(self._pins),
            draining=self._draining,
            is_self=True,
            load_level=0 if self._load is None else int(self._load.level),
        )

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def pinned(self) -> frozenset[str]:
        return frozenset(self._pins)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register at once (so the first join can already be placed here), then heart-beat."""
        await self.heartbeat()
        self._halt.clear()
        self._thread = threading.Thread(
            target=self._beat_in_thread, name=f"cluster-heartbeat-{self._id}", daemon=True
        )
        self._thread.start()
        self._task = asyncio.get_running_loop().create_task(
            self._reconcile_forever(), name="cluster:reconcile"
        )

    async def stop(self) -> None:
        """Leave the cluster: stop heart-beating, release every pin, remove the node."""
        await self._silence()
        with contextlib.suppress(RedisError, OSError):
            await self._release_all()
            await self._redis.delete(self._node_key(self._id))
            await self._redis.zrem(self._nodes_key, self._id)
        self._sync_redis.close()

    async def _silence(self) -> None:
        """Stop both heartbeats without any clean-up (what a crash looks like to the others)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._thread is not None:
            self._halt.set()
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def drain(self) -> None:
        """Take no new rooms and let go of ours, so clients that rejoin are placed elsewhere."""
        self._draining = True
        try:
            await self._write_node()
            await self._release_all()
        except (RedisError, OSError):
            logger.warning("cluster: Redis unreachable while draining node %s", self._id)

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.heartbeat_s)
            try:
                await self._reconcile()
            except (RedisError, OSError) as exc:
                logger.warning("cluster: reconciling pins of node %s failed: %s", self._id, exc)

    def _beat_in_thread(self) -> None:
        """Refresh our pins and node hash every period, whatever the event loop is doing.

        Reads only `_pins`, `_load_pps` and `_draining` (single reads and copies of builtins,
        atomic under the GIL); the loop owns every decision about which rooms are pinned.
        """
        while not self._halt.wait(self._settings.heartbeat_s):
            try:
                self._refresh_pins_sync()
                self._write_node_sync()
                self.thread_beats += 1
            except (RedisError, OSError) as exc:
                # Our keys will expire and our rooms be re-placed: that is the design, not a crash.
                logger.warning("cluster: heartbeat of node %s failed: %s", self._id, exc)

    def _refresh_pins_sync(self) -> None:
        rooms = list(self._pins)
        if not rooms:
            return
        with self._sync_redis.pipeline(transaction=False) as pipe:
            for room in rooms:
                self._sync_refresh(
                    keys=[self._room_key(room)], args=[self._id, self._ttl_ms], client=pipe
                )
            refreshed = pipe.execute()
        for room, ok in zip(rooms, refreshed, strict=True):
            # Released on the loop meanwhile (room closed, draining): not ours to take back.
            if not ok and room in self._pins and not self._draining:
                key = self._room_key(room)
                if not self._sync_redis.set(key, self._id, nx=True, px=self._ttl_ms):
                    owner = self._sync_redis.get(key)
                    logger.warning(
                        "cluster: room %s is now hosted by node %s, not %s", room, owner, self._id
                    )
                    self._pins.pop(room, None)

    def _write_node_sync(self) -> None:
        with self._sync_redis.pipeline(transaction=True) as pipe:
            self._node_commands(pipe)
            pipe.execute()

    async def heartbeat(self) -> None:
        """One full heartbeat on the loop: reconcile, refresh our pins, publish our load."""
        await self._reconcile()
        for room in list(self._pins):
            if not await self._refresh(keys=[self._room_key(room)], args=[self._id, self._ttl_ms]):
                await self._repin(room)
        await self._write_node()

    async def _reconcile(self) -> None:
        """Pin the rooms open here, free the pins nobody used, sample our load."""
        self._sample_load()
        now = time.monotonic()
        open_rooms = set(self._hosted_rooms())
        for room in open_rooms:
            # Opened here without a locate (placement failed open, Redis was away): claim it.
            if (
                not self._draining
                and room not in self._pins
                and await self._redis.set(self._room_key(room), self._id, nx=True, px=self._ttl_ms)
            ):
                self._pins[room] = now
        for room, pinned_at in list(self._pins.items()):
            if room in open_rooms:
                self._pins[room] = now
            elif now - pinned_at > self._settings.pin_grace_s:
                # Placed here but nobody came (or the room closed): free it for the others.
                self._pins.pop(room, None)  # the heartbeat thread may have dropped it
                await self._delete(keys=[self._room_key(room)], args=[self._id])

    async def _repin(self, room: str) -> None:
        """Our pin vanished (e.g. Redis restarted): take it back unless someone else has it."""
        key = self._room_key(room)
        if await self._redis.set(key, self._id, nx=True, px=self._ttl_ms):
            return
        owner = await self._redis.get(key)
        logger.warning("cluster: room %s is now hosted by node %s, not %s", room, owner, self._id)
        self._pins.pop(room, None)

    def _sample_load(self) -> None:
        now, count = time.monotonic(), self._forwarded_packets()
        if self._last_sample is not None:
            then, before = self._last_sample
            # Closed rooms take their counters with them: a drop is not negative traffic.
            self._load_pps = max(0.0, (count - before) / max(now - then, 1e-3))
        self._last_sample = (now, count)

    def _node_commands(self, pipe: redis.client.Pipeline | aioredis.client.Pipeline) -> None:
        key = self._node_key(self._id)
        pipe.hset(
            key,
            mapping={
                "url": self._url,
                "load_pps": f"{self._load_pps:.1f}",
                "rooms": len(self._pins),
                "draining": int(self._draining),
                "load_level": 0 if self._load is None else int(self._load.level),
            },
        )
        pipe.pexpire(key, self._ttl_ms)
        pipe.zadd(self._nodes_key, {self._id: time.time()})
        # Discovery entries of nodes silent for long are garbage; their hashes expired anyway.
        pipe.zremrangebyscore(self._nodes_key, "-inf", time.time() - 100 * self._ttl_ms / 1000)

    async def _write_node(self) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            self._node_commands(pipe)
            await pipe.execute()

    async def _release_all(self) -> None:
        for room in list(self._pins):
            await self._delete(keys=[self._room_key(room)], args=[self._id])
        self._pins.clear()

    # ------------------------------------------------------------------ placement

    async def nodes(self) -> list[NodeInfo]:
        """Every live node (its hash has not expired), draining ones included."""
        ids = [str(i) for i in await self._redis.zrange(self._nodes_key, 0, -1)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for node_id in ids:
                pipe.hgetall(self._node_key(node_id))
            rows = await pipe.execute()
        return [self._info(node_id, row) for node_id, row in zip(ids, rows, strict=True) if row]

    async def _node_info(self, node_id: str) -> NodeInfo | None:
        row: dict[str, str] = await self._redis.hgetall(self._node_key(node_id))  # type: ignore[assignment]
        return self._info(node_id, row) if row else None

    def _info(self, node_id: str, row: dict[str, str]) -> NodeInfo:
        if node_id == self._id:
            return self.node
        return NodeInfo(
            node_id,
            row.get("url", ""),
            load_pps=float(row.get("load_pps") or 0),
            rooms=int(row.get("rooms") or 0),
            draining=row.get("draining") == "1",
            load_level=int(row.get("load_level") or 0),
        )

    async def locate(self, consultation_id: str) -> NodeInfo:
        """The node hosting this room; a room without a live host goes to the least loaded node.

        A hosted room stays where it is however busy its node (its peers are there); only a new
        room needs headroom, and `ServerBusy` says no node has any.
        """
        key = self._room_key(consultation_id)
        for _ in range(_MAX_PLACEMENT_ATTEMPTS):
            owner = _text(await self._redis.get(key))
            if owner == self._id:
                self._pins[consultation_id] = time.monotonic()
                await self._refresh(keys=[key], args=[self._id, self._ttl_ms])
                return self.node
            if owner is not None:
                host = await self._node_info(owner)
                if host is not None and not host.draining:
                    return host
                # Its host died or is draining: free the room for a live node.
                await self._delete(keys=[key], args=[owner])
            chosen = await self._least_loaded()
            # A pin placed on another node lives until that node's client arrives and it takes
            # the pin over; a join storm can delay that past one TTL. The grace covers it, and a
            # dead chosen node is still noticed by its expired node hash (above).
            ttl_ms = self._ttl_ms if chosen.is_self else max(self._ttl_ms, self._grace_ms)
            if await self._redis.set(key, chosen.node_id, nx=True, px=ttl_ms):
                if chosen.is_self:
                    self._pins[consultation_id] = time.monotonic()
                else:
                    # Count it now: the chosen node reports it only at its next heartbeat.
                    await self._redis.hincrby(self._node_key(chosen.node_id), "rooms", 1)
                logger.info("cluster: room %s placed on node %s", consultation_id, chosen.node_id)
                return self.node if chosen.is_self else chosen
            # Another process placed it between our GET and SET: read its choice again.
        raise RedisError(f"could not place room {consultation_id}")

    async def _least_loaded(self) -> NodeInfo:
        cost = self._settings.room_cost_pps
        candidates = {n.node_id: n for n in await self.nodes() if not n.draining}
        if not self._draining:
            candidates[self._id] = self.node  # even before our first heartbeat landed
        if not candidates:
            raise RedisError("no live node can host a room")
        # A saturated node forwards all it can already: one more room would degrade every room
        # there. Its measured load says little (past saturation it forwards less, not more).
        open_nodes = [n for n in candidates.values() if n.has_headroom]
        if not open_nodes:
            raise ServerBusy("every live node is saturated")
        # Ties go to this node: the client is already connected here, no reconnect needed.
        return min(open_nodes, key=lambda n: (n.score(cost), not n.is_self, n.node_id))

    async def release(self, consultation_id: str) -> None:
        """The room closed here: free its pin now rather than at the next heartbeat."""
        if self._pins.pop(consultation_id, None) is not None:
            await self._delete(keys=[self._room_key(consultation_id)], args=[self._id])


def _sync_twin(client: aioredis.Redis) -> redis.Redis:
    """A blocking client to the same server and database as `client` (for the heartbeat thread)."""
    kwargs = dict(client.connection_pool.connection_kwargs)
    return redis.Redis(
        host=kwargs.get("host", "localhost"),
        port=kwargs.get("port", 6379),
        db=kwargs.get("db", 0),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        decode_responses=True,
        socket_timeout=5.0,
        socket_connect_timeout=5.0,
    )


def _text(value: bytes | str | None) -> str | None:
    """The client decodes responses; this keeps the type checker in step with that."""
    return value.decode() if isinstance(value, bytes) else value
