"""Room affinity in a real Redis: several placements play several processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from server.cluster import ClusterSettings, LocalPlacement, NodeInfo, RedisPlacement
from server.cluster.load import FixedLoad, Level
from server.cluster.placement import ServerBusy

FAST = {"heartbeat_s": 0.1, "heartbeat_ttl_factor": 3, "pin_grace_s": 0.5, "room_cost_pps": 200}


class Node:
    """A fake process around a real RedisPlacement: its open rooms and forwarded packets."""

    def __init__(self, redis: aioredis.Redis, node_id: str, **overrides: object) -> None:
        settings = ClusterSettings(node_id=node_id, **{**FAST, **overrides})  # type: ignore[arg-type]
        self.rooms: set[str] = set()
        self.packets = 0
        self.load = FixedLoad()
        "Its media saturation, as its load probe would measure it."
        self.placement = RedisPlacement(
            redis,
            settings,
            f"http://{node_id}.test",
            hosted=lambda: tuple(self.rooms),
            forwarded_packets=lambda: self.packets,
            load=self.load,
        )


@pytest.fixture
async def make_node(redis: aioredis.Redis) -> AsyncIterator[Callable[..., Node]]:
    nodes: list[Node] = []

    def make(node_id: str, **overrides: object) -> Node:
        node = Node(redis, node_id, **overrides)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        await node.placement.stop()


def room() -> str:
    return str(uuid.uuid4())


async def test_a_room_stays_on_the_node_that_first_hosted_it(
    make_node: Callable[..., Node],
) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    cid = room()
    first = await a.placement.locate(cid)
    assert first.node_id == "a" and first.is_self
    seen_from_b = await b.placement.locate(cid)
    assert seen_from_b.node_id == "a"
    assert not seen_from_b.is_self
    assert seen_from_b.url == "http://a.test"


async def test_a_new_room_goes_to_the_least_loaded_node(make_node: Callable[..., Node]) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    a.packets = 0
    await a.placement.heartbeat()
    a.packets = 5000  # a forwards a lot, b nothing
    await asyncio.sleep(0.05)
    await a.placement.heartbeat()
    assert a.placement.node.load_pps > 1000
    placed = await a.placement.locate(room())
    assert placed.node_id == "b"
    assert not placed.is_self


async def test_rooms_placed_in_a_burst_spread_over_idle_nodes(
    make_node: Callable[..., Node],
) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    hosts = [(await a.placement.locate(room())).node_id for _ in range(6)]
    assert sorted(hosts) == ["a", "a", "a", "b", "b", "b"]


async def test_concurrent_locates_of_one_room_agree_on_one_host(
    make_node: Callable[..., Node],
) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    cid = room()
    answers = await asyncio.gather(
        *(node.placement.locate(cid) for node in (a, b) for _ in range(5))
    )
    assert len({answer.node_id for answer in answers}) == 1


async def test_a_dead_nodes_rooms_are_placed_elsewhere_within_its_ttl(
    make_node: Callable[..., Node], redis: aioredis.Redis
) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    cid = room()
    assert (await a.placement.locate(cid)).node_id == "a"
    a.rooms.add(cid)
    # a dies: its heartbeats stop without any clean-up.
    await a.placement._silence()
    started = asyncio.get_running_loop().time()
    while (await b.placement.locate(cid)).node_id != "b":
        assert asyncio.get_running_loop().time() - started < 2, "room never moved"
        await asyncio.sleep(0.05)
    assert await redis.get(f"telessaude:room:{cid}") == "b"


async def test_a_live_host_keeps_its_room_past_the_ttl(make_node: Callable[..., Node]) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    cid = room()
    await a.placement.locate(cid)
    a.rooms.add(cid)
    await asyncio.sleep(1.0)  # > ttl (0.3 s) and > pin grace (0.5 s): only heartbeats keep it
    assert (await b.placement.locate(cid)).node_id == "a"


async def test_a_stalled_event_loop_keeps_its_pins_and_its_node(
    make_node: Callable[..., Node], redis: aioredis.Redis
) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    cid = room()
    assert (await a.placement.locate(cid)).node_id == "a"
    a.rooms.add(cid)
    beats = a.placement.thread_beats
    # A saturated media loop: nothing on it runs for 10 heartbeat periods (> 3 TTLs).
    time.sleep(1.0)  # noqa: ASYNC251 (blocking the loop is the point)
    assert a.placement.thread_beats >= beats + 5
    assert await redis.get(f"telessaude:room:{cid}") == "a"
    assert await redis.exists("telessaude:node:a")
    assert (await b.placement.locate(cid)).node_id == "a"


async def test_a_room_placed_on_another_node_waits_for_its_client_past_the_ttl(
    make_node: Callable[..., Node], redis: aioredis.Redis
) -> None:
    a, b = make_node("a", pin_grace_s=2.0), make_node("b", pin_grace_s=2.0)
    await a.placement.start()
    await b.placement.start()
    a.packets = 10_000_000  # a is busy: new rooms go to b
    await a.placement.heartbeat()
    await asyncio.sleep(0.05)
    a.packets = 20_000_000
    await a.placement.heartbeat()
    cid = room()
    assert (await a.placement.locate(cid)).node_id == "b"
    await asyncio.sleep(1.0)  # > ttl (0.3 s): the redirected client is slow to reach b
    assert await redis.get(f"telessaude:room:{cid}") == "b"
    assert (await b.placement.locate(cid)).is_self


async def test_a_pin_nobody_used_is_freed_after_the_grace(
    make_node: Callable[..., Node], redis: aioredis.Redis
) -> None:
    a = make_node("a")
    await a.placement.start()
    cid = room()
    await a.placement.locate(cid)
    await asyncio.sleep(0.9)
    assert await redis.get(f"telessaude:room:{cid}") is None
    assert cid not in a.placement.pinned


async def test_a_draining_node_takes_no_room_and_releases_its_own(
    make_node: Callable[..., Node],
) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    cid = room()
    assert (await a.placement.locate(cid)).node_id == "a"
    a.rooms.add(cid)
    await a.placement.drain()
    await a.placement.heartbeat()  # still open locally, yet not pinned again
    assert (await b.placement.locate(cid)).node_id == "b"
    assert (await b.placement.locate(room())).node_id == "b"
    assert (await a.placement.locate(room())).node_id == "b"


async def test_a_released_room_can_be_placed_afresh(make_node: Callable[..., Node]) -> None:
    a, b = make_node("a"), make_node("b", room_cost_pps=0)
    await a.placement.start()
    await b.placement.start()
    cid = room()
    await a.placement.locate(cid)
    await a.placement.release(cid)
    a.packets = 0
    await a.placement.heartbeat()
    a.packets = 10_000
    await asyncio.sleep(0.05)
    await a.placement.heartbeat()
    assert (await a.placement.locate(cid)).node_id == "b"


async def test_stopping_a_node_removes_it_from_the_cluster(make_node: Callable[..., Node]) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    assert {n.node_id for n in await b.placement.nodes()} == {"a", "b"}
    await a.placement.stop()
    assert {n.node_id for n in await b.placement.nodes()} == {"b"}


async def test_without_redis_every_room_is_local() -> None:
    node = NodeInfo("solo", "http://127.0.0.1:8080", is_self=True)
    placement = LocalPlacement(node)
    assert await placement.locate(room()) is node
    await placement.drain()
    assert placement.draining


async def test_a_saturated_node_gets_no_new_room_while_another_has_headroom(
    make_node: Callable[..., Node],
) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    # b forwards a lot (the least loaded node by packets is a), but a's media is saturated.
    b.packets = 0
    await b.placement.heartbeat()
    b.packets = 50_000
    await asyncio.sleep(0.05)
    b.load.level_now = Level.OK
    a.load.level_now = Level.SATURATED
    await b.placement.heartbeat()
    await a.placement.heartbeat()
    hosts = {(await node.placement.locate(room())).node_id for node in (a, b) for _ in range(3)}
    assert hosts == {"b"}


async def test_a_new_room_is_refused_when_every_node_is_saturated(
    make_node: Callable[..., Node],
) -> None:
    a, b = make_node("a"), make_node("b")
    a.load.level_now, b.load.level_now = Level.SATURATED, Level.OVERLOADED
    await a.placement.start()
    await b.placement.start()
    for node in (a, b):
        with pytest.raises(ServerBusy):
            await node.placement.locate(room())


async def test_a_saturated_node_keeps_the_rooms_it_hosts(make_node: Callable[..., Node]) -> None:
    a, b = make_node("a"), make_node("b")
    await a.placement.start()
    await b.placement.start()
    cid = room()
    assert (await a.placement.locate(cid)).node_id == "a"
    a.rooms.add(cid)
    a.load.level_now = Level.OVERLOADED
    await a.placement.heartbeat()
    # Its peers are there: the room is not moved, whatever the load; a new one goes to b.
    assert (await b.placement.locate(cid)).node_id == "a"
    assert (await a.placement.locate(cid)).is_self
    assert (await a.placement.locate(room())).node_id == "b"
