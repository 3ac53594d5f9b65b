"""Type stub of the C extension media._fanout: the SFU's per-packet fan-out loop (_fanout.c),
the RTP ingest that feeds it (_ingest.c) and its REMB estimator (_remb.c)."""

from collections.abc import Callable
from typing import Any, Final

HISTORY_SIZE: Final[int]
MAX_PLAINTEXT: Final[int]
SRTP_TRAILER: Final[int]
EXT_OTHER: Final[int]
EXT_ABS_SEND_TIME: Final[int]
EXT_AUDIO_LEVEL: Final[int]
EXT_TEXT: Final[int]
EXT_TWO_BYTES: Final[int]
EXT_THREE_BYTES: Final[int]

class Leg:
    """One subscriber leg's state for the C forwarding loop."""

    @property
    def started(self) -> int: ...
    @property
    def connected(self) -> int: ...
    @property
    def packets(self) -> int: ...
    @property
    def octets(self) -> int: ...
    @property
    def rtp_timestamp(self) -> int: ...
    @property
    def ntp_timestamp(self) -> int: ...
    @property
    def fallbacks(self) -> int: ...
    @property
    def send_errors(self) -> int: ...
    @property
    def protect_errors(self) -> int: ...
    @property
    def backlogged(self) -> int: ...
    def set_templates(
        self, t0: bytes, off0: int, len0: int, t1: bytes, off1: int, len1: int, /
    ) -> None: ...
    def start(self, seq_offset: int, ts_offset: int, /) -> None: ...
    def stop(self) -> None: ...
    def set_srtp(self, srtp_protect_address: int, srtp_t_address: int, session: Any, /) -> None: ...
    def set_liveness(
        self, nominated: dict[int, Any], repoint: Callable[[Any], None], /
    ) -> None: ...
    def set_connected(self, connected: bool, /) -> None: ...
    def set_socket(
        self,
        pair: Any,
        sock: Any = None,
        host: str | None = None,
        port: int = 0,
        fallback: Callable[[bytes], bool] | None = None,
        /,
    ) -> None: ...
    def history(self, slot: int, /) -> tuple[int, bytes] | None: ...
    def send_rtcp(self, srtcp_protect_address: int, plaintext: bytes, /) -> int: ...

def forward(
    legs: tuple[Leg, ...],
    sequence_number: int,
    timestamp: int,
    marker: int,
    payload: bytes,
    level: int,
    ntp: int,
    padding: int,
    /,
) -> int: ...
def unprotect(srtp_unprotect_address: int, srtp_t_address: int, data: bytes, /) -> bytes | None:
    """SRTP-unprotect `data` with libsrtp; None if libsrtp refuses it."""

class Inbound:
    """One received stream's state for the C ingest (a ReceiverTap's media SSRC)."""

    legs: tuple[Leg, ...] | None
    packets: int
    remb_bytes: int
    forwarded: int
    last_seq: int
    last_ts: int
    last_wall: float
    @property
    def taken(self) -> int: ...
    @property
    def armed(self) -> int: ...
    @property
    def ssrc(self) -> int: ...
    @property
    def payload_type(self) -> int: ...
    def arm(
        self,
        ssrc: int,
        payload_type: int,
        clock_rate: int,
        stats: Any,
        nack: Any,
        remb: RembEstimator | None,
        on_estimate: Callable[[int, list[int], int], None],
        /,
    ) -> None: ...
    def disarm(self) -> None: ...

class Inlet:
    """One DTLS transport's C ingest of SRTP."""

    quiet: int
    handled: int
    rx_bytes: int
    rx_packets: int
    @property
    def taken(self) -> int: ...
    def take(self, datagram: bytes, /) -> bool | bytes: ...
    def set_srtp(
        self, srtp_unprotect_address: int, srtp_t_address: int, session: Any, /
    ) -> None: ...
    def set_extensions(self, kinds: bytes, /) -> None: ...
    def route(self, ssrc: int, inbound: Inbound, /) -> None: ...
    def flush(self) -> None: ...
    def routes(self) -> dict[int, Inbound]: ...

def set_probe(probe: Callable[[], object] | None, /) -> None:
    """Diagnostics: called after each packet the C ingest forwarded."""

def read_datagrams(
    fd: int,
    budget: int,
    deliver: Callable[[bytes, Any], None],
    inlet: Inlet | None,
    plain: Callable[[bytes], None] | None,
    stamps: list[float] | None,
    /,
) -> int | OSError:
    """Read up to `budget` datagrams; see media/_ingest.c."""

class RembEstimator:
    """aiortc's RemoteBitrateEstimator in C (media/_remb.c)."""

    def add(
        self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int, /
    ) -> tuple[int, list[int]] | None: ...
    def state(self) -> dict[str, Any]: ...
