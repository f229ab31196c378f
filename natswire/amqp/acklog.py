"""The ack log: what left each queue, for queues whose consumer state is in memory.

With ``queue_state="memory"`` (the default on a single server) a queue's JetStream
consumer keeps its position and acks in the server's memory, so no file is rewritten
per delivery or ack; a server restart loses the consumer, and the adapter restores it
from the queue's record (:mod:`natswire.amqp.records`). What the restored consumer must
not deliver again is in this log: every settlement that takes a message out of a queue
(an ack, a dead-letter or drop, an expiry, a purge) is also appended to the file stream
``AMQP-ACKS-<ns>``, on the queue's subject ``<ns>.amqp.acked.<queue>``, with the
message's stream sequence as payload.

A record is sent just before the ack, on the same connection, and not waited for: the
server reads it first, so an ack that took effect has its record stored or on its way
(a crash may lose the last records with the last acks, and those messages come back, as
acks of the last moments before a crash can with file state). The log keeps records for
the main stream's max age: a record is never older than the message it names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .names import SubjectMap, encode_name

if TYPE_CHECKING:
    from .._client import Client
    from ..jetstream.context import JetStreamContext

#: How many records one read of the log asks for.
READ_BATCH = 1000


def acklog_subjects(subjects: SubjectMap) -> list[str]:
    """The subjects of the ack log stream."""
    return [f"{subjects.prefix}amqp.acked.>"]


def acklog_subject(subjects: SubjectMap, queue: str) -> str:
    """The subject of ``queue``'s records in the ack log."""
    return f"{subjects.prefix}amqp.acked.{encode_name(queue)}"


class AckLog:
    """Appending to and reading the ack log of one namespace."""

    def __init__(self, nc: Client, js: JetStreamContext, stream: str, subjects: SubjectMap) -> None:
        self._nc = nc
        self._js = js
        self._stream = stream
        self._subjects = subjects

    def subject(self, queue: str) -> bytes:
        """The log subject of ``queue`` (what :meth:`record` takes)."""
        return acklog_subject(self._subjects, queue).encode()

    async def record(self, subject: bytes, seq: int) -> None:
        """Log that the message at stream sequence ``seq`` left the queue whose log
        subject is ``subject``; sent, not waited for."""
        writable = self._nc.publish_trusted_nowait(subject, b"%d" % seq)
        if writable is not None:
            await writable

    async def settled(self, queue: str, upto: int, after: int = 0) -> set[int]:
        """The stream sequences above ``after`` and up to ``upto`` logged for
        ``queue``."""
        subject = self.subject(queue).decode()
        found: set[int] = set()
        start = 1
        while True:
            msgs = await self._js.get_msgs(
                self._stream, batch=READ_BATCH, seq=start, subject=subject
            )
            if not msgs:
                return found
            for msg in msgs:
                if msg.data.isdigit() and after < (seq := int(msg.data)) <= upto:
                    found.add(seq)
            start = (msgs[-1].seq or start) + 1

    async def end(self) -> int:
        """The log's next sequence: :meth:`forget` drops what came before it."""
        return (await self._js.stream_info(self._stream)).state.last_seq + 1

    async def forget(self, queue: str, before: int) -> None:
        """Drop ``queue``'s records logged before the log's sequence ``before`` (the
        queue was deleted; one declared again since keeps its own)."""
        await self._js.purge_stream(self._stream, seq=before, subject=self.subject(queue).decode())
