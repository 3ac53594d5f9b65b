from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.records.chain import GENESIS_HASH, AppendOnlyError, append_entry, verify_chain
from server.records.models import EntryKind, RecordEntry
from server.records.verify import verify_chains
from tests.server.records.world import World

Sessions = async_sessionmaker[AsyncSession]


async def _three_entries(sessions: Sessions, world: World) -> list[RecordEntry]:
    entries = []
    async with sessions.begin() as db:
        for n in range(3):
            entries.append(
                await append_entry(
                    db,
                    patient_id=world.patient.id,
                    kind=EntryKind.CLINICAL_NOTE,
                    payload={"n": n, "texto": "Paciente refere cefaleia há três dias."},
                    author_kind="professional",
                    author_id=str(world.doctor.id),
                )
            )
    return entries


async def _drop_triggers(db: AsyncSession) -> None:
    """What an attacker with DDL rights would do first."""
    if db.bind.dialect.name == "sqlite":
        await db.execute(text("DROP TRIGGER record_entry_no_update"))
        await db.execute(text("DROP TRIGGER record_entry_no_delete"))
    else:
        await db.execute(text("DROP TRIGGER record_entry_append_only ON record_entry"))


async def test_entries_chain_from_genesis_and_verify(sessions: Sessions, world: World) -> None:
    entries = await _three_entries(sessions, world)
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    async with sessions() as db:
        report = await verify_chain(db, world.patient.id)
    assert report.intact and report.entries_checked == 3 and report.head_hash == entries[-1].hash


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("payload", '{"n":1,"texto":"Paciente nega cefaleia."}'),
        ("author_id", str(uuid.uuid4())),
        ("kind", "recommendation"),
    ],
)
async def test_a_raw_sql_change_to_any_stored_entry_is_named_by_the_chain_check(
    sessions: Sessions, world: World, column: str, value: str
) -> None:
    entries = await _three_entries(sessions, world)
    async with sessions.begin() as db:
        await _drop_triggers(db)
        await db.execute(
            text(f"UPDATE record_entry SET {column} = :value WHERE id = :id"),
            {
                "value": value,
                "id": entries[1].id if db.bind.dialect.name != "sqlite" else entries[1].id.hex,
            },
        )
    async with sessions() as db:
        report = await verify_chain(db, world.patient.id)
    assert report.first_broken is not None
    assert report.first_broken.entry_id == entries[1].id
    assert report.first_broken.seq == 2
    assert report.first_broken.reason == "hash_mismatch"


async def test_a_removed_entry_breaks_the_chain_at_the_next_one(
    sessions: Sessions, world: World
) -> None:
    entries = await _three_entries(sessions, world)
    async with sessions.begin() as db:
        await _drop_triggers(db)
        sqlite = db.bind.dialect.name == "sqlite"
        await db.execute(
            text("DELETE FROM record_entry WHERE id = :id"),
            {"id": entries[1].id.hex if sqlite else entries[1].id},
        )
    async with sessions() as db:
        report = await verify_chain(db, world.patient.id)
    assert report.first_broken is not None
    assert report.first_broken.entry_id == entries[2].id
    assert report.first_broken.reason == "seq_gap"


async def test_the_database_refuses_a_raw_update_of_an_entry(
    sessions: Sessions, world: World
) -> None:
    entries = await _three_entries(sessions, world)
    with pytest.raises(DBAPIError, match="append-only"):
        async with sessions.begin() as db:
            sqlite = db.bind.dialect.name == "sqlite"
            await db.execute(
                text("UPDATE record_entry SET payload = '{}' WHERE id = :id"),
                {"id": entries[0].id.hex if sqlite else entries[0].id},
            )


async def test_the_orm_refuses_to_change_or_delete_an_entry(
    sessions: Sessions, world: World
) -> None:
    entries = await _three_entries(sessions, world)
    with pytest.raises(AppendOnlyError):
        async with sessions.begin() as db:
            entry = await db.get(RecordEntry, entries[0].id)
            assert entry is not None
            entry.payload = "{}"
    with pytest.raises(AppendOnlyError):
        async with sessions.begin() as db:
            await db.execute(delete(RecordEntry).where(RecordEntry.id == entries[0].id))
    with pytest.raises(AppendOnlyError):
        async with sessions.begin() as db:
            await db.execute(update(RecordEntry).values(author_id="x"))
    async with sessions() as db:
        assert len((await db.scalars(select(RecordEntry))).all()) == 3


async def test_the_verify_command_names_the_broken_link_and_fails(
    sessions: Sessions, world: World, db_url: str
) -> None:
    entries = await _three_entries(sessions, world)
    lines: list[str] = []
    assert await verify_chains(db_url, out=lines.append) == 0
    assert lines[-1] == "1 chain(s) checked, 0 broken"
    async with sessions.begin() as db:
        await _drop_triggers(db)
        sqlite = db.bind.dialect.name == "sqlite"
        await db.execute(
            text("UPDATE record_entry SET payload = '{}' WHERE id = :id"),
            {"id": entries[2].id.hex if sqlite else entries[2].id},
        )
    lines.clear()
    assert await verify_chains(db_url, out=lines.append) == 1
    assert f"seq=3 entry={entries[2].id} reason=hash_mismatch" in lines[0]
