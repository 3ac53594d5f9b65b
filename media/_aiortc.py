"""Every use of aiortc and aioice internals, in one place, checked against aiortc 1.16.

aiortc has no public API for forwarding RTP without decoding it (FINDINGS.md §2(b) in the
media-relay research). This module reaches below the public surface:

* `ReceiverTap` replaces one publisher receiver's `_handle_rtp_packet` with a lean handler
  (RR statistics, RTX unwrap, NACK generation, REMB; no depacketizing, no jitter buffer, no
  decoder work) and hands each packet to a callback.
* `SenderTap` writes already-serialised RTP straight into one subscriber sender's transport:
  it feeds the sender's history (so the stock NACK -> RTX `_retransmit` works), keeps its SR
  counters truthful, SRTP-protects and calls the ICE pair's UDP `sendto` without awaiting.
* `restrict_host_addresses` makes ICE gather on given addresses (aioice skips loopback).

`ensure_supported_aiortc()` asserts the version and that every private name used here
exists; `RoomRegistry` calls it at start-up so an aiortc upgrade fails loudly, not subtly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import socket
import struct
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Final

import aioice
import aioice.stun
import aiortc
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtcrtpreceiver import NackGenerator, StreamStatistics
from aiortc.rtcrtpsender import RTT_ALPHA
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTP_HISTORY_SIZE,
    HeaderExtensionsMap,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpSdesPacket,
    RtcpSourceInfo,
    RtpPacket,
    pack_remb_fci,
    unpack_remb_fci,
    unwrap_rtx,
)
from aiortc.stats import RTCRemoteInboundRtpStreamStats, RTCStatsReport
from pylibsrtp import SRTP_MAX_TRAILER_LEN, Session
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from .errors import UnsupportedAiortcError
from .quietlane import quiet_lane
from .rtcpscan import PLI as RTCP_PLI
from .rtcpscan import REMB as RTCP_REMB
from .rtcpscan import RR as RTCP_RR
from .rtcpscan import scan as scan_rtcp
from .ticker import Periodic, ticker

try:
    from ._fanout import (
        EXT_ABS_SEND_TIME,
        EXT_AUDIO_LEVEL,
        EXT_TEXT,
        EXT_THREE_BYTES,
        EXT_TWO_BYTES,
        SRTP_TRAILER,
        Inbound,
        Inlet,
        Leg,
        RembEstimator,
        forward,
        read_datagrams,
        unprotect,
    )
    from ._fanout import HISTORY_SIZE as LEG_HISTORY_SIZE

    FANOUT_IMPORT_ERROR: ImportError | None = None
except ImportError as exc:  # not built: ensure_supported_aiortc() says how to build it
    FANOUT_IMPORT_ERROR = exc

logger = logging.getLogger(__name__)

SUPPORTED_AIORTC: Final = "1.16."
SUPPORTED_AIOICE: Final = "0.13."

RECEIVER_INTERNALS: Final = (
    "_enabled",
    "_handle_rtp_packet",
    "_send_rtcp",
    "_send_rtcp_nack",
    "_send_rtcp_pli",
    "_RTCRtpReceiver__codecs",
    "_RTCRtpReceiver__rtx_ssrc",
    "_RTCRtpReceiver__remote_streams",
    "_RTCRtpReceiver__nack_generator",
    "_RTCRtpReceiver__active_ssrc",
    "_RTCRtpReceiver__rtcp_ssrc",
)
SENDER_INTERNALS: Final = (
    "_ssrc",
    "_handle_rtcp_packet",
    "_rtx_ssrc",
    "_send_keyframe",
    "_retransmit",
    "_RTCRtpSender__started",
    "_RTCRtpSender__rtp_history",
    "_RTCRtpSender__rtp_header_extensions_map",
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__packet_count",
    "_RTCRtpSender__rtt",
    "_RTCRtpSender__rtcp_started",
    "_RTCRtpSender__rtcp_exited",
    "_RTCRtpSender__cname",
    "_RTCRtpSender__lsr",
    "_RTCRtpSender__lsr_time",
    "_RTCRtpSender__stats",
    "_RTCRtpSender__kind",
    "_run_rtcp",
    "_send_rtcp",
)
TRANSCEIVER_INTERNALS: Final = ("_codecs", "_headerExtensions")
DTLS_INTERNALS: Final = (
    "_state",
    "_tx_srtp",
    "_rx_srtp",
    "_rtp_router",
    "_rtp_header_extensions_map",
    "_RTCDtlsTransport__rx_bytes",
    "_RTCDtlsTransport__rx_packets",
    "_RTCDtlsTransport__tx_bytes",
    "_RTCDtlsTransport__tx_packets",
    "_get_stats",
)
ROUTER_INTERNALS: Final = ("register_receiver", "unregister_receiver")
STREAM_STATISTICS_INTERNALS: Final = (
    # read and written by the C ingest (media/_ingest.c)
    "max_seq",
    "cycles",
    "packets_received",
    "_jitter_q4",
    "_last_arrival",
    "_last_timestamp",
    "_clockrate",
)
NACK_GENERATOR_INTERNALS: Final = ("max_seq", "missing")
ICE_CONNECTION_INTERNALS: Final = (
    "_nominated",
    "_query_consent_task",
    "build_request",
    "query_consent",
    "remote_password",
    "_protocols",
    "data_received",
    "get_component_candidates",
)

_CONNECTED: Final = State.CONNECTED
_pending: set[asyncio.Future[None]] = set()  # fire-and-forget RTCP sends, kept referenced
_NTP_EPOCH_OFFSET: Final = 2208988800  # seconds from 1900-01-01 to 1970-01-01
REMB_MIN_INTERVAL_MS: Final = 200
SRTP_PROTECT_TYPE: Final = "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)"

SR_INTERVAL_S: Final = {"audio": 5.0, "video": 1.0}
"Mean RTCP sender-report interval per kind (libwebrtc's; aiortc uses 1 s for both)."
_SR: Final = struct.Struct("!BBHIQIII")  # V=2 RC=0, PT=200, length 6, SSRC, sender info

HeaderTemplate = tuple[bytes, int, int]
"A leg's serialised RTP header, and the offset and length of its variable extension bytes."

__all__ = ["forward"]  # the C fan-out, re-exported for media.publication


# --------------------------------------------------------------------------- self-test


@dataclass
class InternalsSample:
    """One object of each kind whose private attributes this module relies on."""

    receiver: object
    sender: object
    transceiver: object
    dtls_transport: object
    ice_connection: object


def _sample() -> InternalsSample:
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("video", direction="sendrecv")
    dtls = transceiver.sender.transport
    return InternalsSample(
        receiver=transceiver.receiver,
        sender=transceiver.sender,
        transceiver=transceiver,
        dtls_transport=dtls,
        ice_connection=dtls.transport.iceGatherer._connection,
    )


def ensure_supported_aiortc(sample: InternalsSample | None = None) -> None:
    """Fail loudly unless aiortc/aioice are the versions, with the internals, we were built on.

    `sample` lets a test hand in objects; by default real ones are built (no network used).
    """
    if not aiortc.__version__.startswith(SUPPORTED_AIORTC):
        raise UnsupportedAiortcError(
            f"media was checked against aiortc {SUPPORTED_AIORTC}x, found {aiortc.__version__}"
        )
    if not aioice.__version__.startswith(SUPPORTED_AIOICE):
        raise UnsupportedAiortcError(
            f"media was checked against aioice {SUPPORTED_AIOICE}x, found {aioice.__version__}"
        )
    s = sample or _sample()
    missing = [
        f"{type(obj).__name__}.{name}"
        for obj, names in (
            (s.receiver, RECEIVER_INTERNALS),
            (s.sender, SENDER_INTERNALS),
            (s.transceiver, TRANSCEIVER_INTERNALS),
            (s.dtls_transport, DTLS_INTERNALS),
            (s.ice_connection, ICE_CONNECTION_INTERNALS),
            (getattr(s.dtls_transport, "_rtp_router", None), ROUTER_INTERNALS),
            (StreamStatistics(90000), STREAM_STATISTICS_INTERNALS),
            (NackGenerator(), NACK_GENERATOR_INTERNALS),
            (HeaderExtensionsMap(), ("configure", "_HeaderExtensionsMap__ids")),
        )
        for name in names
        if not hasattr(obj, name)
    ]
    if missing:
        raise UnsupportedAiortcError(
            "aiortc internals the SFU relies on are missing: " + ", ".join(missing)
        )
    if RTP_HISTORY_SIZE != 128:
        raise UnsupportedAiortcError(f"unexpected RTP_HISTORY_SIZE {RTP_HISTORY_SIZE}")
    ensure_fanout_extension()


def ensure_fanout_extension() -> None:
    """The C fan-out is built and agrees with aiortc and pylibsrtp on what it relies on."""
    if FANOUT_IMPORT_ERROR is not None:
        raise UnsupportedAiortcError(
            "the C extension media._fanout is not built (run scripts/setup, or "
            f"`python setup.py build_ext --inplace`): {FANOUT_IMPORT_ERROR}"
        )
    if LEG_HISTORY_SIZE != RTP_HISTORY_SIZE:
        raise UnsupportedAiortcError("media._fanout's history ring differs from aiortc's")
    if SRTP_TRAILER != SRTP_MAX_TRAILER_LEN:
        raise UnsupportedAiortcError(
            f"pylibsrtp's SRTP_MAX_TRAILER_LEN is {SRTP_MAX_TRAILER_LEN}, media._fanout "
            f"reserves {SRTP_TRAILER}"
        )
    for function in (srtp_lib.srtp_protect, srtp_lib.srtp_unprotect):
        found = srtp_ffi.getctype(srtp_ffi.typeof(function))
        if found != SRTP_PROTECT_TYPE:  # both are called through this one C signature
            raise UnsupportedAiortcError(f"pylibsrtp's srtp_(un)protect is {found}")
    if not hasattr(Session(), "_srtp"):
        raise UnsupportedAiortcError("pylibsrtp's Session has no _srtp")


# --------------------------------------------------------------------------- ICE


def restrict_host_addresses(pc: RTCPeerConnection, addresses: Iterable[str]) -> None:
    """Make every ICE transport of `pc` gather host candidates on `addresses` only.

    aioice asks the interfaces itself and skips 127.0.0.1; the address list is a setting of
    the deployment (`MediaConfig.host_addresses`). Call before `setLocalDescription`;
    idempotent, and applies to transports created since the last call.
    """
    wanted = list(addresses)
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport.iceGatherer._connection
        if getattr(connection, "_telessaude_addresses", None) == wanted:
            continue
        original = type(connection).get_component_candidates

        async def gather(
            component: int,
            addresses: list[str],
            timeout: int = 5,  # noqa: ASYNC109 (aioice's signature)
            *,
            _connection: Any = connection,
            _original: Any = original,
        ) -> Any:
            return await _original(_connection, component, wanted, timeout)

        connection.get_component_candidates = gather  # type: ignore[method-assign]
        connection._telessaude_addresses = wanted  # type: ignore[attr-defined]


CONSENT_INTERVAL_S = 5.0
"Mean time between consent checks (RFC 7675: 4-6 s), as aioice."
CONSENT_RETRANSMISSIONS = 2
"Retransmissions of a consent check (0.5, 1 then 2 s apart); aioice sends none."
CONSENT_TIMEOUT_S = 30.0
"Consent expires this long after the last answered check (RFC 7675), not after 6 misses."


def tolerate_consent_losses(pc: RTCPeerConnection) -> None:
    """Make every ICE connection of `pc` check consent as browsers do.

    aioice sends one unretransmitted check every ~5 s and closes the connection after 6
    unanswered ones in a row; a busy process (ours or the peer's) loses a few and drops a
    healthy publisher about 30 s in. Here each check is retransmitted and consent expires
    only `CONSENT_TIMEOUT_S` after the last answer. Call before the connection starts
    (before the first `setRemoteDescription`); idempotent.
    """
    for transceiver in pc.getTransceivers():
        connection = transceiver.receiver.transport.transport.iceGatherer._connection
        if getattr(connection, "_telessaude_consent", False):
            continue
        connection._telessaude_consent = True  # type: ignore[attr-defined]

        async def query_consent(connection: Any = connection) -> None:
            await _query_consent(connection)

        connection.query_consent = query_consent  # type: ignore[method-assign]


async def _query_consent(connection: Any) -> None:
    """aioice's consent task, run from the shared timer (`media.ticker`): each connection keeps
    its own jittered 4-6 s deadline, but checks due together go out in one wake-up."""
    assert connection.remote_password is not None
    key = connection.remote_password.encode("utf8")
    loop = asyncio.get_running_loop()
    answered = loop.time()
    expired: asyncio.Future[None] = loop.create_future()
    checking: dict[Any, asyncio.Task[None]] = {}

    async def check(pair: Any) -> None:
        nonlocal answered
        request = connection.build_request(pair, nominate=False)
        try:
            await pair.protocol.request(
                request,
                pair.remote_addr,
                integrity_key=key,
                retransmissions=CONSENT_RETRANSMISSIONS,
            )
            answered = loop.time()
        except aioice.stun.TransactionError:
            pass
        finally:
            checking.pop(pair, None)

    def due(now: float) -> float | None:
        if now - answered > CONSENT_TIMEOUT_S:
            if not expired.done():
                expired.set_result(None)
            return None
        for pair in list(connection._nominated.values()):
            if pair not in checking:  # a check still retransmitting is not doubled
                checking[pair] = asyncio.ensure_future(check(pair))
        return now + CONSENT_INTERVAL_S * (0.8 + 0.4 * random.random())

    job = Periodic(due, loop.time() + CONSENT_INTERVAL_S * (0.8 + 0.4 * random.random()))
    shared = ticker()
    shared.add(job)
    try:
        await expired
    finally:  # expired, or cancelled by the connection's close
        shared.discard(job)
        for task in list(checking.values()):
            task.cancel()
    logger.info("ICE consent expired (%.0f s unanswered)", CONSENT_TIMEOUT_S)
    connection._query_consent_task = None
    await connection.close()


# --------------------------------------------------------------------------- negotiated params


def negotiated_payload_types(transceiver: RTCRtpTransceiver) -> tuple[int, int | None]:
    """(media PT, RTX PT or None) this transceiver negotiated; PTs differ between peers."""
    codecs = transceiver._codecs
    media = codecs[0]
    assert media.payloadType is not None
    rtx = next(
        (
            c.payloadType
            for c in codecs
            if is_rtx(c) and c.parameters.get("apt") == media.payloadType
        ),
        None,
    )
    return media.payloadType, rtx


def negotiated_codec_names(transceiver: RTCRtpTransceiver) -> list[str]:
    return [c.mimeType for c in transceiver._codecs]


# --------------------------------------------------------------------------- ingest


RtpCallback = Callable[[RtpPacket], None]


class ReceiverTap:
    """Lean replacement for one `RTCRtpReceiver._handle_rtp_packet`.

    Keeps what the publisher needs from us (RR statistics, NACKs, REMB for its bandwidth
    estimate) and hands every media packet, RTX already unwrapped, to `on_packet`. The
    decoder thread that `receive()` starts never gets any work.

    Once a media packet went through here, `FastIngest` lets the C ingest take the stream's
    next in-order packets (`fast`, a `media._fanout.Inbound`): it keeps the same statistics
    and NACK state, counts into `fast`, calls `_frame_ended` per frame for REMB and forwards
    to `fast.legs` (which the publication sets) instead of calling `on_packet`.
    """

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        on_packet: RtpCallback,
        *,
        remb: bool = True,
        remb_cap: Callable[[], int | None] | None = None,
    ) -> None:
        self.receiver = receiver
        self._remb_cap = remb_cap
        self._on_packet = on_packet
        self._codecs = receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
        self._rtx_ssrc = receiver._RTCRtpReceiver__rtx_ssrc  # type: ignore[attr-defined]
        self._streams: dict[int, StreamStatistics] = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
        self._nack = receiver._RTCRtpReceiver__nack_generator  # type: ignore[attr-defined]
        # aiortc's RemoteBitrateEstimator, in C (media/_remb.c): the same estimates
        self._estimator = RembEstimator() if remb else None
        self._active = receiver._RTCRtpReceiver__active_ssrc  # type: ignore[attr-defined]
        self.media_ssrc: int | None = None
        self.codec_name: str | None = None
        self.clock_rate = 90000
        self.fast = Inbound()
        "The C ingest's state for this stream; also where the counters below live."
        self.fast_allowed = True
        "False keeps every packet in Python (`drop_incoming_rtp`)."
        self.nacks_sent = 0
        self.remb_bps: int | None = None
        self.rembs_sent = 0
        self._remb_sent_ms = -(10**9)
        self._codec_info: dict[int, tuple[Any, bool, str]] = {}  # PT -> codec, is RTX, name
        # the transport looks the handler up on the instance at call time
        receiver._handle_rtp_packet = self._handle_rtp_packet  # type: ignore[method-assign]
        receiver._telessaude_tap = self  # type: ignore[attr-defined]
        FastIngest.install(receiver.transport)

    @property
    def packets(self) -> int:
        """Packets accepted (RTX repairs included), by either path."""
        return self.fast.packets

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        # the stock path (DTLS receive task), used until the fast path is live
        self.handle(packet, arrival_time_ms)

    def handle(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """Account for one RTP packet and hand it on; synchronous (`FastIngest` calls it
        straight from the socket callback). RTCP it triggers is sent in the background."""
        receiver = self.receiver
        if not receiver._enabled:
            return
        try:
            abs_send_time = packet.extensions.abs_send_time
            if self._estimator is not None and abs_send_time is not None:
                # The estimator groups packets sent within 5 ms (a frame's burst) anyway;
                # feeding it once per frame (marker bit) with the frame's size gives it the
                # same groups at a third of the cost (it was a quarter of ingest CPU).
                self.fast.remb_bytes += len(packet.payload) + packet.padding_size
                if packet.marker:
                    self._frame_ended(abs_send_time, arrival_time_ms, packet.ssrc)
            codec = self._codecs.get(packet.payload_type)
            if codec is None:
                return
            # is_rtx()/codec.name lower-case the MIME type on every call: once per codec
            info = self._codec_info.get(packet.payload_type)
            if info is None or info[0] is not codec:
                info = self._codec_info[packet.payload_type] = (codec, is_rtx(codec), codec.name)
            stats = self._streams.get(packet.ssrc)
            if stats is None:
                stats = self._streams[packet.ssrc] = StreamStatistics(codec.clockRate)
                self._active[packet.ssrc] = aiortc.clock.current_datetime()
            stats.add(packet)
            if info[1]:
                original_ssrc = self._rtx_ssrc.get(packet.ssrc)
                apt = codec.parameters.get("apt")
                if original_ssrc is None or len(packet.payload) < 2 or apt not in self._codecs:
                    return
                packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
                codec = self._codecs[apt]
                codec_name = codec.name
            else:
                self.media_ssrc = packet.ssrc
                codec_name = info[2]
            nack = self._nack
            if nack is not None:
                highest = nack.max_seq
                if (
                    highest is not None
                    and not nack.missing
                    and packet.sequence_number == (highest + 1) & 0xFFFF
                ):
                    # in order with nothing missing: what NackGenerator.add would do,
                    # without its truncate() pass
                    nack.max_seq = packet.sequence_number
                elif nack.add(packet):
                    self.nacks_sent += 1
                    _background(receiver._send_rtcp_nack(packet.ssrc, sorted(nack.missing)))
            self.codec_name = codec_name
            self.clock_rate = codec.clockRate
            self.fast.packets += 1
            self._on_packet(packet)
        except Exception:
            # never let a bad packet kill the receive path
            logger.exception("ReceiverTap(%s) dropped a packet it could not handle", id(self))

    def _frame_ended(self, abs_send_time: int, arrival_time_ms: int, ssrc: int) -> None:
        """A frame's last packet arrived: feed its size to the REMB estimator (the C ingest
        does this itself and calls `_estimated_in_c` when there is an estimate)."""
        assert self._estimator is not None
        estimate = self._estimator.add(arrival_time_ms, abs_send_time, self.fast.remb_bytes, ssrc)
        self.fast.remb_bytes = 0
        if estimate is not None:
            self._estimated(*estimate, arrival_time_ms)

    def _estimated(self, bitrate: int, ssrcs: list[int], arrival_time_ms: int) -> None:
        # the estimator answers every 500 ms, and every frame while it sees overuse: throttle
        # here, before a task is created for a REMB that would not be sent
        if self._remb_due(bitrate, arrival_time_ms):
            _background(self._send_remb(bitrate, ssrcs, arrival_time_ms))

    def _estimated_in_c(self, bitrate: int, ssrcs: list[int], arrival_time_ms: int) -> None:
        try:
            self._estimated(bitrate, ssrcs, arrival_time_ms)
        except Exception:
            logger.exception("ReceiverTap(%s) could not send its REMB estimate", id(self))

    def arm(self, packet: RtpPacket) -> bool:
        """Let the C ingest take the next in-order packets of `packet`'s stream, if it is the
        media stream this tap just handled; True when armed."""
        stats = self._streams.get(packet.ssrc)
        if (
            not self.fast_allowed
            or not self.receiver._enabled
            or packet.ssrc != self.media_ssrc
            or stats is None
            or self._codec_info.get(packet.payload_type, (None, True))[1]  # RTX or unknown
        ):
            return False
        self.fast.arm(
            packet.ssrc,
            packet.payload_type,
            stats._clockrate,
            stats,
            self._nack,
            self._estimator,
            self._estimated_in_c,
        )
        return True

    def _capped(self, bitrate: int) -> int:
        # no simulcast: the publisher must fit the weakest subscriber's link
        cap = self._remb_cap() if self._remb_cap is not None else None
        return cap if cap is not None and cap < bitrate else bitrate

    def _remb_due(self, bitrate: int, now_ms: int) -> bool:
        """aiortc's estimator answers every frame while it sees overuse; like libwebrtc,
        send at most every 200 ms unless the estimate drops by more than 3 %."""
        if now_ms - self._remb_sent_ms >= REMB_MIN_INTERVAL_MS or self.remb_bps is None:
            return True
        return self._capped(bitrate) < 0.97 * self.remb_bps

    async def _send_remb(self, bitrate: int, ssrcs: list[int], now_ms: int) -> None:
        rtcp_ssrc = self.receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]
        if rtcp_ssrc is None:
            return
        bitrate = self._capped(bitrate)
        if not self._remb_due(bitrate, now_ms):
            return
        self.remb_bps = bitrate
        self._remb_sent_ms = now_ms
        self.rembs_sent += 1
        await self.receiver._send_rtcp(
            RtcpPsfbPacket(
                fmt=RTCP_PSFB_APP,
                ssrc=rtcp_ssrc,
                media_ssrc=0,
                fci=pack_remb_fci(bitrate, ssrcs),
            )
        )

    def request_keyframe(self) -> bool:
        """Send a PLI for the media SSRC (rate limiting is the caller's job)."""
        ssrc = self.media_ssrc
        if ssrc is None:
            return False
        _background(self.receiver._send_rtcp_pli(ssrc))
        return True

    def packets_lost(self) -> int:
        return sum(max(s.packets_lost, 0) for s in self._streams.values())


def _background(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run an RTCP send without awaiting it, keeping the task referenced until done."""
    task = asyncio.ensure_future(coroutine)
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def run_eagerly(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run `coroutine` now, up to its first real suspension (then finish it in a task).

    aiortc's RTCP handlers are coroutines that almost never suspend (their sends end in a
    synchronous `transport.sendto`); running them inline saves a queue hop and a task
    wake-up per packet. An exception is logged: it must not stop the receive path.
    """
    try:
        yielded = coroutine.send(None)
    except StopIteration:
        return
    except Exception:
        logger.exception("RTCP handling failed")
        return
    _background(_resume(coroutine, yielded))


async def _resume(coroutine: Coroutine[Any, Any, None], yielded: Any) -> None:
    """Drive a coroutine that suspended outside a task, the way a task would."""
    while True:
        if yielded is None:
            await asyncio.sleep(0)
        else:
            # the coroutine awaits this future and reads its outcome itself when resumed
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await yielded
        try:
            yielded = coroutine.send(None)
        except StopIteration:
            return


def ntp_ms() -> int:
    """aiortc's `clock.current_ms()` (milliseconds since 1900), without going through datetime."""
    return int((time.time() + _NTP_EPOCH_OFFSET) * 1000)


READ_BATCH: Final = 16
ARRIVAL_STAMPS: list[float] | None = None
"""Diagnostics (`bench.sfu`): when a list, ICE sockets set up afterwards ask the kernel for each
datagram's arrival time (SO_TIMESTAMPNS), and [0] holds that of the datagram being handled (wall
clock), so the time a packet spends in the SFU can be measured. The kernel turns stamping on
shortly after the first socket asks (a deferred switch): datagrams before that are stamped when
read."""
_SO_TIMESTAMPNS: Final = 35  # Linux; also the control message's type (SCM_TIMESTAMPNS)
QUIET_AFTER_S = 2.0
"A connection that received no RTP for this long has its sockets read in the quiet lane."


def batch_reads(transport: Any) -> None:
    """Read up to READ_BATCH datagrams per readiness of an ICE socket, not one, in C.

    asyncio's datagram transport reads one datagram per event-loop iteration; a video frame
    arrives as a burst of packets on one socket, so each costs a whole iteration (epoll,
    ready queue, handle). `media._fanout.read_datagrams` reads them in a loop, and when the
    socket's protocol has a `FastIngest`, its C ingest takes the steady-state RTP without a
    bytes object or a Python call; everything else reaches the protocol's `datagram_received`
    (or `FastIngest.take_plain`). Same outcomes as `_SelectorDatagramTransport._read_ready`.
    """
    if transport is None or getattr(transport, "_telessaude_batched", False):
        return
    loop: Any = getattr(transport, "_loop", None)
    sock = getattr(transport, "_sock", None)
    if sock is None or not hasattr(loop, "_add_reader"):
        return  # not asyncio's selector transport: keep its own reading
    lane = quiet_lane(loop)
    shared = ticker()
    stamps = ARRIVAL_STAMPS
    if stamps is not None:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    ingest: FastIngest | None = getattr(transport._protocol, "_telessaude_ingest", None)
    inlet = ingest.inlet if ingest is not None else None
    plain = ingest.take_plain_now if ingest is not None else None

    def deliver(data: bytes, addr: Any) -> None:
        transport._protocol.datagram_received(data, addr)

    def read_batch() -> None:
        budget = READ_BATCH
        while budget > 0:
            if transport._conn_lost:
                return
            # a callback's exception propagates, as from asyncio's own reader
            read = read_datagrams(fd, budget, deliver, inlet, plain, stamps)
            if type(read) is not int:  # the socket's error (ICMP unreachable...)
                transport._protocol.error_received(read)
                return
            if read < 0:  # drained
                return
            budget -= read

    def read_ready() -> None:
        read_batch()
        # the loop is awake anyway: read the quiet sockets' feedback and run the reports
        # and consent checks that are due, instead of waking up again for them
        lane.maybe_drain()
        shared.maybe_run()

    if transport._conn_lost:
        return
    fd = sock.fileno()
    loop._remove_reader(fd)
    loop._add_reader(fd, read_ready)
    transport._telessaude_batched = True
    transport._telessaude_readers = (read_batch, read_ready)


_EXT_ABS_SEND_TIME, _EXT_AUDIO_LEVEL, _EXT_MID, _EXT_TRANSPORT_SEQ = 0, 1, 2, 3
_EXT_TOFFSET, _EXT_RID, _EXT_RRID = 4, 5, 6
_EXT_ORDER: Final = (
    _EXT_MID,
    _EXT_RRID,
    _EXT_RID,
    _EXT_ABS_SEND_TIME,
    _EXT_TOFFSET,
    _EXT_AUDIO_LEVEL,
    _EXT_TRANSPORT_SEQ,
)
"aiortc's HeaderExtensionsMap.get tests ids in this order (indices into FastIngest's key)."
_C_EXT_KIND: Final = {
    _EXT_ABS_SEND_TIME: EXT_ABS_SEND_TIME,
    _EXT_AUDIO_LEVEL: EXT_AUDIO_LEVEL,
    _EXT_MID: EXT_TEXT,
    _EXT_RID: EXT_TEXT,
    _EXT_RRID: EXT_TEXT,
    _EXT_TRANSPORT_SEQ: EXT_TWO_BYTES,
    _EXT_TOFFSET: EXT_THREE_BYTES,
}
"""What the C ingest checks of each extension aiortc parses (the lengths and decodings it
requires)."""


class FastIngest:
    """Delivers SRTP datagrams of one DTLS transport synchronously from the socket callback.

    Stock path per RTP packet: aioice's `datagram_received` tries to parse STUN (raising
    ValueError), queues the datagram, the DTLS transport's task wakes up, demuxes, unprotects,
    parses and awaits the receiver's handler. Here an RTP datagram (first byte 128..191, which
    is never STUN nor DTLS, RFC 7983) is unprotected, parsed, routed and handed to the
    receiver's `ReceiverTap.handle` at once (or, in the steady state, the C ingest `inlet`
    does all of that and the fan-out in one call: media/_ingest.c); an RTCP one is
    unprotected, and a subscriber's usual compound (RR, SDES, PLI, REMB) is read by
    `media.rtcpscan` and handed to the legs (`take_rtcp`), anything else goes through aiortc's
    RTCP handling, run inline (`run_eagerly`). STUN (consent, checks), DTLS and anything
    arriving before SRTP keys exist keep the stock path.

    A connection that has received no RTP for `QUIET_AFTER_S` (a receive-only participant) has
    its sockets read in the quiet lane (`media.quietlane`); its first RTP brings them back.
    """

    __slots__ = (
        "_ext_key",
        "_ext_kinds",
        "_handled_at_check",
        "_rx_address",
        "_rx_session",
        "_take_in_c",
        "dtls",
        "inlet",
        "quiet_transports",
        "rtcp_read",
    )

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self.dtls = dtls
        self.inlet = Inlet()
        "The C ingest of this transport's SRTP (media/_ingest.c)."
        self._take_in_c = self.inlet.take
        self.rtcp_read = 0
        "RTCP compounds read without aiortc's parser (`take_rtcp`)."
        self.quiet_transports: list[Any] = []
        self._handled_at_check = -1
        self._rx_session: Session | None = None  # kept referenced: C unprotects with it
        self._rx_address = 0
        self._ext_key: tuple[Any, ...] | None = None
        self._ext_kinds: dict[int, int] = {}
        self.sync_extensions()

    @property
    def handled(self) -> int:
        """RTP packets routed to a receiver, by either path."""
        return self.inlet.handled

    @property
    def quiet(self) -> bool:
        """The connection's sockets are in the quiet lane (the C ingest then hands every
        packet to Python, which brings them back)."""
        return bool(self.inlet.quiet)

    @quiet.setter
    def quiet(self, value: bool) -> None:
        self.inlet.quiet = value

    def parse(self, data: bytes) -> RtpPacket:
        """`RtpPacket.parse` for the common datagram (no CSRC, one-byte header extensions).

        The same packet and the same errors as aiortc's, without building the list of
        (id, value) pairs and comparing each id against seven name-mangled attributes.
        Anything else (CSRCs, two-byte extensions, malformed) goes to aiortc's parser.
        """
        n = len(data)
        if n < 16 or data[0] & 0xDF != 0x90 or data[12] != 0xBE or data[13] != 0xDE:
            # not V=2, no CSRC, X=1, profile 0xBEDE (P may be set)
            return RtpPacket.parse(data, self.dtls._rtp_header_extensions_map)
        ext_end = 16 + 4 * ((data[14] << 8) | data[15])
        if n < ext_end:
            raise ValueError("RTP packet has truncated extension value")
        kinds = self._kinds()
        b1 = data[1]
        packet = RtpPacket(
            b1 & 0x7F,
            b1 >> 7,
            (data[2] << 8) | data[3],
            int.from_bytes(data[4:8], "big"),
            int.from_bytes(data[8:12], "big"),
        )
        extensions = packet.extensions
        pos = 16
        while pos < ext_end:
            byte = data[pos]
            if byte == 0:  # padding
                pos += 1
                continue
            pos += 1
            end = pos + (byte & 0x0F) + 1
            if end > ext_end:
                raise ValueError("RTP one-byte header extension value is truncated")
            kind = kinds.get(byte >> 4)
            if kind is not None:
                value = data[pos:end]
                if kind == _EXT_ABS_SEND_TIME:
                    if len(value) != 3:
                        raise ValueError("RTP abs-send-time extension is not 3 bytes")
                    extensions.abs_send_time = int.from_bytes(value, "big")
                elif kind == _EXT_AUDIO_LEVEL:
                    extensions.audio_level = (value[0] & 0x80 == 0x80, value[0] & 0x7F)
                elif kind == _EXT_MID:
                    extensions.mid = value.decode("utf8")
                elif kind == _EXT_TRANSPORT_SEQ:
                    if len(value) != 2:
                        raise ValueError("RTP transport-cc extension is not 2 bytes")
                    extensions.transport_sequence_number = int.from_bytes(value, "big")
                elif kind == _EXT_TOFFSET:
                    if len(value) != 3:
                        raise ValueError("RTP toffset extension is not 3 bytes")
                    extensions.transmission_offset = int.from_bytes(value, "big", signed=True)
                elif kind == _EXT_RID:
                    extensions.rtp_stream_id = value.decode("ascii")
                else:
                    extensions.repaired_rtp_stream_id = value.decode("ascii")
            pos = end
        if data[0] & 0x20:
            padding = data[-1]
            if not padding or padding > n - ext_end:
                raise ValueError("RTP packet padding length is invalid")
            packet.padding_size = padding
            packet.payload = data[ext_end:-padding]
        else:
            packet.payload = data[ext_end:]
        return packet

    def _kinds(self) -> dict[int, int]:
        """Extension id -> kind, rebuilt when the negotiated ids change (renegotiation)."""
        ids = self.dtls._rtp_header_extensions_map._HeaderExtensionsMap__ids  # type: ignore[attr-defined]
        key = (
            ids.abs_send_time,
            ids.audio_level,
            ids.mid,
            ids.transport_sequence_number,
            ids.transmission_offset,
            ids.rtp_stream_id,
            ids.repaired_rtp_stream_id,
        )
        if key != self._ext_key:
            kinds: dict[int, int] = {}
            # reversed: where two kinds share an id, aiortc's if-chain order wins
            for kind in reversed(_EXT_ORDER):
                if key[kind] is not None:
                    kinds[key[kind]] = kind
            self._ext_key, self._ext_kinds = key, kinds
        return self._ext_kinds

    def sync_extensions(self) -> None:
        """Tell the C ingest the negotiated one-byte extension ids (after each `configure`)."""
        kinds = bytearray(16)
        for x_id, kind in self._kinds().items():
            if 0 < x_id < 16:
                kinds[x_id] = _C_EXT_KIND[kind]
        self.inlet.set_extensions(bytes(kinds))

    def _on_state(self) -> None:
        if self.dtls._state is not _CONNECTED:
            # no SRTP session to trust: every datagram goes back to the Python checks
            self.inlet.set_srtp(0, 0, None)
            self.inlet.flush()

    def _fold_counters(self) -> None:
        """Add what the C ingest received to the DTLS transport's counters (for getStats)."""
        inlet = self.inlet
        dtls = self.dtls
        dtls._RTCDtlsTransport__rx_bytes += inlet.rx_bytes  # type: ignore[attr-defined]
        dtls._RTCDtlsTransport__rx_packets += inlet.rx_packets  # type: ignore[attr-defined]
        inlet.rx_bytes = inlet.rx_packets = 0

    @classmethod
    def install(cls, dtls: RTCDtlsTransport) -> FastIngest:
        existing: FastIngest | None = getattr(dtls, "_telessaude_ingest", None)
        if existing is not None:
            existing.hook_protocols()
            return existing
        ingest = cls(dtls)
        dtls._telessaude_ingest = ingest  # type: ignore[attr-defined]
        connection = dtls.transport._connection
        data_received = connection.data_received

        def on_data(data: bytes, component: int) -> None:
            # reached by protocols created after install (they parse STUN first)
            if not ingest.receive(data):
                data_received(data, component)

        connection.data_received = on_data  # type: ignore[method-assign]
        ingest._hook_transport()
        ingest.hook_protocols()
        loop = asyncio.get_running_loop()
        ticker().add(Periodic(ingest._check_quiet, loop.time() + QUIET_AFTER_S))
        return ingest

    def _hook_transport(self) -> None:
        """Keep the C ingest in step with the DTLS transport: its routes are dropped whenever
        aiortc's receiver tables change, its extension ids follow each negotiation, its keys
        are forgotten when the transport leaves CONNECTED, and its counters are added to the
        transport's before aiortc reports them."""
        dtls = self.dtls
        router = dtls._rtp_router
        for name in ROUTER_INTERNALS:
            original = getattr(router, name)

            def changed(*args: Any, _original: Any = original, **kwargs: Any) -> None:
                _original(*args, **kwargs)
                self.inlet.flush()

            setattr(router, name, changed)
        extensions = dtls._rtp_header_extensions_map
        configure = extensions.configure

        def configured(parameters: Any) -> None:
            configure(parameters)
            self.sync_extensions()

        extensions.configure = configured  # type: ignore[method-assign]
        dtls.on("statechange", self._on_state)
        get_stats = dtls._get_stats

        def stats() -> RTCStatsReport:
            self._fold_counters()
            return get_stats()

        dtls._get_stats = stats  # type: ignore[method-assign]

    def _transports(self) -> list[Any]:
        found = []
        for protocol in self.dtls.transport._connection._protocols:
            transport = getattr(protocol, "transport", None)
            if transport is not None and hasattr(transport, "_telessaude_readers"):
                found.append(transport)
        return found

    def _check_quiet(self, now: float) -> float | None:
        """Every `QUIET_AFTER_S`: a connected transport that received no RTP goes quiet."""
        state = self.dtls._state
        if state is State.CLOSED or state is State.FAILED:
            self.wake()  # forget its sockets
            return None
        if state is _CONNECTED and not self.quiet and self.handled == self._handled_at_check:
            lane = quiet_lane(asyncio.get_running_loop())
            self.quiet_transports = self._transports()
            for transport in self.quiet_transports:
                lane.admit(transport, *transport._telessaude_readers)
            self.quiet = True
        self._handled_at_check = self.handled
        return now + QUIET_AFTER_S

    def wake(self) -> None:
        """RTP arrived (or the transport closed): the sockets go back to the event loop."""
        self.quiet = False
        lane = quiet_lane(asyncio.get_running_loop())
        for transport in self.quiet_transports:
            lane.release(transport)
        self.quiet_transports = []

    def hook_protocols(self) -> None:
        """Short-cut each ICE socket protocol's `datagram_received` (before its STUN parse)."""
        for protocol in self.dtls.transport._connection._protocols:
            if getattr(protocol, "_telessaude_ingest", None) is self:
                continue
            original = protocol.datagram_received
            receive = self.receive

            def datagram_received(
                data: bytes,
                addr: tuple[Any, ...],
                _receive: Any = receive,
                _original: Any = original,
            ) -> None:
                if not _receive(data):
                    _original(data, addr)

            protocol.datagram_received = datagram_received  # type: ignore[method-assign,assignment]
            protocol._telessaude_ingest = self  # type: ignore[attr-defined]
            batch_reads(getattr(protocol, "transport", None))

    def take_rtcp(self, data: bytes) -> bool:
        """Handle a subscriber's usual compound (RR, SDES, PLI, REMB for our legs) without
        aiortc's parser; False (nothing done) hands it to the stock path.

        Does what aiortc's routing and handlers would: each RR block reaches the sender of
        its SSRC (`ForwardingSender.receiver_report`), a PLI calls the sender's keyframe
        request, a REMB sets the estimate of the legs it names.
        """
        items = scan_rtcp(data)
        if items is None:
            return False
        senders: dict[int, Any] = self.dtls._rtp_router.senders
        actions: list[tuple[ForwardingSender, int, int, Any]] = []
        for kind, first, rest in items:
            ssrcs = rest if kind == RTCP_REMB else (rest[0] if kind == RTCP_RR else rest,)
            for ssrc in ssrcs:
                sender = senders.get(ssrc)
                if sender is None:
                    continue  # aiortc's routing finds no recipient either
                if type(sender) is not ForwardingSender:
                    return False  # a stock sender: aiortc's own handler
                actions.append((sender, kind, first, rest))
        now = time.time()
        for sender, kind, first, rest in actions:
            if kind == RTCP_RR:
                sender.receiver_report(first, rest, now)
            elif kind == RTCP_PLI:
                sender._send_keyframe()
            else:
                sender._telessaude_tap.remb_bps = first
        self.rtcp_read += 1
        return True

    def receive(self, data: bytes) -> bool:
        """Handle `data` if it is SRTP or SRTCP, in C when it can; False hands it to the
        stock path."""
        taken = self._take_in_c(data)
        if taken is True:
            return True
        if taken is False:
            return self.take(data)
        self.take_plain_now(taken)  # unprotected by C, for Python to handle
        return True

    def take(self, data: bytes) -> bool:
        """Handle `data` if it is SRTP or SRTCP in Python; False hands it to the stock path."""
        if not data or not 127 < data[0] < 192:
            return False  # STUN or DTLS
        dtls = self.dtls
        srtp = dtls._rx_srtp
        if srtp is None or dtls._state is not _CONNECTED:
            return False
        arrival_time_ms = ntp_ms()
        dtls._RTCDtlsTransport__rx_bytes += len(data)  # type: ignore[attr-defined]
        dtls._RTCDtlsTransport__rx_packets += 1  # type: ignore[attr-defined]
        if srtp is not self._rx_session:  # once: the session lives as long as the DTLS one
            self._rx_session, self._rx_address = srtp, _srtp_address(srtp)
            self.inlet.set_srtp(SRTP_UNPROTECT_ADDRESS, self._rx_address, srtp)
        if len(data) >= 2 and 191 < data[1] < 209:  # RTCP (RFC 5761)
            report = unprotect(SRTCP_UNPROTECT_ADDRESS, self._rx_address, data)
            if report is not None and not self.take_rtcp(report):
                run_eagerly(dtls._handle_rtcp_data(report))
            return True
        plain = unprotect(SRTP_UNPROTECT_ADDRESS, self._rx_address, data)
        if plain is not None:  # else what the stock path does: drop it
            self.take_plain(plain, arrival_time_ms)
        return True

    def take_plain_now(self, plain: bytes) -> None:
        self.take_plain(plain, ntp_ms())

    def take_plain(self, plain: bytes, arrival_time_ms: int) -> None:
        """Parse, route and handle one unprotected RTP packet; then let the C ingest take
        the stream's next packets if the receiver's tap allows it."""
        try:
            packet = self.parse(plain)
        except ValueError:
            return
        receiver = self.dtls._rtp_router.route_rtp(packet)
        if receiver is None:
            return
        inlet = self.inlet
        inlet.handled += 1
        if inlet.quiet:
            self.wake()
        tap: ReceiverTap | None = getattr(receiver, "_telessaude_tap", None)
        if tap is None:
            _background(receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms))
            return
        tap.handle(packet, arrival_time_ms)
        fast = tap.fast
        if (
            not fast.armed
            or fast.ssrc != packet.ssrc
            or fast.payload_type != packet.payload_type
            or inlet.routes().get(packet.ssrc) is not fast
        ) and tap.arm(packet):
            inlet.route(packet.ssrc, fast)


# --------------------------------------------------------------------------- egress


class _History(dict[int, RtpPacket]):
    """Stands in for `RTCRtpSender.__rtp_history`: reads the C leg's ring of plaintext packets.

    The C fan-out (`media/_fanout.c`) keeps the last 128 packets of the leg; the stock
    `RTCRtpSender._retransmit` calls `.get(seq % 128)` on a NACK and receives a parsed
    `RtpPacket`, which it wraps in RTX as usual.
    """

    __slots__ = ("extensions_map", "leg")

    def __init__(self, extensions_map: HeaderExtensionsMap, leg: Leg) -> None:
        super().__init__()
        self.extensions_map = extensions_map
        self.leg = leg

    def get(self, key: int, default: Any = None) -> Any:
        entry = self.leg.history(key)
        if entry is None:
            return default
        return RtpPacket.parse(entry[1], self.extensions_map)


class ForwardingSender(RTCRtpSender):
    """An `RTCRtpSender` whose SR and stats counters live in its C leg.

    `SenderTap` swaps a sender's class to this one: the stock RTCP loop and `getStats` read
    the name-mangled counters, and these data descriptors answer from the leg, so nothing
    is written into the sender per packet. A write (only aiortc's own `_run_rtp` would, and
    it is parked) moves a base so the value read back is the value written.
    """

    _telessaude_leg: Leg
    _telessaude_base: dict[str, int]
    _telessaude_tap: SenderTap
    _telessaude_report: tuple[float, int, int, int, int, int] | None
    "(time, packet SSRC, packets received, lost, jitter, fraction lost) of the latest RR"

    def _read(self, name: str, value: int) -> int:
        return self._telessaude_base.get(name, 0) + value

    def _write(self, name: str, value: int, current: int) -> None:
        self._telessaude_base[name] = value - current

    @property
    def _RTCRtpSender__packet_count(self) -> int:
        return self._read("packets", self._telessaude_leg.packets)

    @_RTCRtpSender__packet_count.setter
    def _RTCRtpSender__packet_count(self, value: int) -> None:
        self._write("packets", value, self._telessaude_leg.packets)

    @property
    def _RTCRtpSender__octet_count(self) -> int:
        return self._read("octets", self._telessaude_leg.octets)

    @_RTCRtpSender__octet_count.setter
    def _RTCRtpSender__octet_count(self, value: int) -> None:
        self._write("octets", value, self._telessaude_leg.octets)

    @property
    def _RTCRtpSender__rtp_timestamp(self) -> int:
        return self._telessaude_leg.rtp_timestamp

    @_RTCRtpSender__rtp_timestamp.setter
    def _RTCRtpSender__rtp_timestamp(self, value: int) -> None:
        pass  # the next forwarded packet sets it

    @property
    def _RTCRtpSender__ntp_timestamp(self) -> int:
        return self._telessaude_leg.ntp_timestamp

    @_RTCRtpSender__ntp_timestamp.setter
    def _RTCRtpSender__ntp_timestamp(self, value: int) -> None:
        pass  # the next forwarded packet sets it

    def receiver_report(
        self, packet_ssrc: int, report: tuple[int, int, int, int, int, int, int], now: float
    ) -> None:
        """One RR block about this leg (`FastIngest.take_rtcp`): what the stock handler does
        (RTT from LSR/DLSR, smoothed the same way); the remote-inbound stats entry it would
        build per report is built when stats are read."""
        _, fraction_lost, packets_lost, _, jitter, lsr, dlsr = report
        if self._RTCRtpSender__lsr == lsr and dlsr:  # type: ignore[attr-defined]
            rtt = now - self._RTCRtpSender__lsr_time - (dlsr / 65536)  # type: ignore[attr-defined]
            previous: float | None = self._RTCRtpSender__rtt  # type: ignore[has-type]
            self._RTCRtpSender__rtt = (
                rtt if previous is None else RTT_ALPHA * previous + (1 - RTT_ALPHA) * rtt
            )
        self._telessaude_report = (
            now,
            packet_ssrc,
            self._RTCRtpSender__packet_count - packets_lost,
            packets_lost,
            jitter,
            fraction_lost,
        )

    async def getStats(self) -> RTCStatsReport:
        report = self._telessaude_report
        if report is not None:
            when, ssrc, received, lost, jitter, fraction_lost = report
            self._RTCRtpSender__stats.add(  # type: ignore[attr-defined]
                RTCRemoteInboundRtpStreamStats(
                    timestamp=datetime.datetime.fromtimestamp(when, datetime.UTC),
                    type="remote-inbound-rtp",
                    id="remote-inbound-rtp_" + str(id(self)),
                    ssrc=ssrc,
                    kind=self._RTCRtpSender__kind,  # type: ignore[attr-defined]
                    transportId=self.transport._stats_id,
                    packetsReceived=received,
                    packetsLost=lost,
                    jitter=jitter,
                    roundTripTime=self._RTCRtpSender__rtt,
                    fractionLost=fraction_lost,
                )
            )
        return await super().getStats()


def _srtp_address(session: Any) -> int:
    """The `srtp_t` inside a pylibsrtp `Session` (the C leg protects with it directly)."""
    return int(srtp_ffi.cast("uintptr_t", session._srtp[0]))


SRTP_PROTECT_ADDRESS: Final = int(
    srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_protect"))
)
SRTP_UNPROTECT_ADDRESS: Final = int(
    srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_unprotect"))
)
SRTCP_UNPROTECT_ADDRESS: Final = int(
    srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_unprotect_rtcp"))
)
SRTCP_PROTECT_ADDRESS: Final = int(
    srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_protect_rtcp"))
)


class SenderTap:
    """Wires one subscriber `RTCRtpSender` to a C leg (`media._fanout.Leg`).

    The sender's track never produces anything, so the stock RTP loop idles while its RTCP
    loop (SR, RR handling, NACK -> RTX) keeps working on what the leg records: history
    through `_History`, counters through `ForwardingSender`. The leg SRTP-protects with the
    DTLS transport's session and sends on the nominated ICE pair's UDP socket.
    """

    __slots__ = (
        "_dtls",
        "_history",
        "_warned",
        "extensions_map",
        "keyframe_requests",
        "leg",
        "nacks",
        "remb_bps",
        "sender",
        "transceiver",
    )

    def __init__(self, transceiver: RTCRtpTransceiver) -> None:
        self.transceiver = transceiver
        self.sender = transceiver.sender
        self.leg = Leg()
        self.extensions_map = self.sender._RTCRtpSender__rtp_header_extensions_map  # type: ignore[attr-defined]
        self._history = _History(self.extensions_map, self.leg)
        self.sender._RTCRtpSender__rtp_history = self._history  # type: ignore[attr-defined]
        if type(self.sender) is RTCRtpSender:
            self.sender._telessaude_leg = self.leg  # type: ignore[attr-defined]
            self.sender._telessaude_base = {}  # type: ignore[attr-defined]
            self.sender._telessaude_tap = self  # type: ignore[attr-defined]
            self.sender._telessaude_report = None  # type: ignore[attr-defined]
            self.sender.__class__ = ForwardingSender
            # before negotiation: RTCRtpSender.send() starts the RTCP task from this name
            self.sender._run_rtcp = self._run_rtcp  # type: ignore[method-assign]
        self._dtls: RTCDtlsTransport | None = None
        self._warned = False
        self.nacks = 0
        self.keyframe_requests = 0
        self.remb_bps: int | None = None
        "The subscriber's latest REMB estimate for this leg (bits/s)."
        handle_rtcp = self.sender._handle_rtcp_packet

        async def handle_rtcp_packet(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                try:
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    return
                if self.sender._ssrc in ssrcs:
                    self.remb_bps = bitrate
                return
            await handle_rtcp(packet)

        self.sender._handle_rtcp_packet = handle_rtcp_packet  # type: ignore[method-assign]

    @property
    def ssrc(self) -> int:
        return self.sender._ssrc

    @property
    def packets(self) -> int:
        return self.leg.packets

    @property
    def octets(self) -> int:
        return self.leg.octets

    def on_keyframe_request(self, callback: Callable[[], None]) -> None:
        """Route PLI/FIR received on this leg to `callback` (the stock one only flags an
        encoder, which a forwarded stream does not have)."""

        def request() -> None:
            self.keyframe_requests += 1
            callback()

        self.sender._send_keyframe = request  # type: ignore[method-assign]
        retransmit = self.sender._retransmit

        async def counting_retransmit(sequence_number: int) -> None:
            self.nacks += 1
            await retransmit(sequence_number)

        self.sender._retransmit = counting_retransmit  # type: ignore[method-assign]

    def ready(self) -> bool:
        """True once the sender was started by negotiation and its DTLS is connected."""
        if self._dtls is not None:
            return self._dtls._state is _CONNECTED
        sender = self.sender
        if not sender._RTCRtpSender__started:  # type: ignore[attr-defined]
            return False
        dtls = sender.transport
        if dtls._state is not _CONNECTED or dtls._tx_srtp is None:
            return False
        self._dtls = dtls
        session = dtls._tx_srtp
        self.leg.set_srtp(SRTP_PROTECT_ADDRESS, _srtp_address(session), session)
        leg = self.leg
        leg.set_liveness(dtls.transport._connection._nominated, self._repoint)
        leg.set_connected(True)

        def on_state() -> None:
            leg.set_connected(dtls._state is _CONNECTED)

        dtls.on("statechange", on_state)
        # the subscriber's RTCP (RR, NACK, PLI) arrives here: take it off the stock path too
        FastIngest.install(dtls)
        return True

    def set_templates(self, without_level: HeaderTemplate, with_level: HeaderTemplate) -> None:
        self.leg.set_templates(*without_level, *with_level)

    def _repoint(self, pair: Any) -> None:
        """Called by the C leg when the nominated ICE pair is not the one it sends on."""
        leg = self.leg
        if pair is None:
            leg.set_socket(None)
            return
        transport: asyncio.DatagramTransport = pair.protocol.transport
        sock = getattr(transport, "_sock", None)
        host, port = pair.remote_addr[0], pair.remote_addr[1]
        addr = (host, port)

        def fallback(data: bytes) -> bool:
            # the socket would block: queue in asyncio's transport, and keep queueing
            # there while it has a backlog so datagrams stay in order
            transport.sendto(data, addr)
            backlog: int = transport.get_write_buffer_size()  # type: ignore[attr-defined]
            return backlog > 0

        try:
            if sock is None:
                raise ValueError("the ICE transport has no socket")
            leg.set_socket(pair, sock, host, port, fallback)
        except (ValueError, OSError) as exc:
            leg.set_socket(pair)  # not sendable: the leg skips until the pair changes
            if not self._warned:
                self._warned = True
                logger.warning("SenderTap(%s) cannot send on %s: %s", id(self), addr, exc)

    def rtt(self) -> float | None:
        rtt: float | None = self.sender._RTCRtpSender__rtt  # type: ignore[attr-defined]
        return rtt

    def sender_report(self) -> bytes:
        """This leg's RTCP SR (no report blocks: the leg receives nothing) from the C leg."""
        leg = self.leg
        return _SR.pack(
            0x80,
            200,
            6,
            self.sender._ssrc,
            leg.ntp_timestamp,
            leg.rtp_timestamp,
            leg.packets & 0xFFFFFFFF,
            leg.octets & 0xFFFFFFFF,
        )

    async def _run_rtcp(self) -> None:
        """Stands in for `RTCRtpSender._run_rtcp`: the same SR + SDES, sent leaner.

        aiortc builds packet objects, serialises them and goes through three coroutines per
        report, on a timer of its own per leg; with dozens of legs that was a sizeable part of
        the SFU's CPU. Reports go out at libwebrtc's intervals (video 1 s, audio 5 s, each
        ×0.5–1.5), serialised with `struct`, protected and sent on the nominated pair, from the
        process's shared timer (`media.ticker`): the legs' reports due together cost one wake-up.
        """
        sender = self.sender
        sender._RTCRtpSender__rtcp_started.set()  # type: ignore[attr-defined]
        interval = SR_INTERVAL_S.get(sender.kind, 1.0)
        cname: str | None = sender._RTCRtpSender__cname  # type: ignore[attr-defined]
        sdes = b""
        if cname is not None:
            sdes = bytes(
                RtcpSdesPacket(
                    chunks=[RtcpSourceInfo(ssrc=sender._ssrc, items=[(1, cname.encode("utf8"))])]
                )
            )

        def report(now: float) -> float:
            self._send_rtcp_now(self.sender_report() + sdes)
            sender._RTCRtpSender__lsr = (self.leg.ntp_timestamp >> 16) & 0xFFFFFFFF  # type: ignore[attr-defined]
            sender._RTCRtpSender__lsr_time = time.time()  # type: ignore[attr-defined]
            return now + interval * (0.5 + random.random())

        loop = asyncio.get_running_loop()
        job = Periodic(report, loop.time() + interval * (0.5 + random.random()))
        shared = ticker()
        shared.add(job)
        try:
            await loop.create_future()  # until the sender stops (it cancels this task)
        except asyncio.CancelledError:
            pass
        finally:
            shared.discard(job)
        await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
        sender._RTCRtpSender__rtcp_exited.set()  # type: ignore[attr-defined]

    def _send_rtcp_now(self, payload: bytes) -> None:
        dtls = self.sender.transport
        if self._dtls is not None:  # the leg is wired: protect and send in C, on its socket
            sent = self.leg.send_rtcp(SRTCP_PROTECT_ADDRESS, payload)
            if sent:
                dtls._RTCDtlsTransport__tx_bytes += sent  # type: ignore[attr-defined]
                dtls._RTCDtlsTransport__tx_packets += 1  # type: ignore[attr-defined]
            return
        if dtls._state is not _CONNECTED or dtls._tx_srtp is None:
            return
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return
        data = dtls._tx_srtp.protect_rtcp(payload)
        pair.protocol.transport.sendto(data, pair.remote_addr)
        dtls._RTCDtlsTransport__tx_bytes += len(data)  # type: ignore[attr-defined]
        dtls._RTCDtlsTransport__tx_packets += 1  # type: ignore[attr-defined]


def ntp_now() -> int:
    """64-bit NTP timestamp from `time.time()` (aiortc's clock goes through datetime)."""
    t = time.time()
    seconds = int(t)
    return ((seconds + _NTP_EPOCH_OFFSET) << 32) | int((t - seconds) * 4294967296.0)


def route_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """PLI/FIR arriving at `sender` call `callback` (used by pre-encoded test publishers)."""
    sender._send_keyframe = callback  # type: ignore[method-assign]


def observe_outgoing_rtp(
    dtls_transport: RTCDtlsTransport, callback: Callable[[bytes], None]
) -> None:
    """Call `callback` with every plaintext RTP/RTCP datagram before SRTP (test publishers)."""
    send = dtls_transport._send_rtp

    async def observed(data: bytes) -> None:
        callback(data)
        await send(data)

    dtls_transport._send_rtp = observed  # type: ignore[method-assign]


def drop_outgoing_rtp(
    dtls_transport: RTCDtlsTransport, should_drop: Callable[[bytes], bool]
) -> None:
    """Drop plaintext RTP/RTCP datagrams before SRTP (a lossy uplink, for test publishers: the
    sender's history already holds a dropped packet, so it can still answer a NACK with RTX)."""
    send = dtls_transport._send_rtp

    async def lossy(data: bytes) -> None:
        if not should_drop(data):
            await send(data)

    dtls_transport._send_rtp = lossy  # type: ignore[method-assign]


def drop_incoming_rtp(receiver: RTCRtpReceiver, should_drop: Callable[[RtpPacket], bool]) -> None:
    """Drop packets before `receiver` handles them (simulated loss on one leg)."""
    tap: ReceiverTap | None = getattr(receiver, "_telessaude_tap", None)
    if tap is not None:  # the Python paths end in tap.handle; the C one is turned off
        tap.fast_allowed = False
        tap.fast.disarm()
        handle_now = tap.handle

        def lossy_now(packet: RtpPacket, arrival_time_ms: int) -> None:
            if not should_drop(packet):
                handle_now(packet, arrival_time_ms)

        tap.handle = lossy_now  # type: ignore[method-assign]
        return
    handle = receiver._handle_rtp_packet

    async def lossy(packet: RtpPacket, arrival_time_ms: int) -> None:
        if not should_drop(packet):
            await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = lossy  # type: ignore[method-assign]
