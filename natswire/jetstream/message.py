"""Messages delivered by a JetStream consumer: the ack protocol and the metadata.

A consumer delivers each message with a reply subject that both names the message for
acknowledgement and describes it. Two layouts exist (nats-server ``consumer.go``)::

    $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>            (v1, 9 tokens)
    $JS.ACK.<domain>.<acchash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>.<token>
                                                                     (v2, 12 or more tokens)

In v2 the domain is ``_`` when there is none. Anything else is not a JetStream message.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass

from ..client.client import Client
from ..client.message import Message, new_message
from ..protocol.headers import Headers
from ..protocol.serializer import pub_tail
from .errors import MsgAlreadyAckedError, NotJSMessageError

ACK = b"+ACK"
NAK = b"-NAK"
WPI = b"+WPI"
TERM = b"+TERM"
NXT = b"+NXT"

_V1_TOKENS = 9
_V2_TOKENS = 12
# Each settlement body framed once: an ack is "PUB " + the reply subject + this.
_PREBUILT_TAILS = {body: pub_tail(body) for body in (ACK, NAK, WPI, TERM)}
#: What follows the ack subject in an ack's ``PUB`` frame.
ACK_TAIL = _PREBUILT_TAILS[ACK]


@dataclass(frozen=True)
class SequencePair:
    """A message's position: in the stream and in the consumer's deliveries."""

    consumer: int
    stream: int


@dataclass(frozen=True)
class MsgMetadata:
    """What the ack subject says about a delivered message."""

    sequence: SequencePair
    num_pending: int
    num_delivered: int
    timestamp: datetime.datetime
    stream: str
    consumer: str
    domain: str | None = None
    account_hash: str | None = None
    #: The stored time in nanoseconds since the epoch (``timestamp`` rounds to microseconds).
    timestamp_ns: int = 0


def parse_metadata(reply: str) -> MsgMetadata:
    """Parse a JetStream ack subject (either layout); raise :class:`NotJSMessageError`."""
    tokens = reply.split(".")
    count = len(tokens)
    if count < _V1_TOKENS or tokens[0] != "$JS" or tokens[1] != "ACK":
        raise NotJSMessageError(f"not a JetStream ack subject: {reply!r}")
    if count == _V1_TOKENS:
        domain: str | None = None
        account_hash: str | None = None
        rest = tokens[2:]
    elif count >= _V2_TOKENS:
        domain = None if tokens[2] in ("_", "") else tokens[2]
        account_hash = tokens[3]
        rest = tokens[4:11]
    else:
        raise NotJSMessageError(
            f"JetStream ack subject has {count} tokens (9, or 12 and more): {reply!r}"
        )
    stream, consumer, delivered, sseq, dseq, ts, pending = rest
    try:
        ts_ns = int(ts)
        meta = MsgMetadata(
            sequence=SequencePair(consumer=int(dseq), stream=int(sseq)),
            num_pending=int(pending),
            num_delivered=int(delivered),
            timestamp=datetime.datetime.fromtimestamp(ts_ns / 1e9, tz=datetime.timezone.utc),
            stream=stream,
            consumer=consumer,
            domain=domain,
            account_hash=account_hash,
            timestamp_ns=ts_ns,
        )
    except (ValueError, OverflowError, OSError):
        raise NotJSMessageError(f"JetStream ack subject has a bad number: {reply!r}") from None
    if not stream or not consumer:
        raise NotJSMessageError(f"JetStream ack subject without stream or consumer: {reply!r}")
    return meta


def nak_body(delay: float | None) -> bytes:
    """The body of a negative ack, redelivering after ``delay`` seconds when given."""
    if delay is None:
        return NAK
    if delay < 0:
        raise ValueError(f"delay must not be negative, got {delay!r}")
    return NAK + b" " + json.dumps({"delay": round(delay * 1e9)}).encode()


def term_body(reason: str | None) -> bytes:
    """The body of a terminate, with its ``reason`` when given."""
    if not reason:
        return TERM
    if "\r" in reason or "\n" in reason:
        raise ValueError("term reason must not contain CR or LF")
    return TERM + b" " + reason.encode()


def settle_subject(what: str, subject: str, reply: str, acked: bytes | None) -> str:
    """The ack subject to ``what`` (ack, nak ...) a message on: its reply subject; raises
    when it has none or was settled already. Shared with the blocking client's messages."""
    if not reply:
        raise NotJSMessageError(
            f"cannot {what}: message on {subject!r} has no JetStream reply subject"
        )
    if acked is not None:
        raise MsgAlreadyAckedError(
            f"cannot {what}: message on {subject!r} (reply {reply!r}) was already "
            f"settled with {acked.decode()}"
        )
    return reply


