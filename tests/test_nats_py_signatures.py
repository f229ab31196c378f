"""natswire's public signatures next to nats-py's (the installed nats-py is the
reference): ``connect``, ``Client``, ``Subscription``, ``Msg``, ``JetStreamContext``,
``JetStreamManager`` and the ``api`` dataclasses. Every public name nats-py offers
exists, every parameter it takes is accepted, and positional parameters come in the
same order, except where an allow-list below says why not. Each deliberate difference
is also in docs/nats-py-differences.md."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import nats.aio.client
import nats.aio.msg
import nats.aio.subscription
import nats.js.api
import nats.js.client
import nats.js.manager
import pytest

import natswire
import natswire.jetstream
import natswire.jetstream.api

CLASSES: list[tuple[str, type, type]] = [
    ("Client", nats.aio.client.Client, natswire.Client),
    ("Subscription", nats.aio.subscription.Subscription, natswire.Subscription),
    ("Msg", nats.aio.msg.Msg, natswire.Msg),
    ("JetStreamContext", nats.js.client.JetStreamContext, natswire.jetstream.JetStreamContext),
    ("JetStreamManager", nats.js.manager.JetStreamManager, natswire.jetstream.JetStreamManager),
]

#: Deliberate differences: nats-py names natswire does not offer, or offers otherwise.
DIFFERENT: dict[str, str] = {
    # Built by the client, never by applications: natswire's constructors take what
    # the client hands them (nc.jetstream(), nc.subscribe(), a delivered message).
    "Subscription.__init__": "made by Client.subscribe; its owner is the client's supervisor",
    "JetStreamContext.__init__": "made by nc.jetstream(); the client is its first argument",
    "JetStreamManager.__init__": "made by nc.jsm(); the client is its first argument",
    # Instance attributes in natswire, properties in nats-py: the same on an instance.
    "Subscription.subject": "an instance attribute",
    "Subscription.queue": "an instance attribute",
    "Subscription.delivered": "an instance attribute",
    "Client.msg_class": "messages are natswire.Message; no pluggable message class",
    "Client.ssl_context": "the TLS context is the tls= option itself",
    # JetStream acks live on JetStreamMessage (what JetStream deliveries are), not on
    # every core message.
    "Msg.Ack": "JetStreamMessage",
    "Msg.is_acked": "JetStreamMessage",
    "Msg.ack": "JetStreamMessage",
    "Msg.ack_sync": "JetStreamMessage",
    "Msg.nak": "JetStreamMessage",
    "Msg.in_progress": "JetStreamMessage",
    "Msg.term": "JetStreamMessage",
    "Msg.metadata": "JetStreamMessage",
    "Msg.Metadata": "natswire.jetstream.message.Metadata",
    "JetStreamContext.is_status_msg": "Message.status",
    "JetStreamContext.PullSubscription": "natswire.jetstream.pull.PullSubscription",
}

#: Not in natswire yet: other work adds them, or natswire has no such feature yet.
NOT_YET: dict[str, str] = {
    # JetStream management natswire does not have yet: none left.
}

ALLOWED = {**DIFFERENT, **NOT_YET}


def _public_members(cls: type) -> Iterator[str]:
    for name in vars(cls):
        if not name.startswith("_") or name == "__init__":
            yield name


def _parameters(function: Callable[..., Any]) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(function).parameters.values() if p.name != "self"]


def parameter_problems(reference: Callable[..., Any], ours: Callable[..., Any]) -> list[str]:
    """What a call written for ``reference`` would find wrong with ``ours``."""
    theirs, mine = _parameters(reference), _parameters(ours)
    names = {p.name for p in mine}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in mine)
    problems = [
        f"no parameter {p.name!r}"
        for p in theirs
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in names and not takes_any
    ]
    positional = [p.name for p in theirs if p.kind is p.POSITIONAL_OR_KEYWORD]
    my_positional = [p.name for p in mine if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]
    for position, (a, b) in enumerate(zip(positional, my_positional, strict=False)):
        if a != b:
            problems.append(f"positional parameter {position} is {b!r}, nats-py's is {a!r}")
            break
    return problems


def member_cases() -> Iterator[tuple[str, Any, Any]]:
    for label, reference, ours in CLASSES:
        for name in _public_members(reference):
            yield f"{label}.{name}", getattr(reference, name), getattr(ours, name, None)


def api_cases() -> Iterator[tuple[str, Any, Any]]:
    for name, value in vars(nats.js.api).items():
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            yield f"api.{name}", value, getattr(natswire.jetstream.api, name, None)


MEMBERS = list(member_cases())
API = list(api_cases())


def test_connect_takes_nats_py_s_arguments() -> None:
    problems = parameter_problems(nats.aio.client.Client.connect, natswire.Client.connect)
    # connect's keywords are ConnectOptions fields: natswire.connect(**kwargs) checks them.
    from natswire.client.options import OPTION_NAMES

    keywords = set(inspect.signature(nats.aio.client.Client.connect).parameters) - {"self"}
    missing = keywords - OPTION_NAMES - {"ws_connection_headers"}  # the WebSocket change's
    assert not missing
    assert problems == [], problems
    assert parameter_problems(nats.connect, natswire.connect) == []


@pytest.mark.parametrize(("label", "reference", "ours"), MEMBERS, ids=[m[0] for m in MEMBERS])
def test_member(label: str, reference: Any, ours: Any) -> None:
    if label in ALLOWED:
        return
    assert ours is not None, f"natswire has no {label}"
    if isinstance(reference, property) or not callable(reference) or isinstance(reference, type):
        return
    function = ours.fget if isinstance(ours, property) else ours
    assert callable(function), label
    assert parameter_problems(reference, function) == []


@pytest.mark.parametrize(("label", "reference", "ours"), API, ids=[a[0] for a in API])
def test_api_dataclass(label: str, reference: type, ours: type | None) -> None:
    if label in ALLOWED:
        return
    assert ours is not None, f"natswire.jetstream.api has no {label[4:]}"
    mine = set(inspect.signature(ours).parameters)
    missing = [
        field.name
        for field in dataclasses.fields(reference)
        if field.name not in mine and f"{label}.{field.name}" not in ALLOWED
    ]
    assert not missing


def test_the_allow_list_names_what_nats_py_has() -> None:
    """No stale entries: each one names a member, a dataclass or a field of nats-py."""
    known = {label for label, _, _ in MEMBERS} | {label for label, _, _ in API}
    for label, reference, _ in API:
        known |= {f"{label}.{field.name}" for field in dataclasses.fields(reference)}
    assert not set(ALLOWED) - known
