"""The errors of the service API (:mod:`natswire.micro`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol.errors import NatsWireError


class MicroError(NatsWireError):
    """Root of the errors the service API raises."""


class ConfigValidationError(MicroError, ValueError):
    """A service, group or endpoint configuration breaks ADR-32's rules (a name that is
    not ``[A-Za-z0-9-_]+``, a version that is not semver, a subject with a space ...).

    Also a ``ValueError``, the class nats-py raises for the same mistakes.
    """


class ServiceStoppedError(MicroError):
    """An endpoint was added to a service that has been stopped."""


@dataclass
class ServiceError(MicroError):
    """Raise it in a handler to answer with this error code and description (the
    ``Nats-Service-Error-Code`` and ``Nats-Service-Error`` headers); nats-py's class."""

    code: str
    description: str

    def __str__(self) -> str:
        return f"{self.code}:{self.description}"

    def __repr__(self) -> str:
        return f"{self.code}:{self.description}"

    def to_dict(self) -> dict[str, Any]:
        """``{"code": ..., "description": ...}``."""
        return {"code": self.code, "description": self.description}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceError:
        """The error of a ``to_dict`` mapping (missing keys read as empty)."""
        return cls(code=data.get("code", ""), description=data.get("description", ""))
