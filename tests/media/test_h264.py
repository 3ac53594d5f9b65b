"""A deployment configured for H.264 (42e01f, packetization-mode 1) forwards H.264."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import MediaConfig, ParticipantId, RoomId, RoomRegistry, TrackSource

from .conftest import RecordingObserver, wait_for
from .synthetic import Clip, LocalNegotiator, SyntheticClient, make_h264_clip


@pytest.fixture(scope="module")
def h264(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return Clip.load(make_h264_clip(Path(tmp_path_factory.mktemp("h264"))))


async def test_an_h264_room_forwards_h264_and_a_late_joiner_starts_at_an_idr(
    h264: Clip, clips: tuple[Clip, Clip], observer: RecordingObserver
) -> None:
    _, audio = clips
    negotiator = LocalNegotiator()
    config = MediaConfig(video_codec="H264", host_addresses=["127.0.0.1"])
    registry = RoomRegistry(config, observer, negotiator)
    room = registry.get_or_create(RoomId("h264"))
    try:
        a = negotiator.add(SyntheticClient("a", h264, audio))
        b = negotiator.add(SyntheticClient("b", h264, audio))
        await room.connect(ParticipantId("a"))
        await room.connect(ParticipantId("b"))
        assert "H264/90000" in b.offers[-1].sdp and "VP8" not in b.offers[-1].sdp

        def video(client: SyntheticClient, publisher: str, packets: int) -> bool:
            inbound = client.received(publisher, TrackSource.CAMERA)
            return inbound is not None and inbound.packets >= packets

        await wait_for(lambda: video(a, "b", 50) and video(b, "a", 50), 10)

        c = negotiator.add(SyntheticClient("c", h264, audio))
        await room.connect(ParticipantId("c"))
        await wait_for(lambda: video(c, "a", 1), 5)
        inbound = c.received("a", TrackSource.CAMERA)
        assert inbound is not None and inbound.first_is_keyframe
    finally:
        await registry.close_all()
        for client in negotiator.clients.values():
            await client.close()
