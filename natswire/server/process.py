"""The process runner: nats-server as a child process of this one.

Only the process started here is ever signalled (through its ``Popen``, so a recycled PID
never is); a thread drains its output into the log and parses what it reports.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from .config import Ports, ServerOptions, config_text
from .run import CONFIG_NAME, LogBuffer, ServerRun, wait_ready


class ProcessRun(ServerRun):
    """One nats-server process and the thread that drains and parses its output."""

    def __init__(self, proc: subprocess.Popen[bytes], log: LogBuffer) -> None:
        super().__init__(log)
        self.proc = proc
        self.thread = threading.Thread(
            target=self._drain, name=f"nats-server-{proc.pid}-output", daemon=True
        )
        self.thread.start()

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def _drain(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        try:
            for raw in iter(stream.readline, b""):
                self._line(raw.decode("utf-8", "replace").rstrip("\r\n"))
        finally:
            self._end_of_output()
            stream.close()

    def signal(self, sig: signal.Signals) -> None:
        # Popen.send_signal does nothing once the child has been reaped, so a recycled PID
        # is never signalled.
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def finish(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(timeout=5.0)


def process_command(
    binary: str, options: ServerOptions, ports: Ports, config_file: Path | None
) -> list[str]:
    """The nats-server command line: addresses, then ``-c`` and the extra arguments."""
    command = [binary, "-a", options.host, "-p", str(ports.client)]
    if ports.http is not None:
        command += ["-m", str(ports.http)]
    if config_file is not None:
        command += ["-c", str(config_file)]
    return command + list(options.extra_args)


def launch_process(
    binary: str,
    options: ServerOptions,
    ports: Ports,
    *,
    store_dir: Path | None,
    workdir: Callable[[], Path],
    log: LogBuffer,
    adopt: Callable[[ServerRun], None],
) -> ServerRun:
    """Start ``binary`` with ``options`` on ``ports`` and wait until it is ready.

    The configuration file (if one is needed) goes into ``workdir()``; ``adopt`` receives
    the run as soon as the process exists, so the caller can stop it if waiting fails.
    """
    config = config_text(
        options, store_dir=store_dir, cluster_port=ports.cluster, websocket_port=ports.websocket
    )
    config_file: Path | None = None
    if config is not None:
        config_file = workdir() / CONFIG_NAME
        config_file.write_text(config, encoding="utf-8")
    command = process_command(binary, options, ports, config_file)
    log.append(f"--- natswire: starting {' '.join(command)}")
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    run = ProcessRun(proc, log)
    adopt(run)
    wait_ready(
        run,
        command,
        timeout=options.startup_timeout,
        need_http=ports.http is not None,
        need_cluster=options.clustered,
        need_websocket=ports.websocket is not None,
    )
    return run
