"""The patient's copy (PDF and FHIR document Bundle) and the per-session FHIR export.

The patient gets it with their own access token (from their invite link); a professional who
takes part in the patient's care gets it on the patient's request. Every export is audited.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.api.errors import ApiError, not_found
from server.api.openapi import endpoint
from server.api.records import (
    authorize_consultation,
    authorize_patient,
)
from server.api.validation import path_uuid
from server.audit import record_audit
from server.auth.caller import require_caller
from server.db.base import utcnow
from server.db.models import Consultation, Patient
from server.documents.record_copy import render_record_copy
from server.fhir.bundle import build_bundle
from server.keys import DB_SESSIONS
from server.records.chain import verify_chain
from server.records.models import RecordEntry

routes = web.RouteTableDef()

FHIR_JSON = "application/fhir+json"
TAG = "records"
# A FHIR document Bundle; its structure is FHIR R4's, validated with fhir.resources on build.
FhirBundle = dict[str, Any]


def _fhir_response(text: str, filename: str) -> web.Response:
    return web.Response(
        text=text,
        content_type=FHIR_JSON,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@endpoint(
    routes, "GET", "/api/patients/{patient_id}/record.fhir.json",
    summary="Cópia do prontuário em FHIR (Bundle document)", tag=TAG, response=FhirBundle,
    content_types=(FHIR_JSON,),
)  # fmt: skip
async def get_record_fhir(request: web.Request) -> web.Response:
    caller = require_caller(request)
    patient_id = path_uuid(request, "patient_id")
    await authorize_patient(request, caller, patient_id, "record")
    async with request.app[DB_SESSIONS].begin() as db:
        bundle = await build_bundle(db, patient_id)
        record_audit(
            db,
            caller,
            action="export",
            resource_type="record",
            resource_id=patient_id,
            patient_id=patient_id,
            request=request,
            detail="fhir",
        )
    return _fhir_response(bundle.model_dump_json(), f"prontuario-{str(patient_id)[:8]}.fhir.json")


@endpoint(
    routes, "GET", "/api/consultations/{consultation_id}/fhir.json",
    summary="Exportar o atendimento em FHIR", tag=TAG, response=FhirBundle,
    content_types=(FHIR_JSON,),
)  # fmt: skip
async def get_consultation_fhir(request: web.Request) -> web.Response:
    caller = require_caller(request)
    consultation_id = path_uuid(request, "consultation_id")
    await authorize_consultation(request, caller, consultation_id, "record")
    async with request.app[DB_SESSIONS].begin() as db:
        consultation = await db.get(Consultation, consultation_id)
        if consultation is None:
            raise not_found("Consulta")
        if consultation.patient_id is None:
            raise ApiError(409, "no_patient", "Esta consulta não tem paciente identificado.")
        bundle = await build_bundle(db, consultation.patient_id, consultation_id=consultation_id)
        record_audit(
            db,
            caller,
            action="export",
            resource_type="record",
            resource_id=consultation_id,
            patient_id=consultation.patient_id,
            consultation_id=consultation_id,
            request=request,
            detail="fhir session",
        )
    return _fhir_response(
        bundle.model_dump_json(), f"atendimento-{str(consultation_id)[:8]}.fhir.json"
    )


@endpoint(
    routes, "GET", "/api/patients/{patient_id}/record.pdf",
    summary="Cópia do prontuário em PDF", tag=TAG, content_types=("application/pdf",),
)  # fmt: skip
async def get_record_pdf(request: web.Request) -> web.Response:
    caller = require_caller(request)
    patient_id = path_uuid(request, "patient_id")
    await authorize_patient(request, caller, patient_id, "record")
    async with request.app[DB_SESSIONS].begin() as db:
        patient = await db.get(Patient, patient_id)
        if patient is None:
            raise not_found("Paciente")
        entries = list(
            (
                await db.scalars(
                    select(RecordEntry)
                    .where(RecordEntry.patient_id == patient_id)
                    .order_by(RecordEntry.seq)
                )
            ).all()
        )
        report = await verify_chain(db, patient_id)
        record_audit(
            db,
            caller,
            action="export",
            resource_type="record",
            resource_id=patient_id,
            patient_id=patient_id,
            request=request,
            detail="pdf",
        )
    pdf = await asyncio.to_thread(render_record_copy, patient, entries, report, utcnow())
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="prontuario-{str(patient_id)[:8]}.pdf"',
            "Cache-Control": "no-store",
        },
    )
