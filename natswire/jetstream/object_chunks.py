"""An object's content as chunks: read from bytes, a file or an async stream, published
with a bounded window of unacknowledged chunks, and read back with an ordered pull
consumer; memory stays bounded however large the object. The digest is written as
nats.go writes it: ``SHA-256=`` and the base64url (padded) SHA-256."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from .errors import DigestMismatchError

if TYPE_CHECKING:
    from .api import PubAck
    from .context import JetStreamContext

#: nats.go's chunk size.
DEFAULT_CHUNK_SIZE = 128 * 1024
DIGEST_PREFIX = "SHA-256="
#: Chunks published and not yet acknowledged, at most (bounds the memory a put holds).
PUBLISH_WINDOW = 16
#: Chunks asked for in one pull (bounds the memory a get holds).
FETCH_BATCH = 16


def encode_digest(sha: bytes) -> str:
    """The digest string stored in an object's info."""
    return DIGEST_PREFIX + base64.urlsafe_b64encode(sha).decode()


def check_digest(expected: str | None, sha: bytes) -> None:
    """Raise :class:`DigestMismatchError` unless ``sha`` is the ``expected`` digest."""
    text = (expected or "").replace(DIGEST_PREFIX, "").replace(DIGEST_PREFIX.upper(), "")
    try:
        wanted = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise DigestMismatchError(f"unreadable digest {expected!r}") from None
    if wanted != sha:
        raise DigestMismatchError(f"the object's content does not match its digest {expected}")


def _slices(data: bytes | bytearray | memoryview, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield bytes(view[start : start + size])


async def read_chunks(source: Any, size: int) -> AsyncIterator[bytes]:
    """``source`` in chunks of ``size`` bytes: ``bytes``/``str``, a binary file (read in
    a worker thread unless it is in memory), a text file's buffer, an object with an
    ``async read(n)`` or an async iterable of bytes."""
    if isinstance(source, str):
        source = source.encode()
    if isinstance(source, (bytes, bytearray, memoryview)):
        for chunk in _slices(source, size):
            yield chunk
        return
    if isinstance(source, io.TextIOBase) and hasattr(source, "buffer"):
        source = source.buffer
    read = getattr(source, "read", None)
    if read is not None and asyncio.iscoroutinefunction(read):
        while chunk := await read(size):
            yield bytes(chunk)
        return
    if read is not None:
        in_memory = isinstance(source, io.BytesIO)
        loop = asyncio.get_running_loop()
        while True:
            chunk = read(size) if in_memory else await loop.run_in_executor(None, read, size)
            if not chunk:
                return
            yield bytes(chunk)
    if isinstance(source, AsyncIterable):
        pending = bytearray()
        async for piece in source:
            pending += piece
            while len(pending) >= size:
                yield bytes(pending[:size])
                del pending[:size]
        if pending:
            yield bytes(pending)
        return
    raise TypeError(f"cannot read an object from {type(source).__name__}")


async def publish_chunks(
    js: JetStreamContext, subject: str, source: Any, size: int
) -> tuple[int, int, str]:
    """Publish ``source`` as chunks on ``subject``, at most :data:`PUBLISH_WINDOW`
    unacknowledged; ``(chunks, bytes, digest)``."""
    sha = hashlib.sha256()
    window: deque[asyncio.Future[PubAck]] = deque()
    chunks = total = 0
    try:
        async for chunk in read_chunks(source, size):
            sha.update(chunk)
            if len(window) >= PUBLISH_WINDOW:
                await window.popleft()
            window.append(await js.publish_async(subject, chunk))
            chunks += 1
            total += len(chunk)
        while window:
            await window.popleft()
    finally:
        for future in window:
            future.cancel()
    return chunks, total, encode_digest(sha.digest())


async def fetch_chunks(
    js: JetStreamContext, stream: str, subject: str, chunks: int
) -> AsyncIterator[bytes]:
    """The ``chunks`` chunks stored on ``subject``, in order, from an ordered pull
    consumer (deleted when done)."""
    if chunks <= 0:
        return
    sub = await js.ordered_pull(subject, stream=stream)
    try:
        remaining = chunks
        while remaining > 0:
            msgs = await sub.fetch(min(remaining, FETCH_BATCH), timeout=js.timeout)
            for msg in msgs:
                yield msg.data
            remaining -= len(msgs)
            if msgs and msgs[-1].metadata.num_pending == 0:
                return
    finally:
        await sub.unsubscribe()
