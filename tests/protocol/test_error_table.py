"""The error hierarchy, and -ERR texts mapped to ServerError classes (notes §1.7)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from natswire.protocol import (
    ControlLineTooLongError,
    Err,
    LocalProtocolError,
    MaxPayloadError,
    NatsWireError,
    Parser,
    PayloadTooLargeError,
    ProtocolError,
    RemoteProtocolError,
    Role,
    ServerError,
    server_error_from_text,
)
from natswire.protocol import errors as e

# Every text nats-server sends to client connections, as the notes list them.
CATALOGUE: list[tuple[str, type[ServerError], bool]] = [
    ("Unknown Protocol Operation", e.UnknownOperationError, True),
    ("maximum control line exceeded", e.ControlLineExceededError, True),
    ("Maximum Payload Violation", e.MaxPayloadViolationError, True),
    ("Authorization Violation", e.AuthorizationError, True),
    ("Authentication Timeout", e.AuthenticationTimeoutError, True),
    ("Authorization Timeout", e.AuthenticationTimeoutError, True),  # the docs' old name
    ("User Authentication Expired", e.AuthenticationExpiredError, True),
    ("Account Authentication Expired", e.AuthenticationExpiredError, True),
    ("User Authentication Revoked", e.AuthenticationRevokedError, True),
    ("invalid client protocol", e.BadClientProtocolError, True),
    ("no responders requires headers support", e.NoRespondersRequiresHeadersError, True),
    ("maximum connections exceeded", e.MaxConnectionsExceededError, True),
    ("maximum account active connections exceeded", e.MaxConnectionsExceededError, True),
    ("Secure Connection - TLS Required", e.SecureConnectionRequiredError, True),
    (
        "Connection throttling is active. Please try again later.",
        e.ConnectionThrottledError,
        True,
    ),
    ("Stale Connection", e.StaleConnectionError, True),
    ("attempted to connect to route port", e.WrongPortError, True),
    ("attempted to connect to leaf node port", e.WrongPortError, True),
    ("attempted to connect to gateway port", e.WrongPortError, True),
    ("Failed Account Registration", e.AuthorizationError, True),
    ("Invalid Subject", e.InvalidSubjectError, False),
    ("Invalid Publish Subject", e.InvalidSubjectError, False),
    ('Permissions Violation for Subscription to "a.b"', e.PermissionsViolationError, False),
    (
        'Permissions Violation for Subscription to "a.b" using queue "q"',
        e.PermissionsViolationError,
        False,
    ),
    ('Permissions Violation for Publish to "a.b"', e.PermissionsViolationError, False),
    ('Permissions Violation for Publish with Reply of "r"', e.PermissionsViolationError, False),
    ("maximum subscriptions exceeded", e.MaxSubscriptionsExceededError, False),
]

SPELLINGS: dict[str, Callable[[str], str]] = {
    "as-sent": lambda text: text,
    "upper": str.upper,
    "lower": str.lower,
    "single-quoted": lambda text: f"'{text}'",
    "double-quoted": lambda text: f'"{text}"',
    "padded": lambda text: f"  {text} \t",
    "padded-quoted": lambda text: f" '{text}' ",
    "quoted-padded-inside": lambda text: f"' {text} '",
}


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
@pytest.mark.parametrize(
    ("text", "error_class", "fatal"), CATALOGUE, ids=[text[:40] for text, _, _ in CATALOGUE]
)
def test_catalogue(
    text: str, error_class: type[ServerError], fatal: bool, spelling: Callable[[str], str]
) -> None:
    sent = spelling(text)
    error = server_error_from_text(sent)
    assert type(error) is error_class
    assert error.fatal is fatal
    assert error.message == sent
    assert str(error) == sent
    assert isinstance(error, ServerError)
    assert isinstance(error, NatsWireError)
    assert not isinstance(error, ProtocolError)


@pytest.mark.parametrize(
    "text",
    ["Slow Consumer", "Parser Error", "", "'", "something new in 2.14", "Authorization"],
)
def test_unknown_text_is_a_fatal_server_error(text: str) -> None:
    error = server_error_from_text(text)
    assert type(error) is ServerError
    assert error.fatal is True
    assert error.message == text


def test_classes_distinguish_similar_prefixes() -> None:
    assert type(server_error_from_text("Invalid Publish Subject")) is e.InvalidSubjectError
    assert type(server_error_from_text("Authorization Timeout")) is e.AuthenticationTimeoutError
    assert type(server_error_from_text("Authorization Violation")) is e.AuthorizationError


def test_auth_family() -> None:
    for subclass in (
        e.AuthenticationTimeoutError,
        e.AuthenticationExpiredError,
        e.AuthenticationRevokedError,
    ):
        assert issubclass(subclass, e.AuthorizationError)


def test_from_a_parsed_err_frame() -> None:
    parser = Parser(Role.CLIENT)
    frames = parser.receive_data(
        b"-ERR 'Permissions Violation for Publish to \"secret\"'\r\n-ERR 'Stale Connection'\r\n"
    )
    assert frames == [
        Err('Permissions Violation for Publish to "secret"'),
        Err("Stale Connection"),
    ]
    first, second = (server_error_from_text(frame.message) for frame in frames)  # type: ignore[union-attr]
    assert isinstance(first, e.PermissionsViolationError) and not first.fatal
    assert isinstance(second, e.StaleConnectionError) and second.fatal


HIERARCHY = [
    (NatsWireError, Exception),
    (ProtocolError, NatsWireError),
    (LocalProtocolError, ProtocolError),
    (RemoteProtocolError, ProtocolError),
    (MaxPayloadError, LocalProtocolError),
    (ControlLineTooLongError, RemoteProtocolError),
    (PayloadTooLargeError, RemoteProtocolError),
    (ServerError, NatsWireError),
]


@pytest.mark.parametrize(("child", "parent"), HIERARCHY, ids=[c.__name__ for c, _ in HIERARCHY])
def test_hierarchy(child: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(child, parent)


def test_branches_do_not_cross() -> None:
    assert not issubclass(RemoteProtocolError, LocalProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    assert not issubclass(ServerError, ProtocolError)
    assert not issubclass(ProtocolError, ServerError)
    for _, error_class, _ in CATALOGUE:
        assert issubclass(error_class, ServerError)
        assert not issubclass(error_class, ProtocolError)
