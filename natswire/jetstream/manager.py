"""JetStream management: streams, consumers and stored messages, over ``$JS.API``."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any, TypeVar

from ..client.client import Client
from ..client.errors import NoRespondersError
from ..protocol.headers import parse_headers
from .api import (
    AccountInfo,
    Base,
    ConsumerConfig,
    ConsumerInfo,
    ConsumerPause,
    ConsumerReset,
    RawStreamMsg,
    StreamConfig,
    StreamInfo,
    StreamPurgeRequest,
    StreamsListIterator,
)
from .direct import get_batch, raw_from_direct, single_request
from .errors import (
    ServiceUnavailableError,
    StreamNotFoundError,
    decode_response,
)

DEFAULT_PREFIX = "$JS.API"
_PAGE_LIMIT = 10_000  # pages of a listing (the server pages by 256 or 1024)

C = TypeVar("C", bound=Base)

_FORBIDDEN_IN_NAME = frozenset(" \t\r\n.*>/\\")


def check_name(what: str, name: object) -> str:
    """Return ``name`` if it is a valid stream or consumer name (``what``), else raise."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what} name must be a non-empty str, got {name!r}")
    if not _FORBIDDEN_IN_NAME.isdisjoint(name):
        raise ValueError(f"{what} name {name!r} must not hold whitespace, '.', '*', '>' or '/'")
    return name


def api_prefix(prefix: str, domain: str | None) -> str:
    """The API subject prefix: ``$JS.<domain>.API`` for a domain, else ``prefix``."""
    if domain:
        return f"$JS.{domain}.API"
    prefix = prefix.rstrip(".")
    if not prefix:
        raise ValueError("the JetStream API prefix must not be empty")
    return prefix


def build_config(cls: type[C], config: C | None, params: dict[str, Any]) -> C:
    """``config`` changed by ``params``, or a new ``cls`` from ``params`` alone."""
    if config is None:
        try:
            return cls(**params)
        except TypeError as exc:
            raise TypeError(f"{cls.__name__}: {exc}") from None
    if not isinstance(config, cls):
        raise TypeError(f"config must be a {cls.__name__}, got {type(config).__name__}")
    return config.evolve(**params) if params else config


