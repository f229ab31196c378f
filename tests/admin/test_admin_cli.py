"""``natswire admin ...`` and ``natswire stats`` run as a user would run them."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
from support import AmqpConnect, Connect, natswire_cli

import natswire
from natswire.server import NatsServer, free_port

pytestmark = pytest.mark.timeout(60)


async def arun(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI while this event loop keeps serving the test's clients."""
    return await asyncio.to_thread(natswire_cli, *args)


def test_help_lists_admin_and_stats() -> None:
    top = natswire_cli("--help")
    assert top.returncode == 0 and "admin" in top.stdout and "stats" in top.stdout
    admin = natswire_cli("admin", "--help")
    for command in ("varz", "connz", "jsz", "queues", "connections", "kick"):
        assert command in admin.stdout
    assert "--json" in natswire_cli("admin", "queues", "--help").stdout


def test_varz_connz_jsz(server: NatsServer) -> None:
    url = server.monitor_url
    assert url is not None
    table = natswire_cli("admin", "varz", "-m", url)
    assert table.returncode == 0, table.stderr
    assert "server_id" in table.stdout and "in_msgs" in table.stdout
    data = json.loads(natswire_cli("admin", "varz", "--monitor", url, "--json").stdout)
    assert data["port"] == server.port and "git_commit" in data

    connz = json.loads(natswire_cli("admin", "connz", "-m", url, "--limit", "1", "--json").stdout)
    assert connz["limit"] == 1 and len(connz["connections"]) <= 1
    listing = natswire_cli("admin", "connz", "-m", url, "--sort", "cid")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[0].split()[:2] == ["cid", "name"]
    assert "connections" in listing.stdout.splitlines()[-1]

    jsz = json.loads(natswire_cli("admin", "jsz", "-m", url, "--json").stdout)
    assert "streams" in jsz and jsz["disabled"] is False
    assert "api_total" in natswire_cli("admin", "jsz", "-m", url).stdout


def test_unreachable_monitor_is_a_clear_error() -> None:
    result = natswire_cli("admin", "varz", "-m", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "MonitoringError" in result.stderr and "cannot reach" in result.stderr
    assert "Traceback" not in result.stderr


async def test_queues_with_pattern_pages_and_progress(
    server: NatsServer, amqp_connect: AmqpConnect, namespace: str
) -> None:
    conn = await amqp_connect()
    ch = await conn.channel()
    for name in ("backend-notifications.x.org", "backend-notifications.y.org", "other"):
        await ch.queue_declare(name)
    await ch.basic_publish("", "other", b"waiting")
    common = ["-s", server.url, "--user", "app", "--password", "app", "-n", namespace]
    result = await arun(
        "admin", "queues", *common, "--pattern", "^backend", "--page-size", "1", "--json"
    )
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout)
    assert [q["name"] for q in page["items"]] == ["backend-notifications.x.org"]
    assert (page["page"], page["page_count"], page["filtered_count"]) == (1, 2, 2)
    assert "queues names: 3/3" in result.stderr  # progress
    assert "queues details: 1/1" in result.stderr

    second = json.loads(
        (
            await arun(
                "admin",
                "queues",
                *common,
                "-r",
                "^backend",
                "--page-size",
                "1",
                "--page",
                "2",
                "--json",
                "--quiet",
            )
        ).stdout
    )
    assert [q["name"] for q in second["items"]] == ["backend-notifications.y.org"]

    table = await arun("admin", "queues", *common, "--all")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "ready", "unacked"]
    other = next(line for line in lines if line.startswith("other"))
    assert other.split()[1] == "1"
    assert "3 queue(s)" in lines[-1]


async def test_connections_and_kick(server: NatsServer, connect: Connect) -> None:
    url = server.monitor_url
    assert url is not None
    disconnected = asyncio.Event()

    async def gone() -> None:
        disconnected.set()

    victim = await connect("app", name="adm-cli-victim", disconnected_cb=gone)
    listed = await arun("admin", "connections", "-m", url, "--name", "adm-cli-victim", "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert entry["cid"] == victim.client_id and entry["account"] == "APP"
    table = await arun("admin", "connections", "-m", url, "--account", "APP")
    assert "adm-cli-victim" in table.stdout and "connection(s)" in table.stdout

    refused = await arun(
        "admin", "kick", "adm-cli-victim", "-s", server.url, "--user", "app", "--password", "app"
    )
    assert refused.returncode == 1
    assert "SystemAccountRequiredError" in refused.stderr
    assert not disconnected.is_set()

    kicked = await arun(
        "admin",
        "kick",
        "adm-cli-victim",
        "-s",
        server.url,
        "--user",
        "sys",
        "--password",
        "sys",
        "--json",
    )
    assert kicked.returncode == 0, kicked.stderr
    assert json.loads(kicked.stdout) == {"kicked": [entry["cid"]]}
    await asyncio.wait_for(disconnected.wait(), 5)


async def test_stats_samples_rates(server: NatsServer, app_nc: natswire.Client) -> None:
    url = server.monitor_url
    assert url is not None
    stop = asyncio.Event()

    async def traffic() -> None:
        while not stop.is_set():
            await app_nc.publish("adm.cli.stats", b"x" * 10)
            await asyncio.sleep(0.005)

    task = asyncio.create_task(traffic())
    try:
        result = await arun("stats", "-m", url, "--count", "3", "--interval", "0.3", "--json")
        table = await arun("stats", "-m", url)
    finally:
        stop.set()
        await task
    assert result.returncode == 0, result.stderr
    samples = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(samples) == 3
    assert samples[0]["in_msgs_per_sec"] is None
    assert samples[2]["in_msgs"] > samples[0]["in_msgs"]
    assert samples[2]["in_msgs_per_sec"] > 0
    assert table.returncode == 0 and "in msg/s" in table.stdout
