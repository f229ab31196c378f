"""The Wire-style notification flow, end to end (``make demo``, ``natswire demo``).

Gundeck publishes to the ``user-notifications`` exchange; three clients' queues and one
temporary client consume like cannon's websockets; a reject and an expired message go
to ``dead-user-notifications``, where background-worker's watcher notes the client that
missed notifications; then the server is killed with SIGKILL and restarted, and the
client that was offline gets everything published for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from .channel import Channel
from .names import client_queue_name, temporary_routing_key
from .properties import BasicProperties, Delivery
from .setup import connect

EXCHANGE = "user-notifications"
DLX = "dead-user-notifications"
QUEUE_ARGS = {
    "x-queue-type": "quorum",
    "x-dead-letter-exchange": DLX,
    "x-dead-letter-routing-key": DLX,
}


def _event(delivery: Delivery) -> str:
    return str(json.loads(delivery.body)["payload"])


async def run_demo(
    url: str, crash_and_restart: Callable[[], None], say: Callable[[str], None] = print
) -> bool:
    """Run the flow against the server at ``url``; return whether every check held."""
    ok = True

    def check(condition: bool, what: str) -> None:
        nonlocal ok
        say(f"   {'ok' if condition else 'FAILED'}: {what}")
        ok = ok and condition

    # The demo sweeps idle queues for expired messages every 0.5 s (default: 30 s), so
    # an offline user's expired event is dead-lettered while you watch.
    conn = await connect(
        {"namespace": "wire"}, servers=url, reconnect_time_wait=0.1, expiry_sweep_interval=0.5
    )
    try:
        say(f"Connected to {url}; namespace 'wire', stream {conn.stream}.")
        setup = await conn.channel()
        await setup.exchange_declare(EXCHANGE, "direct")
        await setup.exchange_declare(DLX, "direct")
        await setup.queue_declare(DLX, arguments={"x-queue-type": "quorum"})
        await setup.queue_bind(DLX, DLX, DLX)
        clients = [("alice", "phone"), ("alice", "laptop"), ("bob", "phone")]
        for uid, cid in clients:
            queue = client_queue_name(uid, cid)
            await setup.queue_declare(queue, arguments=QUEUE_ARGS)
            await setup.queue_bind(queue, EXCHANGE, uid)
            await setup.queue_bind(queue, EXCHANGE, f"{uid}.{cid}")
        say(
            "1. gundeck declared exchange 'user-notifications', the dead-letter exchange and "
            "queue 'dead-user-notifications', and queues for alice/phone, alice/laptop and "
            "bob/phone (bound with <uid> and <uid>.<cid>)."
        )

        missed: list[str] = []

        async def watcher(delivery: Delivery) -> None:
            headers = delivery.properties.headers or {}
            queue = headers.get("x-last-death-queue", "?")
            reason = headers.get("x-last-death-reason", "?")
            say(f"   watcher: dead letter from {queue} ({reason}): {_event(delivery)}")
            missed.append(f"{queue}:{reason}")
            await delivery.ack()

        watch = await conn.channel()
        await watch.basic_consume(DLX, watcher)

        async def publish(key: str, payload: str, expiration: str | None = None) -> None:
            props = BasicProperties(
                content_type="application/json", delivery_mode=2, expiration=expiration
            )
            body = json.dumps({"payload": payload}).encode()
            await setup.basic_publish(EXCHANGE, key, body, props)

        inboxes: dict[str, list[Delivery]] = {}

        async def websocket(uid: str, cid: str | None) -> tuple[Channel, str]:
            ch = await conn.channel()
            await ch.basic_qos(500)
            if cid is None:
                queue = (await ch.queue_declare("", exclusive=True, auto_delete=True)).queue
                await ch.queue_bind(queue, EXCHANGE, uid)
                await ch.queue_bind(queue, EXCHANGE, temporary_routing_key(uid))
                name = f"{uid}/temporary"
            else:
                queue = client_queue_name(uid, cid)
                name = f"{uid}/{cid}"
            inboxes[name] = []
            await ch.basic_consume(queue, inboxes[name].append)
            return ch, queue

        alice_phone, _ = await websocket("alice", "phone")
        alice_laptop, _ = await websocket("alice", "laptop")
        alice_temp, temp_queue = await websocket("alice", None)
        say("2. alice connects her phone, her laptop and a temporary client; bob is offline.")

        await publish("alice", "alice: new message in #general")
        await asyncio.sleep(0.3)
        for name, got in inboxes.items():
            say(f"   {name} received {[_event(d) for d in got]}")
        check(
            all(len(inboxes[n]) == 1 for n in ("alice/phone", "alice/laptop", "alice/temporary")),
            "each of alice's queues got its own copy, once",
        )

        phone_delivery = inboxes["alice/phone"][0]
        await alice_phone.basic_ack(phone_delivery.delivery_tag)
        say(f"3. alice/phone acks delivery tag {phone_delivery.delivery_tag}.")
        laptop_delivery = inboxes["alice/laptop"][0]
        await alice_laptop.basic_reject(laptop_delivery.delivery_tag, requeue=False)
        say("4. alice/laptop cannot parse it and rejects it (requeue=False).")
        await asyncio.sleep(0.3)
        check(
            "user-notifications.alice.laptop:rejected" in missed,
            "the rejected event was dead-lettered with x-last-death-queue and reason",
        )

        await publish("bob", "bob: call missed", expiration="300")
        say("5. an event for bob expires after 300 ms while he is offline...")
        for _ in range(40):
            await asyncio.sleep(0.1)
            if any(m.endswith(":expired") for m in missed):
                break
        check(
            "user-notifications.bob.phone:expired" in missed,
            "the expired event was never delivered and was dead-lettered (reason expired)",
        )

        await alice_temp.close()
        names = await conn.js.consumer_names(conn.stream)
        check(
            conn.consumer_name(temp_queue) not in names,
            "alice's temporary queue vanished with its channel",
        )

        for i in range(1, 4):
            await publish("bob.phone", f"bob/phone: event {i} while offline")
        say("6. three events for bob/phone are published; then the server is killed (kill -9)")
        crash_and_restart()
        await conn.wait_ready(15.0)
        say("   ...and restarted; the adapter reconnected on its own.")
        bob, _ = await websocket("bob", "phone")
        for _ in range(50):
            if len(inboxes["bob/phone"]) >= 3:
                break
            await asyncio.sleep(0.1)
        received = [_event(d) for d in inboxes["bob/phone"]]
        say(f"7. bob/phone connects and receives {received}")
        check(
            received == [f"bob/phone: event {i} while offline" for i in range(1, 4)],
            "nothing published and unacked was lost across the crash",
        )
        await bob.basic_ack(inboxes["bob/phone"][-1].delivery_tag, multiple=True)
        say("   bob acks everything (multiple=True).")
        for ch in (alice_phone, alice_laptop, bob, watch, setup):
            await ch.close()
        say("All checks held." if ok else "Some checks FAILED.")
        return ok
    finally:
        await conn.close()
