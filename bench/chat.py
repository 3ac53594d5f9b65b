"""Case chat throughput and latency on PostgreSQL: N sockets across M cases on /cases.

    .venv/bin/python -m bench.chat [--sockets 500] [--cases 100] [--seconds 10]
                                   [--rate 1000 2000 4000] [--repeat 3] [--workers 2]
                                   [--profile DIR]

A throwaway PostgreSQL cluster and the real app (``server.app.create_app`` under
``web.run_app``, one process, the start-up heap frozen out of the GC as ``server.serve`` does)
are started; every case gets 5 sockets (solicitante ×2, specialist ×2, regulador ×1). The
sockets live in ``--workers`` separate client processes (each owns whole cases), so the load
generator does not share the server's event loop; they speak Engine.IO/Socket.IO over a bare
aiohttp WebSocket and find the client id in a delivery instead of parsing it, which keeps their
CPU (reported) small next to the server's on the shared 2 cores.

Loads, one run each, on the same server, fresh client processes each time:

- **closed loop** (first): each case's sender sends the next message as soon as the previous
  one is acked (100 messages in flight), which finds the most the server commits per second.
  Its latency is mostly queueing (Little's law: 100 in flight / throughput).
- **open loop** at each ``--rate`` (messages/s in total): each case's first socket sends at
  rate/cases per second on a fixed schedule, whatever the acks do. This is how people write:
  the latency is what a user sees at that load. Above capacity the server's admission control
  answers the excess at once with ``overloaded`` (counted as refused, nothing stored) instead
  of queueing it. The headline ``messages_per_s``/``p50_ms``/``p99_ms`` are from the run at
  2,000/s (the target; with ``--repeat N``, N runs and the one of median p99), and
  ``target_met`` says whether it met the target (``target_runs_met``: each run's verdict).

A message counts when acked (committed). Latency is send → ``message`` event on each of the
4 other sockets of the case (the sender gets the ack, not the event), measured in the process
that sent it (one clock). After the window the clients wait until every acked message has
reached its 4 sockets or 10 s passed: deliveries still missing then are **lost**, the ones that
came after the window are **late**. CPU shares are CPU seconds over the window ÷ its length
(server process, PostgreSQL's processes, client processes). Writes ``bench/results/chat.json``
and the chat table of ``BENCHMARKS.md`` (the notes between its notes markers are kept).

``--profile DIR`` runs one load only (the first ``--rate``; 0 = closed loop) with cProfile in
the server over the window (``BENCH_CHAT_CPROFILE=0``: without it), the GC pauses and the group
commit's batches (transactions, sends per transaction, time per transaction) in
``DIR/server.txt``, and ``perf record -a -g`` over the window in ``DIR/perf.data``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench.report import current_section, replace_section

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "chat.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
BEGIN, END = "<!-- chat:begin -->", "<!-- chat:end -->"
NOTES_BEGIN, NOTES_END = "<!-- chat:notes:begin -->", "<!-- chat:notes:end -->"
SOCKETS_PER_CASE = 5
RECEIVERS_PER_MESSAGE = SOCKETS_PER_CASE - 1
WARMUP_S = 2.0
DRAIN_S = 10.0
CALL_TIMEOUT_S = 30.0
NS = "/cases"
TARGET_PER_S = 2000.0
TARGET_P99_MS = 50.0
CLIENT_ID_KEY = '"client_msg_id":"'


def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} {os.getpid()}] {what}", file=sys.stderr, flush=True)


async def seed(url: str, cases: int) -> list[dict[str, Any]]:
    """Núcleo, Ponto, a regulador and, per case, a solicitante and a specialist; cases assigned."""
    # The app and test imports stay out of the client workers, which start faster without them.
    from sqlalchemy.ext.asyncio import create_async_engine

    from server.auth.login import caller_for
    from server.auth.tokens import TokenService
    from server.cases import service
    from server.db.base import utcnow
    from server.db.engine import make_sessions
    from server.db.metadata import metadata
    from tests.conftest import TEST_JWT_SECRET
    from tests.support.factories import make_nucleo, make_ponto, make_professional, token_for

    tokens = TokenService(TEST_JWT_SECRET, 3600, 3600)
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
            people = [solicitante, solicitante, specialist, specialist, regulador]
            plan.append(
                {
                    "case_id": str(outcome.case.id),
                    "tokens": [token_for(tokens, p) for p in people],
                }
            )
    await engine.dispose()
    return plan


# ----------------------------------------------------------------- client worker (a process)


class Socket:
    """A /cases Socket.IO client on a bare WebSocket (Engine.IO v4 text frames)."""

    def __init__(self, worker: Worker, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.worker = worker
        self.ws = ws
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_ack = 0
        # Concurrent sends on one aiohttp WebSocket can interleave frames: one writer at a time.
        self.writing = asyncio.Lock()

    @classmethod
    async def open(
        cls, worker: Worker, http: aiohttp.ClientSession, base: str, token: str
    ) -> Socket:
        ws = await http.ws_connect(
            base.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket",
            autoping=False,
            max_msg_size=0,
        )
        opened = await ws.receive_str()
        assert opened.startswith("0"), opened
        await ws.send_str(f"40{NS}," + json.dumps({"token": token}))
        while True:
            frame = await ws.receive_str()
            if frame == "2":
                await ws.send_str("3")
                continue
            assert frame.startswith(f"40{NS},"), frame
            break
        socket = cls(worker, ws)
        worker.tasks.append(asyncio.create_task(socket.read()))
        return socket

    async def call(self, event: str, data: dict[str, Any]) -> Any:
        self.next_ack += 1
        ack_id = self.next_ack
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        async with self.writing:
            await self.ws.send_str(f"42{NS},{ack_id}" + json.dumps([event, data]))
        try:
            return await asyncio.wait_for(future, CALL_TIMEOUT_S)
        except TimeoutError:
            self.acks.pop(ack_id, None)
            return {"ok": False, "error": {"code": "bench_timeout"}}

    async def read(self) -> None:
        prefix_message, prefix_ack = f'42{NS},["message",', f"43{NS},"
        async for frame in self.ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                break
            text: str = frame.data
            if text == "2":
                async with self.writing:
                    await self.ws.send_str("3")
            elif text.startswith(prefix_message):
                # The client id is found, not parsed: the load generator shares the 2 cores
                # with the server, and a full json.loads per delivery was most of its CPU.
                start = text.index(CLIENT_ID_KEY) + len(CLIENT_ID_KEY)
                self.worker.delivered(text[start : text.index('"', start)])
            elif text.startswith(prefix_ack):
                body = text[len(prefix_ack) :]
                bracket = body.index("[")
                future = self.acks.pop(int(body[:bracket]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(body[bracket:])[0])
        # Closed by the server: whatever is still waiting will never be acked.
        progress(f"socket closed: {self.ws.close_code}")
        for future in self.acks.values():
            if not future.done():
                future.set_result({"ok": False, "error": {"code": "bench_socket_closed"}})


class Worker:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.tasks: list[asyncio.Task[None]] = []
        self.sent_at: dict[str, float] = {}
        self.acked_at: dict[str, float] = {}
        self.deliveries: dict[str, int] = {}
        self.latencies: list[float] = []
        self.ack_latencies: list[float] = []
        self.window_start = float("inf")
        self.window_end = 0.0
        self.on_time = 0
        "Deliveries (of any measured message) that arrived inside the window."
        self.late = 0
        self.errors = 0
        self.not_created = 0
        "Acks of a message that already existed (should be 0: every id is new)."
        self.error_codes: dict[str, int] = {}

    def delivered(self, msg_id: str) -> None:
        now = time.monotonic()
        sent = self.sent_at.get(msg_id)
        if sent is None:
            return  # a warm-up message
        self.deliveries[msg_id] = self.deliveries.get(msg_id, 0) + 1
        self.latencies.append((now - sent) * 1000)
        if now > self.window_end:
            self.late += 1
        elif now >= self.window_start:
            self.on_time += 1

    @staticmethod
    async def cpu_over(until: float) -> float:
        """This process's CPU seconds from now until ``until`` (monotonic)."""
        before = sum(os.times()[:2])
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        return sum(os.times()[:2]) - before

    async def send(self, sender: Socket, case_id: str, msg_id: str, measured: bool) -> None:
        sent = time.monotonic()
        if measured:
            self.sent_at[msg_id] = sent
        ack = await sender.call(
            "send", {"case_id": case_id, "client_msg_id": msg_id, "text": f"mensagem {msg_id}"}
        )
        if not measured:
            return
        if ack.get("ok"):
            if not ack.get("created"):
                self.not_created += 1
            self.acked_at[msg_id] = time.monotonic()
            self.ack_latencies.append((self.acked_at[msg_id] - sent) * 1000)
        else:
            self.errors += 1
            code = str(ack.get("error", {}).get("code"))
            self.error_codes[code] = self.error_codes.get(code, 0) + 1

    async def open_loop(
        self, sender: Socket, case_id: str, tag: str, start: float, stop: float, rate: float
    ) -> None:
        """Send at a fixed pace whatever the acks do (sends overlap when the server is slow)."""
        interval = 1.0 / rate
        # Cases start at spread offsets so the total load is smooth, not 100 sends at once.
        n = 0
        at = start + interval * (int(case_id[:8], 16) % 1000) / 1000
        pending: list[asyncio.Task[None]] = []
        while at < stop:
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            measured = tag == "m"
            msg = f"{case_id[:8]}-{self.config['run']}{tag}{n}"
            pending.append(asyncio.create_task(self.send(sender, case_id, msg, measured)))
            n += 1
            at += interval
        await asyncio.gather(*pending)

    async def closed_loop(self, sender: Socket, case_id: str, tag: str, stop: float) -> None:
        n = 0
        while time.monotonic() < stop:
            await self.send(
                sender, case_id, f"{case_id[:8]}-{self.config['run']}{tag}{n}", tag == "m"
            )
            n += 1

    async def run(self) -> dict[str, Any]:
        config = self.config
        # No connection limit: every WebSocket holds one for the whole run.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            senders: list[tuple[Socket, str]] = []
            for case in config["cases"]:
                sockets = await asyncio.gather(
                    *(Socket.open(self, http, config["url"], t) for t in case["tokens"])
                )
                for s in sockets:
                    ack = await s.call("subscribe", {"case_id": case["case_id"]})
                    assert ack["ok"], ack
                senders.append((sockets[0], case["case_id"]))
            progress(f"{len(senders)} cases connected and subscribed")
            print("ready", flush=True)
            start = float(sys.stdin.readline())
            rate = config["rate_per_case"]

            async def phase(tag: str, begin: float, stop: float) -> None:
                if rate > 0:
                    await asyncio.gather(
                        *(self.open_loop(s, c, tag, begin, stop, rate) for s, c in senders)
                    )
                else:
                    await asyncio.gather(*(self.closed_loop(s, c, tag, stop) for s, c in senders))

            await asyncio.sleep(max(0.0, start - time.monotonic()))
            await phase("w", start, start + WARMUP_S)
            t0 = start + WARMUP_S + 0.5
            self.window_start, self.window_end = t0, t0 + config["seconds"]
            await asyncio.sleep(max(0.0, t0 - time.monotonic()))
            window_cpu = asyncio.create_task(self.cpu_over(self.window_end))
            await phase("m", t0, self.window_end)
            sent_end = time.monotonic()
            progress(f"window over: {len(self.acked_at)} acked; waiting for deliveries")
            expected = len(self.acked_at) * RECEIVERS_PER_MESSAGE
            drain_until = time.monotonic() + DRAIN_S
            # Polls a counter under a deadline; not an Event: nothing single marks "all arrived".
            while sum(self.deliveries.values()) < expected and time.monotonic() < drain_until:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            # Lost is judged on acked messages only: a send whose ack timed out may or may not
            # have been committed (its deliveries are counted apart).
            counts = [self.deliveries.get(m, 0) for m in self.acked_at]
            delivered = sum(min(v, RECEIVERS_PER_MESSAGE) for v in counts)
            duplicates = sum(max(0, v - RECEIVERS_PER_MESSAGE) for v in self.deliveries.values())
            unacked_delivered = sum(1 for m in self.deliveries if m not in self.acked_at)
            for task in self.tasks:
                task.cancel()
        return {
            "acked": len(self.acked_at),
            "acked_in_window": sum(1 for t in self.acked_at.values() if t <= self.window_end),
            "errors": self.errors,
            "sent": len(self.sent_at),
            "not_created": self.not_created,
            "error_codes": self.error_codes,
            "sent_end": sent_end,
            "window_start": t0,
            "expected_deliveries": expected,
            "delivered": delivered,
            "late": self.late,
            "on_time": self.on_time,
            "duplicates": duplicates,
            "unacked_delivered": unacked_delivered,
            "latencies": [round(x, 2) for x in self.latencies],
            "ack_latencies": [round(x, 2) for x in self.ack_latencies],
            "cpu_s": sum(os.times()[:2]),
            "window_cpu_s": await window_cpu,
        }


