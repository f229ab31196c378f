"""AMQP semantics over NATS JetStream: exchanges, queues, bindings, acks, prefetch, TTL
and dead letters, for services written around RabbitMQ ideas (the migration plan's
"AMQP compatibility layer").

Use::

    from natswire import amqp

    conn = await amqp.connect({"host": "nats", "port": 4222, "namespace": "wire"})
    ch = await conn.channel()
    await ch.exchange_declare("user-notifications", "direct")
    await ch.queue_declare("user-notifications.u1.c1", arguments={
        "x-queue-type": "quorum", "x-dead-letter-exchange": "dead-user-notifications"})
    await ch.queue_bind("user-notifications.u1.c1", "user-notifications", "u1")
    await ch.basic_qos(500)
    await ch.basic_consume("user-notifications.u1.c1", on_message)
    await ch.basic_publish("user-notifications", "u1", body, amqp.BasicProperties(...))

The mapping
-----------

- **One stream per namespace** (``AMQP-<ns>``, limits retention with a max age, file
  storage, ``replicas`` copies) holds every message of every exchange. Exchange ``X``
  with routing key ``k`` publishes to ``<ns>.amqp.x.<X>.<k>`` (or the plan's subject
  for Wire's exchanges: ``<ns>.user.notifications.<k>``,
  ``<ns>.dead.user.notifications.<k>``); the default exchange publishes to the queue's
  own subject ``<ns>.amqp.q.<Q>`` (or ``<ns>.background.jobs``, ``<ns>.cells.events``,
  ``<ns>.backend.notifications.<domain>``).
  See :mod:`natswire.amqp.names` for the encoding (one token per word; stream and consumer
  names without dots) and :class:`SubjectMap` to change the subjects.
- **A queue is a durable pull consumer** ``Q-<name>`` on that stream, created with
  ``deliver_policy=new`` (it sees only what is published after it exists) and filtered on
  its own subject plus one filter per binding (direct: the key; topic: ``*`` -> ``*``,
  trailing ``#`` -> the prefix and ``.>``; fanout: ``.>``). Each queue has its own
  position and its own acks over one stored copy: a message is stored once and delivered
  once to every queue whose filters match (overlapping bindings still deliver once). A
  message no queue matches is delivered to none (unroutable messages are dropped, as in
  AMQP). Why not a stream per queue: streams may
  not share subjects, so routing would move into every publisher (with a binding table
  to keep coherent across processes) and each copy would be stored separately; why not
  a stream per exchange: a queue may be bound to several exchanges and the default
  exchange, and a consumer reads one stream. Queue flags, arguments and bindings live
  in the consumer's ``metadata`` (and, with queue state in memory, in a record per
  durable queue); exchange declarations in a small last-value stream
  ``AMQP-META-<ns>`` (created with an expected-last-sequence check, so concurrent
  declarations agree).
- A binding NATS cannot express exactly (``#`` inside a topic pattern) gets a wider
  filter and the adapter checks each message against the AMQP pattern; a binding added
  to an existing queue records the stream sequence it was made at, so older messages
  (kept for other queues) are not delivered to it.
- **Retention and scale: the trade-off.** The stream keeps every message for
  ``stream_max_age`` (default 28 days, Wire's notification TTL), acked or not; an ack only
  moves the queue's position. So an acked message's bytes stay on disk until that age,
  and a message no queue took within it is removed by the server without a dead letter:
  set ``stream_max_age`` above the longest time a queue may go unconsumed (and above
  your longest TTL). What it buys: the server's cost of an ack no longer grows with the
  number of queues. With interest retention (a message removed once every matching
  queue acked it) each ack made the server look at every consumer of the stream:
  0.6 ms of server CPU per ack at 1,000 queues, 28 ms at 20,000, and a restart with
  20,000 queues took 94 s; with limits retention a restart with 20,000 queues took 21 s
  here (``docs/scaling.md``). The stream's consumer limit is ``max_queues`` (the
  server's default would stop at 1,000 queues). Streams made by an older adapter keep
  their interest retention.
- **Replication**: every stream the adapter creates has ``replicas`` copies (default
  ``min(3, cluster size)``, 1 on a single server; ``connect(config, replicas=N)`` or the
  ``"replicas"`` key of the configuration block); RabbitMQ's quorum queues map to it. An
  existing stream with another factor is a :class:`PreconditionFailedError` naming both.
  Opening the adapter waits up to 10 s for a leader election, and a confirmed publish
  that no stream answers is tried again for about 14 s, so a node's crash shows as a
  pause, not an error.
- ``queue_purge`` pulls and acks the ready messages; ``queue_delete`` deletes the
  consumer (its consumers, in any process, get ``on_cancel`` from the server's
  "consumer deleted" status); ``exchange_delete`` removes the exchange's bindings.

Consuming
---------

- Each ``basic_consume`` pulls with its own inbox; unsettled deliveries plus messages
  still requested never exceed the channel's prefetch (with 500 and 550 queued, exactly
  500 are in flight). Delivery tags are per channel, from 1; ``multiple`` acks every
  outstanding tag up to N; the consumer keeps ``AckExplicit``.
- ``nack``/``reject`` with ``requeue=True`` naks (immediate redelivery); with
  ``requeue=False`` the message is republished to the queue's dead-letter exchange with
  RabbitMQ's headers (``x-death`` list, ``x-first-death-*``, ``x-last-death-queue``,
  ``x-last-death-reason``: ``rejected``, ``expired`` or ``delivery_limit``), then
  terminated; without a dead-letter exchange it is terminated (dropped).
- Closing a channel stops its consumers (their inboxes go first, so the server drops
  their pull requests), then naks every unacknowledged delivery, waiting for the server
  to confirm each nak: the next consumer gets them at once, ``redelivered`` true.
- Per-message ``expiration`` and ``x-message-ttl`` are checked when a message is about to
  be delivered (against its stored time): an expired message is never delivered; it is
  dead-lettered with reason ``expired`` unless ``delivery_mode`` is 1 (dropped quietly).
  ``expiration="0"`` allows ``ZERO_TTL_GRACE`` (0.5 s). Queues with a dead-letter exchange
  that nobody consumes are swept every ``expiry_sweep_interval`` (30 s; at most
  ``sweep_requests_per_second``, 2, JetStream API requests, whatever the number of
  queues; :mod:`natswire.amqp.sweep`): their head message
  is read without delivering it and, once expired, dead-lettered (RabbitMQ too expires
  messages at the head of a queue).
- ``x-max-delivery`` (or RabbitMQ's ``x-delivery-limit`` = redeliveries): a message
  requeued when it was delivered that many times, or delivered once more, is
  dead-lettered with reason ``delivery_limit``.
- ``x-single-active-consumer`` uses a JetStream priority group with the
  ``pinned_client`` policy: one consumer receives, in order; the others' pull requests
  wait. The active one keeps its pin while its prefetch is full with pull requests that
  cannot deliver (``max_bytes: 1``), and unpins when its channel closes or it is
  cancelled (once the deliveries it still holds are settled), so another takes over at
  once, in order (after ``sac_timeout`` if it crashed).
- Exclusive queues are locked to their connection and deleted when the channel that
  declared them closes; auto-delete queues when their last consumer here is cancelled.
  Both have an ``inactive_threshold`` (``orphan_timeout``) as a crash backstop, kept
  alive meanwhile by pull requests that cannot deliver.
- The JetStream ack wait (``ack_wait``, 30 s) is only a crash backstop: deliveries held
  by the application are kept alive with ``+WPI``.
- A consumer's pull requests wait ``pull_expires`` (10 minutes; 30 s for streams with
  one replica on a cluster), so an idle queue costs two small messages per 10 minutes
  (the server's expiry notice and the new request). Requests the server drops before
  that are renewed at once: after a reconnect, a consumer leader election or a deletion
  (:mod:`natswire.amqp.advisories`).
- Reconnects of the NATS connection (for ever, Wire's full-jitter backoff from 1 ms to
  5 s) keep channels and tags: pull requests are renewed at once (on a fresh inbox; the
  old one is dropped when the link drops, so requests the server kept cannot deliver
  past the prefetch), tags held before the reconnect can still be acked, messages lost
  in flight come back after the ack wait, and a redelivery of a message still held only
  refreshes its ack subject.
- Durability: with file storage a published (confirmed) message survives a kill -9 of
  the server; acked messages are not delivered again, except acks of the last ~0.2 s
  before a crash, which may come back.
- **Queue state** (``queue_state``): where the server keeps each queue's position and
  acks. ``"memory"``, the default on a single server, writes no file per delivery or ack
  (on the development box that file work was most of a delivery's cost, see
  ``docs/scaling.md``); a server restart then loses the consumers, and each durable
  queue (exclusive and auto-delete ones keep file state) is made again from its record
  (:mod:`natswire.amqp.records`, in ``AMQP-META-<ns>``) when it is next declared,
  consumed, bound, purged or deleted, and by this connection's consumers when they
  reconnect to the restarted server. The restored consumer starts after the queue's
  creation sequence; what had left the queue (acked, dead-lettered, dropped, expired,
  purged) is in the ack log (:mod:`natswire.amqp.acklog`, a record per settlement in
  ``AMQP-ACKS-<ns>``, kept ``stream_max_age``) and is settled without being delivered
  again. Restored deliveries of messages stored before the restore are flagged
  ``redelivered`` (they may have been delivered before), and ``queue.declare-ok`` counts
  them until they are passed. ``"file"``, the default on a cluster (where consumers
  survive a node's restart, but a restart of every node would reset memory state), keeps
  the state in the consumers' files as nats-server does by default (and on servers
  before 2.11, which cannot read the log back). Every process of a namespace must use
  the same setting. Deletions go through the adapter or :mod:`natswire.admin`, which
  remove the record: a consumer removed otherwise comes back from it. After a restore, a
  delivery the application held across the restart and acks afterwards is not delivered
  again to its consumer, but may be, once, to another one consuming the same queue;
  a restored queue's delivery counts (``x-delivery-limit``) start over, and a binding to
  an exchange deleted and declared again while the queue was lost comes back with it.

Publishing and properties
-------------------------

``basic_publish`` waits for JetStream's ack by default (a publisher confirm);
``confirm=False`` pipelines (``wait_for_confirms`` waits). Properties travel as NATS
headers (``Content-Type``, ``Amqp-Type``, ``Amqp-Message-Id``, ``Amqp-Correlation-Id``,
``Amqp-Delivery-Mode``, ``Amqp-Expiration``, ``Amqp-Headers`` as JSON, ...; see
:mod:`natswire.amqp.properties`), plus ``Amqp-Exchange`` and ``Amqp-Routing-Key``.

Connection, hooks, errors
-------------------------

``connect(config)`` takes the plan's block (``host``, ``port``, ``namespace``, optional
``tls`` with ``enableTls``/``caCert``/``insecureSkipVerifyTls``), credentials from
``NATS_USERNAME``/``NATS_PASSWORD``. The adapter's settings are one frozen
:class:`AmqpOptions` (``options=``, or its field names as keywords or block keys; other
keywords go to the NATS client). Hooks: ``on_new_channel(channel)``,
``on_channel_exception(channel, exc)``, ``on_connection_close()`` (the NATS connection
dropped or closed). ``max_channels`` (300) bounds the channel pool:
:class:`TooManyChannelsError` (reply code 503) when full. Channel errors
(:class:`PreconditionFailedError`, :class:`ExchangeNotFoundError`,
:class:`QueueNotFoundError`, :class:`ResourceLockedError`,
:class:`UnknownDeliveryTagError`) close the channel as in AMQP. So does a refusal of the
server, as a :class:`ServerRefusedError` carrying JetStream's ``code`` and ``err_code``
(the original error is its ``__cause__``): :class:`ResourceLimitError` (506,
RESOURCE_ERROR: consumers per stream, storage, memory, a full stream),
:class:`ServerUnavailableError` (503: no leader, JetStream not enabled, no stream
answering), else reply code 541. A refusal met while delivering (dead-lettering,
expiring) or by a ``confirm=False`` publish is reported to ``on_channel_exception``
without closing the channel. All errors derive from :class:`AmqpAdapterError` (with
``reply_code`` and ``reply_text``) and are in :mod:`natswire.errors`.

Not supported: ``headers`` exchanges, exchange-to-exchange bindings, ``mandatory``
returns, ``basic.get``, priorities, queue length limits and ``x-expires`` (rejected with
:class:`NotAllowedError`).
"""

