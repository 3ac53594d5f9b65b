"""The chat store: committed once per client id, read back in order, receipts only move forward."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.chat import (
    ChatAuthor,
    ChatMessage,
    InvalidChatMessageError,
    NewMessage,
    append,
    append_many,
    case_channel,
    consultation_channel,
    history,
    last_read,
    mark_read,
    receipts,
)
from server.db.engine import make_engine, make_sessions

ANA = ChatAuthor("professional", str(uuid.uuid4()), "Dra. Ana")
JOAO = ChatAuthor("patient", str(uuid.uuid4()), "João")


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def db_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessions(engine)


async def test_a_message_is_stored_with_a_growing_id(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = consultation_channel(uuid.uuid4())
    async with db_sessions.begin() as db:
        first, created_first = await append(db, channel, ANA, "c1", "Bom dia")
        second, created_second = await append(db, channel, JOAO, "c2", "Bom dia, doutora")
    assert created_first and created_second
    assert second.id > first.id
    assert (first.author_kind, first.author_name, first.text) == (
        "professional",
        "Dra. Ana",
        "Bom dia",
    )
    assert first.created_at.tzinfo is not None


async def test_the_same_client_msg_id_twice_is_one_row_and_the_first_text_wins(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = consultation_channel(uuid.uuid4())
    async with db_sessions.begin() as db:
        original, _ = await append(db, channel, ANA, "same", "primeira")
    async with db_sessions.begin() as db:
        retry, created = await append(db, channel, ANA, "same", "segunda")
    assert not created
    assert retry.id == original.id and retry.text == "primeira"
    async with db_sessions() as db:
        count = await db.scalar(select(func.count()).where(ChatMessage.channel == channel))
    assert count == 1


async def test_concurrent_retries_of_one_message_store_it_once(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = consultation_channel(uuid.uuid4())

    async def send() -> tuple[int, bool]:
        async with db_sessions.begin() as db:
            message, created = await append(db, channel, ANA, "race", "oi")
            return message.id, created

    results = await asyncio.gather(*(send() for _ in range(4)))
    assert len({message_id for message_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_the_same_client_msg_id_in_another_channel_is_another_message(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessions.begin() as db:
        a, _ = await append(db, consultation_channel(uuid.uuid4()), ANA, "x", "um")
        b, created = await append(db, case_channel(uuid.uuid4()), ANA, "x", "dois")
    assert created and a.id != b.id


async def test_history_after_an_id_returns_only_newer_messages_oldest_first(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = consultation_channel(uuid.uuid4())
    other = consultation_channel(uuid.uuid4())
    async with db_sessions.begin() as db:
        ids = [(await append(db, channel, ANA, f"m{i}", f"texto {i}"))[0].id for i in range(5)]
        await append(db, other, JOAO, "m0", "outra sala")
    async with db_sessions() as db:
        everything = await history(db, channel)
        after = await history(db, channel, after_id=ids[2])
        limited = await history(db, channel, limit=2)
    assert [m.id for m in everything] == ids
    assert [m.id for m in after] == ids[3:]
    assert [m.id for m in limited] == ids[:2]


@pytest.mark.parametrize(
    ("client_msg_id", "text"), [("ok", "   "), ("ok", "x" * 4001), ("", "oi"), ("y" * 65, "oi")]
)
async def test_an_empty_or_oversized_message_is_refused_with_a_ptbr_reason(
    db_sessions: async_sessionmaker[AsyncSession], client_msg_id: str, text: str
) -> None:
    channel = consultation_channel(uuid.uuid4())
    async with db_sessions() as db:
        with pytest.raises(InvalidChatMessageError) as refused:
            await append(db, channel, ANA, client_msg_id, text)
    assert refused.value.code == "invalid_chat_message"
    assert str(refused.value)[0].isupper()


async def test_an_attachment_without_text_is_a_message(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessions.begin() as db:
        message, _ = await append(
            db, case_channel(uuid.uuid4()), ANA, "a", "", attachment_id="file-1"
        )
    assert message.attachment_id == "file-1"


async def test_a_read_receipt_only_moves_forward_and_stops_at_the_newest_message(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = consultation_channel(uuid.uuid4())
    async with db_sessions.begin() as db:
        ids = [(await append(db, channel, ANA, f"m{i}", "oi"))[0].id for i in range(3)]
    async with db_sessions.begin() as db:
        assert await last_read(db, channel, JOAO) == 0
        assert await mark_read(db, channel, JOAO, ids[1]) == ids[1]
    async with db_sessions.begin() as db:
        assert await mark_read(db, channel, JOAO, ids[0]) == ids[1]
        assert await mark_read(db, channel, JOAO, ids[2] + 1000) == ids[2]
    async with db_sessions() as db:
        assert await last_read(db, channel, JOAO) == ids[2]
        stored = await receipts(db, channel)
    assert [(r.reader_kind, r.reader_id, r.last_read_id) for r in stored] == [
        ("patient", JOAO.id, ids[2])
    ]


async def test_many_messages_in_one_call_come_back_in_order_with_retries_recognised(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, b = case_channel(uuid.uuid4()), case_channel(uuid.uuid4())
    async with db_sessions.begin() as db:
        earlier, _ = await append(db, a, ANA, "old", "antes")
    batch = [NewMessage(a, ANA, f"m{n}", f"  texto {n} ") for n in range(300)] + [
        NewMessage(a, JOAO, "old", "repetida"),  # a retry of a stored message
        NewMessage(b, JOAO, "m1", "outro canal"),  # same client id, other channel: new
        NewMessage(a, ANA, "m7", "repetida no mesmo lote"),  # a retry inside the call
    ]
    async with db_sessions.begin() as db:
        results = await append_many(db, batch)
    assert [created for _, created in results] == [True] * 300 + [False, True, False]
    stored = [message for message, _ in results]
    assert [m.client_msg_id for m in stored[:300]] == [f"m{n}" for n in range(300)]
    assert stored[0].text == "texto 0" and stored[0].author_name == "Dra. Ana"
    assert stored[300].id == earlier.id and stored[300].text == "antes"
    assert stored[302].id == stored[7].id and stored[302].text == "texto 7"
    async with db_sessions() as db:
        rows = {
            (m.channel, m.client_msg_id): m for m in (await db.scalars(select(ChatMessage))).all()
        }
    assert len(rows) == 302
    for message in stored:
        row = rows[(message.channel, message.client_msg_id)]
        assert (row.id, row.text, row.author_id) == (message.id, message.text, message.author_id)


async def test_one_invalid_message_fails_the_whole_call_and_stores_nothing(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    channel = case_channel(uuid.uuid4())
    with pytest.raises(InvalidChatMessageError):
        async with db_sessions.begin() as db:
            await append_many(
                db, [NewMessage(channel, ANA, "ok", "oi"), NewMessage(channel, ANA, "x", "   ")]
            )
    async with db_sessions() as db:
        assert await db.scalar(select(func.count()).select_from(ChatMessage)) == 0