def worker_main() -> None:
    # The load generator's own GC pauses (its tables of send times grow by ~100k entries a run)
    # would be counted as the server's latency; a process this short-lived can skip them.
    gc.disable()
    config = json.loads(sys.stdin.readline())
    result = asyncio.run(Worker(config).run())
    print(json.dumps(result), flush=True)


# ----------------------------------------------------------------------- server process


def serve_main(argv: list[str]) -> None:
    """The real app under ``web.run_app``.

    With a path, cProfile runs between SIGUSR1 and SIGUSR2 (the bench's measured window) and
    writes the functions by own time and by cumulative time to that path.
    """
    import cProfile
    import pstats

    from aiohttp import web

    from server.app import create_app
    from server.cases.realtime import CASE_CHAT_WRITER
    from server.gc_policy import freeze_after_startup
    from tests.conftest import make_settings

    url, data_dir, port, profile = argv[0], Path(argv[1]), int(argv[2]), argv[3]
    app = create_app(make_settings(url, data_dir))
    if profile:
        profiler = cProfile.Profile()
        pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        started: list[float] = [0.0]

        def timed(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses[info["generation"]].append((time.perf_counter() - started[0]) * 1000)

        gc.callbacks.append(timed)

        def stop(*_: Any) -> None:
            profiler.disable()
            now = writer_counts()
            batches, items, refused, busy = (now[i] - writer_at_start[i] for i in range(4))
            with open(profile, "w") as out:
                print(f"group commit: {batches:.0f} transactions, {items:.0f} sends "
                      f"({items / max(batches, 1):.1f} per transaction, "
                      f"{busy / max(batches, 1) * 1000:.1f} ms each), {refused:.0f} refused",
                      file=out)  # fmt: skip
                for generation, ms in pauses.items():
                    ms.sort()
                    longest = ms[-1] if ms else 0.0
                    print(f"gc generation {generation}: {len(ms)} collections, total "
                          f"{sum(ms):.0f} ms, max {longest:.1f} ms", file=out)  # fmt: skip
                for key in ("tottime", "cumulative"):
                    pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(70)

        writer_at_start = [0.0, 0.0, 0.0, 0.0]

        def writer_counts() -> list[float]:
            writer = app[CASE_CHAT_WRITER]
            return [writer.batches, writer.items, writer.refused, writer.busy_s]

        def start(*_: Any) -> None:
            for ms in pauses.values():
                ms.clear()
            writer_at_start[:] = writer_counts()
            if os.environ.get("BENCH_CHAT_CPROFILE", "1") == "1":
                profiler.enable()

        signal.signal(signal.SIGUSR1, start)
        signal.signal(signal.SIGUSR2, stop)
    if os.environ.get("BENCH_CHAT_GC", "freeze") == "freeze":
        freeze_after_startup(app)  # as server.serve does
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


def app_process(url: str, data_dir: Path, profile: str) -> Any:
    from tests.server.cases.clusters import REPO, AppProcess

    class BenchApp(AppProcess):
        def _spawn(self) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "bench.chat", "--serve", self.database_url,
                 str(self.data_dir), str(self.port), profile],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip

    return BenchApp(url, data_dir)


