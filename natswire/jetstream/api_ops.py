"""The requests and answers of single JetStream management operations: pausing and
resetting a consumer, purging a stream (nats-py's names and fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .api import Base, ConsumerInfo


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
