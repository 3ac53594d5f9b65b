"""Request → Caller: the one place that reads the Authorization header."""

from __future__ import annotations

from aiohttp import web

from server.api.errors import forbidden, unauthorized
from server.auth.tokens import Caller, CallerKind, InvalidTokenError
from server.db.models import AccountRole
from server.keys import TOKENS


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def require_caller(request: web.Request) -> Caller:
    """The verified caller (Bearer access token), or 401 with a pt-BR message."""
    token = bearer_token(request)
    if token is None:
        raise unauthorized()
    try:
        return request.app[TOKENS].verify_access(token)
    except InvalidTokenError as exc:
        raise unauthorized("Sessão expirada ou inválida. Entre novamente.") from exc


def require_professional(request: web.Request, *roles: AccountRole) -> Caller:
    """A logged-in professional account (optionally of one of ``roles``), else 401/403."""
    caller = require_caller(request)
    if caller.kind is not CallerKind.PROFESSIONAL:
        raise forbidden("Esta ação é restrita a profissionais cadastrados.")
    if roles and caller.role not in roles:
        raise forbidden()
    return caller
