"""One running nats-server, whatever runs it: its log, the ports it reports, readiness.

:class:`ServerRun` is what the process runner (:mod:`.process`) and the container runner
(:mod:`.container`) hand to :class:`~natswire.server.NatsServer`; :func:`wait_ready`
waits until the log says the server is ready.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections import deque

from .addresses import split_addr
from .errors import NatsServerError

LOG_LINES = 500
CONFIG_NAME = "nats-server.conf"

_CLIENT_RE = re.compile(r"Listening for client connections on (\S+)")
_HTTP_RE = re.compile(r"Starting https? monitor on (\S+)")
_ROUTE_RE = re.compile(r"Listening for route connections on (\S+)")
_WEBSOCKET_RE = re.compile(r"Listening for websocket clients on wss?://(\S+)")
_READY_TEXT = "Server is ready"


class LogBuffer:
    """The last lines of output of a server, shared across its restarts."""

    def __init__(self, maxlen: int = LOG_LINES) -> None:
        self._lines: deque[str] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self._lines)


class ServerRun:
    """One running nats-server (a process or a container) and the thread reading its log.

    Subclasses say how to signal it, wait for it and read its exit status; this class keeps
    what the log tells (ready, ports) under a condition variable.
    """

    #: Whether the ports in the log are the ones clients use (not so in a container).
    ports_from_log = True

    def __init__(self, log: LogBuffer) -> None:
        self.log = log
        self.cond = threading.Condition()
        self.ready = False
        self.eof = False
        self.client_port: int | None = None
        self.http_port: int | None = None
        self.cluster_port: int | None = None
        self.websocket_port: int | None = None
        self.lame_duck = False

    @property
    def pid(self) -> int | None:
        raise NotImplementedError

    @property
    def container_id(self) -> str | None:
        """The container's ID when the server runs in one, else None."""
        return None

    def poll(self) -> int | None:
        """The exit status (negative signal number after a signal), or None if running."""
        raise NotImplementedError

    def _line(self, line: str) -> None:
        self.log.append(line)
        self._parse(line)

    def _end_of_output(self) -> None:
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _parse(self, line: str) -> None:
        with self.cond:
            if _READY_TEXT in line:
                self.ready = True
            elif not self.ports_from_log:
                return
            elif self.client_port is None and (match := _CLIENT_RE.search(line)):
                self.client_port = split_addr(match.group(1))[1]
            elif self.http_port is None and (match := _HTTP_RE.search(line)):
                self.http_port = split_addr(match.group(1))[1]
            elif self.cluster_port is None and (match := _ROUTE_RE.search(line)):
                self.cluster_port = split_addr(match.group(1))[1]
            elif self.websocket_port is None and (match := _WEBSOCKET_RE.search(line)):
                self.websocket_port = split_addr(match.group(1))[1]
            else:
                return
            self.cond.notify_all()

    def terminate(self, first: signal.Signals, timeout: float) -> None:
        """Send ``first`` (if still running), wait up to ``timeout``, then SIGKILL and reap."""
        self.signal(first)
        self.finish(timeout)

    def begin_shutdown(self) -> None:
        """Ask for a graceful shutdown: SIGTERM, or SIGINT in lame duck mode.

        nats-server ignores SIGTERM while in lame duck mode (it exits when lame duck mode
        ends, two minutes by default); SIGINT shuts it down at once in either state.
        """
        self.signal(signal.SIGINT if self.lame_duck else signal.SIGTERM)

    def shutdown(self, timeout: float) -> None:
        """Graceful shutdown, SIGKILL after ``timeout`` seconds; reap."""
        self.begin_shutdown()
        self.finish(timeout)

    # Last in the class: below this, ``signal`` in the class body is the method.
    def signal(self, sig: signal.Signals) -> None:
        raise NotImplementedError

    def finish(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the exit, then SIGKILL; reap; stop reading the log."""
        raise NotImplementedError


def wait_ready(
    run: ServerRun,
    command: list[str],
    *,
    timeout: float,
    need_http: bool,
    need_cluster: bool,
    need_websocket: bool = False,
) -> None:
    """Wait until ``run`` is ready and has reported the ports asked for.

    On exit or timeout the server is killed and :class:`NatsServerError` raised, with the
    command and the log's tail.
    """
    deadline = time.monotonic() + timeout
    with run.cond:
        while True:
            if (
                run.ready
                and run.client_port is not None
                and (run.http_port is not None or not need_http)
                and (run.cluster_port is not None or not need_cluster)
                and (run.websocket_port is not None or not need_websocket)
            ):
                return
            if run.eof:
                problem = "exited during startup"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                problem = f"was not ready within {timeout:g} s"
                break
            run.cond.wait(min(remaining, 0.5))
    run.terminate(signal.SIGKILL, 5.0)
    status = f" (exit status {run.poll()})" if problem.startswith("exited") else ""
    raise NatsServerError(f"nats-server {problem}{status}: {' '.join(command)}", run.log.snapshot())
