"""Scale-out benchmark: forwarded packets/s with one server process vs two, on this machine.

Each configuration runs real `python -m server.serve` processes (tests/server/cluster/processes.py)
on one throwaway PostgreSQL and one Redis, so rooms are placed by `RedisPlacement` exactly as in
production (new rooms go to the least loaded process). The one-process configuration runs the
same code path with a single node. Configurations alternate (1, 2, 1, 2, ...) in one run and the
report takes medians, so that the shared machine's load drifts over both alike.

Load: synthetic participants (tests/media/synthetic.py `SyntheticClient` + the pre-encoded
~1 Mbit/s VP8 + Opus clip of bench.sfu) in a few client processes, each entering through "the
balancer" (nodes round-robin), following `room_elsewhere` to the room's host and answering
offers over real Socket.IO. Every room has `--publishers` participants sending camera +
microphone and `--subscribers` that only receive. To keep the load generator cheap, a kernel
socket filter (classic BPF) on every client ICE socket drops incoming RTP/RTCP (first byte
128..191) before Python sees it; STUN and DTLS still pass, so ICE consent and DTLS stay up. The
server's work per packet (SRTP, rewrite, sendto) is unchanged: it does not know.

Per server process, over the measurement window: CPU-seconds (psutil on its pid), forwarded
packets and open rooms (its GET /metrics: `telessaude_media_forwarded_packets`,
`telessaude_rooms`).

    .venv/bin/python -m bench.scale            # 3 alternations of 8 rooms (~6 min), writes results
    .venv/bin/python -m bench.scale --rooms 16 # saturates two processes too (~15 min when loaded)
    .venv/bin/python -m bench.scale --quick    # 1 alternation, short window (~2 min)

Prints the BENCHMARKS.md table (`markdown(report)`) at the end.

Diagnostics (environment): BENCH_SCALE_DEBUG=1 prints each client peer's state and aioice's
log; BENCH_SCALE_KEEP=1 keeps the server logs (BENCH_SCALE_LOG_LEVEL=INFO for more);
BENCH_SCALE_NO_FILTER=pub|sub leaves those clients' sockets unfiltered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "scale.json"
BENCHMARKS = ROOT / "BENCHMARKS.md"
CLIPS = Path(os.environ.get("SFU_BENCH_CLIPS", "/tmp/telessaude-bench-clips"))
NAMESPACE = "/consultation"

# --------------------------------------------------------------------------- kernel drop

_SO_ATTACH_FILTER = 26
_BPF_LD_B_ABS, _BPF_JGE_K, _BPF_RET_K = 0x30, 0x35, 0x06
# On a UDP socket the filter sees the UDP header first: the datagram's first byte is at 8.
# RFC 7983 demultiplexing: 0-3 STUN, 20-63 DTLS, 128-191 RTP/RTCP.
_DROP_RTP = [
    (_BPF_LD_B_ABS, 0, 0, 8),
    (_BPF_JGE_K, 0, 1, 128),
    (_BPF_RET_K, 0, 0, 0),
    (_BPF_RET_K, 0, 0, 0xFFFFFFFF),
]
_FILTER = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in _DROP_RTP))


def drop_incoming_rtp_in_kernel(sock: Any) -> None:
    """Attach the RTP/RTCP-dropping filter to a UDP socket (the kernel copies the program)."""
    program = struct.pack("HL", len(_DROP_RTP), ctypes.addressof(_FILTER))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, program)


def _ice_sockets(pc: Any) -> list[Any]:
    """The UDP sockets of a peer connection's ICE transports (aioice internals)."""
    found = []
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        connection = getattr(getattr(dtls, "transport", None), "_connection", None)
        for protocol in getattr(connection, "_protocols", []):
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                found.append(transport.get_extra_info("socket"))
    return found


# --------------------------------------------------------------------------- client processes


@dataclass
class Seat:
    consultation_id: str
    token: str
    entry_url: str
    publisher: bool
    name: str


def clients_main(rooms: list[list[Seat]], conn: Connection) -> None:
    os.setsid()  # its own scheduler autogroup (see server_pythonpath)
    asyncio.run(_clients(rooms, conn))


