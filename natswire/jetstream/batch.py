"""Atomic batch publish (nats-server 2.12, ADR-50): a group of messages a stream with
``allow_atomic`` stores all together or not at all.

nats-py 2.16 and nats.go have no API for it (nats-py only knows the ``PubAck`` fields
and the header names); this follows the Go one, Synadia's ``orbit.go/jetstreamext``
(``NewBatchPublisher``, ``PublishMsgBatch``)::

    batch = BatchPublisher(js)
    await batch.add("orders.1", b"...")
    await batch.add("orders.2", b"...")
    ack = await batch.commit("orders.3", b"...")   # ack.batch_size == 3

Every message carries ``Nats-Batch-Id`` and its place in ``Nats-Batch-Sequence``; the
last one ``Nats-Batch-Commit: 1``, and its ack is the batch's. The other messages go out
without waiting, except those flow control asks an (empty) answer for: the first by
default, and every ``ack_every``-th. The server drops a batch it hears nothing of for
10 s, holds at most 1000 messages in one, and refuses a batch with a gap.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..client.message import Message
from ..protocol.headers import Headers, HeadersLike
from .api import Header, PubAck
from .errors import BatchClosedError, EmptyBatchError, InvalidBatchAckError, decode_response
from .puback import parse_pub_ack

if TYPE_CHECKING:
    from .manager import JetStreamManager

#: ``Nats-Batch-Commit`` of an end-of-batch marker: it commits the messages before it
#: and is not stored itself (nats-server 2.14).
COMMIT_END_OF_BATCH = "eob"


class BatchPublisher:
    """One atomic batch to a stream with ``allow_atomic`` (see the module's text).

    ``ack_first`` waits for the server's answer to the first message (so a stream that
    refuses batches says so at once), ``ack_every`` for every ``ack_every``-th one too;
    each within ``ack_timeout`` (the context's timeout when ``None``). A refusal raises
    the server's :class:`~natswire.jetstream.errors.APIError`.
    """

    def __init__(
        self,
        js: JetStreamManager,
        *,
        ack_first: bool = True,
        ack_every: int = 0,
        ack_timeout: float | None = None,
    ) -> None:
        if ack_every < 0:
            raise ValueError("ack_every must not be negative")
        self._js = js
        self._ack_first = ack_first
        self._ack_every = ack_every
        self._ack_timeout = ack_timeout or js.timeout
        self._batch_id = secrets.token_hex(11)
        self._sequence = 0
        self._first_subject = ""
        self._closed = False
        # Adds from concurrent tasks go out one at a time, in sequence order.
        self._lock = asyncio.Lock()

    @property
    def batch_id(self) -> str:
        """The batch's ``Nats-Batch-Id``."""
        return self._batch_id

    @property
    def size(self) -> int:
        """How many messages were added (the commit's included) so far."""
        return self._sequence

    @property
    def is_closed(self) -> bool:
        """Whether the batch was committed or discarded."""
        return self._closed

    def _headers(self, headers: HeadersLike | None, sequence: int, commit: str | None) -> Headers:
        hdr = Headers(headers)
        hdr.pop(Header.BATCH_COMMIT.value, None)
        hdr[Header.BATCH_ID.value] = self._batch_id
        hdr[Header.BATCH_SEQUENCE.value] = str(sequence)
        if commit is not None:
            hdr[Header.BATCH_COMMIT.value] = commit
        return hdr

    async def add(
        self, subject: str, payload: bytes = b"", headers: HeadersLike | None = None
    ) -> None:
        """Send one message of the batch; the stream stores it only at the commit.
        ``headers`` may carry the expectations (``Nats-Expected-Last-Sequence`` ...),
        which the server checks at the commit."""
        async with self._lock:
            if self._closed:
                raise BatchClosedError(f"batch {self._batch_id} is closed")
            self._sequence += 1
            if not self._first_subject:
                self._first_subject = subject
            hdr = self._headers(headers, self._sequence, None)
            wants_answer = (self._ack_first and self._sequence == 1) or (
                self._ack_every > 0 and self._sequence % self._ack_every == 0
            )
            nc = self._js.client
            if not wants_answer:
                await nc.publish(subject, payload, headers=hdr)
                return
            answer = await nc.request(subject, payload, timeout=self._ack_timeout, headers=hdr)
            if answer.data:  # an accepted message is answered with nothing
                decode_response(answer.data, f"batch {self._batch_id} message {self._sequence}")

    async def add_msg(self, msg: Message) -> None:
        """:meth:`add` for a message made beforehand (its subject, data and headers)."""
        await self.add(msg.subject, msg.data, msg.headers)

    async def commit(
        self,
        subject: str,
        payload: bytes = b"",
        headers: HeadersLike | None = None,
        timeout: float | None = None,
    ) -> PubAck:
        """Send the last message and commit the batch; its ack names the batch
        (``batch_id``) and how many messages were stored (``batch_size``)."""
        async with self._lock:
            if self._closed:
                raise BatchClosedError(f"batch {self._batch_id} is closed")
            self._sequence += 1
            hdr = self._headers(headers, self._sequence, "1")
            return await self._commit(subject, payload, hdr, timeout, self._sequence)

    async def commit_msg(self, msg: Message, timeout: float | None = None) -> PubAck:
        """:meth:`commit` with a message made beforehand."""
        return await self.commit(msg.subject, msg.data, msg.headers, timeout)

    async def close(self, timeout: float | None = None) -> PubAck:
        """Commit the messages added so far with an end-of-batch marker, which is not
        stored itself (nats-server 2.14). Raises :class:`EmptyBatchError` when nothing
        was added. To give a batch up instead, :meth:`discard` it."""
        async with self._lock:
            if self._closed:
                raise BatchClosedError(f"batch {self._batch_id} is closed")
            if self._sequence == 0:
                raise EmptyBatchError(f"batch {self._batch_id} has no message to commit")
            # The marker takes the next place but is not counted in the batch's size.
            hdr = self._headers(None, self._sequence + 1, COMMIT_END_OF_BATCH)
            return await self._commit(self._first_subject, b"", hdr, timeout, self._sequence)

    async def _commit(
        self, subject: str, payload: bytes, hdr: Headers, timeout: float | None, expected: int
    ) -> PubAck:
        answer = await self._js.client.request(
            subject, payload, timeout=timeout or self._js.timeout, headers=hdr
        )
        self._closed = True
        ack = parse_pub_ack(answer.data)
        if ack.batch_id != self._batch_id or ack.batch_size != expected:
            raise InvalidBatchAckError(
                f"the commit of batch {self._batch_id} ({expected} messages) was answered "
                f"with {json.dumps(ack.as_request())}"
            )
        return ack

    def discard(self) -> None:
        """Give the batch up: nothing of it is stored (the server forgets it after 10 s
        without news). Raises :class:`BatchClosedError` when it is already closed."""
        if self._closed:
            raise BatchClosedError(f"batch {self._batch_id} is closed")
        self._closed = True


async def publish_msg_batch(
    js: JetStreamManager,
    messages: Iterable[Message],
    *,
    ack_first: bool = True,
    ack_every: int = 0,
    ack_timeout: float | None = None,
    timeout: float | None = None,
) -> PubAck:
    """Publish ``messages`` as one atomic batch and return the commit's ack (orbit.go's
    ``PublishMsgBatch``). Raises ``ValueError`` for no messages."""
    batch = list(messages)
    if not batch:
        raise ValueError("publish_msg_batch needs at least one message")
    publisher = BatchPublisher(
        js, ack_first=ack_first, ack_every=ack_every, ack_timeout=ack_timeout
    )
    for msg in batch[:-1]:
        await publisher.add_msg(msg)
    return await publisher.commit_msg(batch[-1], timeout)
