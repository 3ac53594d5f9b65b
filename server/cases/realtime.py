"""The ``/cases`` Socket.IO namespace: case chat in real time and per-user case notifications.

Protocol (every ack is ``{"ok": true, ...}`` or ``{"ok": false, "error": {code, message}}``):

- connect with ``auth={"token": <access JWT>}`` (professionals only). The socket joins
  ``user:<professional id>`` and receives ``case_event`` notifications there.
- ``subscribe {case_id, after_id?}`` → ack ``{messages, last_read}``: joins the case room and
  returns everything after ``after_id`` (a reconnecting client passes the last id it saw).
- ``send {case_id, client_msg_id, text, attachment_id?}`` → ack ``{message, created}``. The
  message is committed before the ack and before ``message`` is broadcast to the case room
  (concurrent sends share one transaction: ``server.chat.batch.GroupCommit``).
  Retrying with the same ``client_msg_id`` returns the stored message and broadcasts nothing.
  Above capacity (too many sends waiting for a transaction) the ack is at once
  ``{"ok": false, "error": {"code": "overloaded", ...}}`` and nothing is stored: retry later
  with the same ``client_msg_id``.
- ``read {case_id, last_id}`` → ack ``{last_read}``; ``receipt`` is broadcast to the room.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.auth.tokens import Caller, CallerKind, InvalidTokenError
from server.cases import chat as case_chat
from server.cases.chat_batch import CaseChatBatch
from server.cases.notifications import NAMESPACE, case_room, user_room
from server.cases.service import CaseError
from server.chat import MAX_CLIENT_MSG_ID_CHARS, MAX_TEXT_CHARS, StoredMessage
from server.chat.batch import GroupCommit, WriterStoppedError
from server.chat.fanout import Fanout
from server.db.engine import make_sessions
from server.db.models import Professional
from server.keys import DB_ENGINE, DB_SESSIONS, SETTINGS, SIO, TOKENS

logger = logging.getLogger(__name__)

OVERLOADED_CODE = "overloaded"
OVERLOADED_MESSAGE = "Servidor sobrecarregado; a mensagem será reenviada."
MAX_PENDING_SENDS = 512
"""Sends waiting for a transaction before new ones are refused. A transaction of a full batch
(256) takes ~20–40 ms on PostgreSQL here, so a full queue is about one more such wait."""

DB_UNAVAILABLE = {
    "code": "db_unavailable",
    "message": "Serviço temporariamente indisponível. A mensagem não foi salva; tente de novo.",
}


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    after_id: int | None = Field(default=None, ge=0)


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    client_msg_id: str = Field(min_length=1, max_length=MAX_CLIENT_MSG_ID_CHARS)
    text: str = Field(default="", max_length=MAX_TEXT_CHARS)
    attachment_id: uuid.UUID | None = None


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    last_id: int = Field(ge=0)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def _invalid(exc: ValidationError) -> dict[str, Any]:
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
    return _error("invalid_payload", f"Dados inválidos: {fields}.")


class CasesNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, app: web.Application, fanout: Fanout) -> None:
        super().__init__(NAMESPACE)
        self._app = app
        self._fanout = fanout
        self._people: dict[str, tuple[Caller, str, str | None]] = {}
        "sid → (caller, display name, ip), set on connect: read on every send."

    async def _caller(self, sid: str) -> tuple[Caller, str]:
        caller, name, _ = self._people[sid]
        return caller, name

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._people.pop(sid, None)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "unauthorized", "message": "Autenticação necessária."}
            )
        try:
            caller = self._app[TOKENS].verify_access(token)
        except InvalidTokenError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "unauthorized", "message": "Sessão expirada ou inválida."}
            ) from exc
        if caller.kind is not CallerKind.PROFESSIONAL:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "forbidden", "message": "Restrito a profissionais cadastrados."}
            )
        try:
            async with self._app[DB_SESSIONS]() as db:
                professional = await db.get(Professional, caller.subject_id)
        except (SQLAlchemyError, OSError) as exc:
            raise socketio.exceptions.ConnectionRefusedError(DB_UNAVAILABLE) from exc
        if professional is None or not professional.active:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "unauthorized", "message": "Conta inativa ou inexistente."}
            )
        name = professional.social_name or professional.name
        self._people[sid] = (caller, name, self._environ_ip(sid))
        await self.enter_room(sid, user_room(caller.subject_id))

    async def on_subscribe(self, sid: str, data: Any) -> dict[str, Any]:
        try:
            payload = SubscribeIn.model_validate(data)
        except ValidationError as exc:
            return _invalid(exc)
        caller, _ = await self._caller(sid)
        ip = self._ip(sid)
        try:
            async with self._app[DB_SESSIONS].begin() as db:
                _, messages = await case_chat.read_history(
                    db, caller, payload.case_id, payload.after_id, 500, ip
                )
                out = [case_chat.message_json(m) for m in messages]
        except CaseError as exc:
            return _error(exc.code, exc.message)
        except (SQLAlchemyError, OSError):
            logger.exception("case subscribe failed")
            return {"ok": False, "error": DB_UNAVAILABLE}
        await self.enter_room(sid, case_room(payload.case_id))
        return {"ok": True, "messages": out}

    async def on_send(self, sid: str, data: Any) -> dict[str, Any]:
        try:
            payload = SendIn.model_validate(data)
        except ValidationError as exc:
            return _invalid(exc)
        caller, name, ip = self._people[sid]
        send = case_chat.CaseSend(
            caller,
            name,
            payload.case_id,
            payload.client_msg_id,
            payload.text,
            payload.attachment_id,
            ip,
        )
        try:
            message, created = await self._app[CASE_CHAT_WRITER].submit(send)
        except CaseError as exc:
            return _error(exc.code, exc.message)
        except (SQLAlchemyError, OSError, TimeoutError, WriterStoppedError):
            logger.exception("case message not stored")
            return {"ok": False, "error": DB_UNAVAILABLE}
        body = case_chat.message_json(message)
        # Committed (the writer's transaction is over): only now may anyone hear of it. No
        # await between the commit's wake-up and this write: broadcasts leave in commit order.
        if created:
            await self._fanout.emit(
                "message", body, NAMESPACE, case_room(payload.case_id), skip_sid=sid
            )
        return {"ok": True, "message": body, "created": created}

    async def on_read(self, sid: str, data: Any) -> dict[str, Any]:
        try:
            payload = ReadIn.model_validate(data)
        except ValidationError as exc:
            return _invalid(exc)
        caller, name = await self._caller(sid)
        try:
            async with self._app[DB_SESSIONS].begin() as db:
                _, position = await case_chat.read_up_to(
                    db, caller, name, payload.case_id, payload.last_id
                )
        except CaseError as exc:
            return _error(exc.code, exc.message)
        except (SQLAlchemyError, OSError):
            logger.exception("case read receipt not stored")
            return {"ok": False, "error": DB_UNAVAILABLE}
        await self.emit(
            "receipt",
            {
                "case_id": str(payload.case_id),
                "reader_id": str(caller.subject_id),
                "last_read": position,
            },
            room=case_room(payload.case_id),
        )
        return {"ok": True, "last_read": position}

    def _ip(self, sid: str) -> str | None:
        return self._people[sid][2]

    def _environ_ip(self, sid: str) -> str | None:
        environ = self.server.get_environ(sid, namespace=NAMESPACE) or {}
        request = environ.get("aiohttp.request")
        remote = getattr(request, "remote", None)
        return str(remote)[:45] if remote else None


async def broadcast_message(app: web.Application, case_id: uuid.UUID, body: dict[str, Any]) -> None:
    """A message committed over REST reaches the sockets subscribed to the case."""
    fanout = app.get(CASE_FANOUT)
    if fanout is None:
        return
    try:
        # The same path as the socket sends: one order of broadcasts per case room.
        await fanout.emit("message", body, NAMESPACE, case_room(case_id))
    except Exception:  # delivery is best effort; clients catch up by after_id
        logger.exception("broadcast of a case message failed")


async def broadcast_receipt(
    app: web.Application, case_id: uuid.UUID, reader_id: uuid.UUID, position: int
) -> None:
    sio: Any = app.get(SIO)
    if sio is None:
        return
    await sio.emit(
        "receipt",
        {"case_id": str(case_id), "reader_id": str(reader_id), "last_read": position},
        room=case_room(case_id),
        namespace=NAMESPACE,
    )


class CaseChatWriter(GroupCommit[case_chat.CaseSend, tuple[StoredMessage, bool]]):
    """The process's group-commit writer for case messages, shared by Socket.IO and REST."""