async def _clients(rooms: list[list[Seat]], conn: Connection) -> None:
    sys.path.insert(0, str(ROOT))
    import socketio

    from media import Offer, Slot, TrackKind, TrackSource
    from tests.media.synthetic import Clip, SyntheticClient

    if os.environ.get("BENCH_SCALE_DEBUG"):
        import logging

        logging.basicConfig(level=logging.WARNING)
        logging.getLogger("aioice").setLevel(logging.INFO)
    # aioice sends one consent check every ~5 s and waits 0.5 s for its answer, without
    # retransmission; 6 misses in a row close the connection. While hundreds of peers join,
    # the server's loop lags past 0.5 s for tens of seconds and the first publishers were
    # closed mid-setup. Browsers retransmit and allow 30 s (RFC 7675), so tolerate late
    # answers here as they do (the servers' side: see server_pythonpath).
    import aioice.ice

    aioice.ice.CONSENT_FAILURES = 1000
    video = Clip.load(CLIPS / "clip_vp8.ivf")
    audio = Clip.load(CLIPS / "clip_opus.ogg")
    media: list[SyntheticClient] = []
    sockets: list[socketio.AsyncClient] = []
    filtered: set[tuple[int, int]] = set()
    filtered_clients: set[str] = set()
    hosts: list[str] = []

    async def enter(seat: Seat) -> None:
        current: list[SyntheticClient] = []

        async def on_offer(data: dict[str, Any]) -> dict[str, Any]:
            if data["new_peer_connection"] or not current:
                client = SyntheticClient(
                    seat.name,
                    video if seat.publisher else None,
                    audio if seat.publisher else None,
                    publish=[TrackSource.MICROPHONE, TrackSource.CAMERA] if seat.publisher else [],
                )
                current.append(client)
                media.append(client)
                if os.environ.get("BENCH_SCALE_DEBUG"):
                    born = time.monotonic()

                    @client.pc.on("connectionstatechange")
                    def changed(c: Any = client, born: float = born) -> None:
                        print(
                            c.id,
                            round(time.monotonic() - born, 1),
                            c.pc.connectionState,
                            c.pc.iceConnectionState,
                            file=sys.stderr,
                        )

            client = current[-1]
            offer = Offer(
                data["sdp"],
                [
                    Slot(
                        s["mid"],
                        TrackKind(s["kind"]),
                        s["direction"],
                        None if s["source"] is None else TrackSource(s["source"]),
                        s["publisher_id"],
                    )
                    for s in data["slots"]
                ],
            )
            sdp = await client.answer(offer)
            skip = os.environ.get("BENCH_SCALE_NO_FILTER") == ("pub" if seat.publisher else "sub")
            for sock in [] if skip else _ice_sockets(client.pc):
                # a socket is attached once; sockets of a replaced peer connection are closed
                if (id(client), sock.fileno()) not in filtered:
                    filtered.add((id(client), sock.fileno()))
                    drop_incoming_rtp_in_kernel(sock)
                    filtered_clients.add(seat.name)
            return {"type": "answer", "sdp": sdp}

        url = seat.entry_url
        for _ in range(10):
            sio = socketio.AsyncClient(reconnection=False)
            sio.on("offer", on_offer, namespace=NAMESPACE)
            await sio.connect(
                url,
                namespaces=[NAMESPACE],
                auth={"token": seat.token},
                transports=["websocket"],
                wait_timeout=30,
            )
            ack = await sio.call(
                "join", {"consultation_id": seat.consultation_id}, namespace=NAMESPACE, timeout=180
            )
            if ack["ok"]:
                sockets.append(sio)
                hosts.append(url)
                return
            await sio.disconnect()
            if ack["error"]["code"] != "room_elsewhere":
                raise RuntimeError(f"join refused: {ack}")
            url = ack["error"]["redirect"]["url"]
        raise RuntimeError("too many redirects")

    # The first participant of each room places it (one room at a time, so that the placement
    # sees the previous room counted); the others enter concurrently, a few at a time.
    for room in rooms:
        await enter(room[0])
    limit = asyncio.Semaphore(3)

    async def bounded(seat: Seat) -> None:
        async with limit:
            await enter(seat)

    await asyncio.gather(*(bounded(seat) for room in rooms for seat in room[1:]))
    if os.environ.get("BENCH_SCALE_DEBUG"):
        await asyncio.sleep(3)
        for c in media:
            print(
                c.id,
                c.pc.connectionState,
                [(t.mid, t.direction, t.currentDirection) for t in c.pc.getTransceivers()],
                {s.value: t.sent for s, t in c.tracks.items()},
                len(c.offers),
                file=sys.stderr,
            )
    conn.send({"ready": True, "hosts": hosts, "filtered_sockets": len(filtered_clients)})
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, conn.recv) != "quit":
        # "mark": what the publishers sent so far, and how many peers are still connected
        conn.send(
            {
                "sent": sum(t.sent for c in media for t in c.tracks.values()),
                "connected": sum(c.pc.connectionState == "connected" for c in media),
                "peers": len(media),
            }
        )
    for sio in sockets:
        with contextlib.suppress(Exception):
            await sio.disconnect()
    for client in media:
        with contextlib.suppress(Exception):
            await client.close()
    conn.send({"bye": True})


