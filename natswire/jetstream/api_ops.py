"""The requests and answers of single JetStream management operations: pausing and
resetting a consumer, purging a stream (nats-py's names and fields)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from .api import Base, ConsumerInfo, StreamInfo


@dataclass
class ConsumerPause(Base):
    """A consumer's pause state after ``pause_consumer`` or ``resume_consumer``
    (nats-server 2.11+). ``pause_until`` is the RFC 3339 time the server echoes,
    ``pause_remaining`` the seconds left."""

    paused: bool = False
    pause_until: str | None = None
    pause_remaining: float | None = None

    duration_fields: ClassVar[frozenset[str]] = frozenset({"pause_remaining"})


@dataclass
class ConsumerReset(Base):
    """The answer to ``reset_consumer`` (nats-server 2.14, ADR-60): the consumer as it
    is after the reset, and the stream sequence the next delivery starts at or above."""

    info: ConsumerInfo
    reset_seq: int

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> ConsumerReset:
        """The server sends the consumer's info with ``reset_seq`` beside its fields."""
        rest = {key: value for key, value in data.items() if key != "reset_seq"}
        return cls(info=ConsumerInfo.from_response(rest), reset_seq=int(data["reset_seq"]))


@dataclass
class StreamPurgeRequest(Base):
    """What ``purge_stream`` removes: every message below ``seq``, those on the subject
    ``filter``, or all but the last ``keep``; everything when all are ``None``."""

    seq: int | None = None
    filter: str | None = None
    keep: int | None = None


class StreamsListIterator:
    """One page of ``STREAM.LIST``: what ``await js.streams_info_iterator()`` returns, as
    in nats-py. Iterating it gives the page's :class:`StreamInfo` items; ``offset`` and
    ``total`` are the server's paging numbers."""

    def __init__(self, offset: int, total: int, streams: list[dict[str, Any]]) -> None:
        self.offset = offset
        self.total = total
        self.streams = streams
        self._index = 0

    def __iter__(self) -> Iterator[StreamInfo]:
        return self

    def __next__(self) -> StreamInfo:
        if self._index >= len(self.streams):
            raise StopIteration
        item = self.streams[self._index]
        self._index += 1
        return StreamInfo.from_response(item)
