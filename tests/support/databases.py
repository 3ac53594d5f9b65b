"""Fresh databases per test on SQLite and PostgreSQL, cheaply.

The schema is built once per session into a template (a SQLite file; a PostgreSQL template
database) from the models; each test then gets a copy: a file copy, or
``CREATE DATABASE … TEMPLATE``. That the Alembic migrations build the very same schema is
checked by tests/server/test_migrations.py on both backends.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from server.db.metadata import metadata


def _off_loop(work: Callable[[], None]) -> None:
    """Run blocking set-up that uses ``asyncio.run`` even when called inside a running loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(work).result()


async def _create_schema_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await engine.dispose()


def _create_schema(url: str) -> None:
    _off_loop(lambda: asyncio.run(_create_schema_async(url)))


class SqliteTemplate:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        _create_schema(f"sqlite+aiosqlite:///{self.path}")

    def fresh(self, directory: Path) -> str:
        target = directory / f"test-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self.path, target)
        return f"sqlite+aiosqlite:///{target}"


class PostgresTemplate:
    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.template = f"tpl_{uuid.uuid4().hex[:8]}"

        def create_and_migrate() -> None:
            asyncio.run(self._execute(f'CREATE DATABASE "{self.template}"'))
            asyncio.run(_create_schema_async(self._url(self.template)))

        _off_loop(create_and_migrate)

    def _url(self, name: str) -> str:
        return self.server_url.rsplit("/", 1)[0] + f"/{name}"

    async def _execute(self, sql: str) -> None:
        dsn = self.server_url.replace("postgresql+asyncpg", "postgresql")
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def fresh(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        await self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self._url(name)
