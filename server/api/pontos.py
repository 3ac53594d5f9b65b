"""Pontos de Telessaúde: establishments linked to Núcleos, registered by gestores."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.api.errors import ApiError, conflict, forbidden
from server.api.fields import Cnes, Name, ShortText, Uf
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body, parse_query
from server.audit import record_audit
from server.auth import policy
from server.auth.caller import require_caller
from server.db.models import Nucleo, Ponto, ponto_nucleo
from server.keys import DB_SESSIONS

routes = web.RouteTableDef()
TAG = "registry"

EstablishmentType = Annotated[str, Field(pattern=r"^[0-9]{2}$")]


class PontoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    cnes: Cnes
    establishment_type: EstablishmentType
    "CNES establishment type code: 02 UBS, 05 hospital geral, 70 CAPS…"
    uf: Uf
    municipality: ShortText
    nucleo_ids: list[uuid.UUID] | None = Field(default=None, max_length=10)
    "Núcleos to link; default: the gestor's own Núcleo."


class PontoOut(BaseModel):
    id: uuid.UUID
    name: str
    cnes: str
    establishment_type: str
    uf: str
    municipality: str
    nucleo_ids: list[uuid.UUID]
    created_at: datetime

    @classmethod
    def of(cls, ponto: Ponto) -> PontoOut:
        return cls(
            id=ponto.id,
            name=ponto.name,
            cnes=ponto.cnes,
            establishment_type=ponto.establishment_type,
            uf=ponto.uf,
            municipality=ponto.municipality,
            nucleo_ids=[n.id for n in ponto.nucleos],
            created_at=ponto.created_at,
        )


class PontoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nucleo_id: uuid.UUID | None = None


@endpoint(
    routes, "GET", "/api/pontos", summary="Listar Pontos", tag=TAG,
    query=PontoQuery, response=list[PontoOut],
)  # fmt: skip
async def list_pontos(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_browse_directory(caller):
        raise forbidden()
    query = parse_query(request, PontoQuery)
    statement = select(Ponto).options(selectinload(Ponto.nucleos)).order_by(Ponto.name)
    if query.nucleo_id is not None:
        statement = statement.where(
            Ponto.id.in_(
                select(ponto_nucleo.c.ponto_id).where(ponto_nucleo.c.nucleo_id == query.nucleo_id)
            )
        )
    async with request.app[DB_SESSIONS].begin() as db:
        rows = (await db.scalars(statement)).all()
        return json_response([PontoOut.of(p) for p in rows])


@endpoint(
    routes, "POST", "/api/pontos", summary="Cadastrar Ponto (gestor do Núcleo)", tag=TAG,
    body=PontoIn, response=PontoOut, status=201,
)  # fmt: skip
async def create_ponto(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_register_units(caller):
        raise forbidden("Apenas gestores cadastram Pontos.")
    body = await parse_body(request, PontoIn)
    nucleo_ids = list(
        dict.fromkeys(body.nucleo_ids or ([caller.nucleo_id] if caller.nucleo_id else []))
    )
    for nucleo_id in nucleo_ids:
        if not policy.can_register_in_nucleo(caller, nucleo_id):
            raise forbidden("Você só pode vincular Pontos ao seu próprio Núcleo.")
    async with request.app[DB_SESSIONS].begin() as db:
        if await db.scalar(select(Ponto.id).where(Ponto.cnes == body.cnes)):
            raise conflict("cnes_taken", "Já existe um estabelecimento com este CNES.")
        nucleos = (await db.scalars(select(Nucleo).where(Nucleo.id.in_(nucleo_ids)))).all()
        if len(nucleos) != len(nucleo_ids):
            raise ApiError(422, "nucleo_not_found", "Núcleo informado não existe.")
        ponto = Ponto(**body.model_dump(exclude={"nucleo_ids"}), nucleos=list(nucleos))
        db.add(ponto)
        await db.flush()
        record_audit(db, caller, "create", "ponto", ponto.id, request=request)
        return json_response(PontoOut.of(ponto), status=201)
