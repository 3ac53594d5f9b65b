"""The internals self-test: aiortc's private surface we rely on is checked at start-up."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc import RTCPeerConnection

from media import MediaConfig, RoomRegistry, UnsupportedAiortcError, _aiortc, ticker
from media._aiortc import (
    RECEIVER_INTERNALS,
    SENDER_INTERNALS,
    InternalsSample,
    _sample,
    ensure_supported_aiortc,
    restrict_host_addresses,
    run_eagerly,
    tolerate_consent_losses,
)

from . import rtpsamples
from .conftest import wait_for


async def test_the_installed_aiortc_has_every_internal_the_sfu_uses() -> None:
    ensure_supported_aiortc()
    RoomRegistry(MediaConfig())  # calls it too


async def test_a_missing_private_attribute_fails_loudly_and_names_it() -> None:
    real = _sample()
    fake_sender = SimpleNamespace(**{name: None for name in SENDER_INTERNALS[1:]})
    sample = InternalsSample(
        receiver=real.receiver,
        sender=fake_sender,
        transceiver=real.transceiver,
        dtls_transport=real.dtls_transport,
        ice_connection=real.ice_connection,
    )
    with pytest.raises(UnsupportedAiortcError, match=SENDER_INTERNALS[0]):
        ensure_supported_aiortc(sample)


async def test_an_unsupported_aiortc_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import aiortc

    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(UnsupportedAiortcError, match=r"1\.17\.0"):
        ensure_supported_aiortc()


def test_the_receiver_internals_list_names_the_hooked_handler() -> None:
    assert "_handle_rtp_packet" in RECEIVER_INTERNALS


async def _connected_pair(monkeypatch: pytest.MonkeyPatch) -> tuple[RTCPeerConnection, Any]:
    """Two loopback peer connections; the first checks consent the tolerant way, fast."""
    monkeypatch.setattr(_aiortc, "CONSENT_INTERVAL_S", 0.1)
    monkeypatch.setattr(_aiortc, "CONSENT_TIMEOUT_S", 1.2)
    monkeypatch.setattr(ticker, "TICK_S", 0.02)
    a, b = RTCPeerConnection(), RTCPeerConnection()
    a.addTransceiver("audio")
    restrict_host_addresses(a, ["127.0.0.1"])
    tolerate_consent_losses(a)
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    restrict_host_addresses(b, ["127.0.0.1"])
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    deadline = asyncio.get_running_loop().time() + 10
    while a.iceConnectionState != "completed" or b.iceConnectionState != "completed":
        assert asyncio.get_running_loop().time() < deadline, "ICE did not connect"
        await asyncio.sleep(0.05)
    return a, b


def _ice(pc: RTCPeerConnection) -> Any:
    return pc.getTransceivers()[0].receiver.transport.transport.iceGatherer._connection


async def test_consent_survives_a_peer_that_answers_only_retransmitted_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = await _connected_pair(monkeypatch)
    try:
        peer = _ice(b)
        answer = peer.request_received
        seen: set[bytes] = set()
        dropped = 0

        def lossy(message: Any, addr: Any, protocol: Any) -> None:
            nonlocal dropped
            if message.transaction_id not in seen:  # lose every first transmission
                seen.add(message.transaction_id)
                dropped += 1
                return
            answer(message, addr, protocol)

        peer.request_received = lossy
        await asyncio.sleep(2.5)  # two consent timeouts; aioice's own check would have closed

        assert dropped >= 3
        assert a.iceConnectionState == "completed"
        assert not _ice(a)._query_consent_task.done()
    finally:
        await a.close()
        await b.close()


async def test_consent_expires_once_the_peer_stops_answering_for_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = await _connected_pair(monkeypatch)
    try:
        _ice(b).request_received = lambda message, addr, protocol: None  # silent peer
        deadline = asyncio.get_running_loop().time() + 8
        while a.iceConnectionState not in ("closed", "failed"):
            assert asyncio.get_running_loop().time() < deadline, "consent never expired"
            await asyncio.sleep(0.1)
    finally:
        await a.close()
        await b.close()


async def test_rtcp_handling_runs_inline_and_finishes_in_a_task_if_it_suspends() -> None:
    steps: list[str] = []
    later: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def quick() -> None:
        steps.append("quick")

    async def suspends() -> None:
        steps.append("before")
        steps.append(await later)

    async def fails() -> None:
        raise RuntimeError("a broken handler")

    run_eagerly(quick())
    run_eagerly(suspends())
    run_eagerly(fails())  # logged, not raised: the receive path goes on
    assert steps == ["quick", "before"]
    later.set_result("after")
    for _ in range(3):
        await asyncio.sleep(0)
    assert steps == ["quick", "before", "after"]


async def test_a_missing_c_extension_fails_loudly_and_says_how_to_build_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_aiortc, "FANOUT_IMPORT_ERROR", ImportError("No module named _fanout"))
    with pytest.raises(UnsupportedAiortcError, match="scripts/setup"):
        ensure_supported_aiortc()


async def test_a_pylibsrtp_with_another_trailer_size_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_aiortc, "SRTP_MAX_TRAILER_LEN", 16)
    with pytest.raises(UnsupportedAiortcError, match="SRTP_MAX_TRAILER_LEN"):
        ensure_supported_aiortc()


def test_the_lean_rtp_parser_reads_every_packet_as_aiortc_does() -> None:
    extensions_map = rtpsamples.extensions_map()
    ingest = _aiortc.FastIngest(SimpleNamespace(_rtp_header_extensions_map=extensions_map))  # type: ignore[arg-type]
    for data in rtpsamples.samples(extensions_map):
        expected = rtpsamples.parsed(data, extensions_map)
        if expected is rtpsamples.CRASHES_AIORTC:
            continue  # aiortc crashes on a wrong-length extension; we drop or read it
        try:
            got: Any = rtpsamples.fields(ingest.parse(data))
        except ValueError:
            got = ValueError
        assert got == expected, data.hex()


async def test_batched_reads_deliver_every_datagram_in_order_several_per_wake_up() -> None:
    import socket

    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    wake_ups: list[int] = []

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.append(data)

    transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=("127.0.0.1", 0))
    _aiortc.batch_reads(transport)
    _aiortc.batch_reads(transport)  # idempotent
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        port = transport.get_extra_info("sockname")[1]
        for i in range(40):
            sender.sendto(b"%d" % i, ("127.0.0.1", port))
        for _ in range(20):
            await asyncio.sleep(0)
            wake_ups.append(len(got))
            if len(got) == 40:
                break
        assert got == [b"%d" % i for i in range(40)]
        # a burst is read READ_BATCH at a time, not one datagram per loop iteration
        assert next(n for n in wake_ups if n) == _aiortc.READ_BATCH
        transport.close()
        await asyncio.sleep(0)
        sender.sendto(b"late", ("127.0.0.1", port))
        await asyncio.sleep(0.05)
        assert got[-1] == b"39"
    finally:
        sender.close()
        transport.close()


@pytest.mark.parametrize("family, host", [("AF_INET", "127.0.0.1"), ("AF_INET6", "::1")])
async def test_batched_reads_give_the_senders_address_as_recvfrom_does(
    family: str, host: str
) -> None:
    import socket

    loop = asyncio.get_running_loop()
    got: list[Any] = []

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.append((data, addr))

    transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=(host, 0))
    _aiortc.batch_reads(transport)
    sender = socket.socket(getattr(socket, family), socket.SOCK_DGRAM)
    reference = socket.socket(getattr(socket, family), socket.SOCK_DGRAM)
    try:
        reference.bind((host, 0))
        sender.bind((host, 0))
        sender.sendto(b"x", transport.get_extra_info("sockname")[:2])
        sender.sendto(b"y", reference.getsockname()[:2])
        await wait_for(lambda: len(got) == 1, 5)
        assert got == [(b"x", reference.recvfrom(10)[1])]  # the same sender, as Python sees it
    finally:
        sender.close()
        reference.close()
        transport.close()


async def test_a_failed_batched_read_reaches_error_received_and_reading_goes_on() -> None:
    import socket

    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    errors: list[Exception] = []

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.append(data)

        def error_received(self, exc: Exception) -> None:
            errors.append(exc)

    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    nobody = closed.getsockname()
    closed.close()
    transport, _ = await loop.create_datagram_endpoint(
        Protocol, local_addr=("127.0.0.1", 0), remote_addr=nobody
    )
    _aiortc.batch_reads(transport)
    transport.sendto(b"ping")  # the ICMP port-unreachable fails the next read
    await wait_for(lambda: bool(errors), 5)
    assert isinstance(errors[0], ConnectionRefusedError)
    transport.close()


async def test_with_arrival_stamps_on_each_datagram_is_handled_with_its_kernel_arrival_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    loop = asyncio.get_running_loop()
    stamps = [0.0]
    monkeypatch.setattr(_aiortc, "ARRIVAL_STAMPS", stamps)
    seen: list[tuple[bytes, float]] = []

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            seen.append((data, stamps[0]))

    transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=("127.0.0.1", 0))
    _aiortc.batch_reads(transport)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        port = transport.get_extra_info("sockname")[1]
        # the kernel turns arrival stamping on shortly after the first socket asks (a deferred
        # switch); until then datagrams are stamped when read
        sender.sendto(b"warm-up", ("127.0.0.1", port))
        await asyncio.sleep(0.2)
        seen.clear()
        before = time.time()
        sender.sendto(b"first", ("127.0.0.1", port))
        time.sleep(0.05)  # noqa: ASYNC251 -- block the loop: both are read together, later
        sender.sendto(b"second", ("127.0.0.1", port))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(seen) == 2:
                break
        after = time.time()

        assert [data for data, _ in seen] == [b"first", b"second"]
        (_, first), (_, second) = seen
        assert before <= first < second <= after
        assert second - first >= 0.04  # the kernel's times, not the reads'
    finally:
        sender.close()
        transport.close()
