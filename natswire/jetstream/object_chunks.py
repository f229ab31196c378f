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
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
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
#: Bytes of chunks asked for in one pull; the next pull goes out when half of them have
#: arrived, so a get holds at most about one and a half of these.
FETCH_BYTES = 2 * 1024 * 1024


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


async def digest_chunks(chunks: AsyncIterator[bytes], write: Callable[[bytes], Any]) -> bytes:
    """Hand every chunk to ``write``, in order, and return the SHA-256 of them all.

    The hashing stays on the event loop's thread: handing groups of chunks to a worker
    thread (hashlib lets go of the GIL) measured slower on a two-core machine, where the
    server takes the other core and the hand-offs cost more than they free."""
    sha = hashlib.sha256()
    async for chunk in chunks:
        sha.update(chunk)
        write(chunk)
    return sha.digest()


async def fetch_chunks(
    js: JetStreamContext, stream: str, subject: str, chunks: int, chunk_size: int
) -> AsyncGenerator[bytes, None]:
    """The ``chunks`` chunks (of up to ``chunk_size`` bytes) stored on ``subject``, in
    order, from an ordered pull consumer (deleted when done) that pulls the next batch
    while this one is read."""
    if chunks <= 0:
        return
    batch = min(chunks, max(1, FETCH_BYTES // max(1, chunk_size)))
    sub = await js.ordered_pull(subject, stream=stream)
    messages = sub.consume(batch)
    try:
        remaining = chunks
        async for msg in messages:
            yield msg.data
            remaining -= 1
            if remaining <= 0 or msg.metadata.num_pending == 0:
                return
    finally:
        await messages.aclose()
        await sub.unsubscribe()
