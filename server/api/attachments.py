"""HTTP API of case attachments: multipart upload (streamed, capped, sniffed) and download.

Downloads are authorised exactly like the case: whoever may see the case may fetch its files;
anyone else gets a 404. Every upload and download is audited.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from pydantic import BaseModel

from server.api.cases import audit_case, case_errors
from server.api.errors import ApiError
from server.api.json import json_response
from server.api.openapi import endpoint
from server.api.validation import path_uuid
from server.attachments.models import Attachment
from server.attachments.sniff import EXTENSIONS
from server.attachments.storage import (
    EmptyUploadError,
    UnsupportedFileTypeError,
    UploadTooLargeError,
    path_for,
    store,
)
from server.audit import record_audit
from server.auth.caller import require_professional
from server.cases import chat as case_chat
from server.cases.models import FINAL_STATUSES
from server.cases.service import CaseError
from server.keys import DB_SESSIONS, SETTINGS

routes = web.RouteTableDef()
TAG = "cases"

CHUNK_BYTES = 64 * 1024
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.ASCII)


def safe_filename(name: str | None, content_type: str) -> str:
    """A display name: no path, no control or quote characters; extension from the content."""
    # Some clients (aiohttp among them) percent-encode the multipart filename.
    base = unquote(name or "anexo").replace("\\", "/").rsplit("/", 1)[-1]
    stem = _UNSAFE_NAME.sub("_", base.rsplit(".", 1)[0]).strip(" ._")[:150] or "anexo"
    return f"{stem}.{EXTENSIONS[content_type]}"


class UploadIn(BaseModel):
    """The multipart form: one ``file`` part (PNG, JPEG, WebP or PDF, decided by its bytes)."""

    file: bytes


class AttachmentOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by_id: uuid.UUID
    created_at: datetime
    url: str


class AttachmentListOut(BaseModel):
    items: list[AttachmentOut]


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": str(attachment.id),
        "case_id": str(attachment.case_id),
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size_bytes": attachment.size_bytes,
        "sha256": attachment.sha256,
        "uploaded_by_id": str(attachment.uploaded_by_id),
        "created_at": attachment.created_at.isoformat(),
        "url": f"/api/attachments/{attachment.id}",
    }


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK_BYTES):
        yield chunk


@endpoint(
    routes, "POST", "/api/cases/{case_id}/attachments", summary="Anexar arquivo ao caso",
    tag=TAG, body=UploadIn, body_media="multipart/form-data", response=AttachmentOut,
    status=201,
)  # fmt: skip
@case_errors
async def upload(request: web.Request) -> web.Response:
    """``multipart/form-data`` with one ``file`` part; the type is decided by its bytes."""
    caller = require_professional(request)
    case_id = path_uuid(request, "case_id")
    # Authorise before reading a single byte of the body.
    async with request.app[DB_SESSIONS]() as db:
        case = await case_chat.load_case(db, caller, case_id)
        if case.status in FINAL_STATUSES:
            raise CaseError(409, "case_closed", "O caso está encerrado: não aceita novos anexos.")
    if not request.content_type.startswith("multipart/"):
        raise ApiError(415, "unsupported_media_type", "Envie o arquivo como multipart/form-data.")
    reader = await request.multipart()
    part = await reader.next()
    while part is not None and (not isinstance(part, BodyPartReader) or part.name != "file"):
        part = await reader.next()
    if part is None:
        raise ApiError(422, "file_missing", "Envie o arquivo no campo 'file'.")
    settings = request.app[SETTINGS]
    limit = settings.max_upload_bytes
    try:
        stored = await store(settings.data_dir, _chunks(part), limit)
    except UploadTooLargeError as exc:
        raise ApiError(
            413,
            "file_too_large",
            f"O arquivo excede o tamanho máximo de {limit / (1024 * 1024):.1f} MB.",
        ) from exc
    except UnsupportedFileTypeError as exc:
        raise ApiError(
            415,
            "file_type_not_allowed",
            "Tipo de arquivo não permitido: envie imagens PNG, JPEG ou WebP, ou documentos PDF. "
            "O tipo é verificado pelo conteúdo, não pelo nome.",
        ) from exc
    except EmptyUploadError as exc:
        raise ApiError(422, "file_empty", "O arquivo está vazio.") from exc
    async with request.app[DB_SESSIONS].begin() as db:
        case = await case_chat.load_case(db, caller, case_id)
        attachment = Attachment(
            case_id=case.id,
            sha256=stored.sha256,
            content_type=stored.content_type,
            size_bytes=stored.size_bytes,
            filename=safe_filename(part.filename, stored.content_type),
            uploaded_by_id=caller.subject_id,
        )
        db.add(attachment)
        await db.flush()
        audit_case(db, request, caller, "create", case)
        payload = attachment_json(attachment)
    return json_response(payload, status=201)


@endpoint(
    routes, "GET", "/api/cases/{case_id}/attachments", summary="Anexos do caso", tag=TAG,
    response=AttachmentListOut,
)  # fmt: skip
@case_errors
async def list_attachments(request: web.Request) -> web.Response:
    from sqlalchemy import select

    caller = require_professional(request)
    case_id = path_uuid(request, "case_id")
    async with request.app[DB_SESSIONS].begin() as db:
        case = await case_chat.load_case(db, caller, case_id)
        rows = await db.scalars(
            select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.created_at)
        )
        items = [attachment_json(a) for a in rows.all()]
        audit_case(db, request, caller, "read", case)
    return json_response({"items": items})


@endpoint(
    routes, "GET", "/api/attachments/{attachment_id}", summary="Baixar anexo", tag=TAG,
    content_types=tuple(EXTENSIONS),
)  # fmt: skip
@case_errors
async def download(request: web.Request) -> web.StreamResponse:
    caller = require_professional(request)
    attachment_id: uuid.UUID = path_uuid(request, "attachment_id")
    async with request.app[DB_SESSIONS].begin() as db:
        attachment = await db.get(Attachment, attachment_id)
        if attachment is None:
            raise CaseError(404, "not_found", "Anexo não encontrado.")
        try:
            case = await case_chat.load_case(db, caller, attachment.case_id)
        except CaseError as exc:
            raise CaseError(404, "not_found", "Anexo não encontrado.") from exc
        record_audit(
            db,
            caller,
            "read",
            "case_attachment",
            attachment.id,
            patient_id=case.patient_id,
            consultation_id=case.consultation_id,
            nucleo_id=case.nucleo_id,
            request=request,
        )
    path = path_for(request.app[SETTINGS].data_dir, attachment.sha256)
    if not path.exists():
        raise ApiError(410, "file_gone", "O arquivo deste anexo não está mais disponível.")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": attachment.content_type,
            "Content-Disposition": f'attachment; filename="{attachment.filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
