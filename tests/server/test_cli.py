"""The ``telessaude`` command: migrate + seed-demo on a fresh data dir, settings check."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import cli


def test_migrate_then_seed_demo_twice_prints_the_demo_logins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELESSAUDE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TELESSAUDE_DATABASE_URL", raising=False)
    assert cli.main(["migrate"]) == 0
    assert cli.main(["seed-demo"]) == 0
    assert cli.main(["seed-demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("senha: telessaude") == 2
    assert "gestor do Núcleo" in out
    assert (tmp_path / "telessaude.db").exists()


def test_check_settings_refuses_production_without_a_strong_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELESSAUDE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TELESSAUDE_MODE", "production")
    monkeypatch.setenv("TELESSAUDE_JWT_SECRET", "changeme")
    assert cli.main(["check-settings"]) == 1
    assert "TELESSAUDE_JWT_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("TELESSAUDE_JWT_SECRET", "k3" * 24 + "abcdefgh")
    assert cli.main(["check-settings"]) == 0
    shown = capsys.readouterr().out
    assert "TELESSAUDE_JWT_SECRET=***" in shown and "k3k3" not in shown


def test_self_signed_certificate_covers_localhost_and_the_given_host(tmp_path: Path) -> None:
    from cryptography import x509

    from server.tls import ensure_self_signed

    cert_path, key_path = ensure_self_signed(tmp_path, ["192.168.0.10"])
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {
        "192.168.0.10",
        "127.0.0.1",
    }
    assert key_path.stat().st_mode & 0o077 == 0
    assert ensure_self_signed(tmp_path, []) == (cert_path, key_path)  # reused, not regenerated
