"""RabbitMQ topology -> natswire.amqp topology: read, plan, apply.

The topology is read as RabbitMQ *definitions* (the JSON of ``rabbitmqctl
export_definitions`` and of the management API's ``GET /api/definitions/<vhost>``: the
same format), for one vhost. :func:`make_plan` turns it into the objects natswire.amqp
would create (pure: no I/O), flagging what cannot be mapped and why;
:func:`apply_plan` creates them through the adapter, idempotently (a second run finds
everything in place and changes nothing).

What maps (see ``natswire.amqp``): ``direct``/``topic``/``fanout`` exchanges; durable,
transient and auto-delete queues with ``x-dead-letter-exchange``,
``x-dead-letter-routing-key``, ``x-message-ttl``, ``x-single-active-consumer``,
``x-delivery-limit``, ``x-queue-type`` ``classic``/``quorum``; queue bindings. Policies
that set ``dead-letter-exchange``, ``dead-letter-routing-key``, ``message-ttl`` or
``delivery-limit`` become the same queue arguments (an argument on the queue itself
wins, as in RabbitMQ). Settings with no effect on NATS (``x-queue-mode``, leader
locators, mirroring policies) are noted and ignored. What does not map is a *problem*:
``headers`` and plugin exchange types, exchange-to-exchange bindings, alternate
exchanges, queue length limits, ``x-expires``, priorities, stream queues.

This module gathers the four parts under one name:

- :mod:`~natswire.migrate.definitions`: reading definitions (file or management API);
- :mod:`~natswire.migrate.plan`: the plan's dataclasses, its JSON and text;
- :mod:`~natswire.migrate.planner`: the rule tables and :func:`make_plan`;
- :mod:`~natswire.migrate.apply`: :func:`apply_plan`.
"""

from __future__ import annotations

from .apply import ApplyResult, apply_plan
from .definitions import (
    fetch_definitions,
    load_definitions,
    management_url_for,
    read_definitions,
    vhost_of,
)
from .plan import Plan, PlannedBinding, PlannedExchange, PlannedQueue, Problem
from .planner import (
    IGNORED_ARGUMENTS,
    IGNORED_POLICY_PREFIXES,
    MAPPED_ARGUMENTS,
    POLICY_ARGUMENTS,
    UNMAPPABLE_ARGUMENTS,
    make_plan,
)

__all__ = [
    "IGNORED_ARGUMENTS",
    "IGNORED_POLICY_PREFIXES",
    "MAPPED_ARGUMENTS",
    "POLICY_ARGUMENTS",
    "UNMAPPABLE_ARGUMENTS",
    "ApplyResult",
    "Plan",
    "PlannedBinding",
    "PlannedExchange",
    "PlannedQueue",
    "Problem",
    "apply_plan",
    "fetch_definitions",
    "load_definitions",
    "make_plan",
    "management_url_for",
    "read_definitions",
    "vhost_of",
]