# --------------------------------------------------------------------------- measurement


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("telessaude_") and " " in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def process_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@dataclass
class Mark:
    wall: float
    cpu: float
    forwarded: float
    rooms: float
    participants: float
    received: float


def mark(url: str, pid: int) -> Mark:
    metrics = scrape(url)
    return Mark(
        time.monotonic(),
        process_cpu(pid),
        metrics.get("telessaude_media_forwarded_packets", 0.0),
        metrics.get("telessaude_rooms", 0.0),
        metrics.get("telessaude_participants", 0.0),
        metrics.get("telessaude_media_received_packets", 0.0),
    )


def client_marks(workers: list[tuple[Any, Connection]]) -> dict[str, int]:
    for _, pipe in workers:
        pipe.send("mark")
    replies = [pipe.recv() for _, pipe in workers]
    return {key: sum(r[key] for r in replies) for key in ("sent", "connected", "peers")}


SITECUSTOMIZE = """\
# Written by bench/scale.py for its server processes only (see server_pythonpath there).
import os

os.setsid()  # a session of its own: its own scheduler autogroup, like a separate service
if os.environ.get("BENCH_SCALE_TOLERANT_CONSENT"):
    import aioice.ice

    aioice.ice.CONSENT_FAILURES = 1000
"""


def server_pythonpath(workdir: Path) -> str:
    """A PYTHONPATH entry whose sitecustomize runs in each server process at start-up.

    1. `os.setsid()`. The kernel's autogroup scheduling (on here) shares CPU fairly between
       sessions, not processes: with every process of the benchmark in one session, a second
       server process only splits the same share (first runs: 0.48 core for one server, 0.35
       for two together). In production each server process is its own service (unit,
       container); a session of its own gives it that standing here.
    2. With BENCH_SCALE_TOLERANT_CONSENT: aioice (server side too) sends one consent check
       every ~5 s, waits 0.5 s, never retransmits, and closes the connection after 6 misses.
       asyncio reads one datagram per socket per loop turn, so on a saturated server the
       answer to a publisher's check waits behind that publisher's queued RTP, and publishers
       are closed ~30 s into saturation: forwarding collapses to 0. That is a finding
       (reported in BENCHMARKS.md), not a capacity, so capacity runs patch it;
       `--strict-consent` runs the servers unpatched.
    """
    directory = workdir / "server-site"
    directory.mkdir(exist_ok=True)
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return str(directory)


