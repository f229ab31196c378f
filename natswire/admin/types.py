"""Typed answers of nats-server's monitoring endpoints.

Each result is a dataclass with the fields natswire knows; every other field of the
server's JSON is kept in ``extra`` (newer servers add fields), ``result["key"]`` reads
either, and :meth:`MonitorResult.as_dict` gives the JSON back as the server sent it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

R = TypeVar("R", bound="MonitorResult")


@dataclass
class MonitorResult:
    """Base of the monitoring results."""

    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    #: Fields holding nested results: field name -> result type (of the items of a list).
    _nested: ClassVar[dict[str, type[MonitorResult]]] = {}

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        if not isinstance(data, Mapping):
            raise TypeError(f"{cls.__name__} needs a JSON object, got {type(data).__name__}")
        names = {f.name for f in fields(cls)} - {"extra"}
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                extra[key] = value
                continue
            item = cls._nested.get(key)
            if item is not None:
                if isinstance(value, list):
                    value = [item.from_dict(v) if isinstance(v, Mapping) else v for v in value]
                elif isinstance(value, Mapping):
                    value = item.from_dict(value)
            known[key] = value
        return cls(**known, extra=extra)

    def as_dict(self) -> dict[str, Any]:
        """The JSON object, known and unknown fields together."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name != "extra":
                out[f.name] = _plain(getattr(self, f.name))
        out.update(self.extra)
        return out

    def __getitem__(self, key: str) -> Any:
        if key != "extra" and key in {f.name for f in fields(self)}:
            return getattr(self, key)
        return self.extra[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def _plain(value: Any) -> Any:
    if isinstance(value, MonitorResult):
        return value.as_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class Varz(MonitorResult):
    """``/varz``: the server's identity, configuration and totals."""

    server_id: str = ""
    server_name: str = ""
    version: str = ""
    proto: int = 0
    go: str = ""
    host: str = ""
    port: int = 0
    max_connections: int = 0
    max_payload: int = 0
    max_pending: int = 0
    start: str = ""
    now: str = ""
    uptime: str = ""
    mem: int = 0
    cores: int = 0
    cpu: float = 0.0
    connections: int = 0
    total_connections: int = 0
    routes: int = 0
    remotes: int = 0
    leafnodes: int = 0
    in_msgs: int = 0
    out_msgs: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    slow_consumers: int = 0
    subscriptions: int = 0
    system_account: str = ""
    jetstream: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConnInfo(MonitorResult):
    """One connection of ``/connz``."""

    cid: int = 0
    kind: str = ""
    type: str = ""
    ip: str = ""
    port: int = 0
    start: str = ""
    last_activity: str = ""
    stop: str | None = None
    reason: str = ""
    rtt: str = ""
    uptime: str = ""
    idle: str = ""
    pending_bytes: int = 0
    in_msgs: int = 0
    out_msgs: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    subscriptions: int = 0
    name: str = ""
    lang: str = ""
    version: str = ""
    tls_version: str = ""
    tls_cipher_suite: str = ""
    authorized_user: str = ""
    account: str = ""
    subscriptions_list: list[str] = field(default_factory=list)
    subscriptions_list_detail: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Connz(MonitorResult):
    """``/connz``: one page of connections."""

    server_id: str = ""
    now: str = ""
    num_connections: int = 0
    total: int = 0
    offset: int = 0
    limit: int = 0
    connections: list[ConnInfo] = field(default_factory=list)

    _nested: ClassVar[dict[str, type[MonitorResult]]] = {"connections": ConnInfo}


@dataclass
class Routez(MonitorResult):
    """``/routez``: the cluster routes."""

    server_id: str = ""
    server_name: str = ""
    now: str = ""
    num_routes: int = 0
    routes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Subsz(MonitorResult):
    """``/subsz``: the subscription table."""

    server_id: str = ""
    now: str = ""
    num_subscriptions: int = 0
    num_cache: int = 0
    num_inserts: int = 0
    num_removes: int = 0
    num_matches: int = 0
    cache_hit_rate: float = 0.0
    max_fanout: int = 0
    avg_fanout: float = 0.0
    total: int = 0
    offset: int = 0
    limit: int = 0
    subscriptions_list: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class JszAccount(MonitorResult):
    """One account of ``/jsz?accounts=true``."""

    name: str = ""
    id: str = ""
    memory: int = 0
    storage: int = 0
    reserved_memory: int = 0
    reserved_storage: int = 0
    accounts: int = 0
    api: dict[str, Any] = field(default_factory=dict)
    stream_detail: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Jsz(MonitorResult):
    """``/jsz``: JetStream usage, optionally per account, stream and consumer."""

    server_id: str = ""
    now: str = ""
    disabled: bool = False
    memory: int = 0
    storage: int = 0
    reserved_memory: int = 0
    reserved_storage: int = 0
    accounts: int = 0
    ha_assets: int = 0
    api: dict[str, Any] = field(default_factory=dict)
    streams: int = 0
    consumers: int = 0
    messages: int = 0
    bytes: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    meta_cluster: dict[str, Any] | None = None
    account_details: list[JszAccount] = field(default_factory=list)

    _nested: ClassVar[dict[str, type[MonitorResult]]] = {"account_details": JszAccount}


@dataclass
class Accountz(MonitorResult):
    """``/accountz``: the accounts, or one account's detail."""

    server_id: str = ""
    now: str = ""
    system_account: str = ""
    accounts: list[str] = field(default_factory=list)
    account_detail: dict[str, Any] | None = None


@dataclass
class Healthz(MonitorResult):
    """``/healthz``: ``status`` is ``"ok"`` when healthy (``status_code`` 200)."""

    status: str = ""
    status_code: int = 200
    error: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"
