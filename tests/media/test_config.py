"""Value objects validate themselves."""

from __future__ import annotations

import pytest

from media import MediaConfig, ParticipantId, Slot, TrackKind, TrackSource


def test_a_config_refuses_an_unknown_codec_and_negative_timeouts() -> None:
    with pytest.raises(ValueError, match="VP9"):
        MediaConfig(video_codec="VP9")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MediaConfig(empty_room_timeout_s=-1)
    assert MediaConfig().video_codec == "VP8"


def test_a_slot_is_either_a_publish_slot_or_a_labelled_or_idle_subscribe_slot() -> None:
    Slot("0", TrackKind.AUDIO, "publish", TrackSource.MICROPHONE)
    Slot("2", TrackKind.VIDEO, "subscribe", TrackSource.CAMERA, ParticipantId("b"))
    Slot("3", TrackKind.VIDEO, "subscribe", None, None)
    with pytest.raises(ValueError):
        Slot("0", TrackKind.AUDIO, "publish", None)
    with pytest.raises(ValueError):
        Slot("3", TrackKind.VIDEO, "subscribe", TrackSource.CAMERA, None)


def test_track_sources_know_their_kind() -> None:
    assert TrackSource.MICROPHONE.kind is TrackKind.AUDIO
    assert TrackSource.SCREEN.kind is TrackKind.VIDEO
