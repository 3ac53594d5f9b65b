"""Streaming an upload to disk with a size cap, hashing it on the way, stored by content hash.

The upload is written to a temporary file in the same directory and renamed into place only
once it is complete, of an accepted type and within the cap: a refused or interrupted upload
leaves nothing behind, and a stored file is never half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from server.attachments.sniff import SNIFF_BYTES, sniff


class UploadTooLargeError(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"upload exceeds {limit} bytes")
        self.limit = limit


class UnsupportedFileTypeError(ValueError):
    """The content is not one of the accepted types, whatever its name says."""


class EmptyUploadError(ValueError):
    pass


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    content_type: str
    size_bytes: int
    path: Path


def attachments_dir(data_dir: Path) -> Path:
    return data_dir / "attachments"


def path_for(data_dir: Path, sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return attachments_dir(data_dir) / sha256


async def store(data_dir: Path, chunks: AsyncIterator[bytes], max_bytes: int) -> StoredFile:
    """Consume ``chunks`` into ``data_dir/attachments/<sha256>``; raise before keeping anything."""
    directory = attachments_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    handle, temp_name = tempfile.mkstemp(dir=directory, prefix=".upload-")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLargeError(max_bytes)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    # Refuse a disguised file as soon as its first bytes are known.
                    if len(head) >= SNIFF_BYTES and sniff(head) is None:
                        raise UnsupportedFileTypeError()
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise EmptyUploadError()
        content_type = sniff(head)
        if content_type is None:
            raise UnsupportedFileTypeError()
        return StoredFile(
            digest.hexdigest(), content_type, size, _keep(temp, directory / digest.hexdigest())
        )
    except BaseException:
        _discard(temp)
        raise


def _keep(temp: Path, final: Path) -> Path:
    """Move the complete upload into place; identical content is already there: drop the copy."""
    if final.exists():
        temp.unlink()
    else:
        temp.chmod(0o640)
        os.replace(temp, final)
    return final


def _discard(temp: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
