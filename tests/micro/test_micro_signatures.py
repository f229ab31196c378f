"""natswire.micro offers nats-py's ``nats.micro`` calls: the same names, and signatures
that accept every call nats-py's accept (nats-py's parameters first, in order, of the same
kind and default; natswire may add optional ones after them)."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import nats.micro
import nats.micro.request as py_request
import nats.micro.service as py_service
import pytest

from natswire import micro

#: Classes compared member by member; nats-py's Endpoint, EndpointManager, GroupManager
#: and ServiceIdentity are internals and protocols, not calls an application makes.
CLASSES = (
    "EndpointConfig",
    "GroupConfig",
    "ServiceConfig",
    "EndpointStats",
    "EndpointInfo",
    "ServicePing",
    "ServiceStats",
    "ServiceInfo",
    "Service",
    "Group",
    "Request",
    "ServiceError",
)
CONSTANTS = (
    "DEFAULT_QUEUE_GROUP",
    "DEFAULT_PREFIX",
    "INFO_RESPONSE_TYPE",
    "PING_RESPONSE_TYPE",
    "STATS_RESPONSE_TYPE",
)


def nats_py(name: str) -> Any:
    for module in (nats.micro, py_service, py_request):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(name)


def accepts_every_call_of(ours: Any, theirs: Any) -> list[str]:
    """What in ``theirs``'s signature ``ours`` does not accept."""
    mine = list(inspect.signature(ours).parameters.values())
    problems = []
    for index, param in enumerate(inspect.signature(theirs).parameters.values()):
        if index >= len(mine):
            problems.append(f"missing parameter {param.name}")
            continue
        own = mine[index]
        if own.name != param.name or own.kind != param.kind:
            problems.append(f"parameter {index}: {own} instead of {param}")
        elif own.default != param.default and not (
            param.default is dataclasses.MISSING or own.default is param.default
        ):
            problems.append(f"{param.name} defaults to {own.default!r}, not {param.default!r}")
    problems += [
        f"extra required parameter {p.name}"
        for p in mine[len(inspect.signature(theirs).parameters) :]
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    return problems


def public_members(cls: type) -> list[str]:
    return [n for n in vars(cls) if not n.startswith("_") or n in ("__init__", "__aenter__")]


def test_the_top_level_names_of_nats_micro() -> None:
    for name in [*nats.micro.__all__, "Request", "Service", "ServiceConfig", "Handler"]:
        assert hasattr(micro, name), name


def test_add_service_signature() -> None:
    assert accepts_every_call_of(micro.add_service, nats.micro.add_service) == []
    assert inspect.iscoroutinefunction(micro.add_service)


@pytest.mark.parametrize("name", CLASSES)
def test_class_signatures_and_members(name: str) -> None:
    theirs, ours = nats_py(name), getattr(micro, name)
    assert accepts_every_call_of(ours, theirs) == [], "__init__"
    for member in public_members(theirs):
        their_member = inspect.getattr_static(theirs, member)
        assert hasattr(ours, member), f"{name}.{member} is missing"
        own_member = inspect.getattr_static(ours, member)
        if isinstance(their_member, property):
            assert isinstance(own_member, property), f"{name}.{member} is not a property"
            continue
        if isinstance(their_member, classmethod):
            their_member, own_member = getattr(theirs, member), getattr(ours, member)
        if not callable(their_member):
            continue
        problems = accepts_every_call_of(own_member, their_member)
        assert problems == [], f"{name}.{member}: {problems}"
        if inspect.iscoroutinefunction(their_member):
            # A coroutine in nats-py: ours is one too, or returns an awaitable at once
            # (respond, respond_error and reset do their work in the call).
            returns = inspect.signature(own_member).return_annotation
            assert inspect.iscoroutinefunction(own_member) or "Awaitable" in str(returns), (
                f"{name}.{member} cannot be awaited"
            )


@pytest.mark.parametrize("name", ["EndpointStats", "EndpointInfo", "ServiceInfo", "ServicePing"])
def test_dataclass_fields_match(name: str) -> None:
    theirs = [f.name for f in dataclasses.fields(nats_py(name))]
    ours = [f.name for f in dataclasses.fields(getattr(micro, name))]
    assert ours == theirs


def test_service_config_has_nats_py_fields_then_the_pending_limits() -> None:
    theirs = [f.name for f in dataclasses.fields(py_service.ServiceConfig)]
    ours = [f.name for f in dataclasses.fields(micro.ServiceConfig)]
    assert ours == [*theirs, "pending_msgs_limit_by_endpoint", "pending_bytes_limit_by_endpoint"]


def test_constants_and_subjects_are_nats_pys() -> None:
    for name in CONSTANTS:
        assert getattr(micro, name) == getattr(py_service, name), name
    for name in ("SEMVER_REGEX", "NAME_REGEX", "SUBJECT_REGEX"):
        assert getattr(micro, name).pattern == getattr(py_service, name).pattern, name
    assert micro.ERROR_HEADER == py_request.ERROR_HEADER
    assert micro.ERROR_CODE_HEADER == py_request.ERROR_CODE_HEADER
    assert [v.value for v in micro.ServiceVerb] == [v.value for v in py_service.ServiceVerb]
    for verb in py_service.ServiceVerb:
        ours = micro.ServiceVerb(verb.value)
        for name, id in ((None, None), ("svc", None), ("svc", "ID1")):
            assert micro.control_subject(ours, name, id) == py_service.control_subject(
                verb, name, id
            )
    assert accepts_every_call_of(micro.control_subject, py_service.control_subject) == []


def test_signature_check_is_not_vacuous() -> None:
    def theirs(a: int, b: int = 1) -> None: ...

    def renamed(a: int, c: int = 1) -> None: ...

    def new_default(a: int, b: int = 2) -> None: ...

    def required_extra(a: int, b: int = 1, *, c: int) -> None: ...

    def wider(a: int, b: int = 1, c: int = 0, **kw: Any) -> None: ...

    assert accepts_every_call_of(renamed, theirs)
    assert accepts_every_call_of(new_default, theirs)
    assert accepts_every_call_of(required_extra, theirs)
    assert accepts_every_call_of(wider, theirs) == []
