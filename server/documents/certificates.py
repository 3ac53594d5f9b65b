"""The signing identity: a PKCS#12 from settings (ICP-Brasil A1 in production), or a
development chain generated once into the data dir and marked as not ICP-Brasil."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign import signers

from server.settings import Settings

logger = logging.getLogger(__name__)

DEV_DIR = "dev-signing"
DEV_P12 = "signer.p12"
DEV_PASSWORD = "signer.p12.password"
DEV_CA = "ca.pem"
DEV_ORGANISATION = "Telessaude DESENVOLVIMENTO - nao ICP-Brasil"


class SigningConfigError(RuntimeError):
    """The configured certificate cannot be used. The message is for the operator (pt-BR)."""


@dataclass(frozen=True)
class SigningIdentity:
    signer: Any
    "pyhanko SimpleSigner."
    trust_roots: tuple[asn1_x509.Certificate, ...]
    "Certificates a signature must chain to: the dev CA, or the PKCS#12's own chain."
    development: bool
    subject: str


def load_signing_identity(settings: Settings) -> SigningIdentity:
    """Load the configured PKCS#12, or the development chain (generated on first use)."""
    if settings.signing_pkcs12 is not None:
        return _from_pkcs12(
            settings.signing_pkcs12, settings.signing_pkcs12_password.encode(), development=False
        )
    p12, password = ensure_dev_chain(settings.data_dir)
    return _from_pkcs12(p12, password, development=True)


def _from_pkcs12(path: Path, password: bytes, *, development: bool) -> SigningIdentity:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningConfigError(
            f"Não foi possível ler o certificado de assinatura em {path} "
            "(TELESSAUDE_SIGNING_PKCS12)."
        ) from exc
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password or None)
    except ValueError as exc:
        raise SigningConfigError(
            "A senha do certificado de assinatura (PKCS#12) está incorreta ou o arquivo está "
            "corrompido. Confira TELESSAUDE_SIGNING_PKCS12_PASSWORD."
        ) from exc
    if key is None or cert is None:
        raise SigningConfigError(
            "O arquivo PKCS#12 de assinatura não contém a chave privada e o certificado."
        )
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        raise SigningConfigError(
            f"O certificado de assinatura venceu em {cert.not_valid_after_utc:%d/%m/%Y}."
        )
    signer = signers.SimpleSigner.load_pkcs12_data(
        data, other_certs=[], passphrase=password or None
    )
    chain = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra]
    roots = tuple(chain) or (
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
    )
    return SigningIdentity(
        signer=signer,
        trust_roots=roots,
        development=development,
        subject=cert.subject.rfc4514_string(),
    )


def ensure_dev_chain(data_dir: Path) -> tuple[Path, bytes]:
    """A self-signed CA and a signer certificate under it, written once into the data dir.

    EC P-256 keys: generated in milliseconds, so a fresh test data dir costs nothing.
    """
    folder = data_dir / DEV_DIR
    p12_path, password_path = folder / DEV_P12, folder / DEV_PASSWORD
    if p12_path.exists() and password_path.exists():
        return p12_path, password_path.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, "AC de desenvolvimento (nao ICP-Brasil)"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "BR"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANISATION),
                    x509.NameAttribute(
                        NameOID.COMMON_NAME, "Assinatura de desenvolvimento (nao ICP-Brasil)"
                    ),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    password = secrets.token_urlsafe(24).encode()
    p12 = pkcs12.serialize_key_and_certificates(
        b"telessaude-dev",
        key,
        cert,
        [ca_cert],
        serialization.BestAvailableEncryption(password),
    )
    (folder / DEV_CA).write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    p12_path.write_bytes(p12)
    password_path.write_bytes(password)
    for path in (p12_path, password_path):
        path.chmod(0o600)
    logger.warning("generated a development signing chain in %s (not ICP-Brasil)", folder)
    return p12_path, password


def write_pkcs12(path: Path, password: bytes, *, data_dir: Path) -> None:
    """Copy the development chain to ``path`` under another password (tests, demos)."""
    p12_path, current = ensure_dev_chain(data_dir)
    key, cert, extra = pkcs12.load_key_and_certificates(p12_path.read_bytes(), current)
    assert key is not None and cert is not None
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"telessaude",
            key,  # type: ignore[arg-type]
            cert,
            extra,
            serialization.BestAvailableEncryption(password),
        )
    )
