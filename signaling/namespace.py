"""The /consultation Socket.IO namespace: join, WebRTC negotiation, presence, chat.

The wire protocol is docs/PROTOCOL.md; keep the two in step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import socketio
from pydantic import BaseModel, ValidationError

from media import (
    CloseReason,
    MediaConfig,
    MediaError,
    ParticipantId,
    RoomId,
    RoomRegistry,
    TrackSource,
)

from .config import SignalingConfig
from .errors import SignalingError, from_media, from_validation
from .messages import (
    Admit,
    ChatHistory,
    ChatRead,
    ChatSend,
    Empty,
    IceCandidate,
    Join,
    Mute,
    ok,
)
from .negotiator import SocketNegotiator
from .observer import PresenceObserver
from .ports import Admission, ChatStore, HoldReason, Identity, SessionLog
from .rate_limit import TokenBucket
from .roster import MAX_PENDING_CANDIDATES, Roster, Seat

logger = logging.getLogger(__name__)

NAMESPACE = "/consultation"

Session = dict[str, Any]
JoinedHandler = Callable[[str, Session, Roster, Seat, Any], Awaitable[dict[str, Any]]]


def room_key(consultation_id: str) -> str:
    """The Socket.IO room of everyone joined to one consultation."""
    return f"consultation:{consultation_id}"


class ConsultationNamespace(socketio.AsyncNamespace):
    """Socket.IO events for a consultation's video room.

    Namespaces are singletons shared by every socket: per-socket state (identity, joined
    seat, rate bucket) lives in the Socket.IO session; room-level state (who is in the room)
    lives in a `Roster` per consultation. The server is the only SDP offerer; the media
    layer calls back through `SocketNegotiator` and `PresenceObserver`.
    """

    def __init__(
        self,
        media_config: MediaConfig,
        admission: Admission,
        session_log: SessionLog,
        chat: ChatStore,
        config: SignalingConfig | None = None,
    ) -> None:
        super().__init__(NAMESPACE)
        self.config = config or SignalingConfig()
        self._admission = admission
        self._session_log = session_log
        self._chat = chat
        self._rosters: dict[str, Roster] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rooms = RoomRegistry(media_config, PresenceObserver(self), SocketNegotiator(self))
        self._joined_handlers: dict[str, tuple[type[BaseModel], JoinedHandler]] = {
            "ice_candidate": (IceCandidate, self._ice_candidate),
            "mute": (Mute, self._mute),
            "screen_share_start": (Empty, self._screen_share_start),
            "screen_share_stop": (Empty, self._screen_share_stop),
            "chat_send": (ChatSend, self._chat_send),
            "chat_history": (ChatHistory, self._chat_history),
            "chat_read": (ChatRead, self._chat_read),
            "leave": (Empty, self._leave),
            "end": (Empty, self._end),
            "admit": (Admit, self._admit_event),
        }

    # ------------------------------------------------------------------ dispatch

    async def trigger_event(self, event: str, *args: Any) -> Any:
        # connect must keep its own semantics: turning its refusal into an ack would accept it.
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid, data = args[0], args[1:]
        try:
            return await self._dispatch(event, sid, data)
        except SignalingError as exc:
            return exc.ack()
        except ValidationError as exc:
            return from_validation(exc).ack()
        except MediaError as exc:
            logger.info("socket %s: %s refused by media: %s", sid, event, exc)
            return from_media(exc).ack()
        except Exception:
            logger.exception("socket %s: event %s failed", sid, event)
            return SignalingError("internal_error").ack()

    async def _dispatch(self, event: str, sid: str, data: tuple[Any, ...]) -> dict[str, Any]:
        session: Session = await self.get_session(sid)
        bucket = session.get("bucket")
        if isinstance(bucket, TokenBucket) and not bucket.take():
            raise SignalingError("rate_limited")
        if event != "join" and event not in self._joined_handlers:
            raise SignalingError("unknown_event")
        if len(data) > 1:
            raise SignalingError("invalid_payload")
        payload = data[0] if data else {}
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise SignalingError(
                "invalid_payload",
                details=[{"field": "", "code": "model_type", "message": "deve ser um objeto"}],
            )
        if event == "join":
            return await self._join(sid, session, Join.model_validate(payload))
        model, handler = self._joined_handlers[event]
        parsed = model.model_validate(payload)
        roster, seat = self._joined(sid, session)
        return await handler(sid, session, roster, seat, parsed)

    def _joined(self, sid: str, session: Session) -> tuple[Roster, Seat]:
        roster = self._rosters.get(session.get("consultation_id") or "")
        seat = None if roster is None else roster.seats.get(session.get("participant_id") or "")
        if roster is None or seat is None or seat.sid != sid:
            raise SignalingError("not_joined")
        return roster, seat

    def seat(self, consultation_id: str, participant_id: str) -> Seat | None:
        roster = self._rosters.get(consultation_id)
        return None if roster is None else roster.seats.get(participant_id)

    # ------------------------------------------------------------------ connection

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            if not isinstance(token, str) or not token:
                raise SignalingError("token_missing")
            if len(token) > self.config.max_token_chars:
                raise SignalingError("token_invalid")
            identity = await self._admission.admit(token, _remote_ip(environ))
        except SignalingError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.code, exc.as_error()) from exc
        except Exception as exc:
            logger.exception("socket %s: admission failed", sid)
            error = SignalingError("internal_error")
            raise socketio.exceptions.ConnectionRefusedError(error.code, error.as_error()) from exc
        await self.save_session(
            sid,
            {
                "identity": identity,
                "bucket": TokenBucket(self.config.events_per_second, self.config.event_burst),
                "consultation_id": None,
                "participant_id": None,
            },
        )

    async def on_disconnect(self, sid: str, reason: str = "") -> None:
        try:
            session: Session = await self.get_session(sid)
            roster, seat = self._joined(sid, session)
        except (SignalingError, KeyError):
            return
        async with roster.lock:
            if seat.sid != sid or roster.seats.get(seat.participant_id) is not seat:
                return
            seat.sid = None
            seat.presence = "reconnecting"
            seat.grace_timer = asyncio.get_running_loop().call_later(
                self.config.reconnect_grace_s,
                lambda: self._spawn(self._grace_expired(roster, seat), "grace"),
            )
            await self._presence(roster, seat, "reconnecting", reason="disconnected")
        logger.info(
            "consultation %s: participant %s disconnected (%s)",
            roster.consultation_id,
            seat.participant_id,
            reason,
        )

    async def _grace_expired(self, roster: Roster, seat: Seat) -> None:
        async with roster.lock:
            seat.grace_timer = None
            if roster.seats.get(seat.participant_id) is seat and seat.presence == "reconnecting":
                await self._end_stay(roster, seat, CloseReason.DISCONNECTED)

    # ------------------------------------------------------------------ join

    async def _join(self, sid: str, session: Session, payload: Join) -> dict[str, Any]:
        try:
            self._joined(sid, session)
        except SignalingError:
            pass
        else:
            raise SignalingError("already_joined")
        identity: Identity = session["identity"]
        grant = await self._admission.authorize_join(identity, str(payload.consultation_id))
        cid, pid = grant.consultation_id, grant.participant_id
        roster = self._rosters.setdefault(cid, Roster(cid))
        async with roster.lock:
            if roster.ended or self._rosters.get(cid) is not roster:
                raise SignalingError("consultation_closed")
            roster.cancel_empty_timer()
            seat = roster.seats.get(pid)
            reconnected = seat is not None
            if seat is not None:
                seat.cancel_timers()
                if seat.sid is not None and seat.sid != sid:
                    await self._replace_socket(seat.sid, cid)
                seat.sid, seat.presence, seat.grant = sid, "online", grant
                seat.screen_sharing = False
            else:
                seat = roster.seats[pid] = Seat(grant, sid)
                await self._session_log.participant_joined(grant)
            seat.ice_servers = self._admission.ice_servers(grant)
            started_at = grant.started_at
            if grant.is_professional and not roster.started:
                started_at = await self._session_log.consultation_started(cid)
            roster.started = roster.started or grant.is_professional
            roster.started = roster.started or grant.status == "in_progress"
            await self.enter_room(sid, room_key(cid))
            session.update(consultation_id=cid, participant_id=pid)
            await self.save_session(sid, session)

            newly_admitted: list[Seat] = []
            if not seat.admitted:
                seat.hold_reason = await self._hold_reason(roster, seat)
                if seat.hold_reason is None:
                    seat.admitted = True
            if grant.is_professional:
                for other in roster.held():
                    other.hold_reason = await self._hold_reason(roster, other)
                    if other.hold_reason is None:
                        other.admitted = True
                        newly_admitted.append(other)

            await self._presence(roster, seat, "reconnected" if reconnected else "joined")
            if not seat.admitted:
                await self._presence(roster, seat, "waiting", reason=seat.hold_reason)
            for other in newly_admitted:
                await self._presence(roster, other, "admitted", include_self=True)
            chat_last_id = await self._chat.last_id(grant)
            ack = ok(
                consultation_id=cid,
                consultation={
                    "status": "in_progress" if roster.started else grant.status,
                    "started_at": None if started_at is None else started_at.isoformat(),
                    "modality": grant.modality,
                },
                participant_id=pid,
                role=grant.role,
                kind=grant.kind,
                display_name=grant.display_name,
                admitted=seat.admitted,
                hold_reason=seat.hold_reason,
                reconnected=reconnected,
                ice_servers=seat.ice_servers,
                participants=[s.snapshot() for s in roster.seats.values()],
                chat={"last_id": chat_last_id},
            )
            for admitted in ([seat] if seat.admitted else []) + newly_admitted:
                self._start_media(roster, admitted)
        logger.info("consultation %s: participant %s joined (%s)", cid, pid, grant.role)
        return ack

    async def _hold_reason(self, roster: Roster, seat: Seat) -> HoldReason | None:
        if seat.grant.is_professional:
            return None
        if not roster.professional_present():
            return "waiting_for_professional"
        return await self._admission.media_hold(seat.grant)

    async def _replace_socket(self, old_sid: str, consultation_id: str) -> None:
        """Detach an older socket of the same participant: it is told, then no longer joined."""
        await self.emit("replaced", {}, to=old_sid)
        await self.leave_room(old_sid, room_key(consultation_id))
        try:
            old: Session = await self.get_session(old_sid)
        except KeyError:
            return
        old.update(consultation_id=None, participant_id=None)
        await self.save_session(old_sid, old)

    # ------------------------------------------------------------------ media

    def _start_media(self, roster: Roster, seat: Seat) -> None:
        """Open (or replace) the participant's media connection; the first offer follows."""
        seat.media = None
        seat.fresh_connection = True
        seat.pending_candidates.clear()
        seat.media_task = self._spawn(self._connect_media(roster, seat), "media")

    async def _connect_media(self, roster: Roster, seat: Seat) -> None:
        sid = seat.sid
        room = self.rooms.get_or_create(RoomId(roster.consultation_id))
        try:
            participant = await room.connect(
                ParticipantId(seat.participant_id),
                metadata={"display_name": seat.grant.display_name, "role": seat.grant.role},
            )
        except MediaError as exc:
            if roster.seats.get(seat.participant_id) is seat and seat.sid == sid and sid:
                logger.info(
                    "consultation %s: media of %s failed: %s",
                    roster.consultation_id,
                    seat.participant_id,
                    exc,
                )
                await self.emit("media_error", from_media(exc).as_error(), to=sid)
                await self._presence(roster, seat, "media_failed", reason=exc.code)
            return
        current = roster.seats.get(seat.participant_id) is seat and seat.sid == sid
        if not current or not seat.admitted or seat.media_task is not asyncio.current_task():
            # The stay ended, the consent was revoked, or a newer connection started while this
            # one negotiated (a newer one has already replaced it in the room).
            if roster.seats.get(seat.participant_id) is not seat:
                await room.leave(participant, CloseReason.CLIENT_LEAVE)
            elif not seat.admitted:
                await room.leave(participant, CloseReason.CONSENT_REVOKED)
            return
        seat.media = participant
        for source, muted in seat.muted.items():
            if muted:
                await participant.set_muted(source, True)
        pending, seat.pending_candidates = seat.pending_candidates, []
        for candidate in pending:
            try:
                await participant.add_ice_candidate(
                    candidate.candidate or None, candidate.sdp_mid, candidate.sdp_mline_index
                )
            except MediaError as exc:
                logger.info(
                    "participant %s: buffered candidate refused: %s", seat.participant_id, exc
                )

    async def media_closed(
        self, consultation_id: str, participant_id: str, reason: CloseReason
    ) -> None:
        """The media layer closed a participant's connection (observer callback)."""
        seat = self.seat(consultation_id, participant_id)
        if seat is None or seat.media is None or not seat.media.closed:
            return
        seat.media = None
        roster = self._rosters[consultation_id]
        if reason in (CloseReason.ERROR, CloseReason.DISCONNECTED) and seat.sid is not None:
            error = SignalingError("negotiation_failed")
            await self.emit("media_error", error.as_error(), to=seat.sid)
            await self._presence(roster, seat, "media_failed", reason=reason.value)

    async def screen_share_ended(self, consultation_id: str, participant_id: str) -> None:
        seat = self.seat(consultation_id, participant_id)
        if seat is not None and seat.screen_sharing:
            seat.screen_sharing = False
            await self._presence(self._rosters[consultation_id], seat, "screen_share")

    async def _ice_candidate(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: IceCandidate
    ) -> dict[str, Any]:
        if not seat.admitted:
            raise SignalingError("not_admitted")
        if payload.sdp_mid is None and payload.sdp_mline_index is None:
            raise SignalingError("invalid_candidate")
        if seat.media is None:
            if len(seat.pending_candidates) >= MAX_PENDING_CANDIDATES:
                raise SignalingError("invalid_candidate")
            seat.pending_candidates.append(payload)
            return ok(buffered=True)
        await seat.media.add_ice_candidate(
            payload.candidate or None, payload.sdp_mid, payload.sdp_mline_index
        )
        return ok()

    async def _mute(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: Mute
    ) -> dict[str, Any]:
        source = TrackSource(payload.source)
        seat.muted[source] = payload.muted
        if seat.media is not None:
            await seat.media.set_muted(source, payload.muted)
        await self._presence(roster, seat, "muted")
        return ok()

    def _media_of(self, seat: Seat) -> Any:
        if not seat.admitted:
            raise SignalingError("not_admitted")
        if seat.media is None:
            raise SignalingError("media_not_ready")
        return seat.media

    async def _screen_share_start(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: Empty
    ) -> dict[str, Any]:
        await self._media_of(seat).request_screen_share()
        seat.screen_sharing = True
        await self._presence(roster, seat, "screen_share")
        return ok()

    async def _screen_share_stop(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: Empty
    ) -> dict[str, Any]:
        await self._media_of(seat).stop_screen_share()
        if seat.screen_sharing:
            seat.screen_sharing = False
            await self._presence(roster, seat, "screen_share")
        return ok()

    # ------------------------------------------------------------------ chat

    async def _chat_send(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: ChatSend
    ) -> dict[str, Any]:
        # The store commits before returning: nobody hears of a message that could be lost.
        entry, created = await self._chat.append(seat.grant, payload.client_msg_id, payload.text)
        message = entry.as_dict()
        if created:
            await self.emit(
                "chat_message",
                {"message": message},
                room=room_key(roster.consultation_id),
                skip_sid=sid,
            )
        return ok(message=message, created=created)

    async def _chat_history(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: ChatHistory
    ) -> dict[str, Any]:
        entries = await self._chat.history(seat.grant, payload.after_id, payload.limit + 1)
        return ok(
            messages=[entry.as_dict() for entry in entries[: payload.limit]],
            has_more=len(entries) > payload.limit,
        )

    async def _chat_read(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: ChatRead
    ) -> dict[str, Any]:
        position = await self._chat.mark_read(seat.grant, payload.last_id)
        await self.emit(
            "chat_read",
            {"participant_id": seat.participant_id, "last_read_id": position},
            room=room_key(roster.consultation_id),
            skip_sid=sid,
        )
        return ok(last_read_id=position)

    # ------------------------------------------------------------------ leave, end, admit

    async def _leave(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: Empty
    ) -> dict[str, Any]:
        async with roster.lock:
            if roster.seats.get(seat.participant_id) is seat and seat.sid == sid:
                await self._end_stay(roster, seat, CloseReason.CLIENT_LEAVE)
        await self.leave_room(sid, room_key(roster.consultation_id))
        session.update(consultation_id=None, participant_id=None)
        await self.save_session(sid, session)
        return ok()

    async def _end_stay(self, roster: Roster, seat: Seat, reason: CloseReason) -> None:
        """One participant's stay ends (caller holds the roster lock)."""
        del roster.seats[seat.participant_id]
        seat.cancel_timers()
        room = self.rooms.get(RoomId(roster.consultation_id))
        # Also covers a connection still in its first negotiation (seat.media not set yet).
        live = None if room is None else room.participants.get(ParticipantId(seat.participant_id))
        seat.media = None
        if room is not None and live is not None:
            await room.leave(live, reason)
        await self._session_log.participant_left(seat.grant, reason.value)
        await self._presence(roster, seat, "left", reason=reason.value)
        logger.info(
            "consultation %s: participant %s left (%s)",
            roster.consultation_id,
            seat.participant_id,
            reason,
        )
        if not roster.seats and roster.started and not roster.ended:
            roster.empty_timer = asyncio.get_running_loop().call_later(
                self.config.empty_end_timeout_s,
                lambda: self._spawn(self._empty_expired(roster), "empty"),
            )

    async def _empty_expired(self, roster: Roster) -> None:
        async with roster.lock:
            roster.empty_timer = None
            if not roster.seats and not roster.ended:
                await self._end_consultation(roster, "empty", None)

    async def _end(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: Empty
    ) -> dict[str, Any]:
        if not seat.grant.is_professional:
            raise SignalingError("forbidden")
        async with roster.lock:
            if roster.ended:
                raise SignalingError("consultation_closed")
            ended_at = await self._end_consultation(
                roster, "ended_by_professional", seat.participant_id
            )
        return ok(ended_at=ended_at)

    async def _end_consultation(self, roster: Roster, reason: str, by: str | None) -> str:
        """End the consultation for everyone (caller holds the roster lock)."""
        cid = roster.consultation_id
        ended_at = (await self._session_log.consultation_ended(cid, reason)).isoformat()
        roster.ended = True
        roster.cancel_empty_timer()
        await self.emit(
            "ended", {"reason": reason, "by": by, "ended_at": ended_at}, room=room_key(cid)
        )
        for seat in list(roster.seats.values()):
            seat.cancel_timers()
            if seat.sid is not None:
                await self._replace_socket_quietly(seat.sid, cid)
        roster.seats.clear()
        await self.rooms.close(RoomId(cid), CloseReason.CONSULTATION_ENDED)
        if self._rosters.get(cid) is roster:
            del self._rosters[cid]
        logger.info("consultation %s ended (%s)", cid, reason)
        return ended_at

    async def _replace_socket_quietly(self, sid: str, consultation_id: str) -> None:
        await self.leave_room(sid, room_key(consultation_id))
        try:
            session: Session = await self.get_session(sid)
        except KeyError:
            return
        session.update(consultation_id=None, participant_id=None)
        await self.save_session(sid, session)

    async def _admit_event(
        self, sid: str, session: Session, roster: Roster, seat: Seat, payload: Admit
    ) -> dict[str, Any]:
        # Anyone may ask for their own re-check (the patient just consented in the browser);
        # only professionals may ask for someone else's.
        if not seat.grant.is_professional and str(payload.participant_id) != seat.participant_id:
            raise SignalingError("forbidden")
        async with roster.lock:
            target = roster.seats.get(str(payload.participant_id))
            if target is None:
                raise SignalingError("participant_not_found")
            if not target.admitted:
                target.hold_reason = await self._hold_reason(roster, target)
                if target.hold_reason == "consent_required":
                    raise SignalingError("consent_required")
                if target.hold_reason is None:
                    await self._admit(roster, target)
        return ok(admitted=target.admitted)

    async def refresh_admission(self, consultation_id: str) -> None:
        """Re-check every non-professional seat now: the server just recorded a consent decision.

        Held participants whose consent is now on file are admitted; an admitted patient whose
        consent was revoked goes back to the waiting room and their media is closed.
        """
        roster = self._rosters.get(consultation_id)
        if roster is None:
            return
        async with roster.lock:
            for seat in list(roster.seats.values()):
                if seat.grant.is_professional:
                    continue
                hold = await self._hold_reason(roster, seat)
                if not seat.admitted and hold is None:
                    await self._admit(roster, seat)
                elif not seat.admitted:
                    seat.hold_reason = hold
                elif hold == "consent_required":
                    await self._hold(roster, seat, hold)

    async def _hold(self, roster: Roster, seat: Seat, reason: HoldReason) -> None:
        """Send an admitted participant back to the waiting room (consent revoked)."""
        seat.admitted = False
        seat.hold_reason = reason
        seat.screen_sharing = False
        seat.media = None
        room = self.rooms.get(RoomId(roster.consultation_id))
        live = None if room is None else room.participants.get(ParticipantId(seat.participant_id))
        if room is not None and live is not None:
            await room.leave(live, CloseReason.CONSENT_REVOKED)
        await self._presence(roster, seat, "waiting", reason=reason, include_self=True)

    async def _admit(self, roster: Roster, seat: Seat) -> None:
        seat.admitted = True
        seat.hold_reason = None
        await self._presence(roster, seat, "admitted", include_self=True)
        if seat.sid is not None:
            self._start_media(roster, seat)

    # ------------------------------------------------------------------ plumbing

    async def _presence(
        self,
        roster: Roster,
        seat: Seat,
        kind: str,
        *,
        reason: str | None = None,
        include_self: bool = False,
    ) -> None:
        await self.emit(
            "presence",
            {"type": kind, "participant": seat.snapshot(), "reason": reason},
            room=room_key(roster.consultation_id),
            skip_sid=None if include_self else seat.sid,
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        """Background work owned by the namespace; failures are logged, never lost."""
        task = asyncio.get_running_loop().create_task(coroutine, name=f"signaling:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("signaling task %s failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        """Shutdown: stop timers and background work, close every media room."""
        for roster in self._rosters.values():
            roster.cancel_empty_timer()
            for seat in roster.seats.values():
                seat.cancel_timers()
        for task in list(self._tasks):
            task.cancel()
        await self.rooms.close_all(CloseReason.SERVER_SHUTDOWN)
        self._rosters.clear()


def _remote_ip(environ: dict[str, Any]) -> str | None:
    request = environ.get("aiohttp.request")
    remote = getattr(request, "remote", None) or environ.get("REMOTE_ADDR")
    return str(remote) if remote else None
