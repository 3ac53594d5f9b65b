"""Login (CPF + password), refresh-token rotation, logout and ``/api/me``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from server.api.errors import ApiError, unauthorized
from server.api.fields import Cpf
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body
from server.audit import record_audit, request_ip
from server.auth.caller import require_caller
from server.auth.login import (
    RefreshRejectedError,
    authenticate,
    cpf_fingerprint,
    issue_session,
    revoke_all,
    revoke_one,
    rotate,
)
from server.auth.rate_limit import LOGIN_LIMITER
from server.auth.tokens import CallerKind
from server.db.models import AccountRole, ConsultationParticipant, Professional
from server.keys import DB_SESSIONS, TOKENS

routes = web.RouteTableDef()
TAG = "auth"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cpf: Cpf
    password: str = Field(min_length=1, max_length=200)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=2000)


class LogoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str | None = Field(default=None, max_length=2000)


class UserOut(BaseModel):
    id: uuid.UUID
    name: str
    role: AccountRole
    council_label: str
    nucleo_id: uuid.UUID | None
    ponto_id: uuid.UUID | None
    is_regulador: bool

    @classmethod
    def of(cls, professional: Professional) -> UserOut:
        return cls(
            id=professional.id,
            name=professional.social_name or professional.name,
            role=professional.role,
            council_label=professional.council_label,
            nucleo_id=professional.nucleo_id,
            ponto_id=professional.ponto_id,
            is_regulador=professional.is_regulador,
        )


class SessionOut(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserOut


class MeOut(BaseModel):
    kind: CallerKind
    role: AccountRole
    user: UserOut | None = None
    "Professionals and gestores."
    consultation_id: uuid.UUID | None = None
    "Invite sessions (patients, guests): the consultation they were invited to."
    participant_id: uuid.UUID | None = None
    display_name: str | None = None


def _too_many() -> ApiError:
    return ApiError(
        429, "too_many_attempts", "Muitas tentativas de entrada. Aguarde um minuto e tente de novo."
    )


def _bad_credentials() -> ApiError:
    return ApiError(401, "invalid_credentials", "CPF ou senha incorretos.")


@endpoint(
    routes, "POST", "/api/auth/login", summary="Entrar com CPF e senha", tag=TAG,
    body=LoginIn, response=SessionOut, auth=False,
)  # fmt: skip
async def login(request: web.Request) -> web.Response:
    body = await parse_body(request, LoginIn)
    ip = request_ip(request) or "unknown"
    allowed = await request.app[LOGIN_LIMITER].hit(f"ip:{ip}", f"cpf:{cpf_fingerprint(body.cpf)}")
    sessions = request.app[DB_SESSIONS]
    if not allowed:
        async with sessions.begin() as db:
            record_audit(
                db, None, "login_failed", "session", request=request, outcome="rate_limited",
                actor_kind="anonymous", actor_id=cpf_fingerprint(body.cpf),
            )  # fmt: skip
        raise _too_many()
    async with sessions.begin() as db:
        professional = await authenticate(db, body.cpf, body.password)
        if professional is not None:
            issued = await issue_session(db, request.app[TOKENS], professional)
            record_audit(
                db, None, "login", "session", professional.id, nucleo_id=professional.nucleo_id,
                request=request, actor_kind="professional", actor_id=str(professional.id),
            )  # fmt: skip
            return json_response(
                SessionOut(
                    access_token=issued.access_token,
                    refresh_token=issued.refresh_token,
                    expires_in=issued.expires_in,
                    user=UserOut.of(professional),
                )
            )
    async with sessions.begin() as db:
        record_audit(
            db, None, "login_failed", "session", request=request, outcome="denied",
            actor_kind="anonymous", actor_id=cpf_fingerprint(body.cpf),
        )  # fmt: skip
    raise _bad_credentials()


@endpoint(
    routes, "POST", "/api/auth/refresh", summary="Renovar a sessão (o refresh token gira)",
    tag=TAG, body=RefreshIn, response=SessionOut, auth=False,
)  # fmt: skip
async def refresh(request: web.Request) -> web.Response:
    body = await parse_body(request, RefreshIn)
    sessions = request.app[DB_SESSIONS]
    reused: uuid.UUID | None = None
    async with sessions.begin() as db:
        try:
            issued = await rotate(db, request.app[TOKENS], body.refresh_token)
        except RefreshRejectedError as exc:
            if exc.reason != "reused":
                raise unauthorized("Sessão expirada ou inválida. Entre novamente.") from exc
            reused = exc.professional_id
            # Fall through: the family revocation must commit before we answer 401.
            record_audit(
                db, None, "refresh_reused", "session", request=request, outcome="denied",
                actor_kind="professional", actor_id=str(reused),
            )  # fmt: skip
        else:
            return json_response(
                SessionOut(
                    access_token=issued.access_token,
                    refresh_token=issued.refresh_token,
                    expires_in=issued.expires_in,
                    user=UserOut.of(issued.professional),
                )
            )
    raise ApiError(
        401,
        "refresh_reused",
        "Esta sessão foi encerrada por segurança (token reutilizado). Entre novamente.",
    )


@endpoint(
    routes, "POST", "/api/auth/logout", summary="Sair: revoga o refresh token (ou todos)",
    tag=TAG, body=LogoutIn, status=204,
)  # fmt: skip
async def logout(request: web.Request) -> web.Response:
    caller = require_caller(request)
    body = await parse_body(request, LogoutIn) if request.body_exists else LogoutIn()
    if caller.kind is not CallerKind.PROFESSIONAL:
        # Invite sessions hold no refresh token: their access token simply expires.
        return web.Response(status=204)
    async with request.app[DB_SESSIONS].begin() as db:
        if body.refresh_token:
            await revoke_one(db, request.app[TOKENS], caller.subject_id, body.refresh_token)
        else:
            await revoke_all(db, caller.subject_id, datetime.now(UTC))
        record_audit(db, caller, "logout", "session", caller.subject_id, request=request)
    return web.Response(status=204)


@endpoint(routes, "GET", "/api/me", summary="Quem sou eu", tag=TAG, response=MeOut)
async def me(request: web.Request) -> web.Response:
    caller = require_caller(request)
    async with request.app[DB_SESSIONS].begin() as db:
        if caller.kind is CallerKind.PROFESSIONAL:
            professional = await db.get(Professional, caller.subject_id)
            if professional is None or not professional.active:
                raise unauthorized("Conta desativada. Procure o gestor do seu Núcleo.")
            return json_response(
                MeOut(kind=caller.kind, role=caller.role, user=UserOut.of(professional))
            )
        participant = await db.get(ConsultationParticipant, caller.subject_id)
        if participant is None or participant.removed_at is not None:
            raise unauthorized("Este convite não é mais válido.")
        return json_response(
            MeOut(
                kind=caller.kind,
                role=caller.role,
                consultation_id=participant.consultation_id,
                participant_id=participant.id,
                display_name=participant.display_name,
            )
        )
