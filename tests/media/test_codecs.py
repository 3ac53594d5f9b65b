"""Keyframe detection on RTP payloads and the one-codec-per-room policy."""

from __future__ import annotations

from aiortc.codecs.vpx import Vp8Encoder

from media import TrackKind
from media.codecs import h264_starts_keyframe, preferred_codecs, vp8_starts_keyframe

from .synthetic import Clip


def _vp8_payloads(clip: Clip, index: int) -> list[bytes]:
    import av

    data, pts, _ = clip.packets[index]
    packet = av.Packet(data)
    packet.pts, packet.time_base = pts, clip.time_base
    payloads, _ = Vp8Encoder().pack(packet)
    return payloads


def test_the_first_packet_of_a_vp8_keyframe_is_recognised(clips: tuple[Clip, Clip]) -> None:
    video, _ = clips
    key = next(i for i, p in enumerate(video.packets) if p[2])
    delta = next(i for i, p in enumerate(video.packets) if not p[2])
    key_payloads = _vp8_payloads(video, key)
    assert vp8_starts_keyframe(key_payloads[0])
    assert not any(vp8_starts_keyframe(p) for p in key_payloads[1:])
    assert not vp8_starts_keyframe(_vp8_payloads(video, delta)[0])
    assert not vp8_starts_keyframe(b"")


def test_h264_idr_sps_and_fragmented_idr_starts_are_keyframes() -> None:
    assert h264_starts_keyframe(bytes([0x67, 0x42]))  # SPS
    assert h264_starts_keyframe(bytes([0x7C, 0x85]))  # FU-A, start of an IDR
    assert not h264_starts_keyframe(bytes([0x7C, 0x05]))  # FU-A continuation
    assert not h264_starts_keyframe(bytes([0x41, 0x9A]))  # non-IDR slice
    assert h264_starts_keyframe(bytes([0x78, 0x00, 0x02, 0x67, 0x42]))  # STAP-A with SPS


def test_each_room_pins_one_video_codec_plus_rtx() -> None:
    vp8 = [c.mimeType for c in preferred_codecs(TrackKind.VIDEO, "VP8")]
    h264 = preferred_codecs(TrackKind.VIDEO, "H264")
    assert vp8 == ["video/VP8", "video/rtx"]
    assert [c.mimeType for c in h264] == ["video/H264", "video/rtx"]
    assert h264[0].parameters["profile-level-id"] == "42e01f"
    assert [c.mimeType for c in preferred_codecs(TrackKind.AUDIO, "VP8")] == ["audio/opus"]