CASE_CHAT_WRITER = web.AppKey("case_chat_writer", CaseChatWriter)
CASE_FANOUT = web.AppKey("case_fanout", Fanout)


def overloaded() -> CaseError:
    """Admission control's refusal: 503 over REST, an ``overloaded`` ack on the socket."""
    return CaseError(503, OVERLOADED_CODE, OVERLOADED_MESSAGE)


def setup_chat_writer(app: web.Application, max_pending: int = MAX_PENDING_SENDS) -> None:
    """One writer per app; at shutdown it finishes the batch in flight before the pool closes.

    On PostgreSQL the writer has a connection of its own in autocommit: each batch is one
    statement that commits on its own (``server.cases.chat_batch``), and no pre-ping: a
    connection the server dropped fails that batch (``db_unavailable``, the clients retry) and
    is replaced for the next one. That keeps a batch at one round trip. Elsewhere (SQLite) a
    batch is one transaction on the app's sessions.
    """
    made: list[async_sessionmaker[AsyncSession]] = []
    engines: list[AsyncEngine] = []

    def sessions() -> async_sessionmaker[AsyncSession]:
        if not made:
            if app[DB_ENGINE].dialect.name == "postgresql":
                engine = create_async_engine(
                    app[SETTINGS].effective_database_url,
                    isolation_level="AUTOCOMMIT",
                    pool_size=1,
                    max_overflow=1,
                )
                engines.append(engine)
                made.append(make_sessions(engine))
            else:
                made.append(app[DB_SESSIONS])
        return made[0]

    writer = CaseChatWriter(
        sessions, CaseChatBatch().flush, max_pending=max_pending, overloaded=overloaded
    )
    app[CASE_CHAT_WRITER] = writer

    async def drain(_: web.Application) -> AsyncIterator[None]:
        yield
        await writer.drain()
        for engine in engines:
            await engine.dispose()

    app.cleanup_ctx.append(drain)


def register(app: web.Application, sio: Any) -> None:
    fanout = Fanout.install(sio)
    app[CASE_FANOUT] = fanout
    sio.register_namespace(CasesNamespace(app, fanout))
