"""What RabbitMqAdmin does for Wire, over NATS (notes/wire-amqp.md §2.2 and §3.1).

========================================  ==============================================
RabbitMqAdmin                             :class:`NatsAdmin`
========================================  ==============================================
``listQueuesByVHost vhost name regex      :meth:`~NatsAdmin.list_queues`: the adapter's
page_size page`` -> ``Page Queue``        queues (durable consumers ``Q-<name>`` of the
                                          stream ``AMQP-<ns>``), filtered by regex and
                                          paged as RabbitMQ does (pages from 1)
``deleteQueue vhost queue``               :meth:`~NatsAdmin.delete_queue`: the consumer is
                                          deleted (its messages stay in the stream until
                                          ``stream_max_age``, as acked ones do)
``listConnectionsByVHost vhost``          :meth:`~NatsAdmin.list_connections`: ``/connz``
                                          (the namespace is the ``<ns>/`` prefix of the
                                          client name natswire sends)
``deleteConnection name``                 :meth:`~NatsAdmin.kick_connection`:
                                          ``$SYS.REQ.SERVER.<id>.KICK`` (system account)
========================================  ==============================================

A vHost is a natswire namespace.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..amqp.acklog import acklog_subject
from ..amqp.errors import QueueNotFoundError
from ..amqp.names import (
    SubjectMap,
    acklog_stream_name,
    client_name,
    consumer_name,
    meta_stream_name,
    namespace_of_client_name,
    queue_of_consumer,
    stream_name,
)
from ..amqp.queues import QueueSpec
from ..amqp.records import record_subject
from ..client.client import Client
from ..client.errors import NoRespondersError
from ..jetstream.api import ConsumerInfo
from ..jetstream.errors import (
    ConsumerNotFoundError,
    ServiceUnavailableError,
    StreamNotFoundError,
    decode_response,
)
from .errors import AdminError, ConnectionNotFoundError, SystemAccountRequiredError
from .monitor import Monitor
from .types import ConnInfo

T = TypeVar("T")

#: ``progress(stage, done, total)``: called as a long listing advances; ``stage`` is
#: ``"names"`` (consumer names, page by page) or ``"details"`` (one info per queue).
Progress = Callable[[str, int, "int | None"], None]

_INFO_CONCURRENCY = 16
_SYS_CONNZ_LIMIT = 1024


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing (RabbitMQ's ``Page``: ``items``, ``page``, ``page_count``)."""

    items: list[T]
    page: int
    page_count: int
    page_size: int
    #: Items that matched the filter, on every page.
    filtered_count: int
    #: Items before filtering.
    total_count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": [getattr(i, "as_dict", lambda i=i: i)() for i in self.items],
            "page": self.page,
            "page_count": self.page_count,
            "page_size": self.page_size,
            "filtered_count": self.filtered_count,
            "total_count": self.total_count,
            "item_count": len(self.items),
        }


@dataclass(frozen=True)
class QueueInfo:
    """An adapter queue (RabbitMQ's ``Queue``: ``name``, ``vhost``; and more)."""

    name: str
    vhost: str
    stream: str
    consumer: str
    #: Messages ready for the queue (``num_pending``).
    messages: int = 0
    #: Delivered, not yet acknowledged (``num_ack_pending``).
    messages_unacknowledged: int = 0
    #: Messages redelivered at least once (``num_redelivered``).
    redelivered: int = 0
    #: Pull requests waiting on the queue (its active consumers).
    waiting: int = 0
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)
    bindings: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_consumer(cls, namespace: str, stream: str, info: ConsumerInfo) -> QueueInfo | None:
        spec = QueueSpec.from_info(info)
        consumer = info.name or ""
        name = spec.name if spec is not None else queue_of_consumer(consumer)
        if name is None:
            return None
        return cls(
            name=name,
            vhost=namespace,
            stream=stream,
            consumer=consumer,
            messages=int(info.num_pending or 0),
            messages_unacknowledged=int(info.num_ack_pending or 0),
            redelivered=int(info.num_redelivered or 0),
            waiting=int(info.num_waiting or 0),
            durable=spec.durable if spec else True,
            exclusive=spec.exclusive if spec else False,
            auto_delete=spec.auto_delete if spec else False,
            arguments=dict(spec.arguments) if spec else {},
            bindings=[
                {"source": b.exchange, "type": b.exchange_type, "routing_key": b.routing_key}
                for b in (spec.bindings if spec else [])
            ],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vhost": self.vhost,
            "stream": self.stream,
            "consumer": self.consumer,
            "messages": self.messages,
            "messages_unacknowledged": self.messages_unacknowledged,
            "redelivered": self.redelivered,
            "waiting": self.waiting,
            "durable": self.durable,
            "exclusive": self.exclusive,
            "auto_delete": self.auto_delete,
            "arguments": self.arguments,
            "bindings": self.bindings,
        }


