"""The machinery of the JetStream API dataclasses (:mod:`.api`): JSON in
(:meth:`Base.from_response`, unknown keys kept in ``extra``), JSON out
(:meth:`Base.as_request`), durations in seconds here and nanoseconds on the wire, and
times as ``datetime`` here and RFC 3339 on the wire."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

_NANOS = 1_000_000_000

B = TypeVar("B", bound="Base")
_FIELD_NAMES: dict[type, frozenset[str]] = {}
_REQUIRED_NAMES: dict[type, tuple[str, ...]] = {}


def _to_nanos(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return round(value * _NANOS)


def _from_nanos(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return value / _NANOS


def _encode_time(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def parse_time(value: Any) -> Any:
    """An RFC 3339 time from the server (nanosecond precision) as a UTC ``datetime``,
    as nats-py parses it; anything else is returned unchanged."""
    if not isinstance(value, str) or not value:
        return value
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    try:
        return datetime.datetime.fromisoformat(text).astimezone(datetime.timezone.utc)
    except ValueError:
        return value


@dataclass
class Base:
    """Conversion between a dataclass and the server's JSON."""

    #: Fields in seconds here and nanoseconds on the wire (lists are converted item-wise).
    duration_fields: ClassVar[frozenset[str]] = frozenset()
    #: Fields holding another :class:`Base` (or a list of them).
    _nested: ClassVar[dict[str, type[Base]]] = {}
    #: Fields holding an enum; a value this client does not know stays a plain string.
    _enums: ClassVar[dict[str, type[enum.Enum]]] = {}
    #: Fields holding a time: a ``datetime`` here (parsed from the server's RFC 3339,
    #: as nats-py does), sent as RFC 3339.
    time_fields: ClassVar[frozenset[str]] = frozenset()

    #: Fields the server sent that this class does not know, sent back unchanged.
    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False, compare=False)

    @classmethod
    def _field_names(cls) -> frozenset[str]:
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = frozenset(f.name for f in dataclasses.fields(cls) if f.name != "extra")
            _FIELD_NAMES[cls] = names
        return names

    @classmethod
    def _required_names(cls) -> tuple[str, ...]:
        """Fields without a default: set to ``None`` when the server leaves them out."""
        names = _REQUIRED_NAMES.get(cls)
        if names is None:
            names = tuple(
                f.name
                for f in dataclasses.fields(cls)
                if f.name != "extra"
                and f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
            )
            _REQUIRED_NAMES[cls] = names
        return names

    @classmethod
    def from_response(cls: type[B], data: dict[str, Any]) -> B:
        """Build from the server's JSON object; unknown keys go to ``extra``."""
        names = cls._field_names()
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                extra[key] = value
                continue
            if value is not None:
                if key in cls.duration_fields:
                    value = (
                        [_from_nanos(v) for v in value]
                        if isinstance(value, list)
                        else _from_nanos(value)
                    )
                elif key in cls._nested:
                    nested = cls._nested[key]
                    if isinstance(value, list):
                        value = [
                            nested.from_response(v) if isinstance(v, dict) else v for v in value
                        ]
                    elif isinstance(value, dict):
                        value = nested.from_response(value)
                elif key in cls._enums:
                    with contextlib.suppress(ValueError):
                        value = cls._enums[key](value)
                elif key in cls.time_fields:
                    value = parse_time(value)
            known[key] = value
        for name in cls._required_names():
            if name not in known:
                known[name] = None
        obj = cls(**known)
        obj.extra = extra
        return obj

    def as_request(self) -> dict[str, Any]:
        """The JSON object to send: fields that are not ``None``, plus ``extra``."""
        out: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = _encode_value(self, f.name, value)
        return out

    def as_dict(self) -> dict[str, Any]:
        """nats-py's name for :meth:`as_request`."""
        return self.as_request()

    def evolve(self: B, **changes: Any) -> B:
        """A copy with ``changes`` applied (nats-py's name)."""
        unknown = set(changes) - self._field_names() - {"extra"}
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        copy = dataclasses.replace(self, **changes)
        if "extra" not in changes:
            copy.extra = dict(self.extra)
        return copy


def _encode_value(obj: Base, name: str, value: Any) -> Any:
    if isinstance(value, Base):
        return value.as_request()
    if isinstance(value, enum.Enum):
        return value.value
    if name in obj.duration_fields:
        return [_to_nanos(v) for v in value] if isinstance(value, list) else _to_nanos(value)
    if name in obj.time_fields:
        return _encode_time(value)
    if isinstance(value, list):
        return [v.as_request() if isinstance(v, Base) else v for v in value]
    return value
