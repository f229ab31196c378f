"""Every command in docs/migration.md, run in the order the guide gives them against the
test servers (its ``localhost`` ports replaced by theirs). A new command in the guide
that this test does not know fails it."""

from __future__ import annotations

import asyncio
import random
import re
import shlex
import signal
from pathlib import Path

import aio_pika
from migrate_helpers import (
    CLIENT_QUEUE,
    UID,
    declare_wire_topology,
    drain_nats,
    make_message,
    publish_to_rabbit,
    rabbit_count,
)
from support import natswire_cli, start_cli, stop_process

from natswire import amqp
from natswire.migrate.rabbit import RabbitMqServer
from natswire.server import NatsServer

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "migration.md"


def doc_commands() -> list[str]:
    """The commands of the guide's ``sh`` blocks, in order."""
    text = DOC.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def test_the_guide_has_the_commands_this_test_runs() -> None:
    kinds = [" ".join(shlex.split(c)[:3]) for c in doc_commands()]
    assert kinds == [
        "pip install natswire[migrate]",
        "natswire migrate plan",
        "rabbitmqctl export_definitions /tmp/wire-definitions.json",
        "natswire migrate plan",
        "natswire migrate apply",
        "natswire migrate bridge",
        "natswire migrate shovel",
        "natswire migrate shovel",
        "natswire migrate shovel",
        "natswire migrate shovel",
        "natswire migrate bridge",
        "natswire migrate bridge",
    ]


def test_every_command_in_the_guide(
    rabbit: RabbitMqServer, amqp_url: str, mgmt: str, nats: NatsServer, tmp_path: Path
) -> None:
    definitions = tmp_path / "wire-definitions.json"
    replace = {
        "amqp://guest:guest@localhost:5672/": amqp_url,
        "http://guest:guest@localhost:15672": mgmt,
        "nats://localhost:4222": nats.url,
        "/tmp/wire-definitions.json": str(definitions),
    }
    asyncio.run(declare_wire_topology(amqp_url))
    rng = random.Random(3)
    asyncio.run(
        publish_to_rabbit(amqp_url, "cells_events", [make_message(n, rng) for n in range(300)])
    )
    asyncio.run(
        publish_to_rabbit(amqp_url, "background-jobs", [make_message(n, rng) for n in range(200)])
    )

    for command in doc_commands():
        for old, new in replace.items():
            command = command.replace(old, new)
        argv = shlex.split(command)
        if argv[0] == "pip":
            pyproject = (ROOT / "pyproject.toml").read_text()
            extra = re.search(r"^migrate = \[(.*)\]$", pyproject, re.M)
            assert argv[1:] == ["install", "natswire[migrate]"]
            assert extra is not None and '"aio-pika' in extra.group(1)
            continue
        if argv[0] == "rabbitmqctl":
            rabbit.ctl(*argv[1:])
            assert definitions.exists()
            continue
        assert argv[:2] == ["natswire", "migrate"], command
        step = argv[2]
        if step == "bridge" and not {"--remove", "--drain"} & set(argv):
            _run_bridge(argv[1:], amqp_url, nats.url)
            continue
        out = natswire_cli(*argv[1:])
        assert out.returncode == 0, (command, out.stdout, out.stderr)
        if step == "plan":
            assert "Summary: 2 exchanges, 5 queues, 3 bindings; 0 cannot be mapped" in out.stdout
        elif step == "apply":
            assert "Done: 2 exchanges, 5 queues, 3 bindings in place; 0 failed" in out.stdout
        elif step == "shovel" and "--queues" in argv:
            # The client queue holds the message published during the bridge step.
            assert "total: 1 of 1 queues moved (1 messages" in out.stdout
            assert asyncio.run(rabbit_count(amqp_url, CLIENT_QUEUE)) == 0
        elif step == "shovel" and argv[argv.index("--from") + 1].startswith("amqp"):
            queue = argv[argv.index("--queue") + 1]
            expected = {"cells_events": 300, "background-jobs": 200}[queue]
            assert f"moved {expected} messages" in out.stdout
            assert asyncio.run(rabbit_count(amqp_url, queue)) == 0
            assert "remaining" in out.stderr
        elif step == "shovel":  # the rollback
            assert "moved 300 messages" in out.stdout
            assert asyncio.run(rabbit_count(amqp_url, "cells_events")) == 300
        elif step == "bridge" and "--drain" in argv:
            assert "0 left in the source queue" in out.stdout
        elif step == "bridge":  # --remove
            assert "removed rabbitmq queue natswire-bridge.wire.user-notifications" in out.stdout


def _run_bridge(args: list[str], amqp_url: str, nats_url: str) -> None:
    proc = start_cli(*args)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "bridging ...": both directions listen
        assert line.startswith("bridging user-notifications"), line

        async def traffic() -> list[amqp.Delivery]:
            conn = await aio_pika.connect(amqp_url)
            try:
                ch = await conn.channel()
                x = await ch.get_exchange("user-notifications")
                await x.publish(aio_pika.Message(b"via the bridge"), routing_key=UID)
            finally:
                await conn.close()
            nc = await amqp.connect(servers=nats_url, namespace="wire")
            try:
                return await drain_nats(nc, CLIENT_QUEUE, quiet=2.0)
            finally:
                await nc.close()

        got = asyncio.run(traffic())
        assert [d.body for d in got] == [b"via the bridge"]
        proc.send_signal(signal.SIGTERM)  # as Ctrl-C would
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "moved 1 messages" in out
    finally:
        stop_process(proc)