@dataclass(frozen=True)
class ConnectionInfo:
    """A client connection (RabbitMQ's ``Connection``: ``user_provided_name``, ``name``)."""

    cid: int
    #: The name the client sent in CONNECT (``""`` without one).
    name: str
    namespace: str
    account: str
    user: str
    ip: str
    port: int
    lang: str
    version: str
    uptime: str
    in_msgs: int
    out_msgs: int
    in_bytes: int
    out_bytes: int
    subscriptions: int
    pending_bytes: int
    server_id: str
    info: ConnInfo = field(repr=False, compare=False)

    @property
    def user_provided_name(self) -> str | None:
        return self.name or None

    @classmethod
    def from_conn(cls, conn: ConnInfo, server_id: str) -> ConnectionInfo:
        return cls(
            cid=conn.cid,
            name=conn.name,
            namespace=namespace_of_client_name(conn.name),
            account=conn.account,
            user=conn.authorized_user,
            ip=conn.ip,
            port=conn.port,
            lang=conn.lang,
            version=conn.version,
            uptime=conn.uptime,
            in_msgs=conn.in_msgs,
            out_msgs=conn.out_msgs,
            in_bytes=conn.in_bytes,
            out_bytes=conn.out_bytes,
            subscriptions=conn.subscriptions,
            pending_bytes=conn.pending_bytes,
            server_id=server_id,
            info=conn,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "cid": self.cid,
            "name": self.name,
            "user_provided_name": self.user_provided_name,
            "namespace": self.namespace,
            "account": self.account,
            "user": self.user,
            "ip": self.ip,
            "port": self.port,
            "lang": self.lang,
            "version": self.version,
            "uptime": self.uptime,
            "in_msgs": self.in_msgs,
            "out_msgs": self.out_msgs,
            "in_bytes": self.in_bytes,
            "out_bytes": self.out_bytes,
            "subscriptions": self.subscriptions,
            "pending_bytes": self.pending_bytes,
            "server_id": self.server_id,
        }


def _matcher(pattern: str | re.Pattern[str] | None, use_regex: bool) -> Callable[[str], bool]:
    if pattern is None or pattern == "":
        return lambda name: True
    if isinstance(pattern, re.Pattern):
        compiled = pattern
        return lambda name: compiled.search(name) is not None
    if use_regex:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad queue name pattern {pattern!r}: {exc}") from None
        return lambda name: compiled.search(name) is not None
    return lambda name: pattern in name


