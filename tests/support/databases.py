"""Fresh, migrated databases per test on SQLite and PostgreSQL, cheaply.

Migrations run once per session into a template (a SQLite file; a PostgreSQL template database);
each test then gets a copy: a file copy, or ``CREATE DATABASE … TEMPLATE``.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg

from server.db.migrate import upgrade


def _off_loop(work: Callable[[], None]) -> None:
    """Run blocking set-up that uses ``asyncio.run`` even when called inside a running loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(work).result()


class SqliteTemplate:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        _off_loop(lambda: upgrade(f"sqlite+aiosqlite:///{self.path}"))

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
            upgrade(self._url(self.template))

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
