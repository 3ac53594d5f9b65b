"""Room actions across processes: an HTTP request served by one node reaches a room on another.

A room's roster and media live only in the process that hosts it, but the REST API is served by
whichever process the balancer picked. Socket.IO emits already cross processes (the Redis
manager); an action on the live room itself (today: re-check admissions after a consent
decision) goes on a Redis pub/sub channel that every node listens to. A node that does not
host the room ignores it; the node that sent it has already run it locally.

    actions = RoomActions(redis, prefix, node_id)
    await actions.start(apply)           # subscribe; apply(action, consultation_id) per message
    await actions.publish(REFRESH_ADMISSION, consultation_id)
    await actions.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

REFRESH_ADMISSION = "refresh_admission"
ACTIONS = frozenset({REFRESH_ADMISSION})

Apply = Callable[[str, str], Awaitable[None]]


class RoomActions:
    """Publish room actions to the other nodes and run the ones they publish."""

    def __init__(self, redis: aioredis.Redis, prefix: str, node_id: str) -> None:
        self._redis = redis
        self._channel = f"{prefix}:room-actions"
        self._node_id = node_id
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self.applied = 0
        "Actions from other nodes run here (diagnostics and tests)."

    async def start(self, apply: Apply) -> None:
        """Subscribe before returning, so no action published after start-up is missed."""
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel)
        self._task = asyncio.get_running_loop().create_task(
            self._listen(apply), name="cluster:room-actions"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
            self._pubsub = None

    async def publish(self, action: str, consultation_id: str) -> None:
        """Tell the other nodes; raises RedisError/OSError when Redis is unreachable."""
        message = {"action": action, "consultation_id": consultation_id, "from": self._node_id}
        await self._redis.publish(self._channel, json.dumps(message))

    async def _listen(self, apply: Apply) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                # The connection comes back on the next call; actions sent meanwhile are lost
                # (a held patient is admitted at their next join or admit request instead).
                logger.warning("cluster: room actions channel failed: %s", exc)
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                data = json.loads(message["data"])
                action, consultation_id = data["action"], data["consultation_id"]
                sender = data.get("from")
            except (ValueError, KeyError, TypeError):
                logger.warning("cluster: ignored a malformed room action")
                continue
            if sender == self._node_id or action not in ACTIONS:
                continue
            try:
                await apply(action, str(consultation_id))
                self.applied += 1
            except Exception:
                # One failing room must not stop the channel for every other room.
                logger.exception("cluster: room action %s failed", action)
