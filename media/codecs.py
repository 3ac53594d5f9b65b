"""Codec policy (one codec per room, pinned on every m-line) and keyframe detection on RTP."""

from __future__ import annotations

from aiortc import RTCRtpCodecCapability, RTCRtpSender, RTCRtpTransceiver

from .config import VideoCodec
from .ids import TrackKind

H264_PROFILE_LEVEL_ID = "42e01f"


def preferred_codecs(kind: TrackKind, video_codec: VideoCodec) -> list[RTCRtpCodecCapability]:
    """The codecs a transceiver of `kind` may negotiate: Opus, or the room's video codec + RTX."""
    capabilities = RTCRtpSender.getCapabilities(kind.value).codecs
    if kind is TrackKind.AUDIO:
        return [c for c in capabilities if c.mimeType.lower() == "audio/opus"]
    wanted = f"video/{video_codec}".lower()
    chosen = [
        c
        for c in capabilities
        if c.mimeType.lower() == wanted
        and (
            video_codec != "H264"
            or (
                c.parameters.get("profile-level-id") == H264_PROFILE_LEVEL_ID
                and str(c.parameters.get("packetization-mode")) == "1"
            )
        )
    ]
    rtx = [c for c in capabilities if c.mimeType.lower() == "video/rtx"]
    return chosen + rtx


def pin_codecs(transceiver: RTCRtpTransceiver, kind: TrackKind, video_codec: VideoCodec) -> None:
    transceiver.setCodecPreferences(preferred_codecs(kind, video_codec))


def required_mime_type(kind: TrackKind, video_codec: VideoCodec) -> str:
    """The codec an answer must accept on an m-line of `kind` (lower case)."""
    return "audio/opus" if kind is TrackKind.AUDIO else f"video/{video_codec}".lower()


def vp8_starts_keyframe(payload: bytes) -> bool:
    """Is this RTP payload the first packet of a VP8 keyframe? (RFC 7741 §4.2, RFC 6386 §9.1)"""
    n = len(payload)
    if n < 2:
        return False
    b0 = payload[0]
    if not b0 & 0x10 or b0 & 0x07:  # S=1 and partition index 0: start of the frame
        return False
    pos = 1
    if b0 & 0x80:  # X: extended control bits
        b1 = payload[1]
        pos = 2
        if b1 & 0x80:  # I: picture id, 7 or 15 bits
            if pos >= n:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if b1 & 0x40:  # L: TL0PICIDX
            pos += 1
        if b1 & 0x30:  # T or K: TID/KEYIDX byte
            pos += 1
    return pos < n and not payload[pos] & 0x01  # P bit 0 = keyframe


def h264_starts_keyframe(payload: bytes) -> bool:
    """Does this RTP payload start an IDR picture (or carry its SPS)? (RFC 6184)"""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in (5, 7):
        return True
    if nal == 28:  # FU-A: start bit and the fragmented NAL's type
        return len(payload) > 1 and bool(payload[1] & 0x80) and (payload[1] & 0x1F) in (5, 7)
    if nal == 24:  # STAP-A: any aggregated SPS or IDR
        pos = 1
        while pos + 2 < len(payload):
            size = int.from_bytes(payload[pos : pos + 2], "big")
            if payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
    return False


def starts_keyframe(codec_name: str, payload: bytes) -> bool:
    """Keyframe test for the room's codecs; audio packets are always decodable."""
    name = codec_name.upper()
    if name == "VP8":
        return vp8_starts_keyframe(payload)
    if name == "H264":
        return h264_starts_keyframe(payload)
    return True
