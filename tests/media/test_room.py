"""Rooms through real aiortc on loopback: synthetic clients publish a pre-encoded clip."""

from __future__ import annotations

from media import ParticipantId, RoomId, RoomRegistry, TrackSource

from .conftest import wait_for
from .synthetic import Clip, LocalNegotiator, SyntheticClient

MIC, CAMERA = TrackSource.MICROPHONE, TrackSource.CAMERA


async def test_in_a_1to1_room_each_participant_receives_the_others_audio_and_video(
    registry: RoomRegistry, negotiator: LocalNegotiator, clips: tuple[Clip, Clip]
) -> None:
    video, audio = clips
    room = registry.get_or_create(RoomId("c1"))
    a = negotiator.add(SyntheticClient("a", video, audio))
    b = negotiator.add(SyntheticClient("b", video, audio))
    await room.connect(ParticipantId("a"))
    await room.connect(ParticipantId("b"))

    def flowing() -> bool:
        pairs = [(a, "b"), (b, "a")]
        return all(
            (r := client.received(pub, source)) is not None and r.packets > 20
            for client, pub in pairs
            for source in (MIC, CAMERA)
        )

    await wait_for(flowing, 10)
    stats = registry.stats()["total"]
    assert stats.forwarded_packets > 80
    assert stats.publications == 4
