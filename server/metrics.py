"""Prometheus endpoint: GET /metrics, collected at scrape time (nothing runs between scrapes).

Media counters come from the SFU's `registry.stats()`; chat and overdue cases are one cheap query
each, per scrape. Process CPU and memory come from prometheus_client's process collector.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from server.cases.models import Case, CaseStatus
from server.chat import ChatMessage
from server.cluster.setup import cluster_metrics
from server.db.base import utcnow
from server.keys import DB_SESSIONS, SIO
from server.realtime import REALTIME
from signaling import NAMESPACE

WAITING_FOR_ANSWER = (CaseStatus.SUBMITTED, CaseStatus.IN_REGULATION, CaseStatus.ASSIGNED)
"Cases the Núcleo owes an answer to (waiting for the solicitante pauses nothing we count)."

_MEDIA_COUNTERS = {
    "forwarded_packets": "RTP packets forwarded to subscribers",
    "forwarded_bytes": "RTP payload bytes forwarded to subscribers",
    "received_packets": "RTP packets received from publishers",
    "received_in_c": "RTP packets the C ingest handled whole, without Python",
    "packets_lost": "Packets lost between publishers and the server",
    "nacks_sent": "NACKs the server sent to publishers",
    "nacks_received": "Packets subscribers asked to be retransmitted",
    "plis_sent": "Keyframe requests the server sent to publishers",
    "keyframe_requests_received": "PLI/FIR messages from subscribers",
}


class _Snapshot(Collector):
    """Serves the values gathered (async) just before `generate_latest` runs."""

    def __init__(self) -> None:
        self.metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


async def _gather(app: web.Application) -> list[Metric]:
    metrics: list[Metric] = []
    namespace = app.get(REALTIME)
    if namespace is not None:
        total = namespace.rooms.stats()["total"]
        for name, help_text in (("rooms", "Open media rooms"), ("participants", "Media peers")):
            metrics.append(GaugeMetricFamily(f"telessaude_{name}", help_text, getattr(total, name)))
        for name, help_text in _MEDIA_COUNTERS.items():
            # Cumulative over open rooms: it drops when a room closes, so it is exported as a
            # gauge; rate() over it is still right between closes.
            metrics.append(
                GaugeMetricFamily(f"telessaude_media_{name}", help_text, getattr(total, name))
            )
        if total.rtt_ms is not None:
            metrics.append(
                GaugeMetricFamily("telessaude_media_rtt_ms", "Mean subscriber RTT", total.rtt_ms)
            )
    metrics.extend(cluster_metrics(app))
    sio: Any = app.get(SIO)
    if sio is not None:
        sockets = len(list(sio.manager.get_participants(NAMESPACE, None)))
        metrics.append(GaugeMetricFamily("telessaude_sockets", "Connected sockets", sockets))
    async with app[DB_SESSIONS]() as db:
        # Ids only grow: the newest id counts every message ever committed, via the index.
        newest = await db.scalar(select(func.max(ChatMessage.id)))
        metrics.append(
            CounterMetricFamily(
                "telessaude_chat_messages", "Chat messages committed", int(newest or 0)
            )
        )
        # Served by the (nucleo_id, status, answer_due_at) index.
        overdue = await db.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.status.in_(WAITING_FOR_ANSWER), Case.answer_due_at < utcnow())
        )
        metrics.append(
            GaugeMetricFamily(
                "telessaude_cases_overdue", "Cases past their answer deadline", int(overdue or 0)
            )
        )
    return metrics


def setup_metrics(app: web.Application) -> None:
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    snapshot = _Snapshot()
    registry.register(snapshot)
    lock = asyncio.Lock()

    async def metrics(request: web.Request) -> web.Response:
        async with lock:  # one scrape at a time shares the snapshot
            snapshot.metrics = await _gather(request.app)
            body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)
