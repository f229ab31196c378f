"""What only the blocking client has to prove: threads, closing from anywhere,
reconnecting and noticing a dead link without an event loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sync_drivers import SyncConnect

import natswire
import natswire.sync
from natswire.errors import (
    ConnectionClosedError,
    MaxPayloadError,
    NoServersError,
    SlowConsumerError,
    TimeoutError,
)
from natswire.server import NatsServer, free_port

pytestmark = pytest.mark.timeout(60)


def wait_for(check: object, timeout: float = 5.0) -> None:
    """Poll ``check()`` (bounded) until it is true."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not reached within {timeout} s"
        time.sleep(0.01)


def test_reachable_from_the_root_package(server: NatsServer) -> None:
    with natswire.sync.connect(server.url) as nc:
        assert nc.is_connected and nc.connected_url == server.url
        assert nc.server_info["max_payload"] == nc.max_payload
    assert nc.is_closed


def test_concurrent_publishers_lose_nothing_and_keep_their_order(
    sync_connect: SyncConnect,
) -> None:
    nc = sync_connect()
    sub = nc.subscribe("conc.>")
    nc.flush()
    threads_n, per_thread = 8, 3000

    def publish(t: int) -> None:
        for i in range(per_thread):
            nc.publish(f"conc.{t}", b"%d" % i)

    threads = [threading.Thread(target=publish, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    nc.flush()
    seen: dict[str, list[int]] = {}
    for _ in range(threads_n * per_thread):
        msg = sub.next_msg(5)
        seen.setdefault(msg.subject, []).append(int(msg.data))
    assert sorted(seen) == sorted(f"conc.{t}" for t in range(threads_n))
    assert all(v == list(range(per_thread)) for v in seen.values())
    with pytest.raises(TimeoutError):
        sub.next_msg(0.05)


def test_concurrent_requests_each_get_their_own_reply(sync_connect: SyncConnect) -> None:
    nc = sync_connect()
    nc.subscribe("svc.echo", cb=lambda msg: msg.respond(msg.data))
    nc.flush()
    results: dict[int, list[bytes]] = {}

    def ask(t: int) -> None:
        results[t] = [nc.request("svc.echo", b"%d-%d" % (t, i), timeout=5).data for i in range(200)]

    threads = [threading.Thread(target=ask, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {t: [b"%d-%d" % (t, i) for i in range(200)] for t in range(6)}


def test_callbacks_run_in_order_on_one_delivery_thread(sync_connect: SyncConnect) -> None:
    nc = sync_connect()
    seen: list[tuple[str, bytes]] = []
    nc.subscribe("cb.a", cb=lambda m: seen.append((threading.current_thread().name, m.data)))
    nc.subscribe("cb.b", cb=lambda m: seen.append((threading.current_thread().name, m.data)))
    for i in range(100):
        nc.publish("cb.a" if i % 2 else "cb.b", b"%d" % i)
    nc.flush()
    wait_for(lambda: len(seen) == 100)
    assert [data for _, data in seen] == [b"%d" % i for i in range(100)]
    names = {name for name, _ in seen}
    assert len(names) == 1 and names != {threading.current_thread().name}


def test_close_from_another_thread_wakes_every_waiter(sync_connect: SyncConnect) -> None:
    nc = sync_connect()
    sub = nc.subscribe("idle")
    nc.subscribe("svc.silent")  # listens, never answers
    errors: list[BaseException] = []

    def wait_msg() -> None:
        try:
            sub.next_msg(None)
        except BaseException as exc:
            errors.append(exc)

    def wait_reply() -> None:
        try:
            nc.request("svc.silent", b"", timeout=30)
        except BaseException as exc:
            errors.append(exc)

    waiters = [threading.Thread(target=wait_msg), threading.Thread(target=wait_reply)]
    for thread in waiters:
        thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    closer = threading.Thread(target=nc.close)
    closer.start()
    closer.join(5)
    for thread in waiters:
        thread.join(5)
    assert time.monotonic() - started < 3
    assert not closer.is_alive() and not any(t.is_alive() for t in waiters)
    assert len(errors) == 2 and all(isinstance(e, ConnectionClosedError) for e in errors)
    assert nc.is_closed
    with pytest.raises(ConnectionClosedError):
        nc.publish("x", b"")
    nc.close()  # idempotent


def test_close_while_threads_publish_and_from_a_callback(sync_connect: SyncConnect) -> None:
    nc = sync_connect()
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            try:
                nc.publish("flood", b"x" * 512)
            except ConnectionClosedError:
                return

    floods = [threading.Thread(target=flood) for _ in range(3)]
    for thread in floods:
        thread.start()
    time.sleep(0.2)
    nc.subscribe("bye", cb=lambda msg: nc.close())
    nc.publish("bye", b"")
    wait_for(lambda: nc.is_closed)
    stop.set()
    for thread in floods:
        thread.join(5)
        assert not thread.is_alive()


def test_drain_runs_pending_callbacks_then_closes(sync_connect: SyncConnect) -> None:
    nc = sync_connect()
    done: list[bytes] = []

    def slow(msg: natswire.sync.Message) -> None:
        time.sleep(0.01)
        done.append(msg.data)

    nc.subscribe("drain.x", cb=slow)
    for i in range(50):
        nc.publish("drain.x", b"%d" % i)
    nc.flush()
    nc.drain()
    assert nc.is_closed
    assert done == [b"%d" % i for i in range(50)]


def test_errors_at_the_call(sync_connect: SyncConnect) -> None:
    nc = sync_connect()
    with pytest.raises(MaxPayloadError):
        nc.publish("big", b"x" * (nc.max_payload + 1))
    with pytest.raises(TypeError):
        nc.publish("text", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        nc.subscribe("cb.sub", cb=print).next_msg(1)
    nc.flush()  # still usable


def test_no_server_raises_no_servers() -> None:
    with pytest.raises(NoServersError):
        natswire.sync.connect(f"nats://127.0.0.1:{free_port()}", connect_timeout=0.5)


@pytest.fixture
def own_server() -> Iterator[NatsServer]:
    with NatsServer() as srv:
        yield srv


def test_restart_reconnects_resubscribes_and_resends(own_server: NatsServer) -> None:
    events: list[str] = []
    nc = natswire.sync.connect(
        own_server.url,
        reconnect_time_wait=0.05,
        reconnect_time_wait_max=0.2,
        disconnected_cb=lambda: events.append("disconnected"),
        reconnected_cb=lambda: events.append("reconnected"),
    )
    try:
        sub = nc.subscribe("re.x")
        nc.flush()
        own_server.kill()  # keeps the port for the restart
        wait_for(lambda: nc.is_reconnecting)
        for i in range(10):
            nc.publish("re.x", b"%d" % i)  # buffered while disconnected
        own_server.start()
        wait_for(lambda: nc.is_connected, 10)
        assert [sub.next_msg(2).data for _ in range(10)] == [b"%d" % i for i in range(10)]
        nc.flush()
        wait_for(lambda: events == ["disconnected", "reconnected"])
    finally:
        nc.close()


def test_reconnect_gives_up_and_closes(own_server: NatsServer) -> None:
    closed = threading.Event()
    nc = natswire.sync.connect(
        own_server.url,
        reconnect_time_wait=0.02,
        max_reconnect_attempts=2,
        closed_cb=closed.set,
    )
    own_server.stop()
    assert closed.wait(10)
    assert nc.is_closed and isinstance(nc.last_error, NoServersError)


def test_close_while_reconnecting_returns_at_once(own_server: NatsServer) -> None:
    nc = natswire.sync.connect(own_server.url, reconnect_time_wait=30.0, reconnect_jitter=0.0)
    own_server.kill()
    wait_for(lambda: nc.is_reconnecting)
    flushed: list[BaseException] = []

    def flush() -> None:
        try:
            nc.flush(timeout=30)
        except BaseException as exc:
            flushed.append(exc)

    waiter = threading.Thread(target=flush)
    waiter.start()
    time.sleep(0.1)
    started = time.monotonic()
    nc.close()
    waiter.join(5)
    assert time.monotonic() - started < 2
    assert nc.is_closed and len(flushed) == 1
    assert isinstance(flushed[0], ConnectionClosedError)


def test_pending_limit_drops_and_reports_once(sync_connect: SyncConnect) -> None:
    errors: list[Exception] = []
    nc = sync_connect(error_cb=errors.append)
    sub = nc.subscribe("slow", pending_msgs_limit=10)
    for i in range(100):
        nc.publish("slow", b"%d" % i)
    nc.flush()
    wait_for(lambda: sub.dropped == 90)
    assert [sub.next_msg(1).data for _ in range(10)] == [b"%d" % i for i in range(10)]
    wait_for(lambda: errors)
    assert len(errors) == 1 and isinstance(errors[0], SlowConsumerError)


def test_max_msgs_and_unsubscribe(sync_connect: SyncConnect) -> None:
    nc = sync_connect()
    auto = nc.subscribe("limited", max_msgs=3)
    gone = nc.subscribe("gone")
    gone.unsubscribe()
    for i in range(5):
        nc.publish("limited", b"%d" % i)
        nc.publish("gone", b"%d" % i)
    nc.flush()
    assert [m.data for m in auto] == [b"0", b"1", b"2"]  # iteration ends when it closes
    with pytest.raises(ConnectionClosedError):
        gone.next_msg(0.1)


def test_drain_from_a_callback_returns(sync_connect: SyncConnect) -> None:
    nc = sync_connect()
    nc.subscribe("drain.self", cb=lambda msg: nc.drain())
    nc.publish("drain.self", b"")
    wait_for(lambda: nc.is_closed, 5)
