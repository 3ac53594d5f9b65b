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
ERROR_STATUSES = (400, 401, 403, 404, 409, 410, 413, 415, 422, 429)


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
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    auth: bool


ENDPOINTS: list[Endpoint] = []


def endpoint(
    routes: web.RouteTableDef,
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"],
    path: str,
    *,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    auth: bool = True,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` on ``routes`` and describe it for the OpenAPI document."""

    def register(handler: Handler) -> Handler:
        ENDPOINTS.append(Endpoint(method, path, summary, tag, body, query, response, status, auth))
        routes.route(method, path)(handler)
        return handler

    return register


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, annotation: Any, mode: Literal["validation", "serialization"]) -> Any:
        schema = TypeAdapter(annotation).json_schema(ref_template=REF_TEMPLATE, mode=mode)
        self.schemas.update(schema.pop("$defs", {}))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            name = annotation.__name__
            self.schemas[name] = schema
            return {"$ref": REF_TEMPLATE.format(model=name)}
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
    if endpoint.response is None:
        responses[str(endpoint.status)] = {"description": "Sem conteúdo."}
    else:
        responses[str(endpoint.status)] = {
            "description": "Sucesso.",
            "content": {
                "application/json": {"schema": components.ref(endpoint.response, "serialization")}
            },
        }
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
                "application/json": {"schema": components.ref(endpoint.body, "validation")}
            },
        }
    if endpoint.auth:
        operation["security"] = [{"bearer": []}]
    return operation


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


@routes.get("/api/openapi.json")
async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(title="Telessaúde API", version="0.1.0"))
