"""``natswire micro ls|info|stats``: services found the way ``nats micro`` finds them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats.micro
import pytest
from support import natswire_cli

import natswire
from natswire import micro
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(90)


async def cli(*args: str) -> Any:
    return await asyncio.to_thread(natswire_cli, "micro", *args, timeout=60)


async def test_ls_info_stats(server: NatsServer, nc: natswire.Client, peer: Any) -> None:
    service = await micro.add_service(nc, name="cli-svc", version="3.1.4", description="demo")

    def echo(req: micro.Request) -> None:
        req.respond(req.data)

    await service.add_endpoint(name="echo", handler=echo, subject="cli.echo")
    py_service = await nats.micro.add_service(peer, name="py-svc", version="0.0.1")
    for _ in range(3):
        await peer.request("cli.echo", b"x", timeout=2)

    listed = await cli("ls", "-s", server.url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "ID", "DESCRIPTION"]
    assert any(line.split() == ["cli-svc", "3.1.4", service.id, "demo"] for line in lines)
    assert any(line.split()[:3] == ["py-svc", "0.0.1", py_service.id] for line in lines)

    only = await cli("ls", "cli-svc", "-s", server.url)
    assert service.id in only.stdout and "py-svc" not in only.stdout

    info = await cli("info", "cli-svc", "-s", server.url)
    assert info.returncode == 0, info.stderr
    assert f"Service cli-svc 3.1.4 (id {service.id})" in info.stdout
    assert any(line.split()[:3] == ["echo", "cli.echo", "q"] for line in info.stdout.splitlines())

    stats = await cli("stats", "cli-svc", service.id, "-s", server.url)
    assert stats.returncode == 0, stats.stderr
    row = next(line.split() for line in stats.stdout.splitlines() if line.startswith("cli-svc"))
    assert row[:5] == ["cli-svc", service.id, "echo", "3", "0"]
    assert "1 instance(s): 3 requests, 0 errors" in stats.stdout

    as_json = await cli("stats", "cli-svc", "--json", "-s", server.url)
    (doc,) = json.loads(as_json.stdout)
    assert doc["type"] == "io.nats.micro.v1.stats_response"
    assert doc["endpoints"][0]["num_requests"] == 3
    await py_service.stop()


async def test_nothing_found(server: NatsServer) -> None:
    listed = await cli("ls", "nobody-here", "-s", server.url, "--wait", "0.5")
    assert listed.returncode == 0
    assert "no services named 'nobody-here' answered" in listed.stderr
    info = await cli("info", "nobody-here", "-s", server.url, "--wait", "0.5")
    assert info.returncode == 1


def test_help_lists_the_subcommands() -> None:
    result = natswire_cli("micro", "--help")
    assert result.returncode == 0
    for command in ("ls", "info", "stats"):
        assert command in result.stdout
