"""Professional accounts: a directory for professionals, registration by the Núcleo's gestor."""

from __future__ import annotations

import uuid
from typing import Annotated, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import or_, select

from server.api.errors import ApiError, conflict, forbidden
from server.api.fields import Cbo, Cns, Cpf, Name
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import parse_body, parse_query
from server.audit import record_audit
from server.auth import policy
from server.auth.caller import require_caller
from server.auth.passwords import hash_password
from server.db.models import AccountRole, Council, Nucleo, Professional, ponto_nucleo
from server.identifiers import is_council_number, normalize_council_region
from server.keys import DB_SESSIONS

routes = web.RouteTableDef()
TAG = "registry"

Optional80 = Annotated[str, Field(min_length=1, max_length=80)]


def _invalid(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message, {"pt": message})


class ProfessionalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    social_name: Name | None = None
    cpf: Cpf
    cns: Cns | None = None
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    role: AccountRole
    council: Council | None = None
    council_number: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    council_uf: Annotated[str, Field(min_length=1, max_length=2)] | None = None
    "UF (MG) or, for councils organised by region, the region number (04)."
    category: Optional80 | None = None
    cbo: Cbo | None = None
    rqe: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    specialties: Annotated[str, Field(max_length=400)] | None = None
    nucleo_id: uuid.UUID | None = None
    ponto_id: uuid.UUID | None = None
    is_regulador: bool = False
    password: Annotated[str, Field(min_length=8, max_length=200)]

    @model_validator(mode="after")
    def _council_registration(self) -> Self:
        if self.role is AccountRole.PACIENTE:
            raise _invalid("role_invalid", "Pacientes entram por convite, não por cadastro.")
        if self.role is AccountRole.PROFISSIONAL and not (
            self.council and self.council_number and self.council_uf and self.cbo
        ):
            raise _invalid(
                "council_required", "Profissionais precisam de conselho, número, UF/região e CBO."
            )
        if self.council is not None:
            if not self.council_number or not is_council_number(self.council_number.upper()):
                raise _invalid("council_number_invalid", "Número de registro no conselho inválido.")
            region = normalize_council_region(self.council, self.council_uf or "")
            if region is None:
                raise _invalid(
                    "council_uf_invalid", f"UF ou região inválida para o {self.council.value}."
                )
            self.council_uf = region
            self.council_number = self.council_number.upper()
        return self


class ProfessionalOut(BaseModel):
    id: uuid.UUID
    name: str
    social_name: str | None
    role: AccountRole
    council: Council | None
    council_number: str | None
    council_uf: str | None
    council_label: str
    category: str | None
    cbo: str | None
    rqe: str | None
    specialties: str | None
    nucleo_id: uuid.UUID | None
    ponto_id: uuid.UUID | None
    is_regulador: bool
    active: bool

    @classmethod
    def of(cls, professional: Professional) -> ProfessionalOut:
        return cls.model_validate(professional, from_attributes=True)


class ProfessionalQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nucleo_id: uuid.UUID | None = None
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = None


@endpoint(
    routes, "GET", "/api/professionals", summary="Listar profissionais", tag=TAG,
    query=ProfessionalQuery, response=list[ProfessionalOut],
)  # fmt: skip
async def list_professionals(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_browse_directory(caller):
        raise forbidden()
    query = parse_query(request, ProfessionalQuery)
    statement = select(Professional).order_by(Professional.name).limit(200)
    if not policy.is_gestor(caller):
        statement = statement.where(Professional.active.is_(True))
    if query.nucleo_id is not None:
        statement = statement.where(Professional.nucleo_id == query.nucleo_id)
    if query.q:
        statement = statement.where(
            or_(
                Professional.name.ilike(f"%{_escape(query.q)}%", escape="\\"),
                Professional.council_number == query.q,
            )
        )
    async with request.app[DB_SESSIONS].begin() as db:
        rows = (await db.scalars(statement)).all()
        return json_response([ProfessionalOut.of(p) for p in rows])


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@endpoint(
    routes, "POST", "/api/professionals", summary="Cadastrar profissional (gestor do Núcleo)",
    tag=TAG, body=ProfessionalIn, response=ProfessionalOut, status=201,
)  # fmt: skip
async def create_professional(request: web.Request) -> web.Response:
    caller = require_caller(request)
    if not policy.can_register_units(caller):
        raise forbidden("Apenas gestores cadastram profissionais.")
    body = await parse_body(request, ProfessionalIn)
    nucleo_id = body.nucleo_id or caller.nucleo_id
    if not policy.can_register_in_nucleo(caller, nucleo_id):
        raise forbidden("Você só pode cadastrar profissionais no seu próprio Núcleo.")
    async with request.app[DB_SESSIONS].begin() as db:
        if await db.get(Nucleo, nucleo_id) is None:
            raise ApiError(422, "nucleo_not_found", "Núcleo informado não existe.")
        if body.ponto_id is not None:
            linked = await db.scalar(
                select(ponto_nucleo.c.ponto_id).where(
                    ponto_nucleo.c.ponto_id == body.ponto_id, ponto_nucleo.c.nucleo_id == nucleo_id
                )
            )
            if linked is None:
                raise ApiError(
                    422, "ponto_not_linked", "O Ponto informado não está vinculado a este Núcleo."
                )
        if await db.scalar(select(Professional.id).where(Professional.cpf == body.cpf)):
            raise conflict("cpf_taken", "Já existe uma conta com este CPF.")
        if body.cns and await db.scalar(
            select(Professional.id).where(Professional.cns == body.cns)
        ):
            raise conflict("cns_taken", "Já existe uma conta com este CNS.")
        if body.council and await db.scalar(
            select(Professional.id).where(
                Professional.council == body.council,
                Professional.council_uf == body.council_uf,
                Professional.council_number == body.council_number,
            )
        ):
            raise conflict("council_taken", "Este registro no conselho já está cadastrado.")
        professional = Professional(
            **body.model_dump(exclude={"password", "nucleo_id"}),
            nucleo_id=nucleo_id,
            password_hash=hash_password(body.password),
        )
        db.add(professional)
        await db.flush()
        record_audit(db, caller, "create", "professional", professional.id, request=request)
        return json_response(ProfessionalOut.of(professional), status=201)
