"""The NATS service API (ADR-32), nats-py's ``nats.micro`` with the same calls.

A service is a named, versioned set of request/reply endpoints in queue groups,
discovered and measured through ``$SRV.PING``, ``$SRV.INFO`` and ``$SRV.STATS`` by the
nats CLI (``nats micro ls``), ``natswire micro ls`` and every other client::

    from natswire import micro

    async def echo(req: micro.Request) -> None:
        await req.respond(req.data)

    service = await micro.add_service(nc, name="echo", version="1.0.0")
    await service.add_endpoint(name="echo", handler=echo)

A handler may also be a plain function (``req.respond(...)`` without ``await``): it runs
on the client's receive path, with no task at all.

Where it differs from nats-py (code written for nats-py still works):

- ``Request.respond``/``respond_error`` and ``Service.reset`` do their work in the call
  and return an awaitable, so both ``req.respond(b"")`` and ``await req.respond(b"")``
  work; ``reset`` zeroes the counters (nats-py's only restarts ``started``).
- ``respond_error`` counts in ``num_errors``/``last_error`` (``"<code>:<description>"``),
  as nats.go does, besides handlers that raise.
- ``stop()`` drains: requests already received are answered (nats-py drops them).
- ``add_endpoint`` returns once the server has the endpoint's subscription.
- Stats' ``started`` is an aware UTC datetime, sent with microseconds.
- ``ServiceConfig`` also takes ``pending_msgs_limit_by_endpoint`` and
  ``pending_bytes_limit_by_endpoint`` (each endpoint subscription's pending limits).
"""

from __future__ import annotations

from .config import (
    DEFAULT_PREFIX,
    DEFAULT_QUEUE_GROUP,
    INFO_RESPONSE_TYPE,
    NAME_REGEX,
    PING_RESPONSE_TYPE,
    SEMVER_REGEX,
    STATS_RESPONSE_TYPE,
    SUBJECT_REGEX,
    EndpointConfig,
    GroupConfig,
    ServiceConfig,
    ServiceVerb,
    StatsHandler,
    control_subject,
)
from .endpoint import Endpoint
from .errors import ConfigValidationError, MicroError, ServiceError, ServiceStoppedError
from .models import EndpointInfo, EndpointStats, ServiceInfo, ServicePing, ServiceStats
from .request import ERROR_CODE_HEADER, ERROR_HEADER, Handler, Request
from .service import Group, Service, add_service

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_QUEUE_GROUP",
    "ERROR_CODE_HEADER",
    "ERROR_HEADER",
    "INFO_RESPONSE_TYPE",
    "NAME_REGEX",
    "PING_RESPONSE_TYPE",
    "SEMVER_REGEX",
    "STATS_RESPONSE_TYPE",
    "SUBJECT_REGEX",
    "ConfigValidationError",
    "Endpoint",
    "EndpointConfig",
    "EndpointInfo",
    "EndpointStats",
    "Group",
    "GroupConfig",
    "Handler",
    "MicroError",
    "Request",
    "Service",
    "ServiceConfig",
    "ServiceError",
    "ServiceInfo",
    "ServicePing",
    "ServiceStats",
    "ServiceStoppedError",
    "ServiceVerb",
    "StatsHandler",
    "add_service",
    "control_subject",
]
