"""Runs one benchmark trial in a fresh worker process and checks the server's counters."""

from __future__ import annotations

import json
import select
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from natswire.httpjson import get_json
from natswire.server import NatsServer

from .common import MEM_SUBJECT, RECV_SUBJECT


class Harness:
    """Starts trials (and the shared request-reply responder) against one server."""

    def __init__(
        self, server: NatsServer, python: str, trial_timeout: float, verbose: bool
    ) -> None:
        self.server = server
        self.python = python
        self.trial_timeout = trial_timeout
        self.verbose = verbose
        self.responder: subprocess.Popen[str] | None = None
        self.failures: list[str] = []

    def varz(self) -> dict[str, Any]:
        data: dict[str, Any] = get_json(f"{self.server.monitor_url}/varz")
        return data

    def counters(self) -> tuple[int, int]:
        v = self.varz()
        return int(v["in_msgs"]), int(v["out_msgs"])

    def ensure_responder(self) -> None:
        if self.responder is not None and self.responder.poll() is None:
            return
        proc = subprocess.Popen(
            [self.python, "-m", "benchmarks.responder", "--url", self.server.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=_ROOT,
        )
        assert proc.stdout is not None
        if not _wait_line(proc, "READY", 30):
            proc.kill()
            raise RuntimeError("the request-reply responder did not start")
        self.responder = proc

    def stop_responder(self) -> None:
        proc, self.responder = self.responder, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def trial(
        self, client: str, workload: str, size: int, n: int, warmup: int, loop: str
    ) -> dict[str, Any]:
        """Run one trial in a fresh process; return its result or {"error": ...}."""
        if workload in ("reqreply", "inflight", "syncreq", "pyrunreq", "rawsyncreq"):
            self.ensure_responder()
        needs_sender = workload == "recv" or (workload in ("memory", "memtrace") and n > 0)
        cmd = [
            self.python,
            "-m",
            "benchmarks.worker",
            "--client",
            client,
            "--workload",
            workload,
            "--size",
            str(size),
            "--n",
            str(n),
            "--warmup",
            str(warmup),
            "--url",
            # The ws* workloads connect to the WebSocket listener.
            self.server.websocket_url if workload.startswith("ws") else self.server.url,
            "--loop",
            loop,
        ]
        check = workload != "parse"
        before = self.counters() if check else (0, 0)
        with tempfile.TemporaryFile("w+") as errfile:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=errfile, text=True, cwd=_ROOT
            )
            sender: subprocess.Popen[bytes] | None = None
            try:
                if needs_sender and _wait_line(proc, "READY", 60):
                    subject = RECV_SUBJECT if workload == "recv" else MEM_SUBJECT
                    sender = subprocess.Popen(
                        [
                            self.python,
                            "-m",
                            "benchmarks.sender",
                            "--url",
                            self.server.url,
                            "--subject",
                            subject,
                            "--size",
                            str(size),
                            "--count",
                            str(n + warmup),
                        ],
                        stderr=subprocess.PIPE,
                        cwd=_ROOT,
                    )
                out, _ = proc.communicate(timeout=self.trial_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                out = json.dumps({"error": f"trial timed out after {self.trial_timeout:.0f} s"})
            finally:
                sender_err = ""
                if sender is not None:
                    try:
                        _, err = sender.communicate(timeout=60)
                        if sender.returncode:
                            sender_err = err.decode(errors="replace")[-500:]
                    except subprocess.TimeoutExpired:
                        sender.kill()
                        sender.communicate()
                        sender_err = "sender timed out"
            errfile.seek(0)
            stderr = errfile.read()
        result = _last_json(out)
        if result is None:
            result = {"error": f"no result (exit status {proc.returncode}): {stderr[-800:]}"}
        elif "error" in result and stderr:
            result["stderr"] = stderr[-2000:]
        if sender_err and "error" not in result:
            result = {"error": f"sender failed: {sender_err}"}
        if check and "error" not in result:
            problem = self.check_counters(before, result)
            if problem:
                result = {"error": problem, "metrics": result.get("metrics")}
        return result

    def check_counters(self, before: tuple[int, int], result: dict[str, Any]) -> str | None:
        want_in, want_out = result.get("expect_in"), result.get("expect_out")
        if want_in is None or want_out is None:
            return None
        deadline = time.monotonic() + 3.0
        while True:
            now_in, now_out = self.counters()
            got_in, got_out = now_in - before[0], now_out - before[1]
            if (got_in, got_out) == (want_in, want_out) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if (got_in, got_out) != (want_in, want_out):
            return (
                f"server counters disagree: in_msgs +{got_in} (expected +{want_in}), "
                f"out_msgs +{got_out} (expected +{want_out})"
            )
        return None


_ROOT = str(Path(__file__).resolve().parent.parent)


def _wait_line(proc: subprocess.Popen[str], text: str, timeout: float) -> bool:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                return False
            if line.strip() == text:
                return True
        elif proc.poll() is not None:
            return False
    return False


def _last_json(out: str) -> dict[str, Any] | None:
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value: dict[str, Any] = json.loads(line)
                return value
            except ValueError:
                return None
    return None
