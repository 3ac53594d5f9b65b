"""Consultation signaling: N sockets joining one room at once, then chat fan-out in that room.

    .venv/bin/python -m bench.signaling [--sockets 50] [--messages 300] [--runs 3]

The real app (``server.app.create_app``) on a throwaway SQLite file (or, with ``--postgres``, a
throwaway PostgreSQL cluster), served on loopback in this
process; python-socketio clients on ``/consultation`` (guests of one consultation, held in the
waiting room, so no WebRTC runs: this measures signaling and the database, not media). Phase 1:
every socket sends ``join`` at the same moment (latency join → ack). Phase 2: 10 sockets send
chat messages concurrently, each within its rate-limit burst; latency is send → ack (committed)
and send → ``chat_message`` on 5 other sockets. CPU is this process's (server and clients
together), so it is an upper bound for the server. Medians over runs; writes
``bench/results/signaling.json`` (``signaling_postgres.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from tests.signaling.live import Live, Peer, book, serve
from tests.support.databases import PostgresTemplate, SqliteTemplate
from tests.support.postgres import running_postgres

RESULTS = Path(__file__).resolve().parent / "results"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_once(sockets: int, messages: int, postgres: str | None) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="bench-signaling-"))
    if postgres:
        url = await PostgresTemplate(postgres).fresh()
    else:
        url = SqliteTemplate(directory).fresh(directory)
    result: dict[str, float] = {}
    async for live in serve(url, directory):
        result = await measure(live, sockets, messages)
    return result


async def measure(live: Live, sockets: int, messages: int) -> dict[str, float]:
    process = psutil.Process()
    result: dict[str, float] = {}
    booking = await book(live, professionals=1, patient=False, guests=sockets)
    peers = [Peer(live, g.token, (None, None), f"g{i}") for i, g in enumerate(booking.guests)]  # type: ignore[arg-type]
    await asyncio.gather(*(peer.connect() for peer in peers))

    joins: list[float] = []

    async def join(peer: Peer) -> None:
        started = time.perf_counter()
        await peer.join(booking.consultation_id)
        joins.append(time.perf_counter() - started)

    cpu0, wall0 = sum(process.cpu_times()[:2]), time.perf_counter()
    await asyncio.gather(*(join(peer) for peer in peers))
    result["join_wall_ms"] = (time.perf_counter() - wall0) * 1000
    result["join_p50_ms"], result["join_p99_ms"] = _pct(joins, 0.5), _pct(joins, 0.99)
    result["join_cpu_ms_per_socket"] = (sum(process.cpu_times()[:2]) - cpu0) / sockets * 1000

    senders, watchers = peers[:10], peers[10:15]
    sent_at: dict[str, float] = {}
    acks: list[float] = []
    deliveries: list[float] = []
    expected = (messages // len(senders)) * len(senders) * len(watchers)
    all_delivered = asyncio.Event()

    def arrived(data: dict[str, Any]) -> None:
        deliveries.append(time.perf_counter() - sent_at[data["message"]["client_msg_id"]])
        if len(deliveries) >= expected:
            all_delivered.set()

    for watcher in watchers:
        watcher.sio.on("chat_message", arrived, namespace="/consultation")

    async def send(k: int, sender: Peer) -> None:
        for i in range(messages // len(senders)):
            key = f"m{k}-{i}"
            sent_at[key] = time.perf_counter()
            ack = await sender.call("chat_send", {"client_msg_id": key, "text": "mensagem"})
            assert ack["ok"], ack
            acks.append(time.perf_counter() - sent_at[key])

    cpu0, wall0 = sum(process.cpu_times()[:2]), time.perf_counter()
    await asyncio.gather(*(send(k, s) for k, s in enumerate(senders)))
    wall = time.perf_counter() - wall0
    cpu = sum(process.cpu_times()[:2]) - cpu0
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_delivered.wait(), 10)
    result["chat_msgs_per_s"] = len(acks) / wall
    result["chat_ack_p50_ms"], result["chat_ack_p99_ms"] = _pct(acks, 0.5), _pct(acks, 0.99)
    result["chat_delivery_p50_ms"] = _pct(deliveries, 0.5)
    result["chat_delivery_p99_ms"] = _pct(deliveries, 0.99)
    result["chat_delivered_ratio"] = len(deliveries) / (len(acks) * len(watchers))
    result["chat_cpu_ms_per_message"] = cpu / len(acks) * 1000
    for peer in peers:
        await peer.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(running_postgres()) if args.postgres else None
        runs = [
            asyncio.run(run_once(args.sockets, args.messages, server)) for _ in range(args.runs)
        ]
    medians = {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "database": "postgresql" if args.postgres else "sqlite",
        "command": "python -m bench.signaling "
        f"--sockets {args.sockets} --messages {args.messages} --runs {args.runs}"
        + (" --postgres" if args.postgres else ""),
        "sockets": args.sockets,
        "messages": args.messages,
        "medians": medians,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    name = "signaling_postgres.json" if args.postgres else "signaling.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["medians"], indent=2), "load", report["load_average_1m"])


if __name__ == "__main__":
    main()
