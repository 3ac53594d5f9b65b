"""Fixtures for media tests: the pre-encoded clip, loopback config, a room with clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from media import MediaConfig, RoomRegistry

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
    config: MediaConfig, negotiator: LocalNegotiator
) -> AsyncIterator[RoomRegistry]:
    registry = RoomRegistry(config, None, negotiator)
    yield registry
    await registry.close_all()
    for client in negotiator.clients.values():
        await client.close()


async def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll until `condition()` is truthy; fail with the condition's source otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)
