"""How services, groups and endpoints are configured, checked as ADR-32 says, and the
subjects a service is discovered on."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeAlias

from .errors import ConfigValidationError

if TYPE_CHECKING:
    from .models import EndpointStats
    from .request import Handler

#: The queue group of every endpoint that names none (nor its group or service).
DEFAULT_QUEUE_GROUP = "q"
#: The root of the discovery and monitoring subjects.
DEFAULT_PREFIX = "$SRV"

INFO_RESPONSE_TYPE = "io.nats.micro.v1.info_response"
PING_RESPONSE_TYPE = "io.nats.micro.v1.ping_response"
STATS_RESPONSE_TYPE = "io.nats.micro.v1.stats_response"

#: The regular expression semver.org suggests, as nats.go uses it.
SEMVER_REGEX = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
NAME_REGEX = re.compile(r"^[A-Za-z0-9\-_]+$")
#: No spaces; ``>`` only at the end.
SUBJECT_REGEX = re.compile(r"^[^ >]*[>]?$")

#: Extra statistics for an endpoint's ``data`` field in ``$SRV.STATS`` replies.
StatsHandler: TypeAlias = "Callable[[EndpointStats], Any]"


class ServiceVerb(str, Enum):
    """The three discovery and monitoring requests every service answers."""

    PING = "PING"
    STATS = "STATS"
    INFO = "INFO"


def control_subject(
    verb: ServiceVerb,
    name: str | None = None,
    id: str | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> str:
    """``$SRV.<VERB>``, ``$SRV.<VERB>.<name>`` or ``$SRV.<VERB>.<name>.<id>``."""
    if id is not None and name is None:
        raise ConfigValidationError("a service id needs the service name in a control subject")
    parts = [prefix, ServiceVerb(verb).value]
    if name is not None:
        parts.append(name)
    if id is not None:
        parts.append(id)
    return ".".join(parts)


def _check_name(what: str, name: str) -> None:
    if not name:
        raise ConfigValidationError(f"{what} name cannot be empty")
    if not isinstance(name, str) or not NAME_REGEX.fullmatch(name):
        raise ConfigValidationError(
            f"invalid {what} name {name!r}: only A-Z, a-z, 0-9, dash and underscore"
        )


def _check_subject(what: str, value: str | None) -> None:
    if value and not SUBJECT_REGEX.fullmatch(value):
        raise ConfigValidationError(f"invalid {what} {value!r}: no spaces, and '>' only at the end")


@dataclass
class EndpointConfig:
    """One endpoint: ``name`` (also its subject unless ``subject`` is given), the
    ``handler`` (a plain function or a coroutine function taking a :class:`Request`),
    its queue group (else its group's or service's, else ``"q"``) and metadata."""

    name: str
    handler: Handler
    queue_group: str | None = None
    subject: str | None = None
    metadata: dict[str, str] | None = None

    def __post_init__(self) -> None:
        _check_name("endpoint", self.name)
        if not callable(self.handler):
            raise ConfigValidationError(f"endpoint {self.name!r}: the handler is not callable")
        _check_subject("endpoint subject", self.subject)
        _check_subject("queue group", self.queue_group)


@dataclass
class GroupConfig:
    """A group: a subject prefix (``name``) and a default queue group for its endpoints."""

    name: str
    queue_group: str | None = None

    def __post_init__(self) -> None:
        _check_subject("group name", self.name)
        _check_subject("queue group", self.queue_group)


@dataclass
class ServiceConfig:
    """A service: its ``name`` (``[A-Za-z0-9-_]+``, shared by its instances), semver
    ``version``, description, metadata, default queue group and ``stats_handler`` (extra
    ``data`` per endpoint in stats), as nats-py has them; the pending limits of each
    endpoint's subscription (natswire's; default: the client's subscription defaults)."""

    name: str
    version: str
    description: str | None = None
    metadata: dict[str, str] | None = None
    queue_group: str | None = None
    stats_handler: StatsHandler | None = None
    pending_msgs_limit_by_endpoint: int | None = None
    pending_bytes_limit_by_endpoint: int | None = None

    def __post_init__(self) -> None:
        _check_name("service", self.name)
        if not self.version:
            raise ConfigValidationError("service version cannot be empty")
        if not isinstance(self.version, str) or not SEMVER_REGEX.fullmatch(self.version):
            raise ConfigValidationError(
                f"invalid service version {self.version!r}: it must be a semantic version "
                "(1.0.0, 2.1.3-alpha.1, ...)"
            )
        _check_subject("queue group", self.queue_group)
        for limit in (self.pending_msgs_limit_by_endpoint, self.pending_bytes_limit_by_endpoint):
            if limit is not None and (not isinstance(limit, int) or limit <= 0):
                raise ConfigValidationError(f"pending limits must be positive, got {limit!r}")
