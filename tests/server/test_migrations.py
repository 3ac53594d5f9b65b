"""The Alembic migrations build exactly the schema the models describe, on both backends."""

import asyncio

from server.db.migrate import check, upgrade


async def test_migrations_reach_head_and_match_the_models(db_url: str, tmp_path: object) -> None:
    # db_url already has the schema from the models; migrate a brand-new database instead.
    if db_url.startswith("sqlite"):
        url = db_url.rsplit("/", 1)[0] + "/migrated.db"
    else:
        url = db_url.rsplit("/", 1)[0] + "/postgres"
        url = await _fresh_empty_postgres(url)
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(check, url)
    assert await _append_only_tables(url) == {
        "record_entry",
        "consent",
        "consent_term",
        "signed_document",
    }


async def _append_only_tables(url: str) -> set[str]:
    """Tables whose UPDATE/DELETE the migrated database itself refuses (triggers)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            if url.startswith("sqlite"):
                rows = await connection.execute(
                    text("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'")
                )
            else:
                rows = await connection.execute(
                    text(
                        "SELECT event_object_table FROM information_schema.triggers "
                        "WHERE action_statement LIKE '%refuse_change_append_only%'"
                    )
                )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


async def _fresh_empty_postgres(server_url: str) -> str:
    import uuid

    import asyncpg

    name = f"mig_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(server_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
