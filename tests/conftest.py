"""Shared fixtures: real databases (SQLite and PostgreSQL), the real app, real HTTP."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.app import create_app
from server.keys import DB_SESSIONS
from server.settings import Settings
from tests.support.databases import PostgresTemplate, SqliteTemplate
from tests.support.postgres import running_postgres

TEST_JWT_SECRET = "test-secret-" + "x7Qp" * 10


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    given = os.environ.get("TELESSAUDE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    with running_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_template(postgres_server_url: str) -> PostgresTemplate:
    return PostgresTemplate(postgres_server_url)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: SqliteTemplate
) -> str:
    """A fresh migrated database; every test that asks for it runs on both backends."""
    if request.param == "sqlite":
        return sqlite_template.fresh(tmp_path)
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    return await template.fresh()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: SqliteTemplate) -> str:
    """A fresh migrated SQLite database, for tests whose subject is not the database."""
    return sqlite_template.fresh(tmp_path)


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret=TEST_JWT_SECRET,
        ice_host_addresses=["127.0.0.1"],
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


@pytest.fixture
async def client(settings: Settings, aiohttp_client: object) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(settings)
    test_client: TestClient = await aiohttp_client(app)  # type: ignore[operator,type-arg]
    yield test_client


@pytest.fixture
def sessions(client: TestClient) -> async_sessionmaker[AsyncSession]:  # type: ignore[type-arg]
    """The app's own session factory, for arranging data and checking what was written."""
    sessions: async_sessionmaker[AsyncSession] = client.app[DB_SESSIONS]
    return sessions
