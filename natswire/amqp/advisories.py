"""Consumer advisories: the server's word that a queue's pull requests are gone.

A started consumer's pull requests wait on the JetStream consumer's leader for
``pull_expires`` (10 minutes by default), so a request the server dropped has to be
noticed some other way than by its expiry. These events drop them, and each is heard:

- a reconnect: every consumer drops its inbox when the link drops and renews on a fresh
  one after the reconnect (:meth:`Consumer.drop_inbox`, :meth:`Consumer.renew`, as
  listeners of the client, whoever opened it);
- a replicated consumer's new leader, which holds none of the requests sent to the old
  one: nats-server answers the requests it knew of with ``409 Leadership Change``, and
  ``$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.<stream>.<consumer>`` covers the rest:
  the queue's consumers here pull again;
- ``$JS.EVENT.ADVISORY.CONSUMER.DELETED.<stream>.<consumer>``: a request that reaches
  the server while it deletes the consumer is dropped without an answer: when the queue
  is gone, its consumers here are cancelled as a deleted queue's are; when it was
  declared again meanwhile, they pull again.

A consumer of a stream with one replica on a cluster has no leader election, so nothing
reports the restart of the node holding it to a client connected elsewhere: there
``pull_expires`` defaults to 30 s (:func:`natswire.amqp.options.pull_expires_for`).
Advisories are plain NATS messages: one missed because the connection dropped as it was
sent is covered by the reconnect that follows, and anything else by the requests'
expiry. The NATS user needs permission to subscribe to these subjects; without it, the
deletion of a queue by another connection while a pull request was on its way is noticed
at the request's expiry only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ..client.message import Message
from ..client.subscription import Subscription
from .consumer import Consumer, ConsumerSet

if TYPE_CHECKING:
    from .._client import Client

logger = logging.getLogger("natswire.amqp")

ADVISORY_PREFIX = "$JS.EVENT.ADVISORY.CONSUMER"
LEADER_ELECTED = "LEADER_ELECTED"
DELETED = "DELETED"
#: ``$JS.EVENT.ADVISORY.CONSUMER.<event>.<stream>.<consumer>``
_TOKENS = 7
#: How long after a leader-elected advisory the consumers pull again (s).
LEADER_SETTLE = 0.25


class ConsumerAdvisories:
    """Listens to the advisories of the main stream's consumers for one connection."""

    def __init__(
        self,
        nc: Client,
        stream: str,
        consumers: ConsumerSet,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self._nc = nc
        self._stream = stream
        self._consumers = consumers
        self._spawn = spawn
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        """Subscribe to the advisories (once), and return when the server has the
        subscriptions: no advisory sent after this call is missed."""
        if self._subs:
            return
        for event in (LEADER_ELECTED, DELETED):
            subject = f"{ADVISORY_PREFIX}.{event}.{self._stream}.*"
            self._subs.append(await self._nc.subscribe(subject, cb=self._on_advisory))
        await self._nc.flush()

    async def stop(self) -> None:
        """Stop listening."""
        subs, self._subs = self._subs, []
        for sub in subs:
            try:
                await sub.unsubscribe()
            except Exception as exc:  # the connection may be gone
                logger.debug("natswire.amqp: unsubscribing advisories: %s", exc)

    async def _on_advisory(self, msg: Message) -> None:
        tokens = msg.subject.split(".")
        if len(tokens) != _TOKENS or tokens[5] != self._stream:
            return
        event, consumer = tokens[4], tokens[6]
        for started in self._consumers.of_consumer(consumer):
            if event == LEADER_ELECTED:
                self._spawn(_renew_when_led(started))
            elif event == DELETED:
                self._spawn(started.check_deleted())


async def _renew_when_led(consumer: Consumer) -> None:
    # nats-server sends the advisory just before the new leader takes requests: a pull
    # sent at once would meet no responder (and cost a lookup of the queue).
    await asyncio.sleep(LEADER_SETTLE)
    await consumer.renew()
