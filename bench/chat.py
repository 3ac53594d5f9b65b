"""Case chat throughput and latency on PostgreSQL: N sockets across M cases on /cases.

    .venv/bin/python -m bench.chat [--sockets 500] [--cases 100] [--seconds 15]

A throwaway PostgreSQL cluster and the real app (``server.app.create_app`` under
``web.run_app``, one process) are started; every case gets 5 sockets (solicitante ×2,
specialist ×2, regulador ×1). One sender per case sends in a closed loop (the next message
after the previous ack), so the offered load is whatever the server sustains. A message counts
when it is committed (acked); latency is send → ``message`` event on each other socket of the
case, measured in this one process with one clock. Writes ``bench/results/chat.json`` and the
chat table of ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import socketio
from sqlalchemy.ext.asyncio import create_async_engine

from server.auth.login import caller_for
from server.auth.tokens import TokenService
from server.cases import service
from server.db.base import utcnow
from server.db.engine import make_sessions
from server.db.metadata import metadata
from server.db.models import Professional
from tests.conftest import TEST_JWT_SECRET
from tests.server.cases.clusters import AppProcess
from tests.support.factories import make_nucleo, make_ponto, make_professional, token_for
from tests.support.postgres import running_postgres

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "chat.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
BEGIN, END = "<!-- chat:begin -->", "<!-- chat:end -->"
SOCKETS_PER_CASE = 5


async def seed(url: str, cases: int) -> list[dict[str, Any]]:
    """Núcleo, Ponto, a regulador and, per case, a solicitante and a specialist; cases assigned."""
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = make_sessions(engine)
    plan: list[dict[str, Any]] = []
    async with sessions.begin() as db:
        nucleo = await make_nucleo(db)
        ponto = await make_ponto(db, nucleo)
        regulador = await make_professional(db, nucleo=nucleo, is_regulador=True)
        for _ in range(cases):
            solicitante = await make_professional(db, ponto=ponto)
            specialist = await make_professional(db, nucleo=nucleo)
            now = utcnow()
            outcome = await service.submit(
                db,
                caller_for(solicitante),
                service.NewCase(nucleo.id, "Clínica médica", "Pergunta de carga " * 3),
                now,
            )
            await service.assign(db, caller_for(regulador), outcome.case, specialist.id, now)
            plan.append(
                {
                    "case_id": str(outcome.case.id),
                    "people": [solicitante, solicitante, specialist, specialist, regulador],
                }
            )
    await engine.dispose()
    return plan


class Receiver:
    def __init__(self, sent_at: dict[str, float], latencies: list[float]) -> None:
        self.sent_at = sent_at
        self.latencies = latencies
        self.received = 0

    async def on_message(self, data: dict[str, Any]) -> None:
        now = time.perf_counter()
        sent = self.sent_at.get(data["client_msg_id"])
        if sent is not None:
            self.latencies.append((now - sent) * 1000)
        self.received += 1


async def run(sockets: int, cases: int, seconds: float) -> dict[str, Any]:
    assert sockets == cases * SOCKETS_PER_CASE, "5 sockets per case"
    tokens = TokenService(TEST_JWT_SECRET, 3600, 3600)
    with running_postgres() as url, tempfile.TemporaryDirectory() as data_dir:
        plan = await seed(url, cases)
        app = AppProcess(url, Path(data_dir))
        await app.start()
        assert app.process is not None
        server = psutil.Process(app.process.pid)
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        clients: list[tuple[socketio.AsyncClient, Receiver, str]] = []
        try:

            async def open_socket(case_id: str, who: Professional) -> None:
                sio = socketio.AsyncClient(reconnection=False)
                receiver = Receiver(sent_at, latencies)
                sio.on("message", receiver.on_message, namespace="/cases")
                await sio.connect(
                    app.url,
                    namespaces=["/cases"],
                    auth={"token": token_for(tokens, who)},
                    transports=["websocket"],
                    wait_timeout=30,
                )
                ack = await sio.call("subscribe", {"case_id": case_id}, namespace="/cases")
                assert ack["ok"], ack
                clients.append((sio, receiver, case_id))

            started = time.perf_counter()
            for case in plan:
                await asyncio.gather(*(open_socket(case["case_id"], p) for p in case["people"]))
            connect_s = time.perf_counter() - started
            senders: dict[str, socketio.AsyncClient] = {}
            for sio, _, case_id in clients:
                senders.setdefault(case_id, sio)  # the first socket of each case sends
            acked = 0
            errors = 0
            stop_at = 0.0

            async def sender(case_id: str, sio: socketio.AsyncClient) -> None:
                nonlocal acked, errors
                n = 0
                while time.perf_counter() < stop_at:
                    msg_id = f"{case_id[:8]}-{n}"
                    sent_at[msg_id] = time.perf_counter()
                    ack = await sio.call(
                        "send",
                        {"case_id": case_id, "client_msg_id": msg_id, "text": f"mensagem {n}"},
                        namespace="/cases",
                        timeout=30,
                    )
                    if ack.get("ok"):
                        acked += 1
                    else:
                        errors += 1
                    n += 1

            # Warm-up (connection pool, caches), then the measured run.
            stop_at = time.perf_counter() + 2
            await asyncio.gather(*(sender(c, s) for c, s in senders.items()))
            await asyncio.sleep(0.5)
            latencies.clear()
            for _, receiver, _ in clients:
                receiver.received = 0
            acked = errors = 0
            sent_at.clear()
            cpu_before = server.cpu_times()
            t0 = time.perf_counter()
            stop_at = t0 + seconds
            await asyncio.gather(*(sender(c, s) for c, s in senders.items()))
            elapsed = time.perf_counter() - t0
            cpu_after = server.cpu_times()
            await asyncio.sleep(3.0)  # let the last deliveries arrive
            delivered = sum(r.received for _, r, _ in clients)
        finally:
            await asyncio.gather(*(sio.disconnect() for sio, _, _ in clients))
            app.stop()
    server_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    ordered = sorted(latencies)
    return {
        "benchmark": "case chat over Socket.IO /cases, PostgreSQL",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "command": f".venv/bin/python -m bench.chat --sockets {sockets} --cases {cases} "
        f"--seconds {seconds:g}",
        "sockets": sockets,
        "cases": cases,
        "seconds": round(elapsed, 2),
        "connect_s": round(connect_s, 2),
        "messages_committed": acked,
        "errors": errors,
        "messages_per_s": round(acked / elapsed, 1),
        "deliveries": delivered,
        "deliveries_per_s": round(delivered / elapsed, 1),
        "p50_ms": round(statistics.median(ordered), 2) if ordered else None,
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2) if ordered else None,
        "server_cpu_s_per_message_ms": round(server_cpu / acked * 1000, 3) if acked else None,
        "server_cpu_share": round(server_cpu / elapsed, 2),
    }


def write_table(result: dict[str, Any]) -> None:
    table = "\n".join(
        [
            BEGIN,
            "## Case chat (Socket.IO `/cases`, PostgreSQL)",
            "",
            f"{result['date']} · {result['machine']} · `{result['command']}`",
            "",
            "| sockets | cases | messages/s committed | deliveries/s | p50 send→delivery | "
            "p99 send→delivery | server CPU per message | errors |",
            "|---|---|---|---|---|---|---|---|",
            f"| {result['sockets']} | {result['cases']} | {result['messages_per_s']} | "
            f"{result['deliveries_per_s']} | {result['p50_ms']} ms | {result['p99_ms']} ms | "
            f"{result['server_cpu_s_per_message_ms']} ms | {result['errors']} |",
            "",
            "Target: ≥ 2,000 messages/s with p99 ≤ 50 ms. One server process; each message is "
            "one PostgreSQL transaction (insert, read-back, audit event, commit) before the ack "
            "and the broadcast. The load generator (500 python-socketio clients) shares the "
            "same 2 cores.",
            END,
        ]
    )
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + table + tail
    else:
        text = text.rstrip("\n") + "\n\n" + table + "\n"
    BENCHMARKS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.sockets, args.cases, args.seconds))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.no_write:
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        write_table(result)


if __name__ == "__main__":
    main()
