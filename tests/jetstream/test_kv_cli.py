"""``natswire kv ...`` and ``natswire object ...`` against a real server, run as a user
would run them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from support import natswire_cli, start_cli

from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(60)


def ok(*args: str) -> str:
    result = natswire_cli(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


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


def test_kv_commands(server: NatsServer) -> None:
    s = ("-s", server.url)
    assert "created" in ok("kv", "add", *s, "clikv", "--history", "3")
    watch = start_cli("kv", "watch", *s, "clikv", "--count", "2")
    try:
        wait_for_line(watch, "watching")
        assert ok("kv", "put", *s, "clikv", "color", "blue").strip() == "1"
        assert ok("kv", "get", *s, "clikv", "color") == "blue\n"
        ok("kv", "del", *s, "clikv", "color")
        out, _ = watch.communicate(timeout=10)
    finally:
        watch.kill()
    assert watch.returncode == 0
    assert "PUT clikv > color: blue" in out and "DEL clikv > color" in out
    missing = natswire_cli("kv", "get", *s, "clikv", "color")
    assert missing.returncode == 1 and "KeyNotFoundError" in missing.stderr
    ok("kv", "put", *s, "clikv", "a.b", "x")
    assert ok("kv", "ls", *s, "clikv").split() == ["a.b"]
    assert "clikv" in ok("kv", "ls", *s).split()
    nobucket = natswire_cli("kv", "get", *s, "nobucket", "k")
    assert nobucket.returncode == 1 and "BucketNotFoundError" in nobucket.stderr


def test_object_commands(server: NatsServer, tmp_path: Path) -> None:
    s = ("-s", server.url)
    data = os.urandom(300_000)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    ok("object", "add", *s, "cliobj")
    assert "blob.bin: 300000 bytes in 3 chunks, SHA-256=" in ok(
        "object", "put", *s, "cliobj", str(src)
    )
    assert ok("object", "ls", *s, "cliobj").split("\t")[:2] == ["blob.bin", "300000"]
    dst = tmp_path / "copy.bin"
    ok("object", "get", *s, "cliobj", "blob.bin", "-o", str(dst))
    assert dst.read_bytes() == data
    ok("object", "rm", *s, "cliobj", "blob.bin")
    assert ok("object", "ls", *s, "cliobj") == ""
