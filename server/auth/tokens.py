"""JWTs: short-lived access tokens, rotating refresh tokens, invite-scoped participant tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from server.db.models import AccountRole

ALGORITHM = "HS256"
ISSUER = "telessaude"


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class CallerKind(StrEnum):
    PROFESSIONAL = "professional"
    PATIENT = "patient"
    GUEST = "guest"


class InvalidTokenError(Exception):
    """Expired, forged, malformed or of the wrong type."""


@dataclass(frozen=True)
class Caller:
    """Who is making a request, as proven by a verified access token."""

    kind: CallerKind
    role: AccountRole
    subject_id: uuid.UUID
    "Professional id for professionals; the consultation participant id for invitees."
    nucleo_id: uuid.UUID | None = None
    is_regulador: bool = False
    consultation_id: uuid.UUID | None = None
    "Set for invitees: the one consultation their invite admits them to."
    patient_id: uuid.UUID | None = None
    invite_id: uuid.UUID | None = None

    @property
    def professional_id(self) -> uuid.UUID | None:
        return self.subject_id if self.kind is CallerKind.PROFESSIONAL else None

    @property
    def audit_actor(self) -> tuple[str, str]:
        return self.kind.value, str(self.subject_id)


def hash_invite_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_invite_token() -> str:
    return secrets.token_urlsafe(32)


class TokenService:
    """Mints and verifies every token the server hands out."""

    def __init__(self, secret: str, access_ttl_s: int, refresh_ttl_s: int) -> None:
        self._secret = secret
        self.access_ttl = timedelta(seconds=access_ttl_s)
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def access_token(self, caller: Caller, *, ttl: timedelta | None = None) -> str:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "typ": TokenType.ACCESS.value,
            "sub": str(caller.subject_id),
            "knd": caller.kind.value,
            "rol": caller.role.value,
            "iat": now,
            "exp": now + (ttl or self.access_ttl),
            "jti": secrets.token_hex(8),
        }
        if caller.nucleo_id:
            claims["nuc"] = str(caller.nucleo_id)
        if caller.is_regulador:
            claims["reg"] = True
        if caller.consultation_id:
            claims["cid"] = str(caller.consultation_id)
        if caller.patient_id:
            claims["pat"] = str(caller.patient_id)
        if caller.invite_id:
            claims["inv"] = str(caller.invite_id)
        return self._encode(claims)

    def refresh_token(self, professional_id: uuid.UUID) -> tuple[str, str, datetime]:
        """A refresh token, its id (stored so it can rotate and be revoked) and its expiry."""
        now = datetime.now(UTC)
        jti = secrets.token_hex(16)
        expires = now + self.refresh_ttl
        claims = {
            "iss": ISSUER,
            "typ": TokenType.REFRESH.value,
            "sub": str(professional_id),
            "iat": now,
            "exp": expires,
            "jti": jti,
        }
        return self._encode(claims), jti, expires

    def _decode(self, token: str, expected: TokenType) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "typ", "jti"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        if claims.get("typ") != expected.value:
            raise InvalidTokenError("wrong token type")
        return claims

    def verify_access(self, token: str) -> Caller:
        claims = self._decode(token, TokenType.ACCESS)
        try:
            return Caller(
                kind=CallerKind(claims["knd"]),
                role=AccountRole(claims["rol"]),
                subject_id=uuid.UUID(claims["sub"]),
                nucleo_id=_opt_uuid(claims.get("nuc")),
                is_regulador=bool(claims.get("reg", False)),
                consultation_id=_opt_uuid(claims.get("cid")),
                patient_id=_opt_uuid(claims.get("pat")),
                invite_id=_opt_uuid(claims.get("inv")),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidTokenError("malformed claims") from exc

    def verify_refresh(self, token: str) -> tuple[uuid.UUID, str]:
        claims = self._decode(token, TokenType.REFRESH)
        try:
            return uuid.UUID(claims["sub"]), str(claims["jti"])
        except ValueError as exc:
            raise InvalidTokenError("malformed claims") from exc


def _opt_uuid(value: object) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None
