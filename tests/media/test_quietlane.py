"""The quiet lane: feedback-only sockets are read in batches; media still flows and is repaired."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from media import (
    ParticipantId,
    Room,
    RoomId,
    RoomRegistry,
    TrackSource,
    _aiortc,
    quietlane,
)
from media._aiortc import FastIngest, batch_reads
from media.quietlane import quiet_lane

from .conftest import wait_for
from .synthetic import Clip, LocalNegotiator, SyntheticClient
from .test_room import join, receives

CAMERA, SCREEN = TrackSource.CAMERA, TrackSource.SCREEN


class Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)


async def _socket() -> tuple[Any, Collect, tuple[str, int]]:
    """A loopback UDP endpoint read in batches, as the ICE sockets are."""
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        Collect, local_addr=("127.0.0.1", 0)
    )
    batch_reads(transport)
    return transport, protocol, transport.get_extra_info("sockname")


async def _sender() -> Any:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    return transport


async def test_a_quiet_socket_is_not_woken_for_but_read_within_the_lane_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(quietlane, "LANE_MAX_S", 0.3)
    quiet, feedback, address = await _socket()
    out = await _sender()
    lane = quiet_lane(asyncio.get_running_loop())
    lane.admit(quiet, *quiet._telessaude_readers)
    try:
        out.sendto(b"receiver report", address)
        await asyncio.sleep(0.1)
        assert feedback.received == []  # nothing woke the loop for it

        await asyncio.sleep(0.4)
        assert feedback.received == [b"receiver report"]
    finally:
        lane.release(quiet)
        quiet.close()
        out.close()


async def test_media_waking_the_loop_reads_the_quiet_sockets_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(quietlane, "LANE_MAX_S", 10.0)
    quiet, feedback, quiet_address = await _socket()
    media, rtp, media_address = await _socket()
    out = await _sender()
    lane = quiet_lane(asyncio.get_running_loop())
    lane.admit(quiet, *quiet._telessaude_readers)
    try:
        await asyncio.sleep(0.02)
        out.sendto(b"nack", quiet_address)
        await asyncio.sleep(0.05)
        assert feedback.received == []

        out.sendto(b"video", media_address)
        await wait_for(lambda: feedback.received == [b"nack"], 1)
        assert rtp.received == [b"video"]
    finally:
        lane.release(quiet)
        for transport in (quiet, media, out):
            transport.close()


async def test_a_released_socket_is_read_by_the_event_loop_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(quietlane, "LANE_MAX_S", 10.0)
    quiet, protocol, address = await _socket()
    out = await _sender()
    lane = quiet_lane(asyncio.get_running_loop())
    lane.admit(quiet, *quiet._telessaude_readers)
    assert lane.holds(quiet)
    lane.release(quiet)
    try:
        assert not lane.holds(quiet)
        out.sendto(b"rtp", address)
        await wait_for(lambda: protocol.received == [b"rtp"], 1)
    finally:
        quiet.close()
        out.close()


async def test_a_socket_closed_while_quiet_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quietlane, "LANE_MAX_S", 0.05)
    quiet, _, _ = await _socket()
    lane = quiet_lane(asyncio.get_running_loop())
    before = len(lane)
    lane.admit(quiet, *quiet._telessaude_readers)
    assert len(lane) == before + 1

    quiet.close()
    await wait_for(lambda: len(lane) == before, 1)


# --------------------------------------------------------------------------- through a room


def _ingest(room: Room, subscriber: str) -> FastIngest | None:
    """The fast path of `subscriber`'s connection, once its first leg started."""
    participant = room.participants[ParticipantId(subscriber)]
    if not participant.subscriptions:
        return None
    dtls = participant.subscriptions[0].tap.sender.transport
    ingest: FastIngest | None = getattr(dtls, "_telessaude_ingest", None)
    return ingest


def _quiet(room: Room, subscriber: str) -> bool:
    ingest = _ingest(room, subscriber)
    return ingest is not None and ingest.quiet


async def test_a_receive_only_connection_goes_quiet_and_its_nacks_and_plis_still_work(
    registry: RoomRegistry,
    negotiator: LocalNegotiator,
    clips: tuple[Clip, Clip],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_aiortc, "QUIET_AFTER_S", 0.3)
    room = registry.get_or_create(RoomId("quiet"))
    a, _ = await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b", publish=[], loss=0.05)
    await wait_for(lambda: _quiet(room, "b"), 5)

    await wait_for(lambda: receives(b, "a", CAMERA, 300), 15)
    await asyncio.sleep(0.5)  # let the last repairs land
    inbound = b.received("a", CAMERA)
    assert inbound is not None
    seqs = sorted(inbound.sequence_numbers)
    missing = [s for s in range(seqs[0], seqs[-1] - 30) if s not in inbound.sequence_numbers]
    assert missing == []
    assert registry.stats()["total"].nacks_received > 5
    # b's receiver reports were read: an RTT needs one that answers the latest sender report
    # (both go out about every second at random phases), so it may take a few more seconds
    await wait_for(lambda: registry.stats()["total"].rtt_ms is not None, 10)

    camera = a.tracks[CAMERA]
    before = camera.keyframe_requests
    transceiver = next(t for t in b.pc.getTransceivers() if t.mid == inbound.slot.mid)
    leg = next(s for s in room.participants[ParticipantId("b")].subscriptions if s.source is CAMERA)
    await asyncio.sleep(0.6)  # past the rate limit of the joining PLIs
    await transceiver.receiver._send_rtcp_pli(leg.tap.ssrc)
    await wait_for(lambda: camera.keyframe_requests > before, 5)

    assert _quiet(room, "b")  # all of that went through the lane
    assert b.pc.connectionState == "connected"


async def test_a_quiet_participant_who_starts_publishing_is_read_by_the_loop_again(
    registry: RoomRegistry,
    negotiator: LocalNegotiator,
    clips: tuple[Clip, Clip],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_aiortc, "QUIET_AFTER_S", 0.3)
    room = registry.get_or_create(RoomId("wakes"))
    video, audio = clips
    a, _ = await join(room, negotiator, clips, "a")
    b = negotiator.add(SyntheticClient("b", video, audio, publish=[], screen=video))
    pb = await room.connect(ParticipantId("b"))
    await wait_for(lambda: _quiet(room, "b"), 5)

    b.share_screen = True
    await pb.request_screen_share()
    await wait_for(lambda: receives(a, "b", SCREEN, 30), 10)

    ingest = _ingest(room, "b")
    assert ingest is not None
    assert not ingest.quiet
    assert not ingest.quiet_transports
