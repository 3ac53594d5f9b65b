"""Núcleos de Telessaúde: listed to professionals, registered by gestores."""

from __future__ import annotations

import uuid
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from server.api.errors import conflict, forbidden
from server.api.fields import Cnes, Name, ShortText, Uf
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body
from server.audit import record_audit
from server.auth import policy
from server.auth.caller import require_caller
from server.db.models import Nucleo, NucleoType
from server.keys import DB_SESSIONS

routes = web.RouteTableDef()
TAG = "registry"


class NucleoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    type: NucleoType
    cnes: Cnes
    uf: Uf
    municipality: ShortText


class NucleoOut(BaseModel):
    id: uuid.UUID
    name: str
    type: NucleoType
    cnes: str
    uf: str
    municipality: str
    created_at: datetime

    @classmethod
    def of(cls, nucleo: Nucleo) -> NucleoOut:
        return cls.model_validate(nucleo, from_attributes=True)


@endpoint(
    routes, "GET", "/api/nucleos", summary="Listar Núcleos", tag=TAG, response=list[NucleoOut]
)
async def list_nucleos(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_browse_directory(caller):
        raise forbidden()
    async with request.app[DB_SESSIONS].begin() as db:
        rows = (await db.scalars(select(Nucleo).order_by(Nucleo.name))).all()
        return json_response([NucleoOut.of(n) for n in rows])


@endpoint(
    routes, "POST", "/api/nucleos", summary="Cadastrar Núcleo (gestor)", tag=TAG,
    body=NucleoIn, response=NucleoOut, status=201,
)  # fmt: skip
async def create_nucleo(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_register_units(caller):
        raise forbidden("Apenas gestores cadastram Núcleos.")
    body = await parse_body(request, NucleoIn)
    async with request.app[DB_SESSIONS].begin() as db:
        if await db.scalar(select(Nucleo.id).where(Nucleo.cnes == body.cnes)):
            raise conflict("cnes_taken", "Já existe um estabelecimento com este CNES.")
        nucleo = Nucleo(**body.model_dump())
        db.add(nucleo)
        await db.flush()
        record_audit(db, caller, "create", "nucleo", nucleo.id, request=request)
        return json_response(NucleoOut.of(nucleo), status=201)
