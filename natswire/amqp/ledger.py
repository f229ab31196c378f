"""A channel's delivery ledger: delivery tags and the deliveries the application holds.

The ledger alone hands out a channel's tags (from 1, increasing) and records, until
the application settles them, the deliveries it holds: per tag, and per consumer by
stream sequence (the consumer reads its account to size its pull requests and to
recognise a redelivery of a message still held).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from ..protocol.errors import NatsWireError
from .errors import UnknownDeliveryTagError
from .properties import Delivery

if TYPE_CHECKING:
    from .._client import Client
    from ..jetstream.message import JetStreamMessage
    from .channel import Channel
    from .consumer import Consumer

logger = logging.getLogger("natswire.amqp")


class HeldDelivery(Delivery):
    """A delivery the channel holds until the application settles it: the consumer it
    came from (whose prefetch it counts against), that consumer's account in the ledger,
    and when it was last kept alive."""

    __slots__ = ("account", "consumer", "since")

    consumer: Consumer
    account: dict[int, int]
    since: float


class DeliveryLedger:
    """The delivery tags and held deliveries of one channel."""

    __slots__ = ("_accounts", "_channel", "_held", "_next_tag")

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._next_tag = 1
        self._held: dict[int, HeldDelivery] = {}
        # consumer -> {stream sequence: tag} of the deliveries it holds
        self._accounts: dict[Consumer, dict[int, int]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def open_account(self, consumer: Consumer) -> Mapping[int, int]:
        """Start recording ``consumer``'s deliveries; returns its live account (stream
        sequence -> delivery tag of each delivery it holds), for it to read."""
        account = self._accounts[consumer] = {}
        return account

    def close_account(self, consumer: Consumer) -> None:
        """``consumer`` delivers no more; its held deliveries stay until settled."""
        self._accounts.pop(consumer, None)

    def deliver(
        self, msg: JetStreamMessage, consumer: Consumer, seq: int, delivered: int
    ) -> Delivery:
        """The channel's next delivery of ``msg`` (stream sequence ``seq``, delivered
        ``delivered`` times). Unless the consumer acknowledges automatically, it is held
        until the application settles it."""
        tag = self._next_tag
        self._next_tag = tag + 1
        channel = self._channel
        if consumer.auto_ack:
            return Delivery(
                channel, msg, tag, consumer.consumer_tag, consumer.queue, delivered, seq
            )
        delivery = HeldDelivery(
            channel, msg, tag, consumer.consumer_tag, consumer.queue, delivered, seq
        )
        account = self._accounts.get(consumer)
        if account is None:  # delivered while its account closes: a fresh one
            account = self._accounts[consumer] = {}
        delivery.consumer = consumer
        delivery.account = account
        delivery.since = time.monotonic()
        self._held[tag] = delivery
        account[seq] = tag
        return delivery

    def redelivered(self, tag: int, msg: JetStreamMessage, delivered: int) -> bool:
        """``msg`` came again while the application still holds it as ``tag`` (the ack
        wait passed during a long disconnect): the held delivery takes the newer copy,
        which carries the live ack subject. ``False`` when ``tag`` is no longer held."""
        held = self._held.get(tag)
        if held is None:
            return False
        held.redelivered_as(msg, delivered)
        return True

    def release(self, tag: int) -> HeldDelivery | None:
        """Take ``tag`` off the books (it is being settled); ``None`` if not held."""
        delivery = self._held.pop(tag, None)
        if delivery is None:
            return None
        account = delivery.account
        seq = delivery.stream_sequence
        if account.get(seq) == tag:
            del account[seq]
        return delivery

    def tags_upto(self, tag: int, multiple: bool) -> list[int]:
        """The held tags a settlement of ``tag`` covers (``multiple``: every one up to
        it; 0: all). :class:`UnknownDeliveryTagError` for a tag not outstanding."""
        if not multiple:
            if tag not in self._held:
                raise self._unknown(tag)
            return [tag]
        if tag == 0:
            return list(self._held)
        if tag >= self._next_tag:
            raise self._unknown(tag)
        tags = []
        for held in self._held:
            if held > tag:
                break
            tags.append(held)
        return tags

    def _unknown(self, tag: int) -> UnknownDeliveryTagError:
        return UnknownDeliveryTagError(
            f"unknown delivery tag {tag} on channel {self._channel.channel_number}"
        )

    def forget_consumer(self, consumer: Consumer) -> None:
        """``consumer``'s queue is gone: its held deliveries can no longer be settled
        (their ack subjects are dead); drop them and its account."""
        for tag, delivery in list(self._held.items()):
            if delivery.consumer is consumer:
                del self._held[tag]
        self._accounts.pop(consumer, None)

    def holders(self) -> list[Consumer]:
        """The consumers whose deliveries are held, each once (cancelled ones too)."""
        return list({id(d.consumer): d.consumer for d in self._held.values()}.values())

    def release_all(self) -> list[JetStreamMessage]:
        """Take every held delivery off the books; their messages, in tag order."""
        messages = [d.message for d in self._held.values()]
        for delivery in self._held.values():
            delivery.account.clear()
        self._held.clear()
        return messages

    async def touch(self, now: float, every: float) -> None:
        """Keep held deliveries from being redelivered by the ack wait (``+WPI``): those
        not kept alive for ``every`` seconds."""
        for tag, delivery in list(self._held.items()):
            if now - delivery.since < every or self._held.get(tag) is not delivery:
                continue  # recently touched, or settled meanwhile
            delivery.since = now
            try:
                await delivery.message.in_progress()
            except Exception as exc:
                logger.debug("natswire.amqp: in_progress: %s", exc)


async def hand_back(
    nc: Client, msgs: list[JetStreamMessage], wait_ready: Callable[[float], Awaitable[None]]
) -> None:
    """Hand messages back for immediate redelivery, in this order.

    Naks are plain publishes (the server keeps their order; naks sent as requests are not
    redelivered in order). Right after a server restart JetStream may not listen yet and
    a nak sent then would be lost (the message would wait for the ack wait), so this
    first waits (up to 5 s, ``wait_ready``) until JetStream answers.
    """
    pending = [m for m in msgs if m.reply]
    if not pending:
        return
    if nc.is_connected:
        with contextlib.suppress(NatsWireError):
            await wait_ready(5.0)
    # While disconnected, the client buffers these and sends them once reconnected.
    for msg in pending:
        with contextlib.suppress(Exception):
            await nc.publish(msg.reply, b"-NAK")
    if nc.is_connected:
        with contextlib.suppress(Exception):
            await nc.flush(2.0)
