"""PAdES signing with the development chain and a PKCS#12 from settings, checked by pyHanko."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from server.app import create_app
from server.documents.certificates import (
    SigningConfigError,
    load_signing_identity,
    write_pkcs12,
)
from server.documents.render import AtestadoData, PatientId, Prescriber, render_atestado
from server.documents.signing import sign_pdf, verify_pdf
from tests.conftest import make_settings


def _atestado(development: bool = True) -> bytes:
    return render_atestado(
        AtestadoData(
            prescriber=Prescriber(
                "Dra. Ana Paula Rocha", "CRM-MG 123456", "225142", "UBS Vila Nova"
            ),
            patient=PatientId("Maria das Dores Silva", "52998224725", None, "20/05/1961"),
            issued_at=datetime(2025, 3, 10, 13, 30, tzinfo=UTC),
            consultation_started_at=datetime(2025, 3, 10, 13, 0, tzinfo=UTC),
            days=3,
            purpose="afastamento do trabalho",
            cid10=None,
            modality="teleconsulta",
            development=development,
        )
    )


def test_a_signed_pdf_validates_with_pyhanko_and_a_byte_changed_copy_does_not(
    tmp_path: Path, sqlite_url: str
) -> None:
    identity = load_signing_identity(make_settings(sqlite_url, tmp_path))
    assert identity.development and "nao ICP-Brasil" in identity.subject
    signed = sign_pdf(_atestado(), identity, reason="Atestado", location="Montes Claros/MG")

    # pyHanko's own validator, straight on the bytes, with the dev CA as the only root.
    embedded = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    status = validate_pdf_signature(
        embedded, ValidationContext(trust_roots=list(identity.trust_roots), allow_fetching=False)
    )
    assert status.intact and status.valid and status.trusted
    assert status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    assert verify_pdf(signed, identity).valid

    tampered = bytearray(signed)
    tampered[len(signed) // 4] ^= 0x01
    result = verify_pdf(bytes(tampered), identity)
    assert not result.valid and not result.intact
    assert "ALTERADO" in result.summary or "ilegível" in result.summary


def test_an_appended_update_is_reported(tmp_path: Path, sqlite_url: str) -> None:
    identity = load_signing_identity(make_settings(sqlite_url, tmp_path))
    signed = sign_pdf(_atestado(), identity, reason="Atestado", location="MG")
    result = verify_pdf(signed + b"\n% acrescentado depois\n", identity)
    assert not result.valid and not result.covers_whole_file


def test_an_unsigned_or_garbage_file_is_a_result_not_an_exception(
    tmp_path: Path, sqlite_url: str
) -> None:
    identity = load_signing_identity(make_settings(sqlite_url, tmp_path))
    assert verify_pdf(_atestado(), identity).summary == "O documento não tem assinatura digital."
    assert not verify_pdf(b"isto nao e um pdf", identity).signed


def test_the_development_pdf_carries_the_not_icp_brasil_mark() -> None:
    # reportlab compresses page streams; the mark is checked on the uncompressed text.
    from pyhanko.pdf_utils.reader import PdfFileReader as Reader

    reader = Reader(io.BytesIO(_atestado(development=True)))
    page = reader.root["/Pages"]["/Kids"][0]
    content = page["/Contents"].data.decode("latin-1")
    assert "Assinatura de desenvolvimento" in content and "ICP-Brasil" in content
    production = Reader(io.BytesIO(_atestado(development=False)))
    assert "desenvolvimento" not in production.root["/Pages"]["/Kids"][0]["/Contents"].data.decode(
        "latin-1"
    )


def test_a_configured_pkcs12_signs_and_a_wrong_password_is_a_clear_error(
    tmp_path: Path, sqlite_url: str
) -> None:
    p12 = tmp_path / "a1.p12"
    write_pkcs12(p12, b"senha-certa", data_dir=tmp_path / "source")
    good = load_signing_identity(
        make_settings(
            sqlite_url, tmp_path, signing_pkcs12=p12, signing_pkcs12_password="senha-certa"
        )
    )
    assert not good.development
    assert verify_pdf(sign_pdf(_atestado(False), good, reason="r", location="l"), good).valid
    with pytest.raises(SigningConfigError, match="senha do certificado"):
        load_signing_identity(
            make_settings(
                sqlite_url, tmp_path, signing_pkcs12=p12, signing_pkcs12_password="errada"
            )
        )
    with pytest.raises(SigningConfigError, match="Não foi possível ler"):
        load_signing_identity(
            make_settings(sqlite_url, tmp_path, signing_pkcs12=tmp_path / "nao-existe.p12")
        )


async def test_the_server_refuses_to_start_with_a_wrong_certificate_password(
    tmp_path: Path, sqlite_url: str
) -> None:
    p12 = tmp_path / "a1.p12"
    write_pkcs12(p12, b"senha-certa", data_dir=tmp_path / "source")
    app = create_app(
        make_settings(sqlite_url, tmp_path, signing_pkcs12=p12, signing_pkcs12_password="errada")
    )
    client = TestClient(TestServer(app))
    with pytest.raises(SigningConfigError, match="TELESSAUDE_SIGNING_PKCS12_PASSWORD"):
        await client.start_server()
    await client.close()
