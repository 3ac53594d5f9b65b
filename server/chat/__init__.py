"""Durable chat shared by video consultations and asynchronous cases.

A message is committed before anyone is told about it, carries a client-generated id so a
retry never duplicates it, and readers catch up by asking for everything after the last id
they saw. Channels are plain strings: ``consultation:<uuid>``, ``case:<uuid>``.
"""

from server.chat.models import ChatMessage, ChatReceipt
from server.chat.store import (
    MAX_CLIENT_MSG_ID_CHARS,
    MAX_TEXT_CHARS,
    ChatAuthor,
    InvalidChatMessageError,
    NewMessage,
    StoredMessage,
    append,
    append_many,
    case_channel,
    checked,
    consultation_channel,
    history,
    last_read,
    mark_read,
    receipts,
)

__all__ = [
    "MAX_CLIENT_MSG_ID_CHARS",
    "MAX_TEXT_CHARS",
    "ChatAuthor",
    "ChatMessage",
    "ChatReceipt",
    "InvalidChatMessageError",
    "NewMessage",
    "StoredMessage",
    "append",
    "append_many",
    "case_channel",
    "checked",
    "consultation_channel",
    "history",
    "last_read",
    "mark_read",
    "receipts",
]
