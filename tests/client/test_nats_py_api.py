"""nats-py's connect keywords and Client API on natswire, against a real nats-server:
every connect keyword accepted, ``token`` as a callable, ``rtt``, ``force_reconnect``,
the server pool, ``client_ip``, ``connected_url`` and ``connected_server_version`` as
nats-py parses them, ``subscribe(future=...)``, unlimited pending limits, the state
constants and ``reconnect_to_server_handler``."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import nats.aio.client
import pytest
from support import Connect

import natswire
from natswire.client.options import OPTION_NAMES
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(30)

#: The WebSocket transport (another change) adds this keyword.
ADDED_ELSEWHERE = frozenset({"ws_connection_headers"})


def test_every_nats_py_connect_keyword_is_accepted() -> None:
    keywords = set(inspect.signature(nats.aio.client.Client.connect).parameters) - {"self"}
    assert len(keywords) == 37
    assert not keywords - OPTION_NAMES - ADDED_ELSEWHERE


async def test_options_nats_py_passes_are_taken(connect: Connect) -> None:
    nc = await connect(
        flusher_queue_size=16,
        skip_subject_validation=True,
        inbox_prefix=b"_INBOX",
        pending_size=1024 * 1024,
    )
    sub = await nc.subscribe("opts", pending_msgs_limit=-1, pending_bytes_limit=-1)
    await nc.publish("opts", b"x")
    assert (await sub.next_msg(timeout=1)).data == b"x"


async def test_a_token_may_be_a_callable() -> None:
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return "s3cret"

    with NatsServer(token="s3cret") as server:
        nc = await natswire.connect(server.url, token=token)
        try:
            await nc.flush()
            assert calls
        finally:
            await nc.close()


async def test_client_reports_as_nats_py(nc: natswire.Client, server: NatsServer) -> None:
    url = nc.connected_url
    assert url is not None
    assert url == server.url
    assert (url.hostname, url.port) == ("127.0.0.1", server.port)
    version = nc.connected_server_version
    assert version == nc.server_info["version"] and str(version) == version
    assert version.major >= 2 and version >= "2.9.0" and version < "99.0.0"
    assert nc.client_ip == "127.0.0.1"
    assert [s.uri.port for s in nc.server_pool] == [server.port]
    assert nc.server_pool[0].reconnects == 0
    assert 0 < await nc.rtt() < 1
    assert nc.status is natswire.Client.CONNECTED
    assert natswire.Client.DRAINING_SUBS is natswire.Client.DRAINING_PUBS


async def test_subscribe_with_a_future_gets_the_first_message(nc: natswire.Client) -> None:
    future: asyncio.Future[natswire.Message] = asyncio.get_running_loop().create_future()
    await nc.subscribe("fut", future=future, max_msgs=1)
    await nc.publish("fut", b"first")
    assert (await asyncio.wait_for(future, 1)).data == b"first"


async def test_force_reconnect_reconnects(connect: Connect) -> None:
    reconnected = asyncio.Event()
    nc = await connect(reconnected_cb=reconnected.set)
    sub = await nc.subscribe("forced")
    await nc.force_reconnect()
    await asyncio.wait_for(reconnected.wait(), 5)
    await nc.publish("forced", b"after")
    assert (await sub.next_msg(timeout=2)).data == b"after"


async def test_set_server_pool_is_used_on_the_next_reconnect() -> None:
    with NatsServer() as first, NatsServer() as second:
        reconnected = asyncio.Event()
        nc = await natswire.connect(first.url, reconnected_cb=reconnected.set)
        try:
            nc.set_server_pool([second.url])
            assert [s.uri.port for s in nc.server_pool] == [second.port]
            with pytest.raises(ValueError):
                nc.set_server_pool(["nats://bad host:x"])
            await nc.force_reconnect()
            await asyncio.wait_for(reconnected.wait(), 5)
            assert nc.connected_url is not None and nc.connected_url.port == second.port
        finally:
            await nc.close()


async def test_reconnect_to_server_handler_picks_the_server() -> None:
    with NatsServer() as first, NatsServer() as second, NatsServer() as third:
        asked: list[list[int | None]] = []

        def pick(servers: list[Any], info: dict[str, Any]) -> tuple[Any, float]:
            asked.append([s.uri.port for s in servers])
            chosen = next(s for s in servers if s.uri.port == third.port)
            return chosen, 0.0

        reconnected = asyncio.Event()
        nc = await natswire.connect(
            [first.url, second.url, third.url],
            dont_randomize=True,
            reconnect_to_server_handler=pick,
            reconnected_cb=reconnected.set,
        )
        try:
            await nc.force_reconnect()
            await asyncio.wait_for(reconnected.wait(), 5)
            assert asked
            assert nc.connected_url is not None and nc.connected_url.port == third.port
        finally:
            await nc.close()


async def test_msg_made_by_hand_as_nats_py_makes_it(nc: natswire.Client) -> None:
    inbox = nc.new_inbox()
    answers = await nc.subscribe(inbox)
    msg = natswire.Msg(nc, subject="by.hand", reply="", data=b"q", headers={"K": "v"})
    assert (msg.subject, msg.data, msg.headers) == ("by.hand", b"q", {"K": "v"})
    msg.reply = inbox
    assert msg.reply == inbox
    await msg.respond(b"answer")
    assert (await answers.next_msg(timeout=1)).data == b"answer"
    positional = natswire.Msg(nc, "by.hand", inbox, b"p")
    assert (positional.subject, positional.reply, positional.data) == ("by.hand", inbox, b"p")
    made = natswire.Message("x.y", b"d", "r")
    assert (made.subject, made.data, made.reply, made.headers) == ("x.y", b"d", "r", None)
    with pytest.raises(TypeError):
        natswire.Message(subject="a", nope=1)  # type: ignore[call-overload]
