"""Keeping a connection: ping and stale detection, reconnect with backoff through the
server pool, and leaving a server in lame-duck mode.

:class:`PingSchedule` and :class:`Backoff` are pure (they take ``now`` and a random
source); :class:`Failover` is their asyncio shell, one timer and the reconnect and
migration tasks, talking to the client's supervisor through :class:`FailoverHost`.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..protocol.errors import AuthorizationError, ServerError, StaleConnectionError
from .errors import NoServersError
from .options import ConnectOptions, ReconnectHandler
from .servers import Server, ServerPool
from .state import CONNECTED, RECONNECTING, UP, Status


class PingDecision(enum.Enum):
    WAIT = "wait"
    PING = "ping"
    STALE = "stale"


class PingSchedule:
    """When to PING, and when unanswered PINGs make the link stale.

    A PING goes out every ``interval`` seconds; a PONG clears the outstanding count;
    when ``max_outstanding`` PINGs are unanswered at the next due time, the link is
    stale.
    """

    __slots__ = ("interval", "max_outstanding", "next_due", "outstanding")

    def __init__(self, interval: float, max_outstanding: int) -> None:
        self.interval = interval
        self.max_outstanding = max_outstanding
        self.outstanding = 0
        self.next_due = float("inf")

    def start(self, now: float) -> None:
        """A connection is up at ``now``: nothing outstanding, first PING one interval on."""
        self.outstanding = 0
        self.next_due = now + self.interval

    def pong(self) -> None:
        self.outstanding = 0

    def due(self, now: float) -> PingDecision:
        """What to do at ``now``; after ``PING`` the next is due at :attr:`next_due`."""
        if now < self.next_due:
            return PingDecision.WAIT
        if self.outstanding >= self.max_outstanding:
            return PingDecision.STALE
        self.outstanding += 1
        self.next_due = now + self.interval
        return PingDecision.PING


class Backoff:
    """The wait before trying a server again, given its failed attempts.

    As nats-py and nats.go: ``reconnect_time_wait`` with ``reconnect_jitter`` (a
    fraction) drawn from ``rng``, the same for every attempt. Growing backoff only when
    asked for: with ``reconnect_time_wait_max`` above ``reconnect_time_wait`` the wait
    doubles per attempt up to it; ``reconnect_delay_cb`` replaces all of it when set.
    The wait applies to trying the *same* server again: the reconnect loop goes to the
    next server of the pool at once.
    """

    __slots__ = ("_options", "_rng")

    def __init__(self, options: ConnectOptions, rng: random.Random) -> None:
        self._options = options
        self._rng = rng

    def delay(self, attempts: int) -> float:
        options = self._options
        if options.reconnect_delay_cb is not None:
            return float(options.reconnect_delay_cb(attempts))
        delay = float(options.reconnect_time_wait)
        ceiling = options.reconnect_time_wait_max
        if ceiling is not None and ceiling > delay:
            delay = min(delay * 2.0 ** min(attempts, 16), float(ceiling))
        jitter = options.reconnect_jitter
        return delay * (1 + self._rng.uniform(-jitter, jitter)) if jitter else delay


class FailoverHost(Protocol):
    """The calls failover makes into the client's
    :class:`~natswire.client.supervisor.Supervisor`."""

    @property
    def status(self) -> Status: ...

    @property
    def current_server(self) -> Server | None:
        """The server connected to, or ``None``."""

    @property
    def info(self) -> dict[str, Any]:
        """The last INFO the server sent."""

    async def connect_to(self, server: Server) -> None:
        """Connect to ``server`` and make it the current connection (raises on failure)."""

    def note_error(self, error: Exception, *, report: bool) -> None:
        """Keep ``error`` as the last error; hand it to ``error_cb`` when ``report``."""

    def fire(self, cb: Callable[..., Any] | None, *args: Any) -> object:
        """Call a user callback without blocking on it."""

    def send_ping(self) -> None:
        """Send a PING whose PONG nobody awaits."""

    def abort_connection(self) -> None:
        """Drop the current connection at once."""

    def start_close(self) -> None:
        """Begin closing the client."""

    def count_reconnect(self) -> None:
        """One more successful reconnect."""


class Failover:
    """The server pool, the ping timer, and the reconnect and lame-duck tasks."""

    def __init__(self, host: FailoverHost, options: ConnectOptions, rng: random.Random) -> None:
        self._host = host
        self._options = options
        self.pool = ServerPool(list(options.servers), randomize=not options.dont_randomize, rng=rng)
        self.backoff = Backoff(options, rng)
        self.pings = PingSchedule(options.ping_interval, options.max_outstanding_pings)
        self._ping_timer: asyncio.TimerHandle | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._migration: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ ping and stale

    def start_pinging(self) -> None:
        """The connection is up: PING every ``ping_interval``."""
        self.stop_pinging()
        loop = asyncio.get_running_loop()
        self.pings.start(loop.time())
        self._arm(loop)

    def stop_pinging(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._ping_timer = loop.call_at(self.pings.next_due, self._on_ping_timer)

    def _on_ping_timer(self) -> None:
        self._ping_timer = None
        host = self._host
        if host.current_server is None or host.status not in UP:
            return
        loop = asyncio.get_running_loop()
        # The loop may run a timer a little early (clock resolution): count it as due.
        decision = self.pings.due(max(loop.time(), self.pings.next_due))
        if decision is PingDecision.STALE:
            error = StaleConnectionError(
                f"stale connection: {self.pings.outstanding} PINGs unanswered"
            )
            host.note_error(error, report=True)
            host.abort_connection()
            return
        if decision is PingDecision.PING:
            host.send_ping()
        self._arm(loop)

    # ---------------------------------------------------------------- reconnect

    def start_reconnecting(self) -> None:
        self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    def connection_lost(self) -> None:
        """The current connection is gone: stop pinging and any migration under way."""
        self.stop_pinging()
        if self._migration is not None:
            self._migration.cancel()

    def stop(self) -> None:
        """The client closes: stop the timer and the tasks (not the one calling this)."""
        self.stop_pinging()
        for task in (self._reconnect_task, self._migration):
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    async def _reconnect(self) -> None:
        host, options, pool = self._host, self._options, self.pool
        loop = asyncio.get_running_loop()
        try:
            while host.status is RECONNECTING:
                server = pool.next_server(options.max_reconnect_attempts)
                if server is None:
                    break
                if options.reconnect_to_server_handler is not None:
                    server, delay = self._ask_handler(options.reconnect_to_server_handler, server)
                else:
                    delay = self.backoff.delay(server.attempts) - (
                        loop.time() - server.last_attempt
                    )
                if delay > 0:
                    await asyncio.sleep(delay)
                if host.status is not RECONNECTING:
                    return
                try:
                    await host.connect_to(server)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    server.attempts += 1
                    host.note_error(exc, report=isinstance(exc, ServerError))
                    if isinstance(exc, AuthorizationError):
                        server.skipped = server.last_auth_error == str(exc)
                        server.last_auth_error = str(exc)
                    continue
                server.last_auth_error = None
                host.count_reconnect()
                host.fire(options.reconnected_cb)
                return
        except asyncio.CancelledError:
            return
        self._reconnect_task = None
        host.note_error(
            NoServersError("no server could be reached: reconnect attempts exhausted"),
            report=False,
        )
        host.start_close()

    def _ask_handler(self, handler: ReconnectHandler, next_server: Server) -> tuple[Server, float]:
        """The server ``reconnect_to_server_handler`` picks and the delay it asks for;
        ``next_server`` after the usual wait when it picks none, or one not in the pool."""
        host, limit = self._host, self._options.max_reconnect_attempts
        eligible = [
            s for s in self.pool.servers if not s.skipped and (limit < 0 or s.attempts < limit)
        ]
        try:
            selected, delay = handler(list(eligible), dict(host.info))
        except Exception as exc:
            host.note_error(exc, report=True)
            selected, delay = None, self.backoff.delay(next_server.attempts)
        if selected is None:
            return next_server, float(delay)
        for server in eligible:
            if server.uri.netloc == selected.uri.netloc:
                return server, float(delay)
        host.note_error(
            NoServersError(f"server {selected.uri.netloc} is not in the pool"), report=True
        )
        return next_server, float(delay)

    # ----------------------------------------------------- discovery, lame duck

    def discover_servers(self, info: Mapping[str, Any]) -> None:
        """Merge the cluster's ``connect_urls`` into the server pool."""
        urls = info.get("connect_urls")
        if not isinstance(urls, list):
            return
        server = self._host.current_server
        if self.pool.add_discovered(
            [str(url) for url in urls],
            tls=bool(server and server.tls),
            websocket=bool(server and server.websocket),
        ):
            self._host.fire(self._options.discovered_server_cb)

    def lame_duck(self) -> None:
        """The server entered lame-duck mode: move to another one."""
        self._host.fire(self._options.lame_duck_mode_cb)
        if self._migration is None and self._host.status is CONNECTED:
            self._migration = asyncio.get_running_loop().create_task(self._leave_lame_duck())

    async def _leave_lame_duck(self) -> None:
        """Move to another server while the lame-duck one still serves us.

        ``connect_to`` sets the new connection up completely before the old one stops
        dispatching, so no message is delivered twice; the old one is then closed.
        """
        host = self._host
        try:
            old_server = host.current_server
            if old_server is None:
                return
            for server in list(self.pool.servers):
                if server.same_address(old_server) or server.skipped:
                    continue
                if host.status is not CONNECTED or host.current_server is not old_server:
                    return
                try:
                    await host.connect_to(server)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    server.attempts += 1
                    host.note_error(exc, report=False)
                    continue
                host.count_reconnect()
                host.fire(self._options.reconnected_cb)
                return
        finally:
            self._migration = None
