"""Queue records: what restores a durable queue whose consumer state was in memory.

With ``queue_state="memory"`` a queue's JetStream consumer lives in the server's memory,
so a server restart loses it with its description (the consumer's ``metadata``). Each
durable queue (not exclusive or auto-delete: those keep their state in files) therefore
also has a record in the metadata stream, on
``<ns>.amqp.meta.q.<queue>``: its :class:`QueueSpec` (flags, arguments, bindings with
the sequence each was made at, the sequence the queue was created at) and when its
consumer was created. A later declare, consume, bind, purge or delete that finds the
consumer missing makes it again from the record, starting after the creation sequence;
the ack log (:mod:`natswire.amqp.acklog`) says which of those messages already left.

A declare reads the record first; a new queue's record is written once its consumer
exists (with an expected-last-sequence check, so two processes declaring the same queue
agree). It is rewritten when the bindings change, expecting the sequence read before
(a deletion meanwhile makes the bind look again), with the creation sequence raised to
the consumer's ack floor (everything up to it is settled), and removed before the
consumer when the queue is deleted.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..jetstream.errors import NotFoundError, WrongLastSequenceError
from .names import SubjectMap, encode_name
from .queues import QueueSpec

if TYPE_CHECKING:
    from ..jetstream.context import JetStreamContext


@dataclass(frozen=True)
class QueueRecord:
    """A stored queue record: the queue, and when the consumer it describes was made."""

    spec: QueueSpec
    consumer_created: str
    #: The record's sequence in the metadata stream (what a rewrite expects).
    seq: int = 0


def record_subject(subjects: SubjectMap, queue: str) -> str:
    """The subject of ``queue``'s record in the metadata stream."""
    return subjects.meta_subject("q", encode_name(queue))


def created_stamp(created: datetime.datetime | None) -> str:
    """A consumer's creation time as a record keeps it."""
    return created.isoformat() if created is not None else ""


class QueueRecords:
    """The queue records of one namespace (in its metadata stream)."""

    def __init__(self, js: JetStreamContext, meta_stream: str, subjects: SubjectMap) -> None:
        self._js = js
        self._stream = meta_stream
        self._subjects = subjects

    def _subject(self, queue: str) -> str:
        return record_subject(self._subjects, queue)

    @staticmethod
    def _encode(spec: QueueSpec, consumer_created: str) -> bytes:
        stored = dataclasses.replace(spec, restored_at=0)
        return json.dumps(
            {"metadata": stored.metadata(), "consumer_created": consumer_created},
            separators=(",", ":"),
        ).encode()

    async def create(self, spec: QueueSpec, consumer_created: str) -> bool:
        """Write the record of a new queue; ``False`` when ``spec.name`` has one."""
        try:
            await self._js.publish(
                self._subject(spec.name),
                self._encode(spec, consumer_created),
                expected_last_subject_seq=0,
            )
        except WrongLastSequenceError:
            return False
        return True

    async def write(self, spec: QueueSpec, consumer_created: str, expected_seq: int) -> None:
        """Replace the record of ``spec.name`` (its bindings changed), which is at
        ``expected_seq`` (0: none); :class:`WrongLastSequenceError` when it changed or
        went meanwhile."""
        await self._js.publish(
            self._subject(spec.name),
            self._encode(spec, consumer_created),
            expected_last_subject_seq=expected_seq,
        )

    async def read(self, queue: str) -> QueueRecord | None:
        """The record of ``queue``; ``None`` when it has none (or an unreadable one)."""
        try:
            raw = await self._js.get_last_msg(self._stream, self._subject(queue))
        except NotFoundError:
            return None
        try:
            body = json.loads(raw.data)
            spec = QueueSpec.from_metadata(body["metadata"])
            created = str(body.get("consumer_created") or "")
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if spec is None or spec.name != queue:
            return None
        return QueueRecord(spec, created, raw.seq or 0)

    async def delete(self, queue: str) -> None:
        """Remove the record of ``queue``."""
        await self._js.purge_stream(self._stream, subject=self._subject(queue))
