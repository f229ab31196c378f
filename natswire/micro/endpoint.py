"""One endpoint of a service: its queue subscription, its handler and its statistics."""

from __future__ import annotations

import asyncio
import inspect
from contextlib import suppress
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from ..client.errors import TimeoutError
from ..client.message import Message
from ..protocol.errors import NatsWireError
from .errors import ServiceError
from .models import EndpointInfo, EndpointStats
from .request import Handler, Request

if TYPE_CHECKING:
    from ..client import Client, Subscription


def is_coroutine_handler(handler: Any) -> bool:
    """Whether ``handler`` is a coroutine function (or an object whose ``__call__`` is)."""
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - a callable object's method
    )


async def drain_quietly(sub: Subscription, timeout: float) -> None:
    """Drain ``sub`` (what it has received is still handled); after ``timeout`` seconds,
    or when the connection is gone, just unsubscribe."""
    try:
        await asyncio.wait_for(sub.drain(), timeout)
    except (asyncio.TimeoutError, TimeoutError, NatsWireError):
        with suppress(NatsWireError):
            await sub.unsubscribe()


class Endpoint:
    """An endpoint: ``name``, ``subject``, ``queue_group``, ``metadata``, the handler, and
    the counters ``$SRV.STATS`` reports (times in nanoseconds).

    A plain-function handler is called on the client's receive path, as the message
    arrives; a coroutine handler is awaited by the subscription's one task, request
    after request. A handler that raises is answered with an error (its
    :class:`ServiceError` code, else ``500``) and counted.
    """

    def __init__(
        self,
        client: Client,
        name: str,
        subject: str,
        queue_group: str,
        handler: Handler,
        metadata: dict[str, str] | None,
    ) -> None:
        #: The connection the endpoint receives on and answers through.
        self.client = client
        self.name = name
        self.subject = subject
        self.queue_group = queue_group
        self.handler = handler
        self.metadata = metadata
        self.num_requests = 0
        self.num_errors = 0
        self.processing_time = 0
        self.last_error: str | None = None
        self._subscription: Subscription | None = None

    async def start(self, pending_msgs_limit: int | None, pending_bytes_limit: int | None) -> None:
        """Subscribe in the endpoint's queue group."""
        limits: dict[str, Any] = {}
        if pending_msgs_limit is not None:
            limits["pending_msgs_limit"] = pending_msgs_limit
        if pending_bytes_limit is not None:
            limits["pending_bytes_limit"] = pending_bytes_limit
        callback = self._handle_async if is_coroutine_handler(self.handler) else self._handle
        self._subscription = await self.client.subscribe(
            self.subject, queue=self.queue_group, cb=callback, **limits
        )

    async def stop(self, timeout: float) -> None:
        """Stop taking requests; those already received are still answered (for at most
        ``timeout`` seconds)."""
        sub, self._subscription = self._subscription, None
        if sub is not None:
            await drain_quietly(sub, timeout)

    def _handle(self, msg: Message) -> None:
        started = perf_counter_ns()
        request = Request(msg, self)
        try:
            result = self.handler(request)
            if result is not None and inspect.iscoroutine(result):
                result.close()
                raise TypeError("the handler returned a coroutine: declare it 'async def'")
        except Exception as exc:
            self._fail(request, exc)
        self.num_requests += 1
        self.processing_time += perf_counter_ns() - started

    async def _handle_async(self, msg: Message) -> None:
        started = perf_counter_ns()
        request = Request(msg, self)
        try:
            await self.handler(request)  # type: ignore[misc]
        except Exception as exc:
            self._fail(request, exc)
        self.num_requests += 1
        self.processing_time += perf_counter_ns() - started

    def _fail(self, request: Request, exc: Exception) -> None:
        if isinstance(exc, ServiceError):
            code, description = exc.code, exc.description
        else:
            code, description = "500", repr(exc)
        # No reply subject, or no connection to answer on: respond_error has counted the
        # error before it found out.
        with suppress(NatsWireError, ValueError):
            request.respond_error(code, description)

    def record_error(self, error: str) -> None:
        """Count an error reply (for :class:`Request`)."""
        self.num_errors += 1
        self.last_error = error

    def reset(self) -> None:
        """Zero the statistics."""
        self.num_requests = self.num_errors = self.processing_time = 0
        self.last_error = None

    def stats(self) -> EndpointStats:
        """The endpoint's statistics now."""
        requests = self.num_requests
        return EndpointStats(
            name=self.name,
            subject=self.subject,
            queue_group=self.queue_group,
            num_requests=requests,
            num_errors=self.num_errors,
            processing_time=self.processing_time,
            average_processing_time=self.processing_time // requests if requests else 0,
            last_error=self.last_error,
        )

    def info(self) -> EndpointInfo:
        """What ``$SRV.INFO`` says of the endpoint."""
        return EndpointInfo(
            name=self.name,
            subject=self.subject,
            queue_group=self.queue_group,
            metadata=dict(self.metadata or {}),
        )