class NatsAdmin:
    """The RabbitMqAdmin replacement (see the module docs for the mapping).

    ``nc`` is a natswire client (queues and kicks go over it; kicking needs it to be in
    the system account); ``monitor`` a :class:`Monitor` or its URL (connections are
    listed from ``/connz``). ``namespace`` is the default vHost of every call.
    """

    def __init__(
        self,
        nc: Client | None = None,
        monitor: Monitor | str | None = None,
        *,
        namespace: str = "",
        js_prefix: str = "$JS.API",
        timeout: float = 5.0,
    ) -> None:
        self._nc = nc
        self._monitor = Monitor(monitor) if isinstance(monitor, str) else monitor
        self.namespace = namespace
        self._js_prefix = js_prefix.rstrip(".")
        self._timeout = timeout

    @property
    def monitor(self) -> Monitor | None:
        return self._monitor

    def _client(self, what: str) -> Client:
        if self._nc is None:
            raise AdminError(f"{what} needs a NATS connection: NatsAdmin(nc=...)")
        return self._nc

    def _need_monitor(self, what: str) -> Monitor:
        if self._monitor is None:
            raise AdminError(f"{what} needs the monitoring endpoint: NatsAdmin(monitor=URL)")
        return self._monitor

    # ------------------------------------------------------------------ JetStream

    async def _js(self, api: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        nc = self._client("listing and deleting queues")
        subject = f"{self._js_prefix}.{api}"
        data = b"" if body is None else json.dumps(body).encode()
        try:
            msg = await nc.request(subject, data, timeout=self._timeout)
        except NoRespondersError:
            raise ServiceUnavailableError(
                503, None, f"no responders on {subject!r}: JetStream is not enabled here"
            ) from None
        return decode_response(msg.data, f"JetStream API {subject!r}")

    async def _consumer_names(self, stream: str, progress: Progress | None) -> list[str]:
        names: list[str] = []
        offset = 0
        while True:
            resp = await self._js(f"CONSUMER.NAMES.{stream}", {"offset": offset})
            page = [str(n) for n in resp.get("consumers") or []]
            names.extend(page)
            offset += len(page)
            total = int(resp.get("total") or 0)
            if progress is not None:
                progress("names", offset, total)
            if not page or offset >= total:
                return names

    async def queue_names(
        self,
        namespace: str | None = None,
        pattern: str | re.Pattern[str] | None = None,
        *,
        use_regex: bool = True,
        progress: Progress | None = None,
    ) -> list[str]:
        """The names of the namespace's queues matching ``pattern``, sorted."""
        ns = self.namespace if namespace is None else namespace
        matches = _matcher(pattern, use_regex)
        try:
            consumers = await self._consumer_names(stream_name(ns), progress)
        except StreamNotFoundError:
            return []
        names = (queue_of_consumer(c) for c in consumers)
        return sorted(n for n in names if n is not None and matches(n))

    async def list_queues(
        self,
        namespace: str | None = None,
        pattern: str | re.Pattern[str] | None = None,
        *,
        use_regex: bool = True,
        page: int = 1,
        page_size: int = 100,
        progress: Progress | None = None,
    ) -> Page[QueueInfo]:
        """One page of the namespace's queues whose name matches ``pattern`` (a regular
        expression searched in the name, or a substring with ``use_regex=False``), sorted
        by name, pages from 1 (RabbitMQ's ``listQueuesByVHost``).

        Names are listed with ``CONSUMER.NAMES`` (paged by the server); only the queues
        on the requested page are read with ``CONSUMER.INFO``. ``progress(stage, done,
        total)`` is called as names pages and infos arrive. A namespace without a stream has no
        queues.
        """
        if page < 1 or page_size < 1:
            raise ValueError("page and page_size start at 1")
        ns = self.namespace if namespace is None else namespace
        stream = stream_name(ns)
        matches = _matcher(pattern, use_regex)
        try:
            consumers = await self._consumer_names(stream, progress)
        except StreamNotFoundError:
            return Page([], page, 0, page_size, 0, 0)
        pairs = sorted(
            (name, consumer)
            for consumer in consumers
            if (name := queue_of_consumer(consumer)) is not None
        )
        selected = [(n, c) for n, c in pairs if matches(n)]
        page_count = math.ceil(len(selected) / page_size)
        chosen = selected[(page - 1) * page_size : page * page_size]
        infos = await self._queue_infos(ns, stream, [c for _, c in chosen], progress)
        return Page(infos, page, page_count, page_size, len(selected), len(pairs))

    async def all_queues(
        self,
        namespace: str | None = None,
        pattern: str | re.Pattern[str] | None = None,
        *,
        use_regex: bool = True,
        progress: Progress | None = None,
    ) -> list[QueueInfo]:
        """Every matching queue with its details (all pages)."""
        ns = self.namespace if namespace is None else namespace
        stream = stream_name(ns)
        names = await self.queue_names(ns, pattern, use_regex=use_regex, progress=progress)
        return await self._queue_infos(ns, stream, [consumer_name(n) for n in names], progress)

    async def _queue_infos(
        self, namespace: str, stream: str, consumers: Sequence[str], progress: Progress | None
    ) -> list[QueueInfo]:
        results: list[QueueInfo | None] = [None] * len(consumers)
        done = 0
        limit = asyncio.Semaphore(_INFO_CONCURRENCY)

        async def one(index: int, consumer: str) -> None:
            nonlocal done
            async with limit:
                try:
                    resp = await self._js(f"CONSUMER.INFO.{stream}.{consumer}")
                except (ConsumerNotFoundError, StreamNotFoundError):
                    resp = None  # deleted meanwhile
            if resp is not None:
                results[index] = QueueInfo.from_consumer(
                    namespace, stream, ConsumerInfo.from_response(resp)
                )
            done += 1
            if progress is not None:
                progress("details", done, len(consumers))

        await asyncio.gather(*(one(i, c) for i, c in enumerate(consumers)))
        return [r for r in results if r is not None]

    async def delete_queue(
        self, name: str, namespace: str | None = None, *, missing_ok: bool = False
    ) -> bool:
        """Delete a queue (its consumer; RabbitMQ's ``deleteQueue``). Consumers of it, in
        any process, get ``on_cancel``. A missing queue raises
        :class:`QueueNotFoundError`, or returns False with ``missing_ok``. The queue's
        record goes first (the adapter would make a queue whose consumer is gone again
        from it, see :mod:`natswire.amqp.records`), its ack log last."""
        ns = self.namespace if namespace is None else namespace
        stream = stream_name(ns)
        subjects = SubjectMap.generic(ns)
        had_record = await self._purge(meta_stream_name(ns), record_subject(subjects, name))
        log_end = await self._next_seq(acklog_stream_name(ns))
        try:
            resp = await self._js(f"CONSUMER.DELETE.{stream}.{consumer_name(name)}")
        except (ConsumerNotFoundError, StreamNotFoundError):
            if had_record:  # its consumer was lost with a server restart
                resp = {"success": True}
            elif missing_ok:
                return False
            else:
                raise QueueNotFoundError(
                    f"NOT_FOUND - no queue {name!r} in namespace {ns!r}"
                ) from None
        # Only what was logged before: a queue declared again meanwhile keeps its own.
        await self._purge(acklog_stream_name(ns), acklog_subject(subjects, name), log_end)
        return bool(resp.get("success"))

    async def _next_seq(self, stream: str) -> int:
        """``stream``'s next sequence (1 without the stream)."""
        try:
            resp = await self._js(f"STREAM.INFO.{stream}")
        except StreamNotFoundError:
            return 1
        return int(resp.get("state", {}).get("last_seq") or 0) + 1

    async def _purge(self, stream: str, subject: str, before: int | None = None) -> int:
        """Remove ``stream``'s messages on ``subject`` (below sequence ``before``): how
        many (0 without the stream)."""
        body: dict[str, Any] = {"filter": subject}
        if before is not None:
            body["seq"] = before
        try:
            resp = await self._js(f"STREAM.PURGE.{stream}", body)
        except StreamNotFoundError:
            return 0
        return int(resp.get("purged") or 0)

    # ---------------------------------------------------------------- connections

    async def list_connections(
        self,
        namespace: str | None = None,
        name: str | None = None,
        *,
        account: str | None = None,
        state: str = "open",
    ) -> list[ConnectionInfo]:
        """Client connections from ``/connz`` (all pages; RabbitMQ's
        ``listConnectionsByVHost``). ``namespace`` keeps those whose client name is
        ``<namespace>/...`` (what natswire's adapter sends, see
        :func:`natswire.amqp.names.client_name`); ``name`` those named exactly ``name``
        (or ``<namespace>/<name>``); ``account`` those of one account. ``None`` means no
        filter (this call does not use the admin's default namespace)."""
        monitor = self._need_monitor("listing connections")
        server_id = ""
        out: list[ConnectionInfo] = []
        wanted = {name, client_name(namespace, name)} if name is not None and namespace else {name}
        async for page in monitor.connz_pages(auth=True, account=account, state=state):
            server_id = page.server_id
            for conn in page.connections:
                if name is not None and conn.name not in wanted:
                    continue
                if namespace is not None and namespace_of_client_name(conn.name) != namespace:
                    continue
                out.append(ConnectionInfo.from_conn(conn, server_id))
        return out

    # ------------------------------------------------------------- system account

    async def _sys_request(self, subject: str, body: dict[str, Any] | None, what: str) -> Any:
        nc = self._client(what)
        payload = b"" if body is None else json.dumps(body).encode()
        try:
            msg = await nc.request(subject, payload, timeout=self._timeout)
        except NoRespondersError:
            raise SystemAccountRequiredError(
                f"{what} needs a connection in the system account "
                f"(no responders on {subject!r}){await self._who()}"
            ) from None
        try:
            resp = json.loads(msg.data)
        except ValueError:
            raise AdminError(f"the server answered {subject!r} with {msg.data[:80]!r}") from None
        if not isinstance(resp, dict):
            raise AdminError(f"the server answered {subject!r} with {resp!r}")
        error = resp.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            description = error.get("description") or error
            if "no such client" in str(description):
                raise ConnectionNotFoundError(f"{what}: {description}")
            raise AdminError(f"{what}: the server answered error {code}: {description}")
        return resp.get("data")

    async def _who(self) -> str:
        try:
            who = await self.whoami()
        except Exception:
            return ""
        return f"; this connection is user {who.get('user')!r} of account {who.get('account')!r}"

    async def whoami(self) -> dict[str, Any]:
        """The user and account of the admin's connection (``$SYS.REQ.USER.INFO``)."""
        nc = self._client("whoami")
        msg = await nc.request("$SYS.REQ.USER.INFO", b"", timeout=self._timeout)
        data = json.loads(msg.data).get("data")
        return data if isinstance(data, dict) else {}

    def _server_id(self, server_id: str | None) -> str:
        if server_id:
            return server_id
        sid = self._client("kicking a connection").server_info.get("server_id")
        if not isinstance(sid, str) or not sid:
            raise AdminError("the connected server did not say its server_id")
        return sid

    async def _cids_named(self, name: str, server_id: str) -> list[int]:
        cids: list[int] = []
        offset = 0
        while True:
            data = await self._sys_request(
                f"$SYS.REQ.SERVER.{server_id}.CONNZ",
                {"offset": offset, "limit": _SYS_CONNZ_LIMIT},
                "kicking a connection by name",
            )
            conns = (data or {}).get("connections") or []
            cids += [int(c["cid"]) for c in conns if c.get("name") == name and "cid" in c]
            offset += len(conns)
            if not conns or offset >= int((data or {}).get("total") or 0):
                return cids

    async def kick_connection(
        self, target: int | str, *, server_id: str | None = None
    ) -> list[int]:
        """Disconnect a client (RabbitMQ's ``deleteConnection``) through
        ``$SYS.REQ.SERVER.<id>.KICK``: ``target`` is a connection id (int or digits) or a
        client name (every connection with that name is kicked). The admin's connection
        must be in the system account (:class:`SystemAccountRequiredError` otherwise).
        The connection is looked up on ``server_id`` (default: the connected server).
        Returns the ids kicked; :class:`ConnectionNotFoundError` when there is none.

        A kicked natswire client sees a disconnect and reconnects (as after a server
        restart); use ``allow_reconnect=False`` on clients that must stay away.
        """
        sid = self._server_id(server_id)
        if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
            cids = [int(target)]
        else:
            cids = await self._cids_named(target, sid)
            if not cids:
                raise ConnectionNotFoundError(f"no connection named {target!r} on server {sid}")
        for cid in cids:
            await self._sys_request(
                f"$SYS.REQ.SERVER.{sid}.KICK", {"cid": cid}, f"kicking connection {cid}"
            )
        return cids


#: RabbitMQ's name for it.
RabbitMqAdmin = NatsAdmin
