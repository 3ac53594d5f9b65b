"""Creating, publishing and searching SOFs. Query functions: the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cases.models import Case, CaseStatus
from server.cases.service import CaseError
from server.records.notes import CIAP2_CHAPTERS, CIAP2_RE
from server.sof.deidentify import scrub
from server.sof.models import Sof, SofStatus

SOURCE_STATUSES = frozenset({CaseStatus.ANSWERED, CaseStatus.CLOSED})


@dataclass(frozen=True)
class SofDraft:
    title: str
    question: str
    answer: str
    references: Sequence[str]
    tags: Sequence[str]
    ciap2: Sequence[str]


def check_ciap2(codes: Sequence[str]) -> list[str]:
    clean = []
    for code in codes:
        code = code.strip().upper()
        match = CIAP2_RE.match(code)
        if not match or match.group(1) not in CIAP2_CHAPTERS or match.group(2) == "00":
            raise CaseError(422, "ciap2_format", f"Código CIAP-2 inválido: {code[:10]}.")
        clean.append(code)
    return sorted(set(clean))


async def create_from_case(
    db: AsyncSession, author_id: uuid.UUID, case: Case, draft: SofDraft
) -> Sof:
    """Only the specialist who answered, only once the case is answered; text is scrubbed."""
    if case.specialist_id != author_id:
        raise CaseError(403, "forbidden", "Somente o especialista do caso pode criar a SOF.")
    if case.status not in SOURCE_STATUSES:
        raise CaseError(
            409, "invalid_transition", "A SOF só pode ser criada de um caso respondido."
        )
    if await db.scalar(select(Sof.id).where(Sof.case_id == case.id)) is not None:
        raise CaseError(409, "sof_exists", "Este caso já tem uma SOF.")
    references = [scrub(r.strip()) for r in draft.references if r.strip()]
    if not references:
        raise CaseError(
            422, "references_missing", "A SOF precisa de ao menos uma referência bibliográfica."
        )
    sof = Sof(
        case_id=case.id,
        author_id=author_id,
        nucleo_id=case.nucleo_id,
        title=scrub(draft.title),
        question=scrub(draft.question),
        answer=scrub(draft.answer),
        references="\n".join(references),
        tags=",".join(sorted({t.strip().lower() for t in draft.tags if t.strip()})),
        ciap2=",".join(check_ciap2(draft.ciap2)),
        specialty=case.specialty,
        status=SofStatus.DRAFT,
    )
    db.add(sof)
    await db.flush()
    return sof


def publish(sof: Sof, author_id: uuid.UUID, now: datetime) -> None:
    if sof.author_id != author_id:
        raise CaseError(403, "forbidden", "Somente o autor publica a SOF.")
    if sof.status is SofStatus.PUBLISHED:
        raise CaseError(409, "already_published", "A SOF já está publicada.")
    sof.status = SofStatus.PUBLISHED
    sof.published_at = now


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


async def search(
    db: AsyncSession,
    text: str | None = None,
    tag: str | None = None,
    ciap2: str | None = None,
    limit: int = 50,
) -> Sequence[Sof]:
    """Published SOFs matching every given filter, newest first."""
    query = select(Sof).where(Sof.status == SofStatus.PUBLISHED)
    if text:
        pattern = _like(text)
        query = query.where(
            or_(
                func.lower(Sof.title).like(pattern, escape="\\"),
                func.lower(Sof.question).like(pattern, escape="\\"),
                func.lower(Sof.answer).like(pattern, escape="\\"),
                func.lower(Sof.tags).like(pattern, escape="\\"),
            )
        )
    if tag:
        query = query.where(
            ("," + Sof.tags + ",").like(_like("," + tag.strip() + ","), escape="\\")
        )
    if ciap2:
        query = query.where(("," + Sof.ciap2 + ",").like(f"%,{ciap2.strip().upper()},%"))
    rows = await db.scalars(query.order_by(Sof.published_at.desc()).limit(limit))
    return rows.all()
