"""Request parsing: JSON bodies and query strings validated by pydantic models."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from server.api.errors import ApiError

M = TypeVar("M", bound=BaseModel)

# pydantic error types → what a person reads. ``{…}`` fields come from the error's context.
_PT_MESSAGES = {
    "missing": "campo obrigatório",
    "extra_forbidden": "campo não permitido",
    "string_too_long": "texto longo demais (máximo {max_length} caracteres)",
    "string_too_short": "texto curto demais (mínimo {min_length} caracteres)",
    "string_pattern_mismatch": "formato inválido",
    "string_type": "deve ser um texto",
    "too_long": "itens demais (máximo {max_length})",
    "too_short": "itens de menos (mínimo {min_length})",
    "uuid_parsing": "identificador inválido",
    "uuid_type": "identificador inválido",
    "timezone_aware": "data e hora precisam de fuso horário",
    "datetime_parsing": "data e hora inválidas",
    "datetime_type": "data e hora inválidas",
    "datetime_from_date_parsing": "data e hora inválidas",
    "date_parsing": "data inválida",
    "date_type": "data inválida",
    "date_from_datetime_parsing": "data inválida",
    "enum": "valor não permitido",
    "literal_error": "valor não permitido",
    "int_parsing": "deve ser um número inteiro",
    "int_type": "deve ser um número inteiro",
    "int_from_float": "deve ser um número inteiro",
    "float_parsing": "deve ser um número",
    "float_type": "deve ser um número",
    "bool_parsing": "deve ser verdadeiro ou falso",
    "bool_type": "deve ser verdadeiro ou falso",
    "list_type": "deve ser uma lista",
    "dict_type": "deve ser um objeto",
    "model_type": "deve ser um objeto",
    "model_attributes_type": "deve ser um objeto",
    "greater_than": "deve ser maior que {gt}",
    "greater_than_equal": "deve ser maior ou igual a {ge}",
    "less_than": "deve ser menor que {lt}",
    "less_than_equal": "deve ser menor ou igual a {le}",
    "multiple_of": "deve ser múltiplo de {multiple_of}",
    "union_tag_invalid": "tipo não permitido",
    "json_invalid": "JSON inválido",
}


def _message(err: Any) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") if isinstance(err.get("ctx"), dict) else {}
    if "pt" in ctx:
        return str(ctx["pt"])
    if kind == "value_error":
        # Our validators raise ValueError with the pt-BR text; pydantic prefixes it.
        return str(err.get("msg", "valor inválido")).removeprefix("Value error, ")
    template = _PT_MESSAGES.get(kind)
    if template is None:
        return "valor inválido"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split(" (")[0]


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            "code": str(err.get("type", "")),
            "message": _message(err),
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]


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
