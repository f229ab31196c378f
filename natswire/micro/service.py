"""A service: named, versioned endpoints in queue groups, discoverable and observable
through ``$SRV.PING``, ``$SRV.INFO`` and ``$SRV.STATS`` (ADR-32)."""

from __future__ import annotations

import asyncio
import json
import secrets
import string
from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..client.message import Message
from .config import (
    DEFAULT_PREFIX,
    DEFAULT_QUEUE_GROUP,
    EndpointConfig,
    GroupConfig,
    ServiceConfig,
    ServiceVerb,
    control_subject,
)
from .endpoint import Endpoint, drain_quietly
from .errors import ServiceStoppedError
from .models import ServiceInfo, ServicePing, ServiceStats
from .request import DONE, Handler

if TYPE_CHECKING:
    from ..client import Client, Subscription

_ID_ALPHABET = string.ascii_letters + string.digits


def new_service_id() -> str:
    """A random 22-character id (base 62, as long as a NUID)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(22))


def _join(prefix: str, name: str) -> str:
    return ".".join(part for part in (prefix.strip("."), name.strip(".")) if part)


class Group:
    """Endpoints under a common subject prefix, with a default queue group; groups nest."""

    def __init__(self, service: Service, config: GroupConfig) -> None:
        self._service = service
        self.prefix = config.name
        self.queue_group = config.queue_group

    async def add_endpoint(self, config: EndpointConfig | None = None, **kwargs: Any) -> None:
        """Add an endpoint whose subject is ``<prefix>.<subject or name>``."""
        config = _endpoint_config(config, kwargs)
        await self._service.add_endpoint(
            replace(
                config,
                subject=_join(self.prefix, config.subject or config.name),
                queue_group=config.queue_group or self.queue_group,
            )
        )

    def add_group(self, config: GroupConfig | None = None, **kwargs: Any) -> Group:
        """A group nested in this one: its prefix is ``<prefix>.<name>``."""
        config = _group_config(config, kwargs)
        return Group(
            self._service,
            GroupConfig(
                name=_join(self.prefix, config.name),
                queue_group=config.queue_group or self.queue_group,
            ),
        )


def _endpoint_config(config: EndpointConfig | None, kwargs: dict[str, Any]) -> EndpointConfig:
    if config is None:
        return EndpointConfig(**kwargs)
    return replace(config, **kwargs) if kwargs else config


def _group_config(config: GroupConfig | None, kwargs: dict[str, Any]) -> GroupConfig:
    if config is None:
        return GroupConfig(**kwargs)
    return replace(config, **kwargs) if kwargs else config


class Service:
    """A running service instance. Make it with :func:`natswire.micro.add_service`.

    ``async with await add_service(nc, name=..., version=...) as service:`` stops it on
    the way out.
    """

    def __init__(self, client: Client, config: ServiceConfig) -> None:
        self._client = client
        self._config = config
        self._id = new_service_id()
        self._prefix = DEFAULT_PREFIX
        self._metadata = dict(config.metadata or {})
        self._endpoints: list[Endpoint] = []
        self._control: list[Subscription] = []
        self._started = datetime.now(timezone.utc)
        self._stopped = asyncio.Event()
        self._stopping = False
        self._ping = json.dumps(
            ServicePing(self._id, config.name, config.version, self._metadata).to_dict()
        ).encode()

    @property
    def id(self) -> str:
        """This instance's unique id."""
        return self._id

    @property
    def name(self) -> str:
        """The service's name, shared by its instances."""
        return self._config.name

    @property
    def version(self) -> str:
        """The service's version."""
        return self._config.version

    @property
    def stopped(self) -> asyncio.Event:
        """Set once :meth:`stop` has finished."""
        return self._stopped

    async def start(self) -> None:
        """Answer ``$SRV.PING|INFO|STATS`` (each for all services, for this name and for
        this instance). :func:`add_service` calls it; a second call does nothing."""
        if self._control:
            return
        if self._stopping:
            raise ServiceStoppedError(f"service {self.name!r} has been stopped")
        answers = {
            ServiceVerb.PING: self._on_ping,
            ServiceVerb.INFO: self._on_info,
            ServiceVerb.STATS: self._on_stats,
        }
        for verb, answer in answers.items():
            for name, id in ((None, None), (self.name, None), (self.name, self._id)):
                subject = control_subject(verb, name, id, self._prefix)
                self._control.append(await self._client.subscribe(subject, cb=answer))
        self._started = datetime.now(timezone.utc)
        await self._client.flush()

    async def add_endpoint(self, config: EndpointConfig | None = None, **kwargs: Any) -> None:
        """Add an endpoint: an :class:`EndpointConfig`, or its fields as keywords
        (``name``, ``handler``, ``queue_group``, ``subject``, ``metadata``). It takes
        requests when the call returns (the server has its subscription)."""
        if self._stopping:
            raise ServiceStoppedError(f"service {self.name!r} has been stopped")
        config = _endpoint_config(config, kwargs)
        endpoint = Endpoint(
            self._client,
            config.name,
            config.subject or config.name,
            config.queue_group or self._config.queue_group or DEFAULT_QUEUE_GROUP,
            config.handler,
            config.metadata,
        )
        await endpoint.start(
            self._config.pending_msgs_limit_by_endpoint,
            self._config.pending_bytes_limit_by_endpoint,
        )
        self._endpoints.append(endpoint)
        await self._client.flush()

    def add_group(self, config: GroupConfig | None = None, **kwargs: Any) -> Group:
        """A group of endpoints under the subject prefix ``name``."""
        config = _group_config(config, kwargs)
        queue_group = config.queue_group or self._config.queue_group
        return Group(self, replace(config, queue_group=queue_group))

    def info(self) -> ServiceInfo:
        """What ``$SRV.INFO`` answers."""
        return ServiceInfo(
            name=self.name,
            id=self._id,
            version=self.version,
            description=self._config.description,
            endpoints=[endpoint.info() for endpoint in self._endpoints],
            metadata=self._metadata,
        )

    def stats(self) -> ServiceStats:
        """What ``$SRV.STATS`` answers: each endpoint's counters."""
        endpoints = [endpoint.stats() for endpoint in self._endpoints]
        stats_handler = self._config.stats_handler
        if stats_handler is not None:
            for endpoint_stats in endpoints:
                endpoint_stats.data = stats_handler(endpoint_stats)
        return ServiceStats(
            id=self._id,
            name=self.name,
            version=self.version,
            started=self._started,
            endpoints=endpoints,
            metadata=self._metadata,
        )

    def reset(self) -> Awaitable[None]:
        """Zero every endpoint's statistics and restart the ``started`` clock. Done at
        once; the awaitable returned lets nats-py code ``await service.reset()``."""
        for endpoint in self._endpoints:
            endpoint.reset()
        self._started = datetime.now(timezone.utc)
        return DONE

    async def stop(self) -> None:
        """Stop: the endpoints take no new requests (requests already received are still
        answered), then the instance leaves discovery. Idempotent."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        timeout = self._client.options.drain_timeout
        await asyncio.gather(*(endpoint.stop(timeout) for endpoint in self._endpoints))
        await asyncio.gather(*(drain_quietly(sub, timeout) for sub in self._control))
        self._endpoints = []
        self._control = []
        self._stopped.set()

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<Service {self.name} {self.version} id={self._id}>"

    def _answer(self, msg: Message, body: bytes) -> None:
        reply = msg.frame.reply
        if reply:
            self._client.publish_trusted_nowait(reply, body)

    def _on_ping(self, msg: Message) -> None:
        self._answer(msg, self._ping)

    def _on_info(self, msg: Message) -> None:
        self._answer(msg, json.dumps(self.info().to_dict()).encode())

    def _on_stats(self, msg: Message) -> None:
        self._answer(msg, json.dumps(self.stats().to_dict(), default=str).encode())


async def add_service(nc: Client, config: ServiceConfig | None = None, **kwargs: Any) -> Service:
    """Start a service on ``nc``: a :class:`ServiceConfig`, or its fields as keywords
    (``name``, ``version``, ``description``, ``metadata``, ``queue_group`` ...).

    Raises :class:`~natswire.micro.errors.ConfigValidationError` (a ``ValueError``) for a
    name that is not ``[A-Za-z0-9-_]+`` or a version that is not semver.
    """
    if config is None:
        config = ServiceConfig(**kwargs)
    elif kwargs:
        config = replace(config, **kwargs)
    service = Service(nc, config)
    await service.start()
    return service


__all__ = ["Group", "Handler", "Service", "add_service", "new_service_id"]
