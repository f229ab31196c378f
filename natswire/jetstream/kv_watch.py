"""A Key-Value watcher: an ordered push consumer (see :mod:`.push`) on the bucket's keys.

It hands out the keys' current values (or their whole history), then ``None`` once when
those are delivered, then every later update as it is stored. Being an ordered consumer,
it survives reconnects, server restarts and the consumer's deletion: it is replaced after
the last revision it delivered, and the replaced consumer is deleted, so the bucket's
stream has one consumer per live watcher.
"""

from __future__ import annotations

import asyncio
import datetime
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..client.errors import TimeoutError
from .api import DeliverPolicy

if TYPE_CHECKING:
    from .context import JetStreamContext
    from .message import JetStreamMessage
    from .push import PushSubscription

KV_OP = "KV-Operation"
KV_DEL = "DEL"
KV_PURGE = "PURGE"
#: nats-server 2.11+ marks what it removed itself (TTL, max age) with this header.
KV_MARKER_REASON = "Nats-Marker-Reason"
_MARKER_OPS = {"MaxAge": KV_PURGE, "Purge": KV_PURGE, "Remove": KV_DEL}
#: How long the server keeps a watcher's consumer nobody listens to. nats-py waits five
#: minutes; a watcher replaces a lost consumer by itself, so the consumer of a client
#: that went away without stopping its watcher is removed sooner.
DEFAULT_WATCH_INACTIVE = 5.0
#: The watcher's idle heartbeat: two missed ones (a consumer deleted from outside, a
#: silent link) and the consumer is replaced.
WATCH_HEARTBEAT = 1.0


@dataclass
class Entry:
    """One revision of a key (nats-py's ``KeyValue.Entry``): ``operation`` is ``None`` for
    a value, ``"DEL"`` or ``"PURGE"`` for a marker; ``delta`` the updates still pending
    behind it when a watcher delivered it; ``created`` its stored time."""

    bucket: str
    key: str
    value: bytes | None
    revision: int | None
    delta: int | None
    created: Any
    operation: str | None


def operation_of(headers: Any) -> str | None:
    """The operation a stored message's headers record (``None``: a value; ``""``: a
    server marker of an unknown kind, to skip)."""
    if not headers:
        return None
    op = headers.get(KV_OP)
    if op is not None:
        return str(op)
    reason = headers.get(KV_MARKER_REASON)
    if reason is not None:
        return _MARKER_OPS.get(reason, "")
    return None


def revision_fields(reply: str) -> tuple[int, datetime.datetime, int]:
    """``(stream sequence, stored time, pending)`` from a JetStream ack subject (either
    layout), read without building the whole metadata."""
    tokens = reply.split(".")
    if len(tokens) == 9:
        sseq, ts, pending = tokens[5], tokens[7], tokens[8]
    else:
        sseq, ts, pending = tokens[7], tokens[9], tokens[10]
    created = datetime.datetime.fromtimestamp(int(ts) / 1e9, tz=datetime.timezone.utc)
    return int(sseq), created, int(pending)


class _Stop:
    """Ends the watcher's iteration."""


_STOP = _Stop()


class KeyWatcher:
    """Updates of the watched keys: ``await watcher.updates(timeout)`` or ``async for``
    (nats-py's ``KeyValue.KeyWatcher``); ``None`` marks the end of the initial values."""

    def __init__(self, bucket: str, prefix: str, ignore_deletes: bool) -> None:
        self._bucket = bucket
        self._prefix_len = len(prefix)
        self._ignore_deletes = ignore_deletes
        self._queue: deque[Entry | _Stop | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._sub: PushSubscription | None = None
        self._init_done = False
        self._stopped = False

    @property
    def subscription(self) -> PushSubscription | None:
        """The ordered push subscription behind the watcher."""
        return self._sub

    @property
    def consumer(self) -> str:
        """The current consumer's name (it changes when the consumer is replaced)."""
        return self._sub.consumer if self._sub is not None else ""

    @property
    def recoveries(self) -> int:
        """How many times the consumer was replaced."""
        return self._sub.recoveries if self._sub is not None else 0

    def _push(self, item: Entry | _Stop | None) -> None:
        self._queue.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_msg(self, msg: JetStreamMessage) -> None:
        """The ordered consumer's callback: one stored revision, in stream order."""
        revision, created, pending = revision_fields(msg.reply)
        op = operation_of(msg.headers)
        if not (op == "" or (self._ignore_deletes and op in (KV_DEL, KV_PURGE))):
            key = msg.subject[self._prefix_len :]
            self._push(Entry(self._bucket, key, msg.data, revision, pending, created, op))
        if pending == 0 and not self._init_done:
            self._init_done = True
            self._push(None)

    async def start(self, js: JetStreamContext, stream: str, subject: str, **opts: Any) -> None:
        """Create the consumer; mark the end of the initial values when there are none."""
        self._sub = await js.subscribe(
            subject, stream=stream, cb=self.on_msg, ordered_consumer=True, **opts
        )
        try:
            info = await self._sub.consumer_info()
        except BaseException:
            await self._sub.unsubscribe()
            raise
        # Nothing pending and nothing delivered: no initial values. (Delivered ones may
        # still be on their way; the last of them carries num_pending 0 and ends them.)
        delivered = info.delivered.consumer_seq if info.delivered is not None else 0
        if info.num_pending == 0 and delivered == 0 and not self._init_done:
            self._init_done = True
            self._push(None)

    async def updates(self, timeout: float | None = 5.0) -> Entry | None:
        """The next update; raises :class:`natswire.errors.TimeoutError` when none came
        within ``timeout`` seconds, :class:`StopAsyncIteration` after :meth:`stop`."""
        while not self._queue:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except asyncio.TimeoutError:
                raise TimeoutError(f"no key-value update in {timeout} s") from None
            finally:
                self._waiter = None
        item = self._queue.popleft()
        if isinstance(item, _Stop):
            self._queue.appendleft(item)
            raise StopAsyncIteration
        return item

    def __aiter__(self) -> AsyncIterator[Entry | None]:
        return self

    async def __anext__(self) -> Entry | None:
        return await self.updates(timeout=None)

    async def stop(self) -> None:
        """Stop watching and delete the consumer; iteration ends."""
        if self._stopped:
            return
        self._stopped = True
        if self._sub is not None:
            await self._sub.unsubscribe()
        self._queue.clear()
        self._push(_STOP)


def watch_options(
    include_history: bool, meta_only: bool, headers_only: bool, inactive: float | None
) -> dict[str, Any]:
    """The ordered consumer's options for a watch with nats-py's keywords."""
    return {
        "deliver_policy": None if include_history else DeliverPolicy.LAST_PER_SUBJECT,
        "headers_only": True if (meta_only or headers_only) else None,
        "inactive_threshold": inactive or DEFAULT_WATCH_INACTIVE,
        "idle_heartbeat": WATCH_HEARTBEAT,
    }
