"""plan/apply: Wire's topology read from a real RabbitMQ (management API and
``rabbitmqctl export_definitions``) shows up complete on the NATS side; unmappable
settings are flagged and block ``apply``."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import aio_pika
import pytest
from migrate_helpers import (
    CID,
    CLIENT_QUEUE,
    DOMAIN,
    UID,
    declare_wire_topology,
    drain_nats,
    migrate_args,
    rabbit_count,
    shovel_args,
)
from support import natswire_cli

from natswire import amqp
from natswire.migrate.rabbit import RabbitMqServer
from natswire.migrate.topology import apply_plan, make_plan, read_definitions
from natswire.server import NatsServer

WIRE_QUEUES = {
    CLIENT_QUEUE,
    "dead-user-notifications",
    "cells_events",
    f"backend-notifications.{DOMAIN}",
    "background-jobs",
}


def _migrate(
    step: str, amqp_url: str, mgmt: str, namespace: str, *more: str
) -> subprocess.CompletedProcess[str]:
    """``natswire migrate STEP``, reading the vhost through the management API."""
    return natswire_cli(*migrate_args(step, amqp_url, mgmt, namespace, *more))


def test_plan_maps_every_queue_binding_and_dead_letter_setting(
    rabbit: RabbitMqServer, amqp_url: str, mgmt: str, vhost: str, namespace: str, tmp_path: Path
) -> None:
    asyncio.run(declare_wire_topology(amqp_url))
    # From the management API ...
    definitions, got_vhost = asyncio.run(read_definitions(amqp_url=amqp_url, management_url=mgmt))
    assert got_vhost == vhost
    # ... and from rabbitmqctl export_definitions: the same plan.
    exported = tmp_path / "definitions.json"
    rabbit.export_definitions(exported)
    from_file, _ = asyncio.run(read_definitions(definitions_file=str(exported), vhost=vhost))
    plan = make_plan(definitions, vhost=vhost, namespace=namespace)
    assert make_plan(from_file, vhost=vhost, namespace=namespace).to_json() == plan.to_json()

    assert not plan.fatal, plan.render()
    assert {q.name for q in plan.queues} == WIRE_QUEUES
    assert {(x.name, x.type) for x in plan.exchanges} == {
        ("user-notifications", "direct"),
        ("dead-user-notifications", "direct"),
    }
    client = plan.queue(CLIENT_QUEUE)
    assert client.arguments == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "dead-user-notifications",
        "x-dead-letter-routing-key": "dead-user-notifications",
    }
    assert {(b.exchange, b.routing_key) for b in client.bindings} == {
        ("user-notifications", UID),
        ("user-notifications", f"{UID}.{CID}"),
    }
    # The migration plan's subjects (seeds/000): user.notifications.<uid>[.<cid>].
    assert f"{namespace}.user.notifications.{UID}" in client.filters
    assert f"{namespace}.user.notifications.{UID}.{CID}" in client.filters
    dlq = plan.queue("dead-user-notifications")
    assert [(b.exchange, b.routing_key) for b in dlq.bindings] == [
        ("dead-user-notifications", "dead-user-notifications")
    ]
    sac = plan.queue(f"backend-notifications.{DOMAIN}")
    assert sac.arguments["x-single-active-consumer"] is True
    assert sac.subject == f"{namespace}.backend.notifications.remote.example.com"
    assert plan.queue("cells_events").subject == f"{namespace}.cells.events"
    assert plan.queue("background-jobs").subject == f"{namespace}.background.jobs"
    text = plan.render()
    assert "dead letters -> exchange 'dead-user-notifications'" in text
    assert "Cannot be mapped" not in text

    # --queues narrows the plan to the chosen queues and the exchanges they use.
    only = make_plan(definitions, vhost=vhost, namespace=namespace, queues=r"^user-notif")
    assert [q.name for q in only.queues] == [CLIENT_QUEUE]
    assert {x.name for x in only.exchanges} == {"user-notifications", "dead-user-notifications"}


async def test_apply_creates_the_topology_idempotently_and_it_works(
    amqp_url: str, mgmt: str, vhost: str, namespace: str, nats: NatsServer
) -> None:
    await declare_wire_topology(amqp_url)
    definitions, _ = await read_definitions(amqp_url=amqp_url, management_url=mgmt)
    plan = make_plan(definitions, vhost=vhost, namespace=namespace)
    conn = await amqp.connect(servers=nats.url, namespace=namespace)
    try:
        first = await apply_plan(plan, conn)
        assert (first.exchanges, first.queues, first.bindings) == (2, 5, 3)
        assert not first.failures
        again = await apply_plan(plan, conn)  # idempotent
        assert (again.exchanges, again.queues, again.bindings, again.failures) == (2, 5, 3, [])
        ch = await conn.channel()
        for name in WIRE_QUEUES:
            await ch.queue_declare(name, passive=True)
            info = await conn.js.consumer_info(conn.stream, conn.consumer_name(name))
            md = info.config.metadata or {}
            assert json.loads(md["amqp.args"]) == plan.queue(name).arguments
        # Routing and dead-lettering work on the NATS side as in RabbitMQ.
        await ch.basic_publish("user-notifications", UID, b"for all clients")
        await ch.basic_publish("user-notifications", f"{UID}.{CID}", b"for this client")
        got = await drain_nats(conn, CLIENT_QUEUE, quiet=0.5)
        assert sorted(d.body for d in got) == [b"for all clients", b"for this client"]
        await ch.basic_publish("user-notifications", UID, b"rejected")
        rejected: list[amqp.Delivery] = []
        ch2 = await conn.channel()
        await ch2.basic_consume(CLIENT_QUEUE, rejected.append)
        for _ in range(100):
            if rejected:
                break
            await asyncio.sleep(0.05)
        await rejected[0].reject(requeue=False)
        dead = await drain_nats(conn, "dead-user-notifications", quiet=0.5)
        assert [d.body for d in dead] == [b"rejected"]
        assert dead[0].properties.headers is not None
        assert dead[0].properties.headers["x-last-death-queue"] == CLIENT_QUEUE
    finally:
        await conn.close()


def test_cli_plan_and_apply(amqp_url: str, mgmt: str, namespace: str, nats: NatsServer) -> None:
    asyncio.run(declare_wire_topology(amqp_url))
    plan = _migrate("plan", amqp_url, mgmt, namespace, "--nats", nats.url)
    assert plan.returncode == 0, plan.stderr
    assert CLIENT_QUEUE in plan.stdout and "(exists)" not in plan.stdout
    assert "Summary: 2 exchanges, 5 queues, 3 bindings; 0 cannot be mapped" in plan.stdout
    as_json = _migrate("plan", amqp_url, mgmt, namespace, "--json")
    assert {q["name"] for q in json.loads(as_json.stdout)["queues"]} == WIRE_QUEUES
    for _ in range(2):
        apply = _migrate("apply", amqp_url, mgmt, namespace, "--nats", nats.url)
        assert apply.returncode == 0, apply.stderr
        assert "Done: 2 exchanges, 5 queues, 3 bindings in place; 0 failed" in apply.stdout
    again = _migrate("plan", amqp_url, mgmt, namespace, "--nats", nats.url)
    assert again.stdout.count("(exists)") == 5


async def _declare_unmappable(url: str) -> None:
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        await ch.declare_exchange("by-headers", "headers", durable=True)
        src = await ch.declare_exchange("src", "topic", durable=True)
        dst = await ch.declare_exchange("dst", "fanout", durable=True)
        await dst.bind(src, "a.#")
        limited = await ch.declare_queue("limited", durable=True, arguments={"x-max-length": 10})
        await limited.bind(src, "a.*")
        fine = await ch.declare_queue("fine", durable=True)
        await fine.bind(src, "a.#")
        await ch.default_exchange.publish(aio_pika.Message(b"keep me"), routing_key="limited")
    finally:
        await conn.close()


def test_unmappable_settings_are_flagged_and_block_apply(
    amqp_url: str, mgmt: str, vhost: str, namespace: str, nats: NatsServer
) -> None:
    asyncio.run(_declare_unmappable(amqp_url))
    definitions, _ = asyncio.run(read_definitions(amqp_url=amqp_url, management_url=mgmt))
    plan = make_plan(definitions, vhost=vhost, namespace=namespace)
    reasons = {str(p) for p in plan.fatal}
    assert any("x-max-length" in r and "'limited'" in r for r in reasons), reasons
    assert any("'by-headers'" in r and "type 'headers'" in r for r in reasons), reasons
    assert any("src -> dst" in r and "exchange-to-exchange" in r for r in reasons), reasons
    assert [q.name for q in plan.queues] == ["fine"]
    fine = plan.queue("fine")
    assert fine.bindings[0].filters == [
        f"{namespace}.amqp.x.src.a",
        f"{namespace}.amqp.x.src.a.>",
    ]

    out = _migrate("plan", amqp_url, mgmt, namespace)
    assert out.returncode == 2
    assert "Cannot be mapped:" in out.stdout and "x-max-length" in out.stdout
    applied = _migrate("apply", amqp_url, mgmt, namespace, "--nats", nats.url)
    assert applied.returncode == 2
    assert "nothing was created" in applied.stderr

    async def nothing_on_nats() -> None:
        conn = await amqp.connect(servers=nats.url, namespace=namespace)
        try:
            assert await conn.js.consumer_names(conn.stream) == []
        finally:
            await conn.close()

    asyncio.run(nothing_on_nats())
    # The unmappable queue cannot be shovelled: clear error, nothing consumed.
    shovel = natswire_cli(
        *shovel_args(amqp_url, nats.url, namespace, "--until-empty", queue="limited")
    )
    assert shovel.returncode == 1
    assert "has no queue 'limited'" in shovel.stderr and "migrate apply" in shovel.stderr
    assert asyncio.run(rabbit_count(amqp_url, "limited")) == 1
    # --skip-unmappable creates the rest.
    partial = _migrate("apply", amqp_url, mgmt, namespace, "--nats", nats.url, "--skip-unmappable")
    assert partial.returncode == 0, partial.stderr
    assert "1 queues, 1 bindings in place" in partial.stdout


def test_policies_become_queue_arguments() -> None:
    definitions = {
        "queues": [
            {"name": "q1", "durable": True, "auto_delete": False, "arguments": {}},
            {
                "name": "q2",
                "durable": True,
                "auto_delete": False,
                "arguments": {"x-dead-letter-exchange": "own"},
            },
        ],
        "exchanges": [{"name": "dlx", "type": "fanout"}, {"name": "own", "type": "fanout"}],
        "bindings": [],
        "policies": [
            {
                "name": "dl",
                "pattern": "^q",
                "apply-to": "queues",
                "priority": 1,
                "definition": {
                    "dead-letter-exchange": "dlx",
                    "message-ttl": 5000,
                    "ha-mode": "all",
                },
            },
            {
                "name": "low",
                "pattern": ".*",
                "apply-to": "queues",
                "priority": 0,
                "definition": {"max-length": 1},
            },
        ],
    }
    plan = make_plan(definitions, namespace="ns")
    assert not plan.fatal, plan.render()
    q1 = plan.queue("q1")
    assert q1.arguments == {"x-dead-letter-exchange": "dlx", "x-message-ttl": 5000}
    assert q1.from_policy == {"x-dead-letter-exchange": "dl", "x-message-ttl": "dl"}
    # An argument on the queue wins over the policy.
    assert plan.queue("q2").arguments["x-dead-letter-exchange"] == "own"
    assert "(policy dl)" in plan.render()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--amqp", "amqp://guest:guest@127.0.0.1:1/"], "cannot reach the RabbitMQ management"),
        (["--definitions", "/nonexistent/defs.json"], "cannot read definitions file"),
    ],
)
def test_plan_bad_sources(args: list[str], message: str) -> None:
    out = natswire_cli("migrate", "plan", *args)
    assert out.returncode == 1
    assert message in out.stderr


def test_plan_wrong_management_credentials(rabbit: RabbitMqServer) -> None:
    out = natswire_cli(
        "migrate", "plan", "--management", f"http://guest:wrong@127.0.0.1:{rabbit.management_port}"
    )
    assert out.returncode == 1
    assert "refused the credentials" in out.stderr