def consumer_create(
    stream: str, config: ConsumerConfig | None, params: dict[str, Any], action: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The API name and body that create (or update) the consumer ``config`` changed by
    ``params`` on ``stream``."""
    check_name("stream", stream)
    cfg = build_config(ConsumerConfig, config, params)
    name = cfg.name or cfg.durable_name
    if cfg.name and cfg.durable_name and cfg.name != cfg.durable_name:
        raise ValueError(f"consumer name {cfg.name!r} and durable_name {cfg.durable_name!r} differ")
    if name:
        check_name("consumer", name)
        api = f"CONSUMER.CREATE.{stream}.{name}"
        if cfg.filter_subject and not _has_wildcard(cfg.filter_subject):
            # As nats-py: the server checks it, and permissions can be set per filter.
            # A wildcard filter stays in the body only: no request subject holds one.
            api += f".{cfg.filter_subject}"
    else:
        api = f"CONSUMER.CREATE.{stream}"
    body: dict[str, Any] = {"stream_name": stream, "config": cfg.as_request()}
    if action is not None:
        body["action"] = action
    return api, body


def _has_wildcard(subject: str) -> bool:
    return any(token in ("*", ">") for token in subject.split("."))


class JetStreamManager:
    """Management calls of the JetStream API (nats-py's ``JetStreamManager`` shape).

    Every call is a request to ``<prefix>.<API>`` with JSON in and out; an ``error``
    object in the answer raises the matching :class:`APIError` subclass, and no
    responders raises :class:`ServiceUnavailableError` (JetStream off or no leader).
    """

    def __init__(
        self,
        nc: Client,
        prefix: str = DEFAULT_PREFIX,
        domain: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number, got {timeout!r}")
        self._nc = nc
        self._prefix = api_prefix(prefix, domain)
        self._domain = domain
        self._timeout = float(timeout)

    @property
    def client(self) -> Client:
        """The core client this context sends through."""
        return self._nc

    @property
    def prefix(self) -> str:
        """The API subject prefix (``$JS.API`` or ``$JS.<domain>.API``)."""
        return self._prefix

    @property
    def timeout(self) -> float:
        """The default timeout of API calls, in seconds."""
        return self._timeout

    async def _api_request(
        self,
        api: str,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        subject = f"{self._prefix}.{api}"
        data = b"" if body is None else json.dumps(body).encode()
        try:
            msg = await self._nc.request(subject, data, timeout=timeout or self._timeout)
        except NoRespondersError:
            raise ServiceUnavailableError(
                503,
                None,
                f"no responders on {subject!r}: JetStream is not enabled or has no leader",
            ) from None
        return decode_response(msg.data, f"JetStream API {subject!r}")

    # ---------------------------------------------------------------- account

    async def account_info(self) -> AccountInfo:
        """Usage and limits of this account."""
        return AccountInfo.from_response(await self._api_request("INFO"))

    # ---------------------------------------------------------------- streams

    async def add_stream(self, config: StreamConfig | None = None, **params: Any) -> StreamInfo:
        """Create a stream (``add_stream(name="s", subjects=["s.>"])`` or a config)."""
        cfg = build_config(StreamConfig, config, params)
        name = check_name("stream", cfg.name)
        resp = await self._api_request(f"STREAM.CREATE.{name}", cfg.as_request())
        return StreamInfo.from_response(resp)

    async def update_stream(self, config: StreamConfig | None = None, **params: Any) -> StreamInfo:
        """Change a stream's configuration."""
        cfg = build_config(StreamConfig, config, params)
        name = check_name("stream", cfg.name)
        resp = await self._api_request(f"STREAM.UPDATE.{name}", cfg.as_request())
        return StreamInfo.from_response(resp)

    async def stream_info(
        self, name: str, subjects_filter: str | None = None, deleted_details: bool = False
    ) -> StreamInfo:
        """A stream's configuration and state (with per-subject counts when filtered).
        ``deleted_details`` asks for the deleted sequences (``state.deleted``) and the
        data the server lost at its start (``state.lost``), which it sends only then."""
        check_name("stream", name)
        body: dict[str, Any] = {}
        if subjects_filter:
            body["subjects_filter"] = subjects_filter
        if deleted_details:
            body["deleted_details"] = True
        resp = await self._api_request(f"STREAM.INFO.{name}", body or None)
        return StreamInfo.from_response(resp)

    async def delete_stream(self, name: str) -> bool:
        """Delete a stream and its messages."""
        check_name("stream", name)
        return bool((await self._api_request(f"STREAM.DELETE.{name}")).get("success"))

    async def purge_stream(
        self,
        name: str,
        seq: int | None = None,
        subject: str | None = None,
        keep: int | None = None,
    ) -> bool:
        """Remove messages: all, those below ``seq``, those on ``subject``, or all but
        the last ``keep`` (nats-py's order of arguments; the body is a
        :class:`StreamPurgeRequest`)."""
        check_name("stream", name)
        body = StreamPurgeRequest(seq=seq, filter=subject or None, keep=keep).as_request()
        resp = await self._api_request(f"STREAM.PURGE.{name}", body or None)
        return bool(resp.get("success"))

    async def streams_info(self, offset: int = 0) -> list[StreamInfo]:
        """Every stream's info (all pages)."""
        return [
            StreamInfo.from_response(item)
            for item in await self._list("STREAM.LIST", "streams", {}, offset)
        ]

    def streams_info_iterator(self, offset: int = 0) -> StreamPages:
        """Stream infos from ``offset``, as nats-py has it: ``await`` gives one page
        (a :class:`StreamsListIterator`); ``async for`` goes through every page,
        requesting one at a time."""
        return StreamPages(self._api_request, offset)

    async def stream_names(self, subject: str | None = None) -> list[str]:
        """Every stream's name, or those storing ``subject``."""
        body = {"subject": subject} if subject else {}
        return [str(name) for name in await self._list("STREAM.NAMES", "streams", body, 0)]

    async def find_stream_name_by_subject(self, subject: str) -> str:
        """The stream that stores ``subject``; :class:`StreamNotFoundError` if none."""
        names = await self.stream_names(subject)
        if not names:
            raise StreamNotFoundError(404, 10059, f"no stream matches subject {subject!r}")
        return names[0]

    async def _list(self, api: str, key: str, body: dict[str, Any], offset: int) -> list[Any]:
        items: list[Any] = []
        for _ in range(_PAGE_LIMIT):
            resp = await self._api_request(api, {**body, "offset": offset})
            page = resp.get(key) or []
            items.extend(page)
            offset += len(page)
            total = resp.get("total", 0)
            if not page or offset >= total:
                break
        return items

    # --------------------------------------------------------------- messages

    async def get_msg(
        self,
        stream_name: str,
        seq: int | None = None,
        subject: str | None = None,
        direct: bool = False,
        next: bool = False,
    ) -> RawStreamMsg:
        """A stored message: by sequence, the last on ``subject``, or (``next=True``)
        the first on ``subject`` at or after ``seq``. ``direct=True`` reads it with
        Direct Get (streams with ``allow_direct``; any replica answers)."""
        check_name("stream", stream_name)
        if direct:
            api, request = single_request(self._prefix, stream_name, seq, subject, next)
            msg = await self._nc.request(api, request, timeout=self._timeout)
            return raw_from_direct(msg, stream_name)
        body: dict[str, Any] = {}
        if next:
            if not subject:
                raise ValueError("next=True needs a subject")
            body = {"seq": seq or 0, "next_by_subj": subject}
        elif subject:
            body = {"last_by_subj": subject}
        elif seq:
            body = {"seq": seq}
        else:
            raise ValueError("get_msg needs seq or subject")
        resp = await self._api_request(f"STREAM.MSG.GET.{stream_name}", body)
        raw = resp.get("message") or {}
        hdrs = raw.get("hdrs")
        data = raw.get("data")
        return RawStreamMsg(
            subject=raw.get("subject"),
            seq=raw.get("seq"),
            data=base64.b64decode(data) if data else b"",
            headers=parse_headers(base64.b64decode(hdrs)) if hdrs else None,
            time=raw.get("time"),
            stream=stream_name,
            hdrs=hdrs or None,
            extra={
                k: v for k, v in raw.items() if k not in ("subject", "seq", "data", "hdrs", "time")
            },
        )

    async def get_last_msg(
        self, stream_name: str, subject: str, direct: bool = False
    ) -> RawStreamMsg:
        """The last message stored on ``subject`` (with Direct Get when ``direct``)."""
        return await self.get_msg(stream_name, subject=subject, direct=direct)

    async def get_msgs(
        self,
        stream_name: str,
        batch: int | None = None,
        seq: int | None = None,
        subject: str | None = None,
        multi_last: list[str] | None = None,
        up_to_seq: int | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> list[RawStreamMsg]:
        """Batched Direct Get (nats-server 2.11+, streams with ``allow_direct``): up to
        ``batch`` messages from ``seq`` (on ``subject`` when given), or with
        ``multi_last`` the last message on each of those subjects (wildcards allowed),
        up to ``up_to_seq``. ``[]`` when none matched."""
        check_name("stream", stream_name)
        body: dict[str, Any] = {}
        if multi_last:
            body["multi_last"] = multi_last
            if batch:
                body["batch"] = batch
        elif batch:
            body.update(batch=batch, seq=seq or 1)
            if subject:
                body["next_by_subj"] = subject
        else:
            raise ValueError("get_msgs needs batch or multi_last")
        if up_to_seq:
            body["up_to_seq"] = up_to_seq
        if max_bytes:
            body["max_bytes"] = max_bytes
        return await get_batch(self._nc, self._prefix, stream_name, body, timeout or self._timeout)

    async def delete_msg(self, stream_name: str, seq: int) -> bool:
        """Delete one message by sequence."""
        check_name("stream", stream_name)
        resp = await self._api_request(f"STREAM.MSG.DELETE.{stream_name}", {"seq": seq})
        return bool(resp.get("success"))

    # -------------------------------------------------------------- consumers

    async def add_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> ConsumerInfo:
        """Create (or update to the same configuration) a consumer on ``stream``."""
        api, body = consumer_create(stream, config, params)
        return ConsumerInfo.from_response(await self._api_request(api, body, timeout))

    async def create_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> ConsumerInfo:
        """Create a consumer; :class:`ConsumerExistsError` when one of that name exists
        with another configuration (nats.go's ``CreateConsumer``; the same
        configuration answers with the existing consumer)."""
        api, body = consumer_create(stream, config, params, "create")
        return ConsumerInfo.from_response(await self._api_request(api, body, timeout))

    async def update_consumer(
        self,
        stream: str,
        config: ConsumerConfig | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> ConsumerInfo:
        """Update an existing consumer; :class:`ConsumerNotFoundError` when there is none
        (nats.go's ``UpdateConsumer``)."""
        api, body = consumer_create(stream, config, params, "update")
        return ConsumerInfo.from_response(await self._api_request(api, body, timeout))

    async def consumer_info(
        self, stream: str, consumer: str, timeout: float | None = None
    ) -> ConsumerInfo:
        """A consumer's configuration and state."""
        check_name("stream", stream)
        check_name("consumer", consumer)
        resp = await self._api_request(f"CONSUMER.INFO.{stream}.{consumer}", None, timeout)
        return ConsumerInfo.from_response(resp)

    async def delete_consumer(self, stream: str, consumer: str) -> bool:
        """Delete a consumer."""
        check_name("stream", stream)
        check_name("consumer", consumer)
        resp = await self._api_request(f"CONSUMER.DELETE.{stream}.{consumer}")
        return bool(resp.get("success"))

    async def pause_consumer(
        self,
        stream: str,
        consumer: str,
        pause_until: str | datetime.datetime,
        timeout: float | None = None,
    ) -> ConsumerPause:
        """Pause a consumer until ``pause_until`` (RFC 3339 or a ``datetime``; nats-server
        2.11+): it delivers nothing until then."""
        check_name("stream", stream)
        check_name("consumer", consumer)
        if isinstance(pause_until, datetime.datetime):
            if pause_until.tzinfo is None:
                pause_until = pause_until.replace(tzinfo=datetime.timezone.utc)
            pause_until = pause_until.astimezone(datetime.timezone.utc).isoformat()
        resp = await self._api_request(
            f"CONSUMER.PAUSE.{stream}.{consumer}", {"pause_until": pause_until}, timeout
        )
        return ConsumerPause.from_response(resp)

    async def resume_consumer(
        self, stream: str, consumer: str, timeout: float | None = None
    ) -> ConsumerPause:
        """Resume a paused consumer now (a pause until a time long past)."""
        return await self.pause_consumer(stream, consumer, "1970-01-01T00:00:00Z", timeout)

    async def reset_consumer(
        self,
        stream: str,
        consumer: str,
        seq: int | None = None,
        timeout: float | None = None,
    ) -> ConsumerReset:
        """Reset a consumer's delivery state (nats-server 2.14, ADR-60): nothing pending
        or redelivered, and the delivery sequence starts at 1 again. With ``seq`` the
        next message delivered is the first at or after stream sequence ``seq``;
        without it (or 0), delivery resumes above the ack floor. A ``seq`` the
        consumer's deliver policy rules out raises :class:`ConsumerInvalidResetError`."""
        check_name("stream", stream)
        check_name("consumer", consumer)
        body = {"seq": seq} if seq else None
        resp = await self._api_request(f"CONSUMER.RESET.{stream}.{consumer}", body, timeout)
        return ConsumerReset.from_response(resp)

    async def consumers_info(self, stream: str, offset: int | None = None) -> list[ConsumerInfo]:
        """Every consumer's info on ``stream`` (all pages)."""
        check_name("stream", stream)
        return [
            ConsumerInfo.from_response(item)
            for item in await self._list(f"CONSUMER.LIST.{stream}", "consumers", {}, offset or 0)
        ]

    async def consumer_names(self, stream: str) -> list[str]:
        """Every consumer's name on ``stream``."""
        check_name("stream", stream)
        items = await self._list(f"CONSUMER.NAMES.{stream}", "consumers", {}, 0)
        return [str(name) for name in items]


class StreamPages:
    """The result of :meth:`JetStreamManager.streams_info_iterator`: awaitable (one
    page) and asynchronously iterable (every page)."""

    def __init__(
        self,
        request: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]],
        offset: int,
    ) -> None:
        self._request = request
        self._offset = offset

    async def _page(self, offset: int) -> StreamsListIterator:
        resp = await self._request("STREAM.LIST", {"offset": offset})
        return StreamsListIterator(
            int(resp.get("offset", offset)), int(resp.get("total", 0)), resp.get("streams") or []
        )

    def __await__(self) -> Generator[Any, None, StreamsListIterator]:
        return self._page(self._offset).__await__()

    async def __aiter__(self) -> AsyncIterator[StreamInfo]:
        offset = self._offset
        for _ in range(_PAGE_LIMIT):
            page = await self._page(offset)
            for info in page:
                yield info
            offset += len(page.streams)
            if not page.streams or offset >= page.total:
                return
