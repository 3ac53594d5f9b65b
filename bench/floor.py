"""Per-packet floor of a Python forwarder, measured next to the SFU's own per-leg path.

Both loops send the same 1200-byte packets, SRTP-protected (AES-256-GCM, aiortc's first
choice), over UDP on 127.0.0.1 to sockets another process drains:

* floor: struct rewrite of PT/seq/ts/SSRC + `Session.protect` + `socket.sendto`;
* sfu:   `media._fanout.forward`, the C loop `Publication._on_packet` calls once per packet
         for all legs (header template splice, history ring, SR counters, libsrtp protect,
         sendto), i.e. exactly what the subscriber legs run.

CPU seconds (getrusage) per packet; run in the same session as `bench.sfu` so the shared
machine's load affects both alike.

    .venv/bin/python -m bench.floor
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import socket
import struct
from multiprocessing.connection import Connection
from typing import Any

PAYLOAD = os.urandom(1200)
LEGS = 48
PACKETS = 20000


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drain(ports: Connection, n: int) -> None:
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        socks.append(s)
    ports.send([s.getsockname()[1] for s in socks])
    import selectors

    selector = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select(1.0):
            sock: Any = key.fileobj
            try:
                while True:
                    sock.recv(2048)
            except BlockingIOError:
                pass
        if ports.poll():
            return


def _session() -> Any:
    from pylibsrtp import Policy, Session

    key = os.urandom(44)
    policy = Policy(
        key=key,
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    )
    policy.allow_repeat_tx = True
    return Session(policy)


def floor_loop(ports: list[int]) -> float:
    """One socket and one SRTP session per leg, as each subscriber has its own."""
    legs = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        legs.append((_session().protect, sock.sendto, ("127.0.0.1", port)))
    head = struct.Struct("!BBHII")
    start = cpu()
    for i in range(PACKETS // LEGS):
        for leg, (protect, sendto, addr) in enumerate(legs):
            data = head.pack(0x80, 96, (i + leg) & 0xFFFF, i * 3000, leg + 1) + PAYLOAD
            with contextlib.suppress(BlockingIOError):
                sendto(protect(data), addr)
    return (cpu() - start) / ((PACKETS // LEGS) * LEGS)


async def sfu_loop(ports: list[int]) -> float:
    """The real fan-out (`media._fanout.forward` over the legs `SenderTap` wires up) on fake
    aiortc objects, one call per packet for all legs, as `Publication._on_packet` does."""
    from types import SimpleNamespace

    from aiortc.rtcdtlstransport import State
    from aiortc.rtp import HeaderExtensionsMap

    from media._aiortc import SenderTap, forward
    from media.subscription import header_template

    loop = asyncio.get_running_loop()
    legs = []
    for leg, port in enumerate(ports):
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        pair = SimpleNamespace(
            protocol=SimpleNamespace(transport=transport), remote_addr=("127.0.0.1", port)
        )
        connection = SimpleNamespace(
            _nominated={1: pair}, _protocols=[], data_received=lambda *_: None
        )
        ice = SimpleNamespace(_connection=connection)
        xmap = HeaderExtensionsMap()
        dtls = SimpleNamespace(
            _state=State.CONNECTED,
            _tx_srtp=_session(),
            transport=ice,
            on=lambda *_: None,
            _rtp_header_extensions_map=xmap,  # what FastIngest hooks (it receives nothing here)
            _rtp_router=SimpleNamespace(
                register_receiver=lambda *_: None, unregister_receiver=lambda *_: None
            ),
            _get_stats=lambda: None,
        )
        sender = SimpleNamespace(
            _ssrc=leg + 1,
            transport=dtls,
            _RTCRtpSender__started=True,
            _RTCRtpSender__rtp_history={},
            _RTCRtpSender__rtp_header_extensions_map=xmap,
            _send_keyframe=None,
            _retransmit=None,
            _handle_rtcp_packet=None,
        )
        transceiver: Any = SimpleNamespace(sender=sender, mid=str(leg))
        tap = SenderTap(transceiver)  # replaces the fake history with the leg's ring
        assert tap.ready()
        template = header_template(tap, 97, with_level=False)
        tap.set_templates(template, template)
        tap.leg.start(1000, 5)
        legs.append(tap.leg)
    all_legs = tuple(legs)
    start = cpu()
    for i in range(PACKETS // LEGS):
        forward(all_legs, i, i * 3000, 0, PAYLOAD, -1, 123456789 << 20, 0)
        if i % 20 == 0:
            await asyncio.sleep(0)  # let the transports flush
    return (cpu() - start) / ((PACKETS // LEGS) * LEGS)


def measure() -> dict[str, float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    sink = ctx.Process(target=drain, args=(child, LEGS), daemon=True)
    sink.start()
    ports = parent.recv()
    try:
        floors = [floor_loop(ports) for _ in range(3)]
        sfus = [asyncio.run(sfu_loop(ports)) for _ in range(3)]
    finally:
        parent.send("stop")
        sink.join(5)
    floor, leg = sorted(floors)[1], sorted(sfus)[1]
    return {
        "floor_us_per_packet": round(1e6 * floor, 2),
        "sfu_leg_us_per_packet": round(1e6 * leg, 2),
        "sfu_leg_over_floor": round(leg / floor, 2),
    }


if __name__ == "__main__":
    print(json.dumps(measure()))
