"""Runtime settings, read from the environment (prefix ``TELESSAUDE_``) and an optional ``.env``."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WEAK_SECRETS = frozenset({"", "secret", "changeme", "change-me", "dev", "development", "test"})
MIN_SECRET_LENGTH = 32


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Everything an operator can set. Documented in the README's settings table."""

    model_config = SettingsConfigDict(
        env_prefix="TELESSAUDE_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path("var")
    "Where the SQLite file, the generated JWT secret, uploads and dev certificates live."
    database_url: str = ""
    "SQLAlchemy URL. Empty means ``sqlite+aiosqlite:///<data_dir>/telessaude.db``."
    jwt_secret: str = ""
    "HS256 secret. Empty in development: generated once and stored in ``<data_dir>/jwt_secret``."
    access_token_ttl_s: int = Field(default=15 * 60, ge=60, le=24 * 3600)
    refresh_token_ttl_s: int = Field(default=7 * 24 * 3600, ge=300)
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = ""
    "Base URL put in invite links. Empty means derived from host, port and TLS."
    tls_cert: Path | None = None
    tls_key: Path | None = None
    ice_host_addresses: list[str] = Field(default_factory=list)
    "Addresses the SFU gathers ICE candidates on / announces (e.g. 127.0.0.1, a LAN or public IP)."
    stun_urls: list[str] = Field(default_factory=list)
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str = ""
    "coturn ``static-auth-secret``: when set, TURN credentials are minted per join (REST API)."
    turn_credential_ttl_s: int = Field(default=6 * 3600, ge=60)
    video_codec: str = "VP8"
    max_body_bytes: int = Field(default=1 * 1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    login_attempts_per_minute: int = Field(default=10, ge=1)
    redis_url: str = ""
    "Empty: one process, in-memory Socket.IO manager. Set: Redis manager and room affinity."
    responsavel_tecnico: str = ""
    "Council-registered technical lead of the platform (art. 449 II), e.g. 'CRM-MG 12345'."
    signing_pkcs12: Path | None = None
    signing_pkcs12_password: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_from: str = ""

    @field_validator("video_codec")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"VP8", "H264"}:
            raise ValueError("video_codec must be VP8 or H264")
        return upper

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'telessaude.db'}"

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def resolve_jwt_secret(self) -> str:
        """The signing secret; in development it is generated once and kept in the data dir.

        Production refuses to start without a strong secret given explicitly, so that a
        forgotten setting never means tokens signed with something guessable.
        """
        if self.jwt_secret:
            if self.mode is Mode.PRODUCTION and is_weak_secret(self.jwt_secret):
                raise InsecureSettingsError(
                    "TELESSAUDE_JWT_SECRET is too weak: "
                    f"use at least {MIN_SECRET_LENGTH} random characters"
                )
            return self.jwt_secret
        if self.mode is Mode.PRODUCTION:
            raise InsecureSettingsError("TELESSAUDE_JWT_SECRET is required in production mode")
        path = self.data_dir / "jwt_secret"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.write_text(secret)
        path.chmod(0o600)
        return secret


class InsecureSettingsError(RuntimeError):
    """The configuration would run production with a guessable secret."""


def is_weak_secret(secret: str) -> bool:
    return secret.lower() in WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < 8
