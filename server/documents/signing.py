"""PAdES signing and verification with pyHanko (Lei 14.063/2020 art. 13: qualified signature).

Both are CPU-bound and synchronous: callers run them in a worker thread.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from server.documents.certificates import SigningIdentity

logger = logging.getLogger(__name__)

FIELD_NAME = "AssinaturaProfissional"


def sign_pdf(pdf: bytes, identity: SigningIdentity, *, reason: str, location: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=identity.signer).sign_pdf(writer, output=out)
    return out.getvalue()


@dataclass(frozen=True)
class Verification:
    """What a person checking the document needs: is it untouched, who signed, when."""

    signed: bool
    intact: bool
    "The signed bytes are unchanged (hash and signature check out)."
    covers_whole_file: bool
    "Nothing was appended after signing."
    trusted: bool
    "The signer certificate chains to the trust roots given."
    signer: str | None
    signing_time: datetime | None
    "As declared by the signer (no timestamp authority offline)."
    summary: str
    "pt-BR, for people."

    @property
    def valid(self) -> bool:
        return self.signed and self.intact and self.covers_whole_file and self.trusted


def verify_pdf(pdf: bytes, identity: SigningIdentity) -> Verification:
    """Validate the (single) signature of ``pdf`` against ``identity``'s trust roots.

    Never raises for a damaged or unsigned file: that is a verification result.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # pyHanko raises many kinds for a malformed file
        logger.info("unreadable PDF at verification: %s", type(exc).__name__)
        return Verification(
            False, False, False, False, None, None, "Arquivo PDF ilegível ou corrompido."
        )
    if not signatures:
        return Verification(
            False, False, False, False, None, None, "O documento não tem assinatura digital."
        )
    context = ValidationContext(
        trust_roots=list(identity.trust_roots), allow_fetching=False, revocation_mode="soft-fail"
    )
    try:
        status = validate_pdf_signature(signatures[0], context)
    except Exception as exc:
        logger.info("signature validation failed: %s", type(exc).__name__)
        return Verification(
            True, False, False, False, None, None, "A assinatura não pôde ser validada."
        )
    covers = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    intact = bool(status.intact and status.valid)
    trusted = bool(status.trusted)
    signer = status.signing_cert.subject.human_friendly if status.signing_cert else None
    if not intact:
        summary = "Documento ALTERADO após a assinatura: não confie neste arquivo."
    elif not covers:
        summary = "Foram acrescentados dados ao documento depois da assinatura."
    elif not trusted:
        summary = "Assinatura íntegra, mas o certificado não é de uma cadeia confiável."
    else:
        summary = "Assinatura válida: o documento não foi alterado desde a assinatura."
    return Verification(True, intact, covers, trusted, signer, status.signer_reported_dt, summary)
