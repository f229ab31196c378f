"""A private RabbitMQ broker for tests, demos and trying the migration tools.

:class:`RabbitMqServer` runs Debian's ``rabbitmq-server`` (Erlang) as a child process
on 127.0.0.1, on free ports, with everything in a temporary directory of its own: the
node name (``rabbit-<random>@localhost``), the Erlang cookie (``HOME``), the Mnesia and
log directories, the configuration file, the enabled-plugins file and its own ``epmd``
on a free port (``ERL_EPMD_PORT``), so a system broker or a system ``epmd`` is never
touched. It is stopped by the PIDs it started: SIGTERM to the broker's process group
(the broker stops gracefully), SIGKILL after a timeout, then its ``epmd``.

:func:`ensure_rabbitmq` finds the broker or says how to install it: natswire installs
no system packages; ``scripts/ensure-rabbitmq`` in the repository does (``make rabbitmq``
runs it before the tests).

Use::

    with RabbitMqServer(management=True) as rabbit:
        print(rabbit.url, rabbit.management_url)   # amqp://guest:guest@127.0.0.1:PORT/
        definitions = rabbit.export_definitions()  # rabbitmqctl export_definitions
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..httpjson import request_json
from ..server import ManagedProcesses, free_port

#: Where Debian's package puts the scripts (the ``/usr/sbin`` wrappers switch user).
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
PACKAGE = "rabbitmq-server"

_Rabbit = TypeVar("_Rabbit", bound="RabbitMqServer")


class RabbitMqNotFoundError(RuntimeError):
    """The ``rabbitmq-server`` package is not installed."""


class RabbitMqError(RuntimeError):
    """The broker did not start (the message carries its last output lines)."""


def find_rabbitmq() -> Path | None:
    """The directory holding ``rabbitmq-server`` and ``rabbitmqctl``, or None."""
    env = os.environ.get("NATSWIRE_RABBITMQ_BIN")
    candidates = [Path(env)] if env else []
    candidates.append(RABBITMQ_BIN)
    for directory in candidates:
        if (directory / "rabbitmq-server").is_file() and (directory / "rabbitmqctl").is_file():
            return directory
    return None


#: The script that installs the broker (run as root; ``make rabbitmq`` runs it).
INSTALL_SCRIPT = "scripts/ensure-rabbitmq"


def ensure_rabbitmq() -> Path:
    """The broker's script directory, or :class:`RabbitMqNotFoundError` saying how to
    install it.

    natswire does not install system packages: ``scripts/ensure-rabbitmq`` in the
    repository does (as root, with apt-get), and ``make rabbitmq`` runs it before the
    tests.
    """
    found = find_rabbitmq()
    if found is None:
        raise RabbitMqNotFoundError(_missing_message())
    return found


def _missing_message() -> str:
    return (
        f"{PACKAGE} is not installed: run `make rabbitmq` (`sh {INSTALL_SCRIPT}`) as root in the "
        f"natswire repository (or apt-get install -y {PACKAGE}), or point NATSWIRE_RABBITMQ_BIN at "
        "the directory holding rabbitmq-server and rabbitmqctl"
    )


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class RabbitMqServer(ManagedProcesses):
    """A RabbitMQ node on 127.0.0.1 with its own ports, directories and epmd.

    Args:
        management: enable the management plugin (HTTP API) on a free port.
        plugins: more plugins to enable (e.g. ``["rabbitmq_shovel"]``).
        user, password: the default user (``guest``/``guest``, allowed from loopback).
        startup_timeout: seconds to wait until the broker accepts AMQP connections.
    """

    def __init__(
        self,
        *,
        management: bool = False,
        plugins: Sequence[str] = (),
        user: str = "guest",
        password: str = "guest",
        startup_timeout: float = 90.0,
    ) -> None:
        self.management = management
        self.plugins = list(plugins)
        self.user = user
        self.password = password
        self.startup_timeout = startup_timeout
        self.nodename = f"rabbit-{secrets.token_hex(4)}@localhost"
        self._bin: Path | None = None
        self._tmp: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None
        self._log: deque[str] = deque(maxlen=200)
        self._reader: threading.Thread | None = None
        self.port = 0
        self.dist_port = 0
        self.epmd_port = 0
        self.management_port: int | None = None

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        """``amqp://user:password@127.0.0.1:PORT/`` (the default vhost)."""
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    def url_for(
        self, vhost: str = "/", user: str | None = None, password: str | None = None
    ) -> str:
        from urllib.parse import quote

        return (
            f"amqp://{user or self.user}:{password or self.password}@127.0.0.1:{self.port}/"
            f"{quote(vhost, safe='')}"
        )

    @property
    def management_url(self) -> str | None:
        if self.management_port is None:
            return None
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.management_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_lines(self) -> list[str]:
        return list(self._log)

    # ------------------------------------------------------------------ environment

    def env(self) -> dict[str, str]:
        """The environment ``rabbitmq-server`` and ``rabbitmqctl`` run with."""
        assert self._tmp is not None
        tmp = self._tmp
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("RABBITMQ_", "ERL_")) and k != "HOME"
        }
        env.update(
            {
                "HOME": str(tmp),  # the Erlang cookie lives here
                "RABBITMQ_NODENAME": self.nodename,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "ERL_EPMD_PORT": str(self.epmd_port),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_MNESIA_BASE": str(tmp / "mnesia"),
                "RABBITMQ_LOG_BASE": str(tmp / "log"),
                "RABBITMQ_CONFIG_FILE": str(tmp / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(tmp / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(tmp / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(tmp / "enabled_plugins"),
                "RABBITMQ_PLUGINS_EXPAND_DIR": str(tmp / "plugins-expand"),
                "RABBITMQ_PID_FILE": str(tmp / "rabbit.pid"),
                "RABBITMQ_LOGS": "-",  # log to stdout, read by a thread
            }
        )
        return env

    def _write_files(self, tmp: Path) -> None:
        lines = [
            f"listeners.tcp.default = 127.0.0.1:{self.port}",
            "loopback_users = none",
            f"default_user = {self.user}",
            f"default_pass = {self.password}",
            "log.console = true",
            "log.console.level = info",
            "log.file = false",
        ]
        if self.management_port is not None:
            lines += [
                f"management.tcp.port = {self.management_port}",
                "management.tcp.ip = 127.0.0.1",
            ]
        (tmp / "rabbitmq.conf").write_text("\n".join(lines) + "\n")
        (tmp / "advanced.config").write_text("[].\n")
        (tmp / "rabbitmq-env.conf").write_text("")
        enabled = (["rabbitmq_management"] if self.management else []) + self.plugins
        (tmp / "enabled_plugins").write_text(f"[{','.join(enabled)}].\n")
        for sub in ("mnesia", "log", "plugins-expand"):
            (tmp / sub).mkdir()

    # ------------------------------------------------------------------ lifecycle

    def start(self: _Rabbit) -> _Rabbit:
        """Start the node; return it once it accepts AMQP (and HTTP) connections."""
        if self.is_running:
            raise RuntimeError("RabbitMQ is already running")
        self._bin = find_rabbitmq()
        if self._bin is None:
            raise RabbitMqNotFoundError(_missing_message())
        self._tmp = Path(tempfile.mkdtemp(prefix="natswire-rabbitmq-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.management_port = free_port() if self.management else None
        self._write_files(self._tmp)
        env = self.env()
        try:
            epmd = shutil.which("epmd") or "epmd"
            self._epmd = subprocess.Popen(
                [epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._wait_port(self.epmd_port, 10.0, "epmd")
            self._launch(env)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, env: dict[str, str]) -> None:
        assert self._bin is not None and self._tmp is not None
        self._proc = subprocess.Popen(
            [str(self._bin / "rabbitmq-server")],
            env=env,
            cwd=str(self._tmp),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        self._wait_port(self.port, self.startup_timeout, "RabbitMQ (AMQP)")
        if self.management_port is not None:
            self._wait_port(self.management_port, self.startup_timeout, "management")

    def kill(self) -> None:
        """Crash the broker: SIGKILL to its process group. Its data, ports and epmd stay,
        for :meth:`restart`."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise RuntimeError("RabbitMQ is not running")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10.0)
        if self._reader is not None:
            self._reader.join(timeout=5.0)
        self._reader = None

    def restart(self: _Rabbit) -> _Rabbit:
        """Start the broker again after :meth:`kill`: same node, ports and data (durable
        queues and persistent messages are recovered, as after a crash)."""
        if self.is_running:
            raise RuntimeError("RabbitMQ is already running")
        if self._tmp is None:
            raise RuntimeError("RabbitMQ was never started (use start())")
        try:
            self._launch(self.env())
        except BaseException:
            self.stop()
            raise
        return self

    def _read_output(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        for raw in proc.stdout:
            self._log.append(raw.decode(errors="replace").rstrip())

    def _wait_port(self, port: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not _port_open(port):
            for proc in (self._epmd, self._proc):
                if proc is not None and proc.poll() is not None:
                    raise RabbitMqError(
                        f"{what}: process {proc.args!r} exited with {proc.returncode}:\n"
                        + "\n".join(self.log_lines[-30:])
                    )
            if time.monotonic() > deadline:
                raise RabbitMqError(
                    f"{what} did not listen on 127.0.0.1:{port} within {timeout} s:\n"
                    + "\n".join(self.log_lines[-30:])
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully (SIGTERM to the broker's process group, SIGKILL after
        ``timeout``), stop its epmd, remove the temporary directory."""
        for proc, grace in ((self._proc, timeout), (self._epmd, 5.0)):
            if proc is None:
                continue
            _terminate_group(proc, grace)
        if self._reader is not None:
            self._reader.join(timeout=5.0)
        self._proc = self._epmd = None
        self._reader = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # ------------------------------------------------------------------ vhosts

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the management API (``management=True``) as the default user.

        Returns the decoded JSON (None for an empty answer); an error status raises
        :class:`natswire.httpjson.HTTPStatusError`.
        """
        if self.management_port is None:
            raise RuntimeError("the management plugin is not enabled (management=True)")
        _, answer = request_json(
            f"http://127.0.0.1:{self.management_port}/api/{path.lstrip('/')}",
            method=method,
            body=body,
            timeout=timeout,
            user=self.user,
            password=self.password,
        )
        return answer

    def add_vhost(self, name: str) -> None:
        """Create a vhost and give the default user all permissions on it."""
        from urllib.parse import quote

        if self.management_port is not None:
            enc = quote(name, safe="")
            self.api("PUT", f"vhosts/{enc}", {})
            self.api(
                "PUT",
                f"permissions/{enc}/{quote(self.user, safe='')}",
                {"configure": ".*", "write": ".*", "read": ".*"},
            )
            return
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")

    # ------------------------------------------------------------------ rabbitmqctl

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl -n <node> ARGS`` against this node; return its stdout."""
        if self._bin is None or self._tmp is None:
            raise RuntimeError("RabbitMQ is not running")
        done = subprocess.run(
            [str(self._bin / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RabbitMqError(
                f"rabbitmqctl {' '.join(args)} exited {done.returncode}: "
                f"{(done.stderr or done.stdout).strip()}"
            )
        return done.stdout

    def export_definitions(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """``rabbitmqctl export_definitions``: the broker's topology as JSON (also
        written to ``path`` when given)."""
        out = self.ctl("export_definitions", "-")
        start = out.find("{")
        definitions: dict[str, Any] = json.loads(out[start:])
        if path is not None:
            Path(path).write_text(json.dumps(definitions, indent=2))
        return definitions


def _terminate_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the process group we started (its leader is ``proc``), SIGKILL
    after ``grace`` seconds; reap ``proc``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    # Children left in the group (erl_child_setup, inet_gethost) go too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5.0)


__all__ = [
    "RabbitMqError",
    "RabbitMqNotFoundError",
    "RabbitMqServer",
    "ensure_rabbitmq",
    "find_rabbitmq",
]
