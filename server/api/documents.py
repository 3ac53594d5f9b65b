"""HTTP API of signed documents: issue an atestado or receita, download it, verify it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from server.api.errors import ApiError, forbidden, not_found
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.records import (
    authorize_patient,
    record_errors,
)
from server.api.validation import parse_body, path_uuid
from server.audit import record_audit
from server.auth.caller import require_caller
from server.auth.tokens import CallerKind
from server.documents.certificates import (
    SigningConfigError,
    SigningIdentity,
    load_signing_identity,
)
from server.documents.issue import AtestadoIn, ReceitaIn, issue_document, safe_filename
from server.documents.models import SignedDocument
from server.documents.signing import Verification, verify_pdf
from server.keys import DB_SESSIONS, SETTINGS

routes = web.RouteTableDef()
TAG = "documents"
PDF = "application/pdf"


class SigningHolder:
    """Loads the signing identity once per process; the dev chain only when first needed."""

    def __init__(self) -> None:
        self._identity: SigningIdentity | None = None
        self._lock = asyncio.Lock()

    async def get(self, app: web.Application) -> SigningIdentity:
        async with self._lock:
            if self._identity is None:
                self._identity = await asyncio.to_thread(load_signing_identity, app[SETTINGS])
            return self._identity


SIGNING = web.AppKey("signing", SigningHolder)


async def signing_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: a configured certificate is opened at start-up, so that a wrong password
    stops the server with a clear message instead of failing the first atestado."""
    holder = app[SIGNING] = SigningHolder()
    if app[SETTINGS].signing_pkcs12 is not None:
        await holder.get(app)  # raises SigningConfigError (pt-BR) on a bad file or password
    yield


async def _identity(request: web.Request) -> SigningIdentity:
    try:
        return await request.app[SIGNING].get(request.app)
    except SigningConfigError as exc:
        raise ApiError(503, "signing_unavailable", str(exc)) from exc


class DocumentOut(BaseModel):
    document_id: str
    kind: str
    entry_id: str
    sha256: str
    size: int
    created_at: datetime
    development_signature: bool
    url: str
    verification_url: str


class VerificationOut(BaseModel):
    document_id: str | None
    signed: bool
    intact: bool
    covers_whole_file: bool
    trusted: bool
    valid: bool
    signer: str | None
    signing_time: datetime | None
    matches_stored_hash: bool | None
    development_signature: bool | None
    summary: str

    @classmethod
    def of(
        cls, result: Verification, document: SignedDocument | None, digest: str | None
    ) -> VerificationOut:
        return cls(
            document_id=str(document.id) if document else None,
            signed=result.signed,
            intact=result.intact,
            covers_whole_file=result.covers_whole_file,
            trusted=result.trusted,
            valid=result.valid,
            signer=result.signer,
            signing_time=result.signing_time,
            matches_stored_hash=(digest == document.sha256) if document and digest else None,
            development_signature=document.development_signature if document else None,
            summary=result.summary,
        )


def _out(document: SignedDocument) -> DocumentOut:
    return DocumentOut(
        document_id=str(document.id),
        kind=document.kind.value,
        entry_id=str(document.entry_id),
        sha256=document.sha256,
        size=document.size,
        created_at=document.created_at,
        development_signature=document.development_signature,
        url=f"/api/documents/{document.id}",
        verification_url=f"/api/documents/{document.id}/verification",
    )


async def _issue(request: web.Request, body: AtestadoIn | ReceitaIn) -> web.Response:
    caller = require_caller(request)
    if caller.kind is not CallerKind.PROFESSIONAL or caller.professional_id is None:
        raise forbidden("Só profissionais emitem atestados e receitas.")
    consultation_id = path_uuid(request, "consultation_id")
    identity = await _identity(request)
    async with request.app[DB_SESSIONS].begin() as db:
        document = await issue_document(
            db,
            consultation_id=consultation_id,
            professional_id=caller.professional_id,
            body=body,
            identity=identity,
        )
        record_audit(
            db,
            caller,
            action="sign",
            resource_type=document.kind.value,
            resource_id=document.id,
            patient_id=document.patient_id,
            consultation_id=document.consultation_id,
            request=request,
        )
        out = _out(document)
    return json_response(out, status=201)


@endpoint(
    routes, "POST", "/api/consultations/{consultation_id}/documents/atestado",
    summary="Emitir atestado assinado", tag=TAG, body=AtestadoIn, response=DocumentOut,
    status=201,
)  # fmt: skip
@record_errors
async def post_atestado(request: web.Request) -> web.Response:
    require_caller(request)  # 401 before reading the body
    return await _issue(request, await parse_body(request, AtestadoIn))


@endpoint(
    routes, "POST", "/api/consultations/{consultation_id}/documents/receita",
    summary="Emitir receita assinada", tag=TAG, body=ReceitaIn, response=DocumentOut,
    status=201,
)  # fmt: skip
@record_errors
async def post_receita(request: web.Request) -> web.Response:
    require_caller(request)
    return await _issue(request, await parse_body(request, ReceitaIn))


async def _readable_document(request: web.Request, action: str) -> SignedDocument:
    caller = require_caller(request)
    document_id = path_uuid(request, "document_id")
    async with request.app[DB_SESSIONS]() as db:
        document = await db.get(SignedDocument, document_id)
    if document is None:
        raise not_found("Documento")
    await authorize_patient(request, caller, document.patient_id, "document")
    async with request.app[DB_SESSIONS].begin() as db:
        record_audit(
            db,
            caller,
            action=action,
            resource_type="document",
            resource_id=document.id,
            patient_id=document.patient_id,
            consultation_id=document.consultation_id,
            request=request,
        )
    return document


@endpoint(
    routes, "GET", "/api/documents/{document_id}", summary="Baixar o PDF assinado", tag=TAG,
    content_types=(PDF,),
)  # fmt: skip
async def get_document(request: web.Request) -> web.Response:
    document = await _readable_document(request, "read")
    filename = safe_filename(document.kind, document.id)
    return web.Response(
        body=document.pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@endpoint(
    routes, "GET", "/api/documents/{document_id}/verification",
    summary="Verificar a assinatura de um documento emitido", tag=TAG, response=VerificationOut,
)  # fmt: skip
async def get_document_verification(request: web.Request) -> web.Response:
    document = await _readable_document(request, "verify")
    identity = await _identity(request)
    result = await asyncio.to_thread(verify_pdf, document.pdf, identity)
    digest = hashlib.sha256(document.pdf).hexdigest()
    return json_response(VerificationOut.of(result, document, digest))


@endpoint(
    routes, "POST", "/api/documents/verification",
    summary="Verificar a assinatura de um PDF enviado", tag=TAG, body_media=PDF,
    response=VerificationOut, auth=False,
)  # fmt: skip
async def post_verification(request: web.Request) -> web.Response:
    """Check a PDF someone holds (a pharmacy, an employer): send it as application/pdf.

    Public on purpose: it reveals nothing that is not in the file sent.
    """
    if request.content_type != "application/pdf":
        raise ApiError(415, "unsupported_media_type", "Envie o arquivo PDF (application/pdf).")
    pdf = await request.read()
    if not pdf:
        raise ApiError(400, "empty_body", "Envie o arquivo PDF a verificar.")
    identity = await _identity(request)
    result = await asyncio.to_thread(verify_pdf, pdf, identity)
    return json_response(VerificationOut.of(result, None, None))