class JetStreamMessage(Message):
    """A :class:`natswire.Message` from a JetStream consumer, with the ack protocol.

    ``ack``, ``nak`` and ``term`` settle the message: a second settlement raises
    :class:`MsgAlreadyAckedError`. ``in_progress`` may be sent any number of times
    before that. A message the server delivered (it has a subscription and a reply
    subject) is settled on its ack subject as received, without validation, in one
    prebuilt frame; the metadata is parsed from that subject only when asked for.
    """

    __slots__ = ("_acked", "_js_client", "_meta")

    _js_client: Client
    _acked: bytes | None
    _meta: MsgMetadata | None

    def __init__(
        self,
        client: Client,
        subject: str,
        data: bytes = b"",
        reply: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        super().__init__(subject, data, reply, headers)
        self._js_client = client
        self._acked = None
        self._meta = None

    @classmethod
    def from_message(cls, client: Client, msg: Message) -> JetStreamMessage:
        """Wrap a message received by a core subscription.

        The wrapper shares the received frame (nothing is copied or decoded), and a
        message the server delivered is settled on its ack subject as received.
        """
        if cls is not JetStreamMessage:
            return cls(client, msg.subject, msg.data, msg.reply or None, msg.headers)
        jm = new_message(cls)
        msg.share_into(jm)
        jm._bind(client)  # friend: finishes a message of this class built without __init__
        return jm

    def _bind(self, client: Client) -> None:
        self._js_client = client
        self._acked = None
        self._meta = None

    @property
    def metadata(self) -> MsgMetadata:
        """Stream and consumer sequences, deliveries, pending count, time, names."""
        meta = self._meta
        if meta is None:
            meta = self._meta = parse_metadata(self.reply)
        return meta

    @property
    def is_acked(self) -> bool:
        """Whether the message was settled (ack, nak or term) by this client."""
        return self._acked is not None

    def _check(self, what: str) -> str:
        return settle_subject(what, self.subject, self.reply, self._acked)

    async def _settle(self, what: str, body: bytes) -> None:
        reply = self._check(what)
        self._acked = body.split(b" ", 1)[0]
        try:
            await self._send(reply, body)
        except BaseException:
            self._acked = None
            raise

    async def _send(self, reply: str, body: bytes) -> None:
        received = self._frame.reply
        if received and self._sub is not None:
            # The server's own ack subject: no validation, and no room taken in the
            # client's subject caches (every ack subject is unique).
            tail = _PREBUILT_TAILS.get(body)
            writable = self._js_client.publish_prebuilt_nowait(
                received, pub_tail(body) if tail is None else tail, len(body)
            )
            if writable is not None:
                await writable
        else:
            await self._js_client.publish(reply, body)

    async def ack(self) -> None:
        """Acknowledge: the message will not be delivered again."""
        reply = self._frame.reply
        if reply and self._acked is None and self._sub is not None:
            # A delivered message, not settled yet: _settle's checks hold, inline.
            self._acked = ACK
            try:
                writable = self._js_client.publish_prebuilt_nowait(reply, ACK_TAIL, 4)
            except BaseException:
                self._acked = None
                raise
            if writable is not None:
                await writable
            return
        await self._settle("ack", ACK)

    async def ack_sync(self, timeout: float = 1.0) -> Message:
        """Acknowledge and wait until the server confirms it recorded the ack."""
        reply = self._check("ack")
        self._acked = ACK
        try:
            return await self._js_client.request(reply, ACK, timeout=timeout)
        except BaseException:
            self._acked = None
            raise

    async def nak(self, delay: float | None = None) -> None:
        """Negative ack: redeliver, at once or after ``delay`` seconds."""
        await self._settle("nak", nak_body(delay))

    async def in_progress(self) -> None:
        """Tell the server work is ongoing: restart the ack wait timer."""
        reply = self._check("send in_progress for")
        await self._send(reply, WPI)

    async def term(self, reason: str | None = None) -> None:
        """Terminate: never redeliver (a MSG_TERMINATED advisory is emitted)."""
        await self._settle("term", term_body(reason))

    def __repr__(self) -> str:
        data = self.data
        return (
            f"<JetStreamMessage subject={self.subject!r} reply={self.reply!r} "
            f"data={data[:40]!r}{'...' if len(data) > 40 else ''}>"
        )


#: Short name.
JsMsg = JetStreamMessage


def delivered_message_factory(client: Client) -> Callable[[], JetStreamMessage]:
    """A core subscription's ``message_factory`` for a JetStream consumer of ``client``:
    its deliveries are JetStream messages from the start, not wrapped afterwards."""

    def make() -> JetStreamMessage:
        jm = new_message(JetStreamMessage)
        jm._js_client, jm._acked, jm._meta = client, None, None  # friend: as _bind, inline
        return jm

    return make


__all__ = [
    "ACK_TAIL",
    "JetStreamMessage",
    "JsMsg",
    "MsgMetadata",
    "SequencePair",
    "delivered_message_factory",
    "nak_body",
    "parse_metadata",
    "settle_subject",
    "term_body",
]
