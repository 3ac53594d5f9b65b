"""Request parsing: JSON bodies and query strings validated by pydantic models."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from server.api.errors import ApiError

M = TypeVar("M", bound=BaseModel)

_PT_MESSAGES = {
    "missing": "campo obrigatório",
    "extra_forbidden": "campo não permitido",
    "string_too_long": "texto longo demais",
    "string_too_short": "texto curto demais",
    "uuid_parsing": "identificador inválido",
    "timezone_aware": "data e hora precisam de fuso horário",
    "enum": "valor não permitido",
    "literal_error": "valor não permitido",
}


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors(include_url=False, include_input=False):
        kind = str(err.get("type", ""))
        message = err.get("ctx", {}).get("pt") if isinstance(err.get("ctx"), dict) else None
        details.append(
            {
                "field": ".".join(str(part) for part in err.get("loc", ())),
                "code": kind,
                "message": message or _PT_MESSAGES.get(kind, str(err.get("msg", "valor inválido"))),
            }
        )
    return details


def invalid_payload(exc: ValidationError) -> ApiError:
    return ApiError(422, "invalid_payload", "Dados inválidos.", validation_details(exc))


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Validate the JSON body against ``model``; 400 for bad JSON, 422 for bad content."""
    if request.content_type not in ("application/json", ""):
        raise ApiError(415, "unsupported_media_type", "Envie o corpo em JSON (application/json).")
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", "O corpo da requisição não é um JSON válido.") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "O corpo da requisição deve ser um objeto JSON.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_payload(exc) from exc


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise invalid_payload(exc) from exc


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError as exc:
        raise ApiError(404, "not_found", "Recurso não encontrado.") from exc
