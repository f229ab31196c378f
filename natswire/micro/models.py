"""What ``$SRV.PING``, ``$SRV.INFO`` and ``$SRV.STATS`` answer, as dataclasses that turn
into (``to_dict``) and come from (``from_dict``) the JSON of ADR-32, nats.go and nats-py.

Times are RFC 3339 in UTC (``2024-05-01T12:00:00.123456Z``); durations are integer
nanoseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .config import INFO_RESPONSE_TYPE, PING_RESPONSE_TYPE, STATS_RESPONSE_TYPE

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$")


def format_time(moment: datetime) -> str:
    """``moment`` as RFC 3339 in UTC with microseconds; a naive time is taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (any number of fraction digits, ``Z`` or an offset) as an aware
    UTC datetime; nanoseconds are cut to microseconds."""
    found = _RFC3339.match(text)
    if found is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    day, clock, fraction, zone = found.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if zone in ("Z", "z") else zone
    return datetime.fromisoformat(f"{day}T{clock}.{micros}{offset}").astimezone(timezone.utc)


@dataclass
class EndpointStats:
    """The statistics of one endpoint (times in nanoseconds)."""

    name: str
    subject: str
    queue_group: str
    num_requests: int
    num_errors: int
    processing_time: int
    average_processing_time: int
    last_error: str | None = None
    data: Any | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EndpointStats:
        """From the JSON object of one endpoint in a stats reply."""
        return cls(
            name=data["name"],
            subject=data["subject"],
            queue_group=data.get("queue_group", ""),
            num_requests=data.get("num_requests", 0),
            num_errors=data.get("num_errors", 0),
            processing_time=data.get("processing_time", 0),
            average_processing_time=data.get("average_processing_time", 0),
            last_error=data.get("last_error") or None,
            data=data.get("data"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this endpoint in a stats reply."""
        return {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "num_requests": self.num_requests,
            "num_errors": self.num_errors,
            "last_error": self.last_error or "",
            "processing_time": self.processing_time,
            "average_processing_time": self.average_processing_time,
            "data": self.data,
        }


@dataclass
class EndpointInfo:
    """What an info reply says of one endpoint."""

    name: str
    subject: str
    queue_group: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EndpointInfo:
        """From the JSON object of one endpoint in an info reply."""
        return cls(
            name=data["name"],
            subject=data["subject"],
            queue_group=data.get("queue_group", ""),
            metadata=data.get("metadata") or {},
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this endpoint in an info reply."""
        return {
            "name": self.name,
            "subject": self.subject,
            "queue_group": self.queue_group,
            "metadata": self.metadata,
        }


@dataclass
class ServicePing:
    """The reply to ``$SRV.PING``: who the instance is."""

    id: str
    name: str
    version: str
    metadata: dict[str, str] = field(default_factory=dict)
    type: str = PING_RESPONSE_TYPE

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServicePing:
        """From a ping reply's JSON object."""
        return cls(
            id=data["id"],
            name=data["name"],
            version=data["version"],
            metadata=data.get("metadata") or {},
            type=data.get("type", PING_RESPONSE_TYPE),
        )

    def to_dict(self) -> dict[str, Any]:
        """A ping reply's JSON object."""
        return {
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "version": self.version,
            "metadata": self.metadata,
        }


@dataclass
class ServiceStats:
    """The reply to ``$SRV.STATS``: the instance and each endpoint's statistics."""

    id: str
    name: str
    version: str
    started: datetime
    endpoints: list[EndpointStats] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    type: str = STATS_RESPONSE_TYPE

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceStats:
        """From a stats reply's JSON object."""
        return cls(
            id=data["id"],
            name=data["name"],
            version=data["version"],
            started=parse_time(data["started"]),
            endpoints=[EndpointStats.from_dict(e) for e in data.get("endpoints") or ()],
            metadata=data.get("metadata") or {},
            type=data.get("type", STATS_RESPONSE_TYPE),
        )

    def to_dict(self) -> dict[str, Any]:
        """A stats reply's JSON object."""
        return {
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "version": self.version,
            "metadata": self.metadata,
            "started": format_time(self.started),
            "endpoints": [endpoint.to_dict() for endpoint in self.endpoints],
        }


@dataclass
class ServiceInfo:
    """The reply to ``$SRV.INFO``: the instance, its description and its endpoints."""

    name: str
    id: str
    version: str
    description: str | None = None
    endpoints: list[EndpointInfo] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    type: str = INFO_RESPONSE_TYPE

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceInfo:
        """From an info reply's JSON object."""
        return cls(
            name=data["name"],
            id=data["id"],
            version=data["version"],
            description=data.get("description"),
            endpoints=[EndpointInfo.from_dict(e) for e in data.get("endpoints") or ()],
            metadata=data.get("metadata") or {},
            type=data.get("type", INFO_RESPONSE_TYPE),
        )

    def to_dict(self) -> dict[str, Any]:
        """An info reply's JSON object."""
        return {
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "version": self.version,
            "description": self.description or "",
            "metadata": self.metadata,
            "endpoints": [endpoint.to_dict() for endpoint in self.endpoints],
        }