async def run_config(
    processes: int,
    args: argparse.Namespace,
    postgres: Any,
    redis_url: str,
    workdir: Path,
) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from server.app import create_app
    from server.db.engine import make_engine, make_sessions
    from tests.conftest import make_settings
    from tests.server.cluster.processes import ServerProcess
    from tests.signaling.live import Live, book

    database_url = await postgres.fresh()
    redis = aioredis.Redis.from_url(redis_url)
    await redis.flushdb()
    await redis.aclose()
    tag = uuid.uuid4().hex[:6]
    nodes = [
        ServerProcess(
            f"node{i}-{tag}",
            database_url,
            redis_url,
            workdir,
            extra_env={
                "TELESSAUDE_LOG_LEVEL": os.environ.get("BENCH_SCALE_LOG_LEVEL", "WARNING"),
                # production's heartbeat (the cluster tests use 0.5 s, whose 1.5 s pin TTL
                # expires while a loaded server lags, and a room then splits across nodes)
                "TELESSAUDE_HEARTBEAT_S": "2",
                "PYTHONPATH": server_pythonpath(workdir),
                "BENCH_SCALE_TOLERANT_CONSENT": "" if args.strict_consent else "1",
            },
        )
        for i in range(processes)
    ]
    engine = make_engine(database_url)
    ctx = mp.get_context("spawn")
    workers: list[tuple[Any, Connection]] = []
    try:
        await asyncio.gather(*(asyncio.to_thread(n.start) for n in nodes))
        app = create_app(make_settings(database_url, workdir))  # for its token service only
        live = Live(app, nodes[0].url, make_sessions(engine))
        rooms: list[list[Seat]] = []
        entry = 0
        for r in range(args.rooms):
            booking = await book(
                live, professionals=args.publishers + args.subscribers, patient=False
            )
            seats = []
            for k, seat in enumerate(booking.professionals):
                seats.append(
                    Seat(
                        str(booking.consultation_id),
                        seat.token,
                        nodes[entry % len(nodes)].url,  # the balancer: round-robin
                        k < args.publishers,
                        f"r{r}p{k}",
                    )
                )
                entry += 1
            rooms.append(seats)
        setup_started = time.monotonic()
        filtered_sockets = 0
        for w in range(args.client_processes):
            parent, child = ctx.Pipe()
            share = rooms[w :: args.client_processes]
            worker = ctx.Process(target=clients_main, args=(share, child), daemon=True)
            worker.start()
            workers.append((worker, parent))
        for _, pipe in workers:
            if not pipe.poll(300):
                raise RuntimeError("clients not ready")
            ready = pipe.recv()
            filtered_sockets += ready["filtered_sockets"]
        setup_s = time.monotonic() - setup_started
        await asyncio.sleep(args.warmup)
        pids = [n.process.pid for n in nodes if n.process is not None]
        worker_pids = [w.pid for w, _ in workers if w.pid is not None]
        clients_cpu0 = sum(process_cpu(pid) for pid in worker_pids)
        clients0 = client_marks(workers)
        start = [mark(n.url, pid) for n, pid in zip(nodes, pids, strict=True)]
        load_start = os.getloadavg()[0]
        await asyncio.sleep(args.window)
        stop = [mark(n.url, pid) for n, pid in zip(nodes, pids, strict=True)]
        clients1 = client_marks(workers)
        clients_cpu = sum(process_cpu(pid) for pid in worker_pids) - clients_cpu0
        load_stop = os.getloadavg()[0]
    finally:
        for worker, pipe in workers:
            with contextlib.suppress(OSError, EOFError, BrokenPipeError):
                pipe.send("quit")
                pipe.poll(30) and pipe.recv()
            worker.join(10)
            if worker.is_alive():
                worker.terminate()  # only our own child
                worker.join(5)
        for node in nodes:
            node.stop()
        await engine.dispose()

    per_process = []
    for node, a, b in zip(nodes, start, stop, strict=True):
        wall = b.wall - a.wall
        cpu = b.cpu - a.cpu
        forwarded = b.forwarded - a.forwarded
        per_process.append(
            {
                "node": node.node_id.split("-")[0],
                "rooms": int(b.rooms),
                "participants": int(b.participants),
                "received_pps": round((b.received - a.received) / wall, 1),
                "forwarded_pps": round(forwarded / wall, 1),
                "cpu_core_share": round(cpu / wall, 3),
                "forwarded_per_cpu_s": round(forwarded / cpu, 1) if cpu else None,
            }
        )
    wall = statistics.mean(b.wall - a.wall for a, b in zip(start, stop, strict=True))
    total_cpu = sum(b.cpu - a.cpu for a, b in zip(start, stop, strict=True))
    total_forwarded = sum(b.forwarded - a.forwarded for a, b in zip(start, stop, strict=True))
    publishers = args.rooms * args.publishers
    sent_pps = (clients1["sent"] - clients0["sent"]) / wall  # clip packets, not RTP packets
    received_pps = sum(b.received - a.received for a, b in zip(start, stop, strict=True)) / wall
    # Each publisher's packets go to every other participant of its room.
    fanout = args.publishers - 1 + args.subscribers
    return {
        "processes": processes,
        "window_s": round(wall, 2),
        "setup_s": round(setup_s, 1),
        "clients": args.rooms * (args.publishers + args.subscribers),
        "clients_with_kernel_drop": filtered_sockets,
        "publisher_clip_packets_per_s": round(sent_pps / publishers, 1),
        "received_rtp_pps_per_publisher": round(received_pps / publishers, 1),
        "peers_connected_start_stop_of": [
            clients0["connected"],
            clients1["connected"],
            clients1["peers"],
        ],
        "total_forwarded_pps": round(total_forwarded / wall, 1),
        "forwarded_over_received_x_fanout": round(total_forwarded / wall / received_pps / fanout, 3)
        if received_pps
        else None,
        "server_cpu_core_share": round(total_cpu / wall, 3),
        "forwarded_per_server_cpu_s": round(total_forwarded / total_cpu, 1) if total_cpu else None,
        "clients_cpu_core_share": round(clients_cpu / wall, 3),
        "per_process": per_process,
        "loadavg_1m": [round(load_start, 2), round(load_stop, 2)],
    }


