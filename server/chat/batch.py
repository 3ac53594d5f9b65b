"""Group commit: concurrent writes on one process share one database transaction.

A commit costs a round trip (and, with durable storage, an fsync) whatever the number of rows
in it; one transaction per chat message caps a process at a few hundred messages per second.
``GroupCommit`` queues what arrives while a transaction is running and writes the whole queue
in the next one, so the batch grows with the load and an idle system pays no added delay: the
first message after a quiet moment is flushed at once.

Each waiter learns the outcome of its own item only after the transaction that holds it has
committed (or failed), so "committed before acknowledged" holds for every item. One flush runs
at a time: ids are handed out in flush order, so within a process a message broadcast later
never has a smaller id than one broadcast before it (catch-up by "after id N" stays sound).

Admission control: above capacity a queue without a bound only turns overload into latency for
everyone (and, past the clients' timeouts, into retries that add to the load). When more than
``max_pending`` items wait for a transaction, ``submit`` refuses the new item at once with the
writer's ``overloaded()`` exception, before anything is written; the client retries later with
the same id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db.errors import is_unreachable

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Flush = Callable[[AsyncSession, Sequence[T]], Awaitable[Sequence["R | Exception"]]]

DEFAULT_MAX_BATCH = 256
DEFAULT_MAX_PENDING = 512


class WriterStoppedError(RuntimeError):
    """The process is shutting down; the item may or may not be stored (a retry will tell)."""


class OverloadedError(RuntimeError):
    """Too many items wait for a transaction: this one was refused and not stored."""


class GroupCommit(Generic[T, R]):
    """Collects items from concurrent callers and flushes them in one transaction each round.

    ``flush(db, items)`` runs inside ``sessions.begin()`` and returns one outcome per item: a
    result, or an exception meant for that item only (a 4xx reason: the rest of the batch still
    commits). If the flush itself raises, or the commit fails, nothing of the batch was written
    and every waiter gets that exception, except that a batch refused by the database for
    its content (a constraint, a bad value) is retried item by item, so one bad item cannot
    fail the messages that happened to share its transaction.
    """

    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        flush: Flush[T, R],
        max_batch: int = DEFAULT_MAX_BATCH,
        max_pending: int = DEFAULT_MAX_PENDING,
        overloaded: Callable[[], Exception] = OverloadedError,
    ) -> None:
        self._sessions = sessions
        self._flush = flush
        self._max_batch = max_batch
        self.max_pending = max_pending
        "Items that may wait for a transaction before new ones are refused (adjustable)."
        self._overloaded = overloaded
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None
        self.batches = 0
        "Transactions run so far (for tests and metrics)."
        self.items = 0
        self.refused = 0
        "Items refused by admission control."
        self.busy_s = 0.0
        "Wall time spent in transactions (busy_s / batches: how long one takes)."

    @property
    def pending(self) -> int:
        """Items waiting for a transaction (not counting the one being written)."""
        return len(self._pending)

    async def submit(self, item: T) -> R:
        """Queue ``item``; return its result once its transaction has committed.

        Raises ``overloaded()`` at once, with nothing queued, when ``max_pending`` items
        already wait.
        """
        if len(self._pending) >= self.max_pending:
            self.refused += 1
            raise self._overloaded()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="chat-group-commit")
        # If the caller is cancelled, so is its future; the runner task still writes the item
        # (harmless: a retry with the same client id finds the stored row) and skips the answer.
        return await future

    async def drain(self) -> None:
        """Wait until everything queued so far is written (shutdown)."""
        while self._runner is not None and not self._runner.done():
            await asyncio.wait({self._runner})

    async def _run(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            started = time.perf_counter()
            await self._write(batch)
            self.busy_s += time.perf_counter() - started

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            async with self._sessions().begin() as db:
                outcomes = await self._flush(db, items)
                if len(outcomes) != len(items):
                    raise RuntimeError("flush returned a different number of outcomes")
        except Exception as exc:  # nothing of this batch was committed
            if len(batch) > 1 and not is_unreachable(exc):
                logger.warning("chat batch of %d refused (%s); writing one by one", len(batch),
                               type(exc).__name__)  # fmt: skip
                for one in batch:
                    await self._write([one])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException as exc:  # cancelled at shutdown: tell the waiters, then stop
            for _, future in batch:
                if not future.done():
                    future.set_exception(WriterStoppedError("chat writer stopped"))
            raise exc
        self.batches += 1
        self.items += len(items)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
