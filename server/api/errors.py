"""One JSON error shape for every 4xx/5xx: a stable code and a message a person can read (pt-BR)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from server.chat.batch import WriterStoppedError
from server.db.errors import is_unreachable

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """Raised by handlers; the middleware turns it into ``{"error": {code, message, details}}``."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def not_found(what: str = "Recurso") -> ApiError:
    return ApiError(404, "not_found", f"{what} não encontrado.")


def forbidden(message: str = "Você não tem permissão para acessar este recurso.") -> ApiError:
    return ApiError(403, "forbidden", message)


def unauthorized(message: str = "Autenticação necessária.") -> ApiError:
    return ApiError(401, "unauthorized", message)


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def db_unavailable() -> ApiError:
    return ApiError(
        503,
        "db_unavailable",
        "Serviço temporariamente indisponível. Nada foi salvo; tente novamente em instantes.",
    )


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> str:
    return json.dumps(
        {"error": {"code": code, "message": message, "details": details or []}},
        ensure_ascii=False,
    )


def error_response(error: ApiError) -> web.Response:
    response = web.Response(
        status=error.status,
        text=error_body(error.code, error.message, error.details),
        content_type="application/json",
    )
    if error.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


# aiohttp's own HTTP errors, given a pt-BR message and a stable code.
_HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Requisição inválida."),
    401: ("unauthorized", "Autenticação necessária."),
    403: ("forbidden", "Acesso negado."),
    404: ("not_found", "Recurso não encontrado."),
    405: ("method_not_allowed", "Método não permitido para este endereço."),
    413: ("payload_too_large", "O corpo da requisição excede o tamanho máximo permitido."),
    415: ("unsupported_media_type", "Tipo de conteúdo não suportado."),
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code, message = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
        return error_response(ApiError(exc.status, code, message))
    except WriterStoppedError:
        # Shutting down mid-write: the client retries with the same id, and the retry tells.
        return error_response(db_unavailable())
    except (DBAPIError, OSError, TimeoutError) as exc:
        if not is_unreachable(exc):
            logger.exception("unhandled database error on %s %s", request.method, request.path)
            return error_response(ApiError(500, "internal_error", "Erro interno. Tente novamente."))
        # The handler's transaction rolled back with the connection: nothing was written.
        logger.warning("database unreachable on %s %s", request.method, request.path)
        return error_response(db_unavailable())
    except Exception:
        # Never leak internals, and never log request bodies (they may hold clinical data).
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal_error", "Erro interno. Tente novamente."))