# ----------------------------------------------------------------------- orchestration


def percentile(ordered: list[float], q: float) -> float | None:
    return round(ordered[int(q * (len(ordered) - 1))], 2) if ordered else None


def postgres_processes(url: str) -> list[psutil.Process]:
    port = url.rsplit(":", 1)[1].split("/")[0]
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and "-p" in cmdline and port in cmdline:
            return [proc, *proc.children()]
    return []


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    out: dict[int, float] = {}
    for proc in processes:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        out[proc.pid] = times.user + times.system
    return out


async def load(
    url: str,
    pg_url: str,
    server: psutil.Process,
    plan: list[dict[str, Any]],
    workers: int,
    rate: float,
    seconds: float,
    perf: str = "",
    round_: int = 1,
) -> dict[str, Any]:
    """One load run with fresh client processes; returns its figures.

    With ``perf`` (a path), ``perf record`` samples the whole machine during the window.
    """
    chunks = [plan[i::workers] for i in range(workers)]
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 (spawning does not wait; output is read off-loop)
            [sys.executable, "-m", "bench.chat", "--worker"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in chunks
    ]
    connect_started = time.monotonic()
    for proc, chunk in zip(procs, chunks, strict=True):
        assert proc.stdin is not None
        config = {
            "url": url,
            "cases": chunk,
            "rate_per_case": rate / len(plan),
            # Ids must differ between runs: a repeated client_msg_id is a retry (acked, not
            # broadcast again), which is what made the first version of this bench count ~20 %
            # of deliveries as missing.
            "run": (f"o{rate:g}r{round_}-" if rate > 0 else "c-"),
            "seconds": seconds,
        }
        proc.stdin.write(json.dumps(config) + "\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == "ready", line
    connect_s = time.monotonic() - connect_started
    progress(f"clients ready in {connect_s:.1f} s; open loop at {rate:g}/s (0: closed loop)")
    start = time.monotonic() + 0.5
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"{start}\n")
        proc.stdin.flush()
    t0 = start + WARMUP_S + 0.5
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    pg = postgres_processes(pg_url)
    server_before = server.cpu_times()
    pg_before = cpu_seconds(pg)
    recorder = None
    if perf:
        server.send_signal(signal.SIGUSR1)
        recorder = subprocess.Popen(  # noqa: ASYNC220 (spawning does not wait)
            ["perf", "record", "-q", "-e", "cpu-clock", "-F", "2000", "-a", "-g", "-o", perf,
             "--", "sleep", str(seconds)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    await asyncio.sleep(seconds)
    server_after = server.cpu_times()
    pg_after = cpu_seconds(pg)
    if perf:
        server.send_signal(signal.SIGUSR2)
    results = []
    for proc in procs:
        assert proc.stdout is not None
        line = await asyncio.to_thread(proc.stdout.readline)
        results.append(json.loads(line))
        proc.wait(30)
    if recorder is not None:
        await asyncio.to_thread(recorder.wait, 30)
    server_cpu = (server_after.user - server_before.user) + (
        server_after.system - server_before.system
    )
    pg_cpu = sum(pg_after[pid] - pg_before[pid] for pid in pg_after if pid in pg_before)
    acked = sum(r["acked_in_window"] for r in results)
    latencies = sorted(x for r in results for x in r["latencies"])
    ack_latencies = sorted(x for r in results for x in r["ack_latencies"])
    expected = sum(r["expected_deliveries"] for r in results)
    delivered = sum(r["delivered"] for r in results)
    error_codes: dict[str, int] = {}
    for r in results:
        for code, count in r["error_codes"].items():
            error_codes[code] = error_codes.get(code, 0) + count
    return {
        "offered_per_s": rate if rate > 0 else None,
        "connect_s": round(connect_s, 2),
        "messages_committed": acked,
        "messages_per_s": round(acked / seconds, 1),
        "messages_sent": sum(r["sent"] for r in results),
        # Of the window's sends, the share acked as stored at all (after the window too):
        # 1.0 means the server kept up with the offered rate.
        "acked_share": round(
            sum(r["acked"] for r in results) / max(1, sum(r["sent"] for r in results)), 4
        ),
        "errors": sum(r["errors"] for r in results),
        "acks_not_new": sum(r["not_created"] for r in results),
        "error_codes": error_codes,
        "deliveries_expected": expected,
        "deliveries": delivered,
        "deliveries_per_s": round(sum(r["on_time"] for r in results) / seconds, 1),
        "deliveries_late": sum(r["late"] for r in results),
        "deliveries_lost": expected - delivered,
        "deliveries_duplicated": sum(r["duplicates"] for r in results),
        "messages_delivered_without_ack": sum(r["unacked_delivered"] for r in results),
        "p50_ms": percentile(latencies, 0.5),
        "p90_ms": percentile(latencies, 0.9),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "ack_p50_ms": percentile(ack_latencies, 0.5),
        "ack_p99_ms": percentile(ack_latencies, 0.99),
        "server_cpu_per_message_ms": round(server_cpu / acked * 1000, 3) if acked else None,
        "server_cpu_share": round(server_cpu / seconds, 2),
        "postgres_cpu_share": round(pg_cpu / seconds, 2),
        "clients_cpu_s": round(sum(r["cpu_s"] for r in results), 2),
        "clients_cpu_share": round(sum(r["window_cpu_s"] for r in results) / seconds, 2),
    }


async def run(
    sockets: int,
    cases: int,
    seconds: float,
    rates: list[float],
    workers: int,
    profile: str = "",
    repeat: int = 1,
) -> dict[str, Any]:
    from tests.support.postgres import running_postgres

    assert sockets == cases * SOCKETS_PER_CASE, "5 sockets per case"
    with running_postgres() as url, tempfile.TemporaryDirectory() as data_dir:
        plan = await seed(url, cases)
        progress(f"seeded {cases} cases")
        app = app_process(url, Path(data_dir), f"{profile}/server.txt" if profile else "")
        await app.start()
        assert app.process is not None
        server = psutil.Process(app.process.pid)
        load_before = os.getloadavg()
        try:
            # Closed loop first: an overloaded open-loop run leaves a backlog behind it. A
            # profiled run is one load only: the first --rate (0: the closed loop).
            closed_loop = await load(
                app.url, url, server, plan, workers, rates[0] if profile else 0, seconds,
                f"{profile}/perf.data" if profile else "",
            )  # fmt: skip
            open_loops = []
            for rate in sorted(rates) if not profile else []:
                # The target rate's tail is what the shared machine moves most: run it again.
                for round_ in range(repeat if rate == TARGET_PER_S else 1):
                    await asyncio.sleep(3)
                    figures = await load(
                        app.url, url, server, plan, workers, rate, seconds, "", round_ + 1
                    )
                    open_loops.append({**figures, "round": round_ + 1})
        finally:
            app.stop()
    # With --repeat, the headline is the target-rate run of median p99 (its figures as measured).
    at_target = sorted(
        (r for r in open_loops if r["offered_per_s"] == TARGET_PER_S),
        key=lambda r: float("inf") if r["p99_ms"] is None else r["p99_ms"],
    )
    if at_target:
        open_loop = at_target[(len(at_target) - 1) // 2]
    else:
        open_loop = open_loops[-1] if open_loops else closed_loop
    return {
        "benchmark": "case chat over Socket.IO /cases, PostgreSQL",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "command": f".venv/bin/python -m bench.chat --sockets {sockets} --cases {cases} "
        f"--seconds {seconds:g} --rate {' '.join(f'{r:g}' for r in rates)} --workers {workers}"
        f" --repeat {repeat}",
        "load_average_before": [round(x, 2) for x in load_before],
        "sockets": sockets,
        "cases": cases,
        "seconds": seconds,
        "client_processes": workers,
        # The headline figures: the open-loop run at the target rate (else the highest).
        "headline_offered_per_s": open_loop["offered_per_s"],
        "headline_round": open_loop.get("round"),
        "target_runs_met": [
            target_met(r) for r in open_loops if r["offered_per_s"] == TARGET_PER_S
        ],
        "messages_per_s": open_loop["messages_per_s"],
        "p50_ms": open_loop["p50_ms"],
        "p99_ms": open_loop["p99_ms"],
        "target": {"messages_per_s": TARGET_PER_S, "p99_ms": TARGET_P99_MS},
        "target_met": target_met(open_loop),
        "open_loops": open_loops,
        "closed_loop": closed_loop,
    }


def target_met(run: dict[str, Any]) -> bool:
    """2,000/s offered, every send stored and delivered, p99 send→delivery ≤ 50 ms.

    ``messages_per_s`` counts acks inside the window, so at exactly the offered rate it ends a
    little below it (the last sends of the window are acked just after it): 1 % slack there;
    that every send was stored is ``acked_share``.
    """
    return bool(
        run["offered_per_s"] == TARGET_PER_S
        and run["messages_per_s"] >= 0.99 * TARGET_PER_S
        and run["acked_share"] >= 0.999
        and run["deliveries_lost"] == 0
        and run["p99_ms"] is not None
        and run["p99_ms"] <= TARGET_P99_MS
    )


def write_table(result: dict[str, Any]) -> None:
    rows = []
    for r in [result["closed_loop"], *result["open_loops"]]:
        offered = r["offered_per_s"]
        label = f"open loop, {offered:g}/s offered" if offered else "closed loop (100 in flight)"
        if offered == TARGET_PER_S and len(result["target_runs_met"]) > 1:
            label += f", round {r['round']}"
        refused = r["error_codes"].get("overloaded", 0)
        rows.append(
            f"| {label} | {r['messages_per_s']} | {r['deliveries_per_s']} | {r['p50_ms']} ms | "
            f"{r['p99_ms']} ms | {r['ack_p99_ms']} ms | {r['server_cpu_per_message_ms']} ms | "
            f"{r['server_cpu_share']} / {r['postgres_cpu_share']} / "
            f"{r.get('clients_cpu_share', 'n/a')} | "
            f"{r['deliveries_late']} / {r['deliveries_lost']} | {refused} / "
            f"{r['errors'] - refused} |"
        )
    headline = result["headline_offered_per_s"]
    met = result["target_runs_met"]
    verdict = (
        f"**Target {'met' if result['target_met'] else 'not met'}** by the median run at "
        f"{headline:g}/s offered (round {result['headline_round']}: "
        f"{result['messages_per_s']} messages/s committed, p99 {result['p99_ms']} ms); met in "
        f"{sum(met)} of {len(met)} runs at that rate."
        if headline == TARGET_PER_S
        else "No open-loop run at the target rate in this run."
    )
    table = "\n".join(
        [
            BEGIN,
            "## Case chat (Socket.IO `/cases`, PostgreSQL)",
            "",
            f"{result['date']} · {result['machine']} · `{result['command']}` · "
            f"{result['sockets']} sockets, {result['cases']} cases · load average before "
            f"{result['load_average_before'][0]}",
            "",
            "| load | messages/s committed | deliveries/s | p50 send→delivery | "
            "p99 send→delivery | p99 send→ack | server CPU per message | CPU share server / "
            "postgres / clients | deliveries late / lost | refused (overloaded) / other "
            "errors |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Target: ≥ 2,000 messages/s with p99 ≤ 50 ms. " + verdict + " One server process. "
            "Concurrent sends are written together (group commit; on PostgreSQL one autocommit "
            "statement per batch: messages and their audit events, inserted only where each "
            "case's facts still hold), committed before any ack or broadcast. The clients run "
            f"in {result['client_processes']} separate processes on the same 2 cores. The "
            "PostgreSQL cluster runs with fsync=off (throwaway).",
            END,
        ]
    )
    section = current_section(BENCHMARKS, BEGIN, END)
    # The written analysis between the notes markers survives a re-run; the figures do not.
    if section is not None and NOTES_BEGIN in section and NOTES_END in section:
        notes = NOTES_BEGIN + section.split(NOTES_BEGIN, 1)[1].split(NOTES_END, 1)[0]
        table = table.replace(END, notes + NOTES_END + "\n" + END)
    replace_section(BENCHMARKS, BEGIN, END, table)


def main() -> None:
    if "--worker" in sys.argv:
        worker_main()
        return
    if sys.argv[1:2] == ["--serve"]:
        serve_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[2000.0], help="open-loop messages/s (each)"
    )
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs at the target rate (headline: median p99)"
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        default="",
        help="one load (the first --rate; 0: closed loop) with cProfile and GC pauses in the "
        "server over the window (DIR/server.txt) and perf record -a (DIR/perf.data); nothing "
        "written to the results",
    )
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        args.profile = str(Path(args.profile).resolve())
        args.no_write = True
    result = asyncio.run(
        run(
            args.sockets,
            args.cases,
            args.seconds,
            args.rate,
            args.workers,
            args.profile,
            args.repeat,
        )
    )
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if not args.no_write:
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        write_table(result)


if __name__ == "__main__":
    main()