from .channel import Channel
from .connection import Connection
from .consumer import Consumer
from .errors import (
    AmqpAdapterError,
    AmqpConnectionClosedError,
    AmqpNotFoundError,
    ChannelClosedError,
    ChannelError,
    ExchangeNotFoundError,
    NotAllowedError,
    PreconditionFailedError,
    QueueNotFoundError,
    ResourceLimitError,
    ResourceLockedError,
    ServerRefusedError,
    ServerUnavailableError,
    TooManyChannelsError,
    UnknownDeliveryTagError,
)
from .names import (
    SubjectMap,
    backend_notifications_queue,
    backend_notifications_subject,
    cells_events_subject,
    client_queue_name,
    consumer_name,
    domain_of_subject,
    stream_name,
    temporary_routing_key,
    topic_matches,
    user_notifications_subject,
    user_temp_subject,
)
from .options import AmqpOptions
from .properties import PERSISTENT, TRANSIENT, BasicProperties, Delivery
from .queues import QueueDeclareOk
from .setup import connect
from .topology import BUILTIN_EXCHANGES, EXCHANGE_TYPES

__all__ = [
    "BUILTIN_EXCHANGES",
    "EXCHANGE_TYPES",
    "PERSISTENT",
    "TRANSIENT",
    "AmqpAdapterError",
    "AmqpConnectionClosedError",
    "AmqpNotFoundError",
    "AmqpOptions",
    "BasicProperties",
    "Channel",
    "ChannelClosedError",
    "ChannelError",
    "Connection",
    "Consumer",
    "Delivery",
    "ExchangeNotFoundError",
    "NotAllowedError",
    "PreconditionFailedError",
    "QueueDeclareOk",
    "QueueNotFoundError",
    "ResourceLimitError",
    "ResourceLockedError",
    "ServerRefusedError",
    "ServerUnavailableError",
    "SubjectMap",
    "TooManyChannelsError",
    "UnknownDeliveryTagError",
    "backend_notifications_queue",
    "backend_notifications_subject",
    "cells_events_subject",
    "client_queue_name",
    "connect",
    "consumer_name",
    "domain_of_subject",
    "stream_name",
    "temporary_routing_key",
    "topic_matches",
    "user_notifications_subject",
    "user_temp_subject",
]
