"""Fixtures for media tests: the pre-encoded clip, loopback config, a room with clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from media import MediaConfig, RoomRegistry

from .legs import Wire
from .synthetic import Clip, LocalNegotiator, make_clips


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Clip, Clip]:
    video, audio = make_clips(Path(tmp_path_factory.mktemp("clips")))
    return Clip.load(video), Clip.load(audio)


@pytest.fixture
def config() -> MediaConfig:
    return MediaConfig(host_addresses=["127.0.0.1"], empty_room_timeout_s=30)


@pytest.fixture
def negotiator() -> LocalNegotiator:
    return LocalNegotiator()


@pytest.fixture
async def registry(
    config: MediaConfig, negotiator: LocalNegotiator, observer: RecordingObserver
) -> AsyncIterator[RoomRegistry]:
    registry = RoomRegistry(config, observer, negotiator)
    yield registry
    await registry.close_all()
    for client in negotiator.clients.values():
        await client.close()


async def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Poll until `condition()` is truthy; fail with the condition's source otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


class RecordingObserver:
    """A RoomObserver that records every call as (event, args)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[object, ...]]] = []

    def named(self, event: str) -> list[tuple[object, ...]]:
        return [args for name, args in self.events if name == event]

    async def participant_joined(self, *args: object) -> None:
        self.events.append(("participant_joined", args))

    async def participant_left(self, *args: object) -> None:
        self.events.append(("participant_left", args))

    async def track_published(self, *args: object) -> None:
        self.events.append(("track_published", args))

    async def track_unpublished(self, *args: object) -> None:
        self.events.append(("track_unpublished", args))

    async def track_muted(self, *args: object) -> None:
        self.events.append(("track_muted", args))

    async def room_closed(self, *args: object) -> None:
        self.events.append(("room_closed", args))


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def wires() -> Iterator[list[Wire]]:
    """Legs made with `legs.wire`, closed after the test."""
    made: list[Wire] = []
    yield made
    for w in made:
        w.sock.close()
        w.receiver.close()
