"""Password login, refresh-token rotation and logout for professional accounts.

Refresh tokens rotate: each use revokes the presented one and hands out a new one. Presenting
an already-rotated token means it leaked (or a replay), so every refresh token of that
account is revoked and the person must log in again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.passwords import hash_password, verify_password
from server.auth.tokens import Caller, CallerKind, InvalidTokenError, TokenService
from server.db.models import Professional, RefreshToken

# Verifying against a real hash when the CPF is unknown keeps the response time the same,
# so timing does not reveal which CPFs have accounts.
_DUMMY_HASH = hash_password("not-a-real-password-" + uuid.uuid4().hex)


def cpf_fingerprint(cpf: str) -> str:
    """What the audit trail stores for a failed login: never the CPF itself."""
    return "cpf-sha256:" + hashlib.sha256(cpf.encode()).hexdigest()[:16]


def caller_for(professional: Professional) -> Caller:
    return Caller(
        kind=CallerKind.PROFESSIONAL,
        role=professional.role,
        subject_id=professional.id,
        nucleo_id=professional.nucleo_id,
        is_regulador=professional.is_regulador,
    )


@dataclass(frozen=True)
class IssuedSession:
    access_token: str
    refresh_token: str
    expires_in: int
    professional: Professional


async def authenticate(db: AsyncSession, cpf: str, password: str) -> Professional | None:
    professional = await db.scalar(select(Professional).where(Professional.cpf == cpf))
    if professional is None or not professional.active:
        verify_password(_DUMMY_HASH, password)
        return None
    return professional if verify_password(professional.password_hash, password) else None


async def issue_session(
    db: AsyncSession, tokens: TokenService, professional: Professional
) -> IssuedSession:
    refresh, jti, expires = tokens.refresh_token(professional.id)
    db.add(RefreshToken(jti=jti, professional_id=professional.id, expires_at=expires))
    return IssuedSession(
        access_token=tokens.access_token(caller_for(professional)),
        refresh_token=refresh,
        expires_in=int(tokens.access_ttl.total_seconds()),
        professional=professional,
    )


class RefreshRejectedError(Exception):
    def __init__(self, reason: str, professional_id: uuid.UUID | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.professional_id = professional_id


async def rotate(db: AsyncSession, tokens: TokenService, refresh_token: str) -> IssuedSession:
    """Exchange a refresh token for a new pair. On reuse, revoke the whole family first.

    Raises RefreshRejectedError; on ``reused`` the caller must still commit the revocation.
    """
    try:
        professional_id, jti = tokens.verify_refresh(refresh_token)
    except InvalidTokenError as exc:
        raise RefreshRejectedError("invalid") from exc
    now = datetime.now(UTC)
    stored = await db.get(RefreshToken, jti, with_for_update=True)
    if stored is None or stored.professional_id != professional_id:
        raise RefreshRejectedError("invalid")
    if stored.revoked_at is not None:
        await revoke_all(db, professional_id, now)
        raise RefreshRejectedError("reused", professional_id)
    if stored.expires_at <= now:
        raise RefreshRejectedError("invalid")
    professional = await db.get(Professional, professional_id)
    if professional is None or not professional.active:
        raise RefreshRejectedError("invalid")
    stored.revoked_at = now
    return await issue_session(db, tokens, professional)


async def revoke_all(db: AsyncSession, professional_id: uuid.UUID, now: datetime) -> None:
    await db.execute(
        update(RefreshToken)
        .where(RefreshToken.professional_id == professional_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_one(
    db: AsyncSession, tokens: TokenService, professional_id: uuid.UUID, refresh_token: str
) -> bool:
    try:
        owner, jti = tokens.verify_refresh(refresh_token)
    except InvalidTokenError:
        return False
    if owner != professional_id:
        return False
    stored = await db.get(RefreshToken, jti)
    if stored is None:
        return False
    if stored.revoked_at is None:
        stored.revoked_at = datetime.now(UTC)
    return True
