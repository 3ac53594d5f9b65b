"""A small registry that builds the OpenAPI 3.1 document from the route declarations.

Each handler is declared once with :func:`endpoint`, which both adds it to the module's
``RouteTableDef`` and records its request/query/response pydantic models, so the document
served at ``/api/openapi.json`` cannot drift from what the handlers actually validate.
(Maintained aiohttp+pydantic-2 OpenAPI libraries either want their own handler style or lag
behind pydantic 2; this is ~150 lines we control.)
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_STATUSES = (400, 401, 403, 404, 409, 410, 413, 415, 422, 429, 503)
JSON = "application/json"
BINARY = {"type": "string", "format": "binary"}


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]]


class ErrorBody(BaseModel):
    """Every 4xx/5xx: a stable ``code`` and a ``message`` a person can read (pt-BR)."""

    error: ErrorInfo


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    tag: str
    body: Any
    query: type[BaseModel] | None
    response: Any
    status: int
    auth: bool
    content_types: tuple[str, ...] = (JSON,)
    body_media: str | None = None
    also: tuple[int, ...] = ()


ENDPOINTS: list[Endpoint] = []


def endpoint(
    routes: web.RouteTableDef,
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"],
    path: str,
    *,
    summary: str,
    tag: str,
    body: Any = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    auth: bool = True,
    content_types: tuple[str, ...] = (JSON,),
    body_media: str | None = None,
    also: tuple[int, ...] = (),
) -> Callable[[Handler], Handler]:
    """Register ``handler`` on ``routes`` and describe it for the OpenAPI document.

    ``content_types``: the success media types; a JSON one (``…/json``, ``…+json``) carries
    ``response``'s schema, any other (PDF, CSV, a download) is described as binary.
    ``body_media``: the request's media type when it is not JSON: ``multipart/form-data``
    with ``body`` describing the parts, or a raw upload (``application/pdf``) without ``body``.
    ``also``: other success statuses with the same content (e.g. 200 for an idempotent retry).
    """

    def register(handler: Handler) -> Handler:
        ENDPOINTS.append(
            Endpoint(
                method,
                path,
                summary,
                tag,
                body,
                query,
                response,
                status,
                auth,
                content_types,
                body_media,
                also,
            )
        )
        routes.route(method, path)(handler)
        return handler

    return register


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, annotation: Any, mode: Literal["validation", "serialization"]) -> Any:
        schema = TypeAdapter(annotation).json_schema(ref_template=REF_TEMPLATE, mode=mode)
        named = schema.pop("$defs", {})
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            named[annotation.__name__] = schema
            schema = {"$ref": REF_TEMPLATE.format(model=annotation.__name__)}
        for name, definition in named.items():
            # Components are keyed by class name: two different models with one name would
            # silently document one of them wrongly.
            if self.schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are named {name!r}: rename one model")
        return schema


_PATH_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


def _operation(endpoint: Endpoint, components: _Components) -> dict[str, Any]:
    error = {
        "description": "Erro com código estável e mensagem em pt-BR.",
        "content": {
            "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="ErrorBody")}}
        },
    }
    responses: dict[str, Any] = {}
    success: dict[str, Any]
    if endpoint.response is None and endpoint.content_types == (JSON,):
        success = {"description": "Sem conteúdo."}
    else:
        content: dict[str, Any] = {}
        for media in endpoint.content_types:
            if _is_json(media) and endpoint.response is not None:
                content[media] = {"schema": components.ref(endpoint.response, "serialization")}
            else:
                content[media] = {"schema": BINARY}
        success = {"description": "Sucesso.", "content": content}
    for status in (endpoint.status, *endpoint.also):
        responses[str(status)] = success
    for status in ERROR_STATUSES:
        if status == 401 and not endpoint.auth:
            continue
        responses[str(status)] = error
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.method.lower()}_{_slug(endpoint.path)}",
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": responses,
    }
    parameters: list[dict[str, Any]] = []
    for name in _PATH_PARAM.findall(endpoint.path):
        schema: dict[str, Any] = {"type": "string"}
        if name == "id" or name.endswith("_id"):
            schema["format"] = "uuid"
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    if endpoint.query is not None:
        query_schema = TypeAdapter(endpoint.query).json_schema(
            ref_template=REF_TEMPLATE, mode="validation"
        )
        components.schemas.update(query_schema.pop("$defs", {}))
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                endpoint.body_media or JSON: {"schema": components.ref(endpoint.body, "validation")}
            },
        }
    elif endpoint.body_media is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {endpoint.body_media: {"schema": BINARY}},
        }
    if endpoint.auth:
        operation["security"] = [{"bearer": []}]
    return operation


def _is_json(media: str) -> bool:
    return media == JSON or media.endswith("+json")


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", _PATH_PARAM.sub(r"\1", path).lower()).strip("_")


def openapi_document(*, title: str, version: str, server_url: str | None = None) -> dict[str, Any]:
    components = _Components()
    components.ref(ErrorBody, "serialization")
    paths: dict[str, dict[str, Any]] = {}
    for item in ENDPOINTS:
        path = _PATH_PARAM.sub(r"{\1}", item.path)
        paths.setdefault(path, {})[item.method.lower()] = _operation(item, components)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


routes = web.RouteTableDef()


@endpoint(
    routes, "GET", "/api/openapi.json", summary="Este documento OpenAPI", tag="meta",
    response=dict[str, Any], auth=False,
)  # fmt: skip
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(title="Telessaúde API", version="0.1.0"))
