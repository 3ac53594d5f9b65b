"""setup_cluster(app): placement, the Socket.IO Redis manager and draining, wired into the app.

Call it before `setup_realtime(app)`: it sets the two app keys that function reads
(`SIO_CLIENT_MANAGER`, `NAMESPACE_FACTORY`). Without ``TELESSAUDE_REDIS_URL`` the process is
alone: LocalPlacement, python-socketio's in-memory manager, no Redis connection at all.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator

import redis as redis_sync
import redis.asyncio as aioredis
import socketio
from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from server.keys import SETTINGS, SIO
from server.realtime import NAMESPACE_FACTORY, REALTIME, SIO_CLIENT_MANAGER

from .actions import RoomActions
from .drain import drain
from .gate import ClusteredNamespace
from .load import LoadProbe, ProcessLoad
from .node import NodeInfo
from .placement import LocalPlacement, Placement, RedisPlacement
from .settings import ClusterSettings

logger = logging.getLogger(__name__)

CLUSTER_SETTINGS = web.AppKey("cluster_settings", ClusterSettings)
"Optional: set before setup_cluster to override the environment (tests)."
PLACEMENT = web.AppKey("placement", Placement)
LOAD_PROBE = web.AppKey("load_probe", LoadProbe)
"Optional before setup_cluster (tests): what says how saturated this process is."


def setup_cluster(app: web.Application) -> Placement:
    settings = app[SETTINGS]
    cluster = app.get(CLUSTER_SETTINGS) or ClusterSettings()
    url = (cluster.node_url or settings.effective_public_url).rstrip("/")
    placement: Placement
    redis: aioredis.Redis | None = None
    actions: RoomActions | None = None
    load = app.get(LOAD_PROBE) or ProcessLoad(cluster, lambda: _forwarded_packets(app))
    app[LOAD_PROBE] = load
    if settings.redis_url:
        redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
        placement = RedisPlacement(
            redis,
            cluster,
            url,
            hosted=lambda: _hosted_rooms(app),
            forwarded_packets=lambda: _forwarded_packets(app),
            # the heartbeat thread's own connection (the loop's client is not thread-safe)
            sync_redis=redis_sync.Redis.from_url(
                settings.redis_url, decode_responses=True, socket_timeout=5.0
            ),
            load=load,
        )
        manager: object = socketio.AsyncRedisManager(
            settings.redis_url, channel=f"{cluster.redis_prefix}:socketio"
        )
        app[SIO_CLIENT_MANAGER] = manager
        actions = RoomActions(redis, cluster.redis_prefix, cluster.node_id)
    else:
        placement = LocalPlacement(NodeInfo(cluster.node_id, url, is_self=True))
    app[PLACEMENT] = placement
    app[NAMESPACE_FACTORY] = functools.partial(
        ClusteredNamespace,
        placement,
        actions=actions,
        load=load,
        busy_retry_after_ms=cluster.busy_retry_after_ms,
    )

    async def membership(app: web.Application) -> AsyncIterator[None]:
        if isinstance(load, ProcessLoad):
            load.start(asyncio.get_running_loop())
        if isinstance(placement, RedisPlacement):
            await placement.start()
            logger.info("cluster: node %s joined at %s", cluster.node_id, url)
        if actions is not None:
            await actions.start(functools.partial(_apply_room_action, app))
        yield
        if actions is not None:
            await actions.stop()
        if isinstance(placement, RedisPlacement):
            await placement.stop()
        if redis is not None:
            await redis.aclose()
        if isinstance(load, ProcessLoad):
            await asyncio.to_thread(load.stop)

    async def on_shutdown(app: web.Application) -> None:
        await drain(app[SIO], app.get(REALTIME), placement, cluster.drain_timeout_s)

    app.cleanup_ctx.append(membership)
    app.on_shutdown.append(on_shutdown)
    return placement


async def _apply_room_action(app: web.Application, action: str, consultation_id: str) -> None:
    namespace = app.get(REALTIME)
    if isinstance(namespace, ClusteredNamespace):
        await namespace.apply_room_action(action, consultation_id)


def _hosted_rooms(app: web.Application) -> list[str]:
    namespace = app.get(REALTIME)
    return [] if namespace is None else [str(room) for room in namespace.rooms.rooms]


def _forwarded_packets(app: web.Application) -> int:
    namespace = app.get(REALTIME)
    return 0 if namespace is None else namespace.rooms.stats()["total"].forwarded_packets


def cluster_metrics(app: web.Application) -> list[Metric]:
    """Media load shedding, for the Prometheus endpoint (server/metrics.py)."""
    load = app.get(LOAD_PROBE)
    if load is None:
        return []
    sample = load.sample
    metrics: list[Metric] = [
        GaugeMetricFamily(
            "telessaude_media_load_level",
            "Media saturation: 0 takes new rooms, 1 saturated (no new rooms), "
            "2 overloaded (no new participants)",
            int(load.level),
        ),
        GaugeMetricFamily(
            "telessaude_process_cpu_core_share",
            "CPU-seconds per second of this process over the load window (1 = one core)",
            sample.cpu_share,
        ),
        GaugeMetricFamily(
            "telessaude_event_loop_lag_seconds",
            "Mean wait of a callback posted to the event loop over the load window",
            sample.loop_lag_s,
        ),
    ]
    namespace = app.get(REALTIME)
    if isinstance(namespace, ClusteredNamespace):
        refused = CounterMetricFamily(
            "telessaude_joins_refused_busy",
            "Joins refused with server_busy, by what they would have added",
            labels=["adds"],
        )
        for adds, count in namespace.refused_busy.items():
            refused.add_metric([adds], count)
        metrics.append(refused)
    return metrics
