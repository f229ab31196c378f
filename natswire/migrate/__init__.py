"""RabbitMQ -> NATS migration tools (the optional extra ``natswire[migrate]``, built on
aio-pika; no AMQP is hand-written here).

- :mod:`~natswire.migrate.topology`: read a RabbitMQ vhost's topology (management API
  or ``rabbitmqctl export_definitions``), plan the natswire.amqp equivalent, flag what
  cannot be mapped, apply it idempotently (``natswire migrate plan`` / ``apply``).
- :mod:`~natswire.migrate.shovel`: move a queue's messages RabbitMQ -> NATS exactly once
  within JetStream's duplicate window (``Nats-Msg-Id`` from a digest of each message;
  the RabbitMQ ack follows JetStream's ack), and NATS -> RabbitMQ for rollback (publisher
  confirms, at least once) (``natswire migrate shovel``).
- :mod:`~natswire.migrate.backlog`: what a source queue still holds (ready, delivered
  and unacked to any consumer, redelivered): the shovel's and the bridge's end condition.
- :mod:`~natswire.migrate.many`: many queues at once (``shovel --queues REGEX``).
- :mod:`~natswire.migrate.bridge`: mirror exchanges between both sides during the rollout,
  loops prevented by marking bridged copies (``natswire migrate bridge``; ``--drain``
  for the cut-over).
- :mod:`~natswire.migrate.rabbit`: a private RabbitMQ broker on free loopback ports for
  tests and trials (:class:`~natswire.migrate.rabbit.RabbitMqServer`).

aio-pika is imported only when a RabbitMQ connection is opened, so ``import
natswire.migrate`` works without the extra (and says what to install when it is
needed). The guide is ``docs/migration.md``.
"""

from __future__ import annotations

from .errors import MigrationError, MissingDependencyError, NatsSideError, RabbitSideError

__all__ = ["MigrationError", "MissingDependencyError", "NatsSideError", "RabbitSideError"]