# --------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {"nproc": int(nproc or 0), "cpu_model": model}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarise(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    one = [r for r in runs if r["processes"] == 1]
    two = [r for r in runs if r["processes"] == 2]
    pps1 = median([r["total_forwarded_pps"] for r in one])
    pps2 = median([r["total_forwarded_pps"] for r in two])
    eff1 = median([r["forwarded_per_server_cpu_s"] for r in one])
    eff2 = median([r["forwarded_per_server_cpu_s"] for r in two])
    cpu1 = median([r["server_cpu_core_share"] for r in one])
    cpu2 = median([r["server_cpu_core_share"] for r in two])
    return {
        "speedup_2_processes": round(pps2 / pps1, 3) if pps1 and pps2 else None,
        "speedup_definition": (
            "median total forwarded packets/s with 2 server processes over the median with 1, "
            "same offered load (rooms), configurations alternated in one run"
        ),
        "cpu_normalised_ratio_2_over_1": round(eff2 / eff1, 3) if eff1 and eff2 else None,
        "cpu_normalised_definition": (
            "forwarded packets per server CPU-second (all server processes), 2 over 1: "
            "1.0 means a second process adds no per-packet overhead"
        ),
        "one_process": {
            "total_forwarded_pps": pps1,
            "server_cpu_core_share": cpu1,
            "forwarded_per_server_cpu_s": eff1,
            "rooms": median([r["per_process"][0]["rooms"] for r in one]),
            "received_rtp_pps_per_publisher": median(
                [r["received_rtp_pps_per_publisher"] for r in one]
            ),
            "clients_cpu_core_share": median([r["clients_cpu_core_share"] for r in one]),
        },
        "two_processes": {
            "total_forwarded_pps": pps2,
            "server_cpu_core_share": cpu2,
            "forwarded_per_server_cpu_s": eff2,
            "per_process_forwarded_pps": [
                median([r["per_process"][i]["forwarded_pps"] for r in two]) for i in (0, 1)
            ],
            "per_process_cpu_core_share": [
                median([r["per_process"][i]["cpu_core_share"] for r in two]) for i in (0, 1)
            ],
            "per_process_rooms": [
                median([r["per_process"][i]["rooms"] for r in two]) for i in (0, 1)
            ],
            "received_rtp_pps_per_publisher": median(
                [r["received_rtp_pps_per_publisher"] for r in two]
            ),
            "clients_cpu_core_share": median([r["clients_cpu_core_share"] for r in two]),
        },
    }


