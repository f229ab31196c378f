"""Bad arguments, max payload and server errors: clear errors, and the connection lives on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_helpers import ErrorLog
from support import Connect, eventually

import natswire
from natswire.errors import (
    BadSubjectError,
    BadTimeoutError,
    InvalidSubjectError,
    LocalProtocolError,
    MaxPayloadError,
    PermissionsViolationError,
    ServerError,
)
from natswire.server import NatsServer

pytestmark = pytest.mark.timeout(30)

SMALL = 1024


async def assert_alive(nc: natswire.Client, subject: str = "alive") -> None:
    sub = await nc.subscribe(subject)
    await nc.publish(subject, b"still here")
    assert (await sub.next_msg(timeout=2)).data == b"still here"
    await sub.unsubscribe()
    assert nc.is_connected


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "subject", ["", "a b", "a..b", ".a", "a.", "tab\there", "cr\rlf\n", "wild.*", "wild.>"]
)
async def test_publish_bad_subject(nc: natswire.Client, subject: str) -> None:
    with pytest.raises(BadSubjectError) as info:
        await nc.publish(subject, b"x")
    assert isinstance(info.value, LocalProtocolError)
    assert str(info.value)
    await assert_alive(nc)
    assert nc.stats.out_msgs == 1  # only the one from assert_alive


@pytest.mark.parametrize("subject", ["", "a b", "a..b", "a.>.b", "bad\r\n"])
async def test_subscribe_bad_subject(nc: natswire.Client, subject: str) -> None:
    with pytest.raises(BadSubjectError):
        await nc.subscribe(subject)
    assert not nc._subscriptions
    await assert_alive(nc)


async def test_publish_bad_reply_subject(nc: natswire.Client) -> None:
    with pytest.raises(BadSubjectError):
        await nc.publish("ok.subject", b"", reply="bad reply")
    await assert_alive(nc)


@pytest.mark.parametrize("payload", ["text", 123, None, ["a"]])
async def test_publish_non_bytes_payload(nc: natswire.Client, payload: object) -> None:
    with pytest.raises(TypeError, match="payload"):
        await nc.publish("typed", payload)  # type: ignore[arg-type]
    await assert_alive(nc)


async def test_publish_str_payload_with_headers(nc: natswire.Client) -> None:
    with pytest.raises(TypeError):
        await nc.publish("typed", "text", headers={"A": "b"})  # type: ignore[arg-type]
    await assert_alive(nc)


async def test_bad_header(nc: natswire.Client) -> None:
    with pytest.raises(LocalProtocolError):
        await nc.publish("hdr", b"", headers={"Bad": "line\r\nInjected: yes"})
    await assert_alive(nc)


async def test_bytearray_and_memoryview_payloads(nc: natswire.Client) -> None:
    sub = await nc.subscribe("views")
    await nc.publish("views", bytearray(b"ba"))
    await nc.publish("views", memoryview(b"xmvx")[1:3])
    assert (await sub.next_msg(timeout=1)).data == b"ba"
    assert (await sub.next_msg(timeout=1)).data == b"mv"


@pytest.mark.parametrize("timeout", [-1, -0.001, "soon"])
async def test_next_msg_bad_timeout(nc: natswire.Client, timeout: object) -> None:
    sub = await nc.subscribe("timeouts")
    with pytest.raises(BadTimeoutError) as info:
        await sub.next_msg(timeout=timeout)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    await nc.publish("timeouts", b"ok")
    assert (await sub.next_msg(timeout=1)).data == b"ok"


@pytest.mark.parametrize("timeout", [0, -1])
async def test_flush_bad_timeout(nc: natswire.Client, timeout: float) -> None:
    with pytest.raises(BadTimeoutError):
        await nc.flush(timeout=timeout)
    await nc.flush(timeout=1)


async def test_bad_subscribe_arguments(nc: natswire.Client) -> None:
    with pytest.raises(ValueError):
        await nc.subscribe("args", max_msgs=-1)
    with pytest.raises(ValueError):
        await nc.subscribe("args", pending_msgs_limit=0)
    sub = await nc.subscribe("args")
    with pytest.raises(ValueError):
        await sub.unsubscribe(-1)
    with pytest.raises(ValueError):
        [m async for m in (await nc.subscribe("args", cb=lambda m: None)).messages]
    await assert_alive(nc)


# ------------------------------------------------------------------------------ max payload


@pytest.fixture(scope="module")
def small_server() -> Iterator[NatsServer]:
    with NatsServer(max_payload=SMALL) as srv:
        yield srv


async def test_max_payload(small_server: NatsServer, connect: Connect) -> None:
    nc = await connect(small_server.url)
    assert nc.max_payload == SMALL
    sub = await nc.subscribe("big")
    await nc.flush()
    await nc.publish("big", b"x" * SMALL)  # exactly the limit is fine
    with pytest.raises(MaxPayloadError, match=str(SMALL)):
        await nc.publish("big", b"x" * (SMALL + 1))
    # Headers count towards the limit.
    with pytest.raises(MaxPayloadError):
        await nc.publish("big", b"x" * (SMALL - 10), headers={"Key": "a value"})
    await nc.publish("big", b"after")
    assert (await sub.next_msg(timeout=2)).data == b"x" * SMALL
    assert (await sub.next_msg(timeout=2)).data == b"after"
    assert nc.is_connected
    assert nc.stats.out_msgs == 2
    with pytest.raises(MaxPayloadError):
        await nc.request("big", b"y" * (SMALL + 1), timeout=1)
    await assert_alive(nc)


# ------------------------------------------------------------------------ server -ERR


PERMISSIONS = """
authorization {
  users = [
    {
      user: "limited"
      password: "pw"
      permissions: {
        publish: { deny: ["secret.>"] }
        subscribe: { deny: ["secret.>"] }
      }
    }
  ]
}
"""


@pytest.fixture(scope="module")
def perm_server() -> Iterator[NatsServer]:
    with NatsServer(config_extra=PERMISSIONS) as srv:
        yield srv


async def test_permissions_violation_is_not_fatal(
    perm_server: NatsServer, connect: Connect, error_log: ErrorLog
) -> None:
    nc = await connect(perm_server.url, user="limited", password="pw", error_cb=error_log)
    await nc.publish("secret.plans", b"no")
    error = await error_log.wait_for(PermissionsViolationError)
    assert isinstance(error, ServerError) and not error.fatal
    assert "secret.plans" in str(error)
    assert nc.is_connected
    assert nc.stats.errors_received >= 1
    await assert_alive(nc)

    await nc.subscribe("secret.inbox")
    await nc.flush()
    await _wait_count(error_log, PermissionsViolationError, 2)
    assert "secret.inbox" in str(error_log.of_type(PermissionsViolationError)[1])
    await assert_alive(nc)
    assert nc.stats.reconnects == 0


async def _wait_count(log: ErrorLog, kind: type[Exception], count: int) -> None:
    await eventually(lambda: len(log.of_type(kind)) >= count, timeout=3)


async def test_invalid_subject_from_server_is_not_fatal(
    connect: Connect, error_log: ErrorLog
) -> None:
    """The client validates subjects itself; a raw SUB that slips past (sent here on purpose)
    draws the server's non-fatal -ERR, which reaches error_cb and leaves the connection up."""
    nc = await connect(error_cb=error_log)
    nc._send_control(b"SUB foo..bar 99\r\n")
    await nc.flush()
    error = await error_log.wait_for(InvalidSubjectError)
    assert not error.fatal  # type: ignore[attr-defined]
    assert nc.is_connected
    await assert_alive(nc)


async def test_publish_before_connect_says_so() -> None:
    """A client that never connected refuses a publish, the first and every later one
    (the second takes the known-subject fast path), with an error that says why."""
    nc = natswire.Client()
    for _ in range(2):
        with pytest.raises(natswire.errors.ConnectionClosedError, match="not connected"):
            await nc.publish("never.connected", b"x")
