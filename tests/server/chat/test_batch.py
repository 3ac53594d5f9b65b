"""Group commit: concurrent writes share transactions, each answered only after its commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.chat import (
    ChatAuthor,
    ChatMessage,
    NewMessage,
    StoredMessage,
    append_many,
    case_channel,
)
from server.chat.batch import Flush, GroupCommit
from server.db.engine import make_engine, make_sessions

ANA = ChatAuthor("professional", str(uuid.uuid4()), "Dra. Ana")


class Refused(Exception):
    """A per-item refusal (like a 404 for a case the sender is not part of)."""


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def db_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessions(engine)


async def count(db_sessions: async_sessionmaker[AsyncSession]) -> int:
    async with db_sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(ChatMessage)) or 0)


Stored = tuple[StoredMessage, bool]


def store_messages(refuse: set[str] | None = None) -> Flush[NewMessage, Stored]:
    async def flush(db: AsyncSession, items: Sequence[NewMessage]) -> list[Stored | Exception]:
        kept = [m for m in items if m.client_msg_id not in (refuse or set())]
        stored = iter(await append_many(db, kept))
        return [
            Refused(m.client_msg_id) if m.client_msg_id in (refuse or set()) else next(stored)
            for m in items
        ]

    return flush


async def test_concurrent_sends_share_transactions_and_each_is_answered_after_its_commit(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    writer: GroupCommit[NewMessage, Stored] = GroupCommit(lambda: db_sessions, store_messages())
    channel = case_channel(uuid.uuid4())

    async def send(n: int) -> int:
        message, created = await writer.submit(NewMessage(channel, ANA, f"c{n}", f"oi {n}"))
        assert created
        async with db_sessions() as db:  # another connection already sees it: committed
            assert await db.get(ChatMessage, message.id) is not None
        return message.id

    ids = await asyncio.gather(*(send(n) for n in range(60)))
    assert len(set(ids)) == 60
    assert writer.items == 60
    assert writer.batches < 60 / 4  # grouped, not one transaction per message
    assert await count(db_sessions) == 60


async def test_a_refused_item_gets_its_own_error_and_the_rest_of_the_batch_is_stored(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    writer: GroupCommit[NewMessage, Stored] = GroupCommit(
        lambda: db_sessions, store_messages(refuse={"c3"})
    )
    channel = case_channel(uuid.uuid4())
    results = await asyncio.gather(
        *(writer.submit(NewMessage(channel, ANA, f"c{n}", "oi")) for n in range(6)),
        return_exceptions=True,
    )
    assert isinstance(results[3], Refused)
    assert all(not isinstance(r, BaseException) for i, r in enumerate(results) if i != 3)
    assert await count(db_sessions) == 5


async def test_when_the_transaction_fails_every_sender_gets_the_error_and_nothing_is_stored(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def flush(db: AsyncSession, items: Sequence[NewMessage]) -> list[object]:
        await append_many(db, items)
        raise ConnectionResetError("connection lost before commit")

    writer: GroupCommit[NewMessage, object] = GroupCommit(lambda: db_sessions, flush)
    channel = case_channel(uuid.uuid4())
    results = await asyncio.gather(
        *(writer.submit(NewMessage(channel, ANA, f"c{n}", "oi")) for n in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, ConnectionResetError) for r in results)
    assert await count(db_sessions) == 0


async def test_a_batch_the_database_refuses_is_retried_one_by_one_so_only_the_bad_item_fails(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def flush(db: AsyncSession, items: Sequence[NewMessage]) -> list[object]:
        stored = await append_many(db, items)
        if any(m.client_msg_id == "bad" for m in items):
            # A constraint violation: refused for what was written, not for being unreachable.
            await db.execute(text("INSERT INTO chat_receipt (channel) VALUES (NULL)"))
        return list(stored)

    writer: GroupCommit[NewMessage, object] = GroupCommit(lambda: db_sessions, flush)
    channel = case_channel(uuid.uuid4())
    ids = ["a", "bad", "b", "c"]
    results = await asyncio.gather(
        *(writer.submit(NewMessage(channel, ANA, i, "oi")) for i in ids),
        return_exceptions=True,
    )
    assert isinstance(results[1], Exception)
    assert all(not isinstance(r, BaseException) for i, r in enumerate(results) if i != 1)
    async with db_sessions() as db:
        stored = set((await db.scalars(select(ChatMessage.client_msg_id))).all())
    assert stored == {"a", "b", "c"}


async def test_a_lone_send_is_written_at_once_without_waiting_for_company(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    writer: GroupCommit[NewMessage, Stored] = GroupCommit(lambda: db_sessions, store_messages())
    message, created = await asyncio.wait_for(
        writer.submit(NewMessage(case_channel(uuid.uuid4()), ANA, "solo", "oi")), 5
    )
    assert created and message.id > 0
    await writer.drain()
    assert writer.batches == 1


async def test_above_its_bound_a_submit_is_refused_at_once_and_nothing_of_it_is_stored(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    release = asyncio.Event()
    store = store_messages()

    async def slow_flush(db: AsyncSession, items: Sequence[NewMessage]) -> list[Stored | Exception]:
        await release.wait()  # the database is slow: everything else queues behind this batch
        return list(await store(db, items))

    writer: GroupCommit[NewMessage, Stored] = GroupCommit(
        lambda: db_sessions, slow_flush, max_pending=3, overloaded=lambda: Refused("cheio")
    )
    channel = case_channel(uuid.uuid4())
    first = asyncio.create_task(writer.submit(NewMessage(channel, ANA, "in-flight", "oi")))
    await asyncio.sleep(0.05)  # the first batch (one item) is now in its transaction
    waiting = [
        asyncio.create_task(writer.submit(NewMessage(channel, ANA, f"w{n}", "oi")))
        for n in range(3)
    ]
    await asyncio.sleep(0)
    assert writer.pending == 3
    with pytest.raises(Refused):  # at once: no transaction had to finish first
        await asyncio.wait_for(writer.submit(NewMessage(channel, ANA, "extra", "oi")), 0.5)
    assert writer.refused == 1
    release.set()
    await asyncio.gather(first, *waiting)
    async with db_sessions() as db:
        stored = set((await db.scalars(select(ChatMessage.client_msg_id))).all())
    assert stored == {"in-flight", "w0", "w1", "w2"}
    # Once the queue is short again the same message goes through (the client's retry).
    message, created = await writer.submit(NewMessage(channel, ANA, "extra", "oi"))
    assert created and message.client_msg_id == "extra"
