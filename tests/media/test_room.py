"""Rooms through real aiortc on loopback: synthetic clients publish a pre-encoded clip."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    pack_remb_fci,
)

from media import (
    CloseReason,
    InvalidCandidateError,
    InvalidSdpError,
    MediaConfig,
    NegotiationError,
    Offer,
    Participant,
    ParticipantClosedError,
    ParticipantId,
    Room,
    RoomClosedError,
    RoomId,
    RoomRegistry,
    Subscription,
    TrackSource,
    UnsupportedCodecError,
)

from .conftest import RecordingObserver, wait_for
from .synthetic import Clip, LocalNegotiator, SyntheticClient, payload_key

MIC, CAMERA, SCREEN = TrackSource.MICROPHONE, TrackSource.CAMERA, TrackSource.SCREEN


def receives(client: SyntheticClient, publisher: str, source: TrackSource, packets: int) -> bool:
    inbound = client.received(publisher, source)
    return inbound is not None and inbound.packets >= packets


def everyone_receives_everyone(clients: list[SyntheticClient], packets: int = 20) -> bool:
    return all(
        receives(client, other.id, source, packets)
        for client, other in itertools.permutations(clients, 2)
        for source in (MIC, CAMERA)
    )


async def join(
    room: Room, negotiator: LocalNegotiator, clips: tuple[Clip, Clip], name: str, **kwargs: object
) -> tuple[SyntheticClient, Participant]:
    video, audio = clips
    client = negotiator.add(SyntheticClient(name, video, audio, **kwargs))  # type: ignore[arg-type]
    participant = await room.connect(ParticipantId(name), {"name": name.upper()})
    return client, participant


async def test_in_a_1to1_room_each_participant_receives_the_others_audio_and_video(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("c1"))
    a, _ = await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b")

    await wait_for(lambda: everyone_receives_everyone([a, b]), 10)
    stats = registry.stats()["total"]
    assert stats.forwarded_packets > 80
    assert stats.publications == 4 and stats.subscriptions == 4


async def test_in_a_4_party_room_everyone_receives_every_others_audio_and_video(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("c4"))
    clients = [(await join(room, negotiator, clips, name))[0] for name in "abcd"]

    await wait_for(lambda: everyone_receives_everyone(clients), 15)
    assert registry.stats()["total"].subscriptions == 4 * 3 * 2


async def test_the_payload_bytes_a_subscriber_receives_are_those_the_publisher_sent(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("identity"))
    a, _ = await join(room, negotiator, clips, "a", record_sent=True)
    b, _ = await join(room, negotiator, clips, "b", record_payloads=True)

    await wait_for(lambda: receives(b, "a", CAMERA, 100), 10)
    inbound = b.received("a", CAMERA)
    assert inbound is not None
    received = list(inbound.payloads)
    # nothing transcoded: every payload that went through the SFU is byte-identical
    # to one the publisher put on the wire (compared after SRTP on both sides)
    assert len(received) >= 100
    assert all(payload_key(payload) in a.sent_payloads for payload in received)


async def test_a_late_joiner_gets_a_keyframe_started_stream_within_a_second(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("late"))
    a, _ = await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b")
    await wait_for(lambda: everyone_receives_everyone([a, b]), 10)
    await asyncio.sleep(0.4)  # the publishers are mid-GOP now

    started = time.time()
    c, _ = await join(room, negotiator, clips, "c")
    await wait_for(lambda: receives(c, "a", CAMERA, 1) and receives(c, "b", CAMERA, 1), 5)

    for publisher in ("a", "b"):
        inbound = c.received(publisher, CAMERA)
        assert inbound is not None and inbound.first_at is not None
        assert inbound.first_is_keyframe
        print(f"late joiner: first {publisher} keyframe after {inbound.first_at - started:.3f} s")
        assert inbound.first_at - started < 1.0, (
            f"first video after {inbound.first_at - started:.3f} s"
        )


async def test_a_participant_who_reconnects_gets_media_back_and_the_others_keep_theirs(
    registry: RoomRegistry,
    negotiator: LocalNegotiator,
    clips: tuple[Clip, Clip],
    observer: RecordingObserver,
) -> None:
    room = registry.get_or_create(RoomId("reconnect"))
    a, first = await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b")
    await wait_for(lambda: everyone_receives_everyone([a, b]), 10)
    b_rounds = b.offers[:]
    before = b.received("a", CAMERA)
    assert before is not None
    count_before, max_seq_before = before.packets, max(before.sequence_numbers)

    await a.close()  # the browser vanished without a goodbye
    a2, second = await join(room, negotiator, clips, "a")

    assert first.closed and first.close_reason is CloseReason.REPLACED
    assert room.participants[ParticipantId("a")] is second
    await wait_for(lambda: everyone_receives_everyone([a2, b]), 10)
    await wait_for(lambda: before.packets > count_before + 50, 10)
    # b's slot for a's camera was re-pointed: same m-line, no new offer for b, and the
    # leg's sequence numbers carried on forwards
    assert b.offers == b_rounds
    assert b.received("a", CAMERA) is before
    new = [s for s in before.sequence_numbers if 0 < (s - max_seq_before) % 65536 < 30000]
    assert len(new) >= 50
    assert ("participant_left", (room.id, "a", CloseReason.REPLACED)) in observer.events


async def test_a_stale_connection_leaving_does_not_remove_its_replacement(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("stale"))
    _, old = await join(room, negotiator, clips, "a")
    _, new = await join(room, negotiator, clips, "a")

    await room.leave(old, CloseReason.DISCONNECTED)  # the old socket's late disconnect

    assert room.participants[ParticipantId("a")] is new
    assert not new.closed


async def test_five_percent_loss_on_one_leg_is_repaired_by_nack_and_rtx(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("loss"))
    await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b", loss=0.05)

    await wait_for(lambda: receives(b, "a", CAMERA, 300), 15)
    await asyncio.sleep(0.5)  # let the last repairs land
    inbound = b.received("a", CAMERA)
    assert inbound is not None
    seqs = sorted(inbound.sequence_numbers)
    assert seqs[-1] - seqs[0] < 30000, "no wrap expected in this short run"
    window = range(seqs[0], seqs[-1] - 30)
    missing = [s for s in window if s not in inbound.sequence_numbers]
    assert missing == []
    assert registry.stats()["total"].nacks_received > 5
    # the legs' sender reports reached b, whose receiver reports answered them (RTT)
    await wait_for(lambda: registry.stats()["total"].rtt_ms is not None, 10)


async def test_a_screen_share_arrives_as_a_second_video_track_and_stops(
    registry: RoomRegistry,
    negotiator: LocalNegotiator,
    clips: tuple[Clip, Clip],
    observer: RecordingObserver,
) -> None:
    room = registry.get_or_create(RoomId("screen"))
    video, audio = clips
    a = negotiator.add(SyntheticClient("a", video, audio, screen=video))
    pa = await room.connect(ParticipantId("a"))
    b, _ = await join(room, negotiator, clips, "b")

    a.share_screen = True
    await pa.request_screen_share()
    await wait_for(lambda: receives(b, "a", SCREEN, 30) and receives(b, "a", CAMERA, 30), 10)
    assert [s.source for s in b.offers[-1].slots if s.publisher_id == "a"] == [MIC, CAMERA, SCREEN]

    await pa.stop_screen_share()
    assert (ParticipantId("a"), SCREEN) not in {
        (p.publisher_id, p.source) for p in room.publications
    }
    assert any(
        getattr(args[1], "source", None) is SCREEN for args in observer.named("track_unpublished")
    )


async def test_a_muted_track_is_not_forwarded_until_unmuted(
    registry: RoomRegistry,
    negotiator: LocalNegotiator,
    clips: tuple[Clip, Clip],
    observer: RecordingObserver,
) -> None:
    room = registry.get_or_create(RoomId("mute"))
    _, pa = await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b")
    await wait_for(lambda: receives(b, "a", CAMERA, 30), 10)
    inbound = b.received("a", CAMERA)
    assert inbound is not None

    await pa.set_muted(CAMERA, True)
    await asyncio.sleep(0.1)
    frozen = inbound.packets
    await asyncio.sleep(0.5)
    assert inbound.packets == frozen
    assert getattr(observer.named("track_muted")[-1][1], "muted", None) is True

    await pa.set_muted(CAMERA, False)
    await wait_for(lambda: inbound.packets > frozen + 30, 5)
    assert getattr(observer.named("track_muted")[-1][1], "muted", None) is False


async def test_closing_a_room_closes_every_participant_with_the_reason(
    registry: RoomRegistry,
    negotiator: LocalNegotiator,
    clips: tuple[Clip, Clip],
    observer: RecordingObserver,
) -> None:
    room = registry.get_or_create(RoomId("close"))
    _, pa = await join(room, negotiator, clips, "a")
    _, pb = await join(room, negotiator, clips, "b")

    await room.close(CloseReason.CONSULTATION_ENDED)
    await room.close(CloseReason.ERROR)  # idempotent

    assert pa.closed and pb.closed
    assert pa.close_reason is pb.close_reason is CloseReason.CONSULTATION_ENDED
    left = observer.named("participant_left")
    assert {(args[1], args[2]) for args in left} == {
        ("a", CloseReason.CONSULTATION_ENDED),
        ("b", CloseReason.CONSULTATION_ENDED),
    }
    assert observer.named("room_closed") == [(room.id, CloseReason.CONSULTATION_ENDED)]
    assert registry.get(room.id) is None
    with pytest.raises(RoomClosedError):
        await room.connect(ParticipantId("c"))
    with pytest.raises(ParticipantClosedError):
        await pa.set_muted(MIC, True)


async def test_an_empty_room_closes_after_the_timeout(
    negotiator: LocalNegotiator, clips: tuple[Clip, Clip], observer: RecordingObserver
) -> None:
    config = MediaConfig(host_addresses=["127.0.0.1"], empty_room_timeout_s=0.3)
    registry = RoomRegistry(config, observer, negotiator)
    room = registry.get_or_create(RoomId("empty"))
    _, pa = await join(room, negotiator, clips, "a")
    await asyncio.sleep(0.5)
    assert not room.closed  # occupied rooms stay open

    await room.leave(pa, CloseReason.CLIENT_LEAVE)
    await wait_for(lambda: room.closed, 3)
    assert room.close_reason is CloseReason.EMPTY_TIMEOUT
    assert registry.get(room.id) is None
    await negotiator.clients["a"].close()


class _HostileNegotiator(LocalNegotiator):
    """Answers honestly, except for participants it is told to sabotage."""

    def __init__(self) -> None:
        super().__init__()
        self.sabotage: dict[str, str] = {}

    async def exchange(self, room_id: RoomId, participant_id: ParticipantId, offer: Offer) -> str:
        answer = await super().exchange(room_id, participant_id, offer)
        how = self.sabotage.get(participant_id)
        if how == "garbage":
            return "v=0\r\nm=video what is this\r\n\x00\xff" * 3
        if how == "vp9":
            return answer.replace("VP8/90000", "VP9/90000")
        if how == "slow":
            await asyncio.sleep(10)
        if how == "raise":
            raise ConnectionResetError("socket gone")
        return answer


@pytest.mark.parametrize(
    ("how", "error"),
    [
        ("garbage", InvalidSdpError),
        ("vp9", UnsupportedCodecError),
        ("slow", NegotiationError),
        ("raise", NegotiationError),
    ],
)
async def test_a_bad_answer_fails_only_that_participant_and_the_room_goes_on(
    clips: tuple[Clip, Clip], observer: RecordingObserver, how: str, error: type[Exception]
) -> None:
    negotiator = _HostileNegotiator()
    config = MediaConfig(host_addresses=["127.0.0.1"], negotiation_timeout_s=1.0)
    registry = RoomRegistry(config, observer, negotiator)
    room = registry.get_or_create(RoomId("hostile"))
    try:
        a, _ = await join(room, negotiator, clips, "a")
        b, _ = await join(room, negotiator, clips, "b")
        await wait_for(lambda: everyone_receives_everyone([a, b]), 10)

        negotiator.sabotage["x"] = how
        with pytest.raises(error):
            await join(room, negotiator, clips, "x")

        assert ParticipantId("x") not in room.participants
        assert ("participant_left", (room.id, "x", CloseReason.ERROR)) in observer.events
        counts = [a.received("b", CAMERA).packets, b.received("a", CAMERA).packets]  # type: ignore[union-attr]
        await wait_for(
            lambda: (
                receives(a, "b", CAMERA, counts[0] + 30)
                and receives(b, "a", CAMERA, counts[1] + 30)
            ),
            5,
        )
    finally:
        await registry.close_all()
        for client in negotiator.clients.values():
            await client.close()


async def test_bad_ice_candidates_and_calls_after_leaving_raise_media_errors(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("ice"))
    _, pa = await join(room, negotiator, clips, "a")

    good = "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host"
    await pa.add_ice_candidate(good, sdp_mid="0")
    await pa.add_ice_candidate("", sdp_mid="0")  # end of candidates
    with pytest.raises(InvalidCandidateError):
        await pa.add_ice_candidate(good, sdp_mid="99")
    with pytest.raises(InvalidCandidateError):
        await pa.add_ice_candidate(good, sdp_mline_index=42)
    with pytest.raises(InvalidCandidateError):
        await pa.add_ice_candidate("candidate:nonsense", sdp_mid="0")
    with pytest.raises(ValueError):
        await pa.set_muted("elbow", True)  # type: ignore[arg-type]

    await room.leave(pa, CloseReason.CLIENT_LEAVE)
    with pytest.raises(ParticipantClosedError):
        await pa.add_ice_candidate(good, sdp_mid="0")
    with pytest.raises(ParticipantClosedError):
        await pa.request_screen_share()


async def test_keyframe_requests_from_subscribers_reach_the_publisher_rate_limited(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("pli"))
    a, _ = await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b")
    await wait_for(lambda: receives(b, "a", CAMERA, 30), 10)
    await asyncio.sleep(0.6)  # past the rate-limit window of the joining PLIs
    camera = a.tracks[CAMERA]
    before = camera.keyframe_requests
    inbound = b.received("a", CAMERA)
    assert inbound is not None
    transceiver = next(t for t in b.pc.getTransceivers() if t.mid == inbound.slot.mid)
    media_ssrc = _legs(room, "b", "a")[0].tap.ssrc  # the SSRC the server sends b

    for _ in range(5):  # a burst of PLIs from the subscriber (aiortc's own RTCP path)
        await transceiver.receiver._send_rtcp_pli(media_ssrc)
    await wait_for(lambda: camera.keyframe_requests > before, 5)
    await asyncio.sleep(0.3)

    assert registry.stats()["total"].keyframe_requests_received >= 5
    assert camera.keyframe_requests - before == 1  # one PLI upstream per 0.5 s


def _legs(room: Room, subscriber: str, publisher: str) -> list[Subscription]:
    return [
        s
        for s in room.participants[ParticipantId(subscriber)].subscriptions
        if s.publisher_id == publisher and s.source is CAMERA
    ]


async def test_subscribers_feedback_reaches_their_legs_without_aiortcs_parser(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("feedback"))
    await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b")
    await wait_for(lambda: receives(b, "a", CAMERA, 60), 15)
    camera = next(
        p for p in room.publications if p.publisher_id == ParticipantId("a") and p.source is CAMERA
    )
    leg = camera.subscriptions[0].tap
    ingest = leg.sender.transport._telessaude_ingest  # type: ignore[attr-defined]

    # b's receiver reports answered the leg's sender reports: round-trip time and stats
    await wait_for(lambda: leg.rtt() is not None, 10)
    assert ingest.rtcp_read > 0  # read by media.rtcpscan, not aiortc's parser
    stats = await leg.sender.getStats()
    remote = [s for s in stats.values() if s.type == "remote-inbound-rtp"]
    assert len(remote) == 1
    assert remote[0].roundTripTime == leg.rtt()
    assert 0 <= remote[0].roundTripTime < 1
    assert remote[0].packetsReceived > 0

    # a REMB naming the leg sets its estimate; a PLI for it becomes a keyframe request
    remb = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(420_000, [leg.ssrc])
    )
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=leg.ssrc)
    requests = leg.keyframe_requests
    assert ingest.take_rtcp(bytes(remb) + bytes(pli))
    assert leg.remb_bps == 420_000
    assert leg.keyframe_requests == requests + 1
    # feedback about an SSRC that is not ours is read and goes nowhere, as in aiortc
    other = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(1_000, [leg.ssrc ^ 1])
    )
    assert ingest.take_rtcp(bytes(other))
    assert leg.remb_bps == 420_000
    # a NACK is left to aiortc's parser and handlers (RTX from the leg's history)
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=leg.ssrc, lost=[1])
    assert not ingest.take_rtcp(bytes(nack))


async def test_in_the_steady_state_the_c_ingest_forwards_and_aiortcs_statistics_follow(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("c-ingest"))
    await join(room, negotiator, clips, "a")
    b, _ = await join(room, negotiator, clips, "b", record_payloads=True)
    await wait_for(lambda: receives(b, "a", CAMERA, 30), 15)
    camera = next(
        p for p in room.publications if p.publisher_id == ParticipantId("a") and p.source is CAMERA
    )
    tap = camera.tap
    ingest = tap.receiver.transport._telessaude_ingest  # type: ignore[attr-defined]
    assert tap.media_ssrc is not None
    stats = tap._streams[tap.media_ssrc]
    taken, handled = ingest.inlet.taken, ingest.handled
    await wait_for(lambda: receives(b, "a", CAMERA, 150), 15)

    # once the legs started, every packet of a's two tracks stayed in C
    assert ingest.handled - handled > 120
    assert ingest.inlet.taken - taken == ingest.handled - handled
    assert ingest.inlet.routes()[tap.media_ssrc] is tap.fast
    # aiortc's receive statistics and NACK state counted every packet, whichever path
    assert stats.packets_received == tap.packets  # no loss on loopback, so no RTX
    assert stats.packets_lost == 0
    assert tap._nack.max_seq == stats.max_seq and not tap._nack.missing
    # the REMB estimator is fed per frame from C, and the publication's counters moved
    await wait_for(lambda: tap.rembs_sent > 0, 10)
    assert camera.forwarded_packets > 100
    assert 0 < time.monotonic() - camera.last_wall < 1
    # the transport's counters (getStats) include what C received
    transport = tap.receiver.transport
    (transport_stats,) = [s for s in transport._get_stats().values() if s.type == "transport"]
    assert transport_stats.packetsReceived >= ingest.handled
    assert ingest.inlet.rx_packets == 0  # folded into the transport's
    # any change to aiortc's receiver tables drops the routes; Python routes the streams again
    transport._rtp_router.unregister_receiver(object())  # type: ignore[arg-type]
    assert ingest.inlet.routes() == {}
    taken = ingest.inlet.taken
    await wait_for(lambda: ingest.inlet.taken > taken + 20, 10)
    assert ingest.inlet.routes()[tap.media_ssrc] is tap.fast


async def test_a_lossy_uplink_is_repaired_and_the_c_ingest_keeps_the_stream_meanwhile(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    room = registry.get_or_create(RoomId("lossy-uplink"))
    await join(room, negotiator, clips, "a", send_loss=0.05)
    b, _ = await join(room, negotiator, clips, "b")
    await wait_for(lambda: receives(b, "a", CAMERA, 30), 15)
    camera = next(
        p for p in room.publications if p.publisher_id == ParticipantId("a") and p.source is CAMERA
    )
    tap = camera.tap
    taken, packets = tap.fast.taken, tap.packets
    await wait_for(lambda: receives(b, "a", CAMERA, 300), 20)

    # the SFU asked for the lost packets and the publisher's RTX filled the gaps (repairs are
    # counted on the RTX stream: aiortc's media stream statistics still show the loss)
    assert tap.nacks_sent > 0
    assert tap.media_ssrc is not None
    lost = tap._streams[tap.media_ssrc].packets_lost
    repaired = sum(s.packets_received for x, s in tap._streams.items() if x != tap.media_ssrc)
    assert lost > 0 and repaired >= 0.8 * lost
    # the gaps and the repairs went through Python; every other packet stayed in C, NACKs
    # outstanding or not
    assert tap.fast.taken - taken > 0.8 * (tap.packets - packets)
