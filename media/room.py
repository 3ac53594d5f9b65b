"""Room: the live media state of one consultation."""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from .config import MediaConfig
from .errors import MediaError, ParticipantClosedError, RoomClosedError
from .ids import CloseReason, ParticipantId, RoomId, TrackKind, TrackSource
from .negotiator import Negotiator
from .observer import NullObserver, RoomObserver
from .participant import Participant
from .publication import Publication
from .stats import MediaStats

logger = logging.getLogger(__name__)


class Room:
    """Live media state of one consultation: who is in it and what they publish.

    The room creates and owns its participants (`connect`) and publications (when a client
    starts sending on a publish slot), and subscribes every participant to everyone else's
    publications. One live connection per participant id: a reconnect replaces the
    previous connection, and a stale connection leaving never removes its replacement.
    """

    def __init__(
        self,
        room_id: RoomId,
        config: MediaConfig,
        observer: RoomObserver | None = None,
        negotiator: Negotiator | None = None,
        on_closed: Callable[[Room], None] | None = None,
    ) -> None:
        self.id = room_id
        self.close_reason: CloseReason | None = None
        self._config = config
        self._observer: RoomObserver = observer or NullObserver()
        self._negotiator = negotiator
        self._on_closed = on_closed
        # participant id -> its live connection
        self._participants: dict[ParticipantId, Participant] = {}
        # (publisher id, source) -> the track it publishes
        self._publications: dict[tuple[ParticipantId, TrackSource], Publication] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._empty_timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._schedule_empty_close()

    def __repr__(self) -> str:
        return f"Room({self.id!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def participants(self) -> Mapping[ParticipantId, Participant]:
        """Read-only view: participant id -> live connection."""
        return types.MappingProxyType(self._participants)

    @property
    def publications(self) -> list[Publication]:
        return list(self._publications.values())

    # ------------------------------------------------------------------ participants

    async def connect(
        self, participant_id: ParticipantId, metadata: Mapping[str, object] | None = None
    ) -> Participant:
        """Create the server side of a new connection, add it, and negotiate its first offer.

        A previous connection of the same participant is closed with reason `replaced`.
        Raises `NegotiationError` (and removes the new connection) if the first offer
        fails, `RoomClosedError` if the room has closed.
        """
        if self._closed:
            raise RoomClosedError(self.id)
        if self._negotiator is None:
            raise MediaError(f"room {self.id!r} has no negotiator")
        self._cancel_empty_close()
        previous = self._participants.get(participant_id)
        if previous is not None:
            await self.leave(previous, CloseReason.REPLACED)
        if self._closed:
            raise RoomClosedError(self.id)
        participant = Participant(
            self, participant_id, metadata or {}, self._config, self._negotiator
        )
        self._participants[participant_id] = participant
        for publication in self._publications.values():
            if publication.publisher_id != participant_id:
                participant._subscribe(publication)
        logger.info("%r: %r connecting", self, participant)
        try:
            await participant.negotiate()
        except MediaError:
            await self.leave(participant, CloseReason.ERROR)
            raise
        if self._participants.get(participant_id) is not participant:
            raise ParticipantClosedError(participant_id)
        await self._notify("participant_joined", self.id, participant_id)
        return participant

    async def leave(self, participant: Participant, reason: CloseReason) -> None:
        """Remove `participant`, unless a newer connection already replaced it."""
        if self._participants.get(participant.id) is not participant:
            await participant.close(reason)  # stale connection: tidy up, touch nothing else
            return
        del self._participants[participant.id]
        for key, publication in list(self._publications.items()):
            if key[0] == participant.id:
                del self._publications[key]
                publication.close(reason)
                await self._notify("track_unpublished", self.id, publication.info, reason)
        await participant.close(reason)
        logger.info("%r: %r left (%s)", self, participant, reason)
        await self._notify("participant_left", self.id, participant.id, reason)
        if not self._participants and not self._closed:
            self._schedule_empty_close()

    async def close(self, reason: CloseReason) -> None:
        """Close every participant with `reason`, then the room. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.close_reason = reason
        self._cancel_empty_close()
        for participant in list(self._participants.values()):
            await self.leave(participant, reason)
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        logger.info("%r closed (%s)", self, reason)
        await self._notify("room_closed", self.id, reason)
        if self._on_closed is not None:
            self._on_closed(self)

    # ------------------------------------------------------------------ publications

    def _sync_publications(self, participant: Participant) -> None:
        """After a negotiation: publish what the client now sends, unpublish what it stopped."""
        if self._closed or self._participants.get(participant.id) is not participant:
            return
        sending = dict(participant._sending_slots())
        for source, transceiver in sending.items():
            key = (participant.id, source)
            if key in self._publications:
                continue
            codec = "opus" if source.kind is TrackKind.AUDIO else self._config.video_codec
            publication = Publication(
                participant.id,
                source,
                transceiver.mid or "",
                transceiver.receiver,
                codec,
                self._config.pli_min_interval_s,
            )
            publication.set_muted(participant.is_muted(source))
            self._publications[key] = publication
            logger.info("%r: %r published", self, publication)
            for other in list(self._participants.values()):
                if other is not participant and other._subscribe(publication):
                    self._spawn(self._renegotiate(other), f"offer to {other.id}")
            self._spawn(self._notify("track_published", self.id, publication.info), "notify")
        for publisher_id, source in list(self._publications):
            if publisher_id == participant.id and source not in sending:
                self._spawn(self._unpublish(participant, source, CloseReason.CLIENT_LEAVE), "unpub")

    async def _unpublish(
        self, participant: Participant, source: TrackSource, reason: CloseReason
    ) -> None:
        if self._participants.get(participant.id) is not participant:
            return
        publication = self._publications.pop((participant.id, source), None)
        if publication is None:
            return
        publication.close(reason)
        await self._notify("track_unpublished", self.id, publication.info, reason)

    async def _set_muted(self, participant: Participant, source: TrackSource, muted: bool) -> None:
        if self._participants.get(participant.id) is not participant:
            raise ParticipantClosedError(participant.id)
        publication = self._publications.get((participant.id, source))
        if publication is not None and publication.muted != muted:
            publication.set_muted(muted)
            await self._notify("track_muted", self.id, publication.info)

    async def _renegotiate(self, participant: Participant) -> None:
        try:
            await participant.negotiate()
        except ParticipantClosedError:
            pass
        except MediaError as exc:
            logger.warning("%r: renegotiation with %r failed: %s", self, participant, exc)
            await self.leave(participant, CloseReason.ERROR)

    # ------------------------------------------------------------------ housekeeping

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], what: str) -> None:
        """Run background work owned by the room; its errors are logged, never raised."""
        task = asyncio.get_running_loop().create_task(coroutine, name=f"{self.id}:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "%r: background task %s failed", self, task.get_name(), exc_info=task.exception()
            )

    async def _notify(self, event: str, *args: Any) -> None:
        try:
            await getattr(self._observer, event)(*args)
        except Exception:
            logger.exception("%r: observer failed on %s", self, event)

    def _schedule_empty_close(self) -> None:
        self._cancel_empty_close()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._empty_timer = loop.call_later(self._config.empty_room_timeout_s, self._empty_timeout)

    def _cancel_empty_close(self) -> None:
        if self._empty_timer is not None:
            self._empty_timer.cancel()
            self._empty_timer = None

    def _empty_timeout(self) -> None:
        self._empty_timer = None
        if not self._participants and not self._closed:
            self._spawn(self.close(CloseReason.EMPTY_TIMEOUT), "empty timeout")

    def stats(self) -> MediaStats:
        s = MediaStats(rooms=1, participants=len(self._participants))
        s.publications = len(self._publications)
        rtts: list[float] = []
        for publication in self._publications.values():
            s.received_packets += publication.tap.packets
            s.received_in_c += publication.tap.fast.taken
            s.nacks_sent += publication.tap.nacks_sent
            s.plis_sent += publication.plis_sent
            s.packets_lost += publication.tap.packets_lost()
        for participant in self._participants.values():
            for subscription in participant.subscriptions:
                tap = subscription.tap
                s.subscriptions += 0 if subscription.vacant else 1
                s.forwarded_packets += tap.packets
                s.forwarded_bytes += tap.octets
                s.send_fallbacks += tap.leg.fallbacks
                s.send_errors += tap.leg.send_errors + tap.leg.protect_errors
                s.nacks_received += tap.nacks
                s.keyframe_requests_received += tap.keyframe_requests
                rtt = tap.rtt()
                if rtt is not None:
                    rtts.append(rtt)
        s.rtt_ms = 1000 * sum(rtts) / len(rtts) if rtts else None
        return s
