"""The command line against a real server, run as a user would run it."""

from __future__ import annotations

import subprocess
import time

import pytest
from support import natswire_cli, start_cli

from natswire.cli import build_parser
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)


def wait_for_line(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"{text!r} never appeared on stderr")


def test_help_explains_each_command() -> None:
    result = natswire_cli("--help")
    assert result.returncode == 0
    for command in ("pub", "sub", "req", "reply", "server"):
        assert command in result.stdout
    sub_help = natswire_cli("sub", "--help")
    assert "--count" in sub_help.stdout and "--queue" in sub_help.stdout


def test_pub_reaches_sub_with_headers(server: NatsServer) -> None:
    sub = start_cli("sub", "--server", server.url, "cli.>", "--count", "2")
    try:
        wait_for_line(sub, "listening")
        pub = natswire_cli(
            "pub", "-s", server.url, "cli.test", "hello", "--count", "2", "-H", "K:v"
        )
        assert pub.returncode == 0, pub.stderr
        out, _ = sub.communicate(timeout=10)
    finally:
        sub.kill()
    assert sub.returncode == 0
    assert out.count("cli.test") == 2
    assert out.count("hello") == 2
    assert "K: v" in out


def test_req_gets_the_reply(server: NatsServer) -> None:
    reply = start_cli("reply", "-s", server.url, "cli.svc", "pong", "--count", "1")
    try:
        wait_for_line(reply, "answering")
        req = natswire_cli("req", "-s", server.url, "cli.svc", "ping")
        out, _ = reply.communicate(timeout=10)
    finally:
        reply.kill()
    assert req.returncode == 0, req.stderr
    assert "pong" in req.stdout
    assert "ping" in out


def test_errors_are_reported_with_exit_status(server: NatsServer) -> None:
    no_responders = natswire_cli("req", "-s", server.url, "cli.nobody", "x")
    assert no_responders.returncode == 1
    assert "NoRespondersError" in no_responders.stderr
    assert "cli.nobody" in no_responders.stderr
    bad_subject = natswire_cli("pub", "-s", server.url, "bad subject", "x")
    assert bad_subject.returncode == 1
    assert "BadSubjectError" in bad_subject.stderr


def test_unreachable_server_fails_with_no_servers() -> None:
    result = natswire_cli("pub", "-s", "nats://127.0.0.1:1", "x", timeout=20)
    assert result.returncode == 1
    assert "NoServersError" in result.stderr


def test_server_command_parses_its_options() -> None:
    args = build_parser().parse_args(["server", "-p", "-1", "--jetstream", "-m", "-1"])
    assert (args.port, args.jetstream, args.http_port) == (-1, True, -1)


def test_server_command_runs_a_server_until_interrupted() -> None:
    proc = start_cli("server", "-p", "-1")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "nats-server running at nats://127.0.0.1:" in line
        url = line.split(" at ")[1].split()[0]
        pub = natswire_cli("pub", "-s", url, "x", "y")
        assert pub.returncode == 0, pub.stderr
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=15)
        assert "stopped" in out
        assert proc.returncode == 0
    finally:
        proc.kill()
