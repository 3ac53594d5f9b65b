"""The OpenAPI document describes exactly the HTTP API the app serves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import BaseModel

from server.api.openapi import _Components, openapi_document
from server.app import create_app
from tests.conftest import make_settings

# Not part of the JSON API: the browser app (SPA fallback), probes, and Socket.IO's transport.
UNDOCUMENTED = {"/healthz", "/metrics", "/socket.io/", "/{tail}"}


def _app(tmp_path: Path) -> web.Application:
    return create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/unused.db", tmp_path))


def _documented() -> set[tuple[str, str]]:
    document = openapi_document(title="t", version="0")
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_every_route_the_app_serves_is_documented_and_nothing_else(tmp_path: Path) -> None:
    served = {
        (route.method, route.resource.canonical)
        for route in _app(tmp_path).router.routes()
        if route.resource is not None
        and route.method != "HEAD"  # aiohttp adds HEAD to every GET
        and route.resource.canonical not in UNDOCUMENTED
    }
    assert served, "no route found: the app did not register its API"
    assert served - _documented() == set(), "routes missing from /api/openapi.json"
    assert _documented() - served == set(), "documented operations the app does not serve"


def test_every_path_parameter_of_the_document_is_declared(tmp_path: Path) -> None:
    document = openapi_document(title="t", version="0")
    for path, item in document["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


async def test_the_document_is_served_without_a_token(tmp_path: Path, aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app(tmp_path))
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    served = await response.json()
    assert served["openapi"] == "3.1.0"
    assert set(served["paths"]) == set(openapi_document(title="t", version="0")["paths"])


def test_downloads_and_uploads_carry_their_media_types() -> None:
    paths = openapi_document(title="t", version="0")["paths"]
    binary = {"type": "string", "format": "binary"}
    pdf = paths["/api/patients/{patient_id}/record.pdf"]["get"]["responses"]["200"]["content"]
    assert pdf == {"application/pdf": {"schema": binary}}
    annual = paths["/api/reports/annual"]["get"]["responses"]["200"]["content"]
    assert set(annual) == {"application/pdf", "text/csv", "application/json"}
    assert annual["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProductionReportOut"
    }
    upload = paths["/api/cases/{case_id}/attachments"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data"}
    verify = paths["/api/documents/verification"]["post"]["requestBody"]["content"]
    assert verify == {"application/pdf": {"schema": binary}}
    fhir = paths["/api/patients/{patient_id}/record.fhir.json"]["get"]["responses"]["200"]
    assert set(fhir["content"]) == {"application/fhir+json"}
    retry = paths["/api/cases/{case_id}/messages"]["post"]["responses"]
    assert retry["200"] == retry["201"]


def test_two_different_models_with_one_name_are_refused() -> None:
    def model(field: type) -> type[BaseModel]:
        class Out(BaseModel):
            value: field  # type: ignore[valid-type]

        return Out

    components = _Components()
    components.ref(model(int), "serialization")
    components.ref(model(int), "serialization")  # the same schema again is fine
    with pytest.raises(ValueError, match="Out"):
        components.ref(model(str), "serialization")
