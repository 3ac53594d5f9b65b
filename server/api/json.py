"""JSON responses from pydantic models (UTF-8, no ASCII escaping of pt-BR text)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel


def json_response(
    payload: BaseModel | list[Any] | dict[str, Any], status: int = 200
) -> web.Response:
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json()
    else:
        from pydantic import TypeAdapter

        text = TypeAdapter(type(payload)).dump_json(payload).decode()
    return web.Response(text=text, status=status, content_type="application/json")