def markdown(report: dict[str, Any]) -> str:
    """The BENCHMARKS.md section (between the scale markers), from a report."""
    one, two, load = report["one_process"], report["two_processes"], report["load"]
    rows = []
    for n, run in enumerate(report["runs"], 1):
        per = " + ".join(
            f"{p['rooms']} rooms: {p['forwarded_pps']:,.0f} pkt/s at {p['cpu_core_share']:.2f} core"
            for p in run["per_process"]
        )
        rows.append(
            f"| {n} | {run['processes']} | {per} | **{run['total_forwarded_pps']:,.0f}** "
            f"| {run['server_cpu_core_share']:.2f} | {run['forwarded_per_server_cpu_s']:,.0f} "
            f"| {run['received_rtp_pps_per_publisher']:.0f} | {run['clients_cpu_core_share']:.2f} "
            f"| {run['loadavg_1m'][0]:.1f} |"
        )
    fanout = load["publishers_per_room"] - 1 + load["subscribers_per_room"]
    return "\n".join(
        [
            "## Scale-out: one vs two server processes (Redis placement)",
            "",
            f"{report['date']} · {report['machine']['nproc']} cores, "
            f"{report['machine']['cpu_model']} · `{report['command']}` · "
            "raw: `bench/results/scale.json`",
            "",
            f"Each run: real `python -m server.serve` processes on one PostgreSQL and one Redis; "
            f"{load['rooms']} consultations, each {load['publishers_per_room']} publishers "
            f"(~1 Mbit/s VP8 + Opus, pre-encoded) and {load['subscribers_per_room']} "
            f"receive-only participants (each publisher fans out to {fanout}), entering through "
            "the nodes round-robin and following `room_elsewhere`. Configurations alternate in "
            "one run; server CPU is psutil on each server pid, packets from its `/metrics`.",
            "",
            "| run | processes | per process | total forwarded pkt/s | server CPU (cores) "
            "| forwarded pkt per server CPU-s | ingest pkt/s per publisher (unsaturated ≈ 140) "
            "| clients CPU (cores) | load avg |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "| median | 1 process | 2 processes | 2 / 1 |",
            "|---|---|---|---|",
            f"| total forwarded pkt/s | {one['total_forwarded_pps']:,.0f} "
            f"| {two['total_forwarded_pps']:,.0f} | **{report['speedup_2_processes']}** "
            "(`speedup_2_processes`) |",
            f"| server CPU (cores) | {one['server_cpu_core_share']:.2f} "
            f"| {two['server_cpu_core_share']:.2f} | |",
            f"| forwarded pkt per server CPU-second | {one['forwarded_per_server_cpu_s']:,.0f} "
            f"| {two['forwarded_per_server_cpu_s']:,.0f} "
            f"| **{report['cpu_normalised_ratio_2_over_1']}** |",
            f"| rooms per process | {one['rooms']:g} "
            f"| {' / '.join(f'{r:g}' for r in two['per_process_rooms'])} | |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one alternation, short window")
    parser.add_argument("--alternations", type=int, default=3)
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--publishers", type=int, default=2, help="per room (camera + mic)")
    parser.add_argument("--subscribers", type=int, default=16, help="per room, receive only")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--window", type=float)
    parser.add_argument("--warmup", type=float)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help=argparse.SUPPRESS)
    parser.add_argument(
        "--strict-consent",
        action="store_true",
        help="servers with aioice's stock consent checks (publishers die at saturation)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.alternations = 1
    args.window = args.window or (8.0 if args.quick else 12.0)
    args.warmup = args.warmup or (3.0 if args.quick else 5.0)

    sys.path.insert(0, str(ROOT))
    from tests.media.synthetic import make_clips
    from tests.support.databases import PostgresTemplate
    from tests.support.postgres import running_postgres
    from tests.support.redis import running_redis

    make_clips(CLIPS, seconds=10.0, gop_s=1.0)  # the same clip as bench.sfu
    load_before = uptime()
    runs: list[dict[str, Any]] = []
    workdir = tempfile.mkdtemp(prefix="bench-scale-")
    with running_redis() as redis_url, running_postgres() as postgres_url:
        template = PostgresTemplate(postgres_url)
        for _ in range(args.alternations):
            for processes in args.processes:
                run = asyncio.run(run_config(processes, args, template, redis_url, Path(workdir)))
                runs.append(run)
                print(json.dumps(run), flush=True)
    if not os.environ.get("BENCH_SCALE_KEEP"):  # server logs, for a look after a failed run
        shutil.rmtree(workdir, ignore_errors=True)
    flags = (" --quick" if args.quick else f" --alternations {args.alternations}") + (
        f" --rooms {args.rooms} --publishers {args.publishers}"
        f" --subscribers {args.subscribers} --window {args.window:g}"
        + (" --strict-consent" if args.strict_consent else "")
    )
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": f".venv/bin/python -m bench.scale{flags}",
        "uptime_before": load_before,
        "uptime_after": uptime(),
        "load": {
            "rooms": args.rooms,
            "publishers_per_room": args.publishers,
            "subscribers_per_room": args.subscribers,
            "client_processes": args.client_processes,
            "window_s": args.window,
        },
        **summarise(runs, args),
        "runs": runs,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    print(markdown(report))
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
