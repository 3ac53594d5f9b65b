"""Negotiation discipline of one participant: the server offers, one round at a time."""

from __future__ import annotations

import asyncio

from media import Offer, ParticipantId, RoomId, RoomRegistry, TrackSource

from .synthetic import Clip, LocalNegotiator, SyntheticClient


class _CountingNegotiator(LocalNegotiator):
    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.max_in_flight = 0

    async def exchange(self, room_id: RoomId, participant_id: ParticipantId, offer: Offer) -> str:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await super().exchange(room_id, participant_id, offer)
        finally:
            self.in_flight -= 1


async def test_concurrent_renegotiation_requests_are_serialised_and_coalesced(
    clips: tuple[Clip, Clip], config: object
) -> None:
    negotiator = _CountingNegotiator()
    registry = RoomRegistry(config, None, negotiator)  # type: ignore[arg-type]
    room = registry.get_or_create(RoomId("serial"))
    video, audio = clips
    negotiator.add(SyntheticClient("a", video, audio))
    try:
        participant = await room.connect(ParticipantId("a"))
        rounds_before = negotiator.rounds

        await asyncio.gather(*(participant.renegotiate() for _ in range(5)))

        assert negotiator.max_in_flight == 1
        # the first request runs a round; the four made during it share one more round
        assert negotiator.rounds - rounds_before == 2
    finally:
        await registry.close_all()
        for client in negotiator.clients.values():
            await client.close()


async def test_the_first_offer_describes_the_publish_slots(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    video, audio = clips
    client = negotiator.add(SyntheticClient("a", video, audio))
    room = registry.get_or_create(RoomId("slots"))
    await room.connect(ParticipantId("a"))

    offer = client.offers[0]
    assert [(s.direction, s.source) for s in offer.slots] == [
        ("publish", TrackSource.MICROPHONE),
        ("publish", TrackSource.CAMERA),
    ]
    assert offer.as_dict()["slots"][0] == {
        "mid": "0",
        "kind": "audio",
        "direction": "publish",
        "source": "microphone",
        "publisher_id": None,
    }
    assert "VP8/90000" in offer.sdp and "opus/48000" in offer.sdp
    assert "VP9" not in offer.sdp and "H264" not in offer.sdp
