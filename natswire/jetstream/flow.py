"""The decisions of a push consumer, without I/O: which control messages need an answer,
whether an ordered consumer's message is the next one, and when heartbeats are missed.

Push consumers send status-100 control messages on their deliver subject: idle
heartbeats (``Idle Heartbeat``, perhaps with ``Nats-Consumer-Stalled`` when flow control
is waiting, and ``Nats-Last-Consumer``/``Nats-Last-Stream``) and flow-control requests
(``FlowControl Request``, answered by an empty publish to their reply subject). The
subscription takes control messages in the order they arrived, between the data
messages, so an answer goes out only once every message before it was handed over.

Time is passed in (seconds, any monotonic clock), as in
:class:`natswire.client.failover.PingSchedule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .api import ConsumerConfig, DeliverPolicy

#: Headers of a status-100 control message.
CONSUMER_STALLED = "Nats-Consumer-Stalled"
LAST_CONSUMER = "Nats-Last-Consumer"


def ack_sequences(reply: bytes) -> tuple[int, int]:
    """``(consumer sequence, stream sequence)`` from a JetStream ack subject, either
    layout (``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``, or
    with ``<domain>.<account hash>`` before the stream and perhaps a token after), read
    without building the whole metadata; ``(0, 0)`` for anything else."""
    tokens = reply.split(b".")
    count = len(tokens)
    if count == 9:
        return int(tokens[6]), int(tokens[5])
    if count >= 11:
        return int(tokens[8]), int(tokens[7])
    return 0, 0


@dataclass(frozen=True)
class ControlAnswer:
    """What to do about one control message."""

    #: Subjects to publish an empty message to, in this order.
    replies: tuple[str, ...] = ()
    #: An ordered consumer missed messages: recreate it.
    reset: bool = False


class OrderedSequence:
    """The sequences an ordered consumer (ADR-17) has handed out.

    Each data message must carry the next consumer sequence; anything else is a gap
    (a message lost on the way), after which the consumer is recreated to start at
    :attr:`next_stream_seq`. A message taken by its ack subject (:meth:`accept_reply`,
    or the push delivery's inlined copy of it) leaves that subject in
    :attr:`last_reply`: its stream sequence is read only when asked for.

    ``start_stream_seq`` is where the first consumer starts, 0 when that is not known
    (a deliver policy such as ``LAST_PER_SUBJECT`` has no single start): until then a
    recreated consumer keeps its deliver policy (:attr:`position_known`).
    """

    __slots__ = ("_known", "_stream_seq", "consumer_seq", "last_reply")

    def __init__(self, start_stream_seq: int = 0) -> None:
        self._known = start_stream_seq > 0
        self._stream_seq = max(start_stream_seq - 1, 0)
        #: The consumer sequence of the last message handed out by the current consumer.
        self.consumer_seq = 0
        #: The ack subject of the last message handed out when it was taken by its ack
        #: subject and its stream sequence was not read yet (else ``None``).
        self.last_reply: bytes | None = None

    @property
    def stream_seq(self) -> int:
        """The stream sequence of the last message handed out; before the first, the one
        before the first consumer's start when known, else 0."""
        reply = self.last_reply
        if reply is not None:
            self._stream_seq = ack_sequences(reply)[1]
            self.last_reply = None
        return self._stream_seq

    @property
    def position_known(self) -> bool:
        """Whether :attr:`next_stream_seq` is where a recreated consumer must start: a
        message was handed out, or the first consumer's start is known."""
        return self._known or self.stream_seq > 0

    def start_at(self, stream_seq: int) -> None:
        """The first consumer starts at ``stream_seq`` (learnt once it exists); ignored
        once a message was handed out."""
        if not self.stream_seq:
            self._stream_seq = max(stream_seq - 1, 0)
            self._known = stream_seq > 0

    @property
    def next_stream_seq(self) -> int:
        """Where a recreated consumer starts."""
        return self.stream_seq + 1

    def accept(self, consumer_seq: int, stream_seq: int) -> bool:
        """Whether a data message is the next one (then it counts as handed out)."""
        if consumer_seq != self.consumer_seq + 1:
            return False
        self.consumer_seq = consumer_seq
        self._stream_seq = stream_seq
        self.last_reply = None
        return True

    def accept_reply(self, reply: bytes) -> bool:
        """:meth:`accept` for a message known by its ack subject, read as
        :func:`ack_sequences` reads it (one split, one number): the stream sequence is
        read from :attr:`last_reply` later, only when asked for."""
        tokens = reply.split(b".")
        count = len(tokens)
        if count == 9:
            consumer_seq = int(tokens[6])
        elif count >= 11:
            consumer_seq = int(tokens[8])
        else:
            return False
        if consumer_seq != self.consumer_seq + 1:
            return False
        self.consumer_seq = consumer_seq
        self.last_reply = reply
        return True

    def heartbeat_agrees(self, last_consumer_seq: int) -> bool:
        """Whether a heartbeat's ``Nats-Last-Consumer`` matches what was handed out."""
        return last_consumer_seq == self.consumer_seq

    def restart(self) -> int:
        """A new consumer takes over: its sequences start again. Returns its first
        stream sequence."""
        self.consumer_seq = 0
        return self.next_stream_seq

    def replacement(self, config: ConsumerConfig, **changes: Any) -> ConsumerConfig:
        """The configuration of the consumer that takes over (:meth:`restart`):
        ``config`` with ``changes``, starting after the last message handed out or where
        the first consumer started; with neither known it keeps its own deliver policy."""
        start = self.restart()
        if self.position_known:
            changes.update(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                opt_start_time=None,
            )
        return config.evolve(**changes)


def answer_control(
    description: str,
    reply: str,
    stalled: str | None,
    last_consumer: str | None,
    ordered: OrderedSequence | None,
) -> ControlAnswer:
    """Decide what a status-100 message, taken in delivery order, asks for."""
    replies: list[str] = []
    if stalled:
        replies.append(stalled)
    if reply and "flowcontrol" in description.replace(" ", "").lower():
        replies.append(reply)
    reset = False
    if ordered is not None and last_consumer is not None and not replies:
        try:
            reset = not ordered.heartbeat_agrees(int(last_consumer))
        except ValueError:
            reset = False
    return ControlAnswer(tuple(replies), reset)


class HeartbeatWatch:
    """Raises the alarm when nothing arrived for two idle-heartbeat intervals.

    ``arrivals`` is any count that grows with each message received (data or
    control); the watch compares it with what it saw at the last check.
    """

    def __init__(self, interval: float, now: float) -> None:
        if interval <= 0:
            raise ValueError(f"heartbeat interval must be positive, got {interval!r}")
        self.interval = interval
        self._seen = 0
        self._since = now

    def check(self, arrivals: int, now: float) -> bool:
        """Whether the alarm goes off now; it goes off once per two silent intervals."""
        if arrivals != self._seen:
            self._seen = arrivals
            self._since = now
            return False
        if now - self._since >= 2 * self.interval:
            self._since = now
            return True
        return False

    def restart(self, arrivals: int, now: float) -> None:
        """Start counting silence again (after a recovery)."""
        self._seen = arrivals
        self._since = now
