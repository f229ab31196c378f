"""A client of nats-server's HTTP monitoring endpoints (``-m``/``http_port``).

Standard library only: ``urllib`` run in a worker thread (:func:`asyncio.to_thread`),
so polling never blocks the event loop. Proxies from the environment are ignored (the
monitoring port is usually on a private address). A port nobody listens on, a timeout,
an HTTP error status or an answer that is not JSON raise :class:`MonitoringError`
saying which.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import ssl
import urllib.error
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..httpjson import HTTPStatusError, NotJSONError, request_json
from .errors import MonitoringError
from .types import Accountz, ConnInfo, Connz, Healthz, Jsz, Routez, Subsz, Varz

#: The monitoring URL used when none is given: ``$NATS_MONITOR_URL`` or port 8222.
DEFAULT_MONITOR_URL = "http://127.0.0.1:8222"

#: ``/connz`` sort options (nats-server's names).
CONNZ_SORTS = frozenset(
    {
        "cid",
        "start",
        "subs",
        "pending",
        "msgs_to",
        "msgs_from",
        "bytes_to",
        "bytes_from",
        "last",
        "idle",
        "uptime",
        "stop",
        "reason",
        "rtt",
    }
)
CONNZ_STATES = frozenset({"open", "closed", "any", "all"})
_BODY_PREVIEW = 300


def default_monitor_url() -> str:
    return os.environ.get("NATS_MONITOR_URL", "").strip() or DEFAULT_MONITOR_URL


def _normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url:
        raise ValueError("the monitoring URL must not be empty")
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) monitoring URL: {url!r}")
    return url


def _not_json(url: str, text: str) -> str:
    return f"monitoring endpoint {url} answered with something that is not JSON: {text!r}"


def _query(params: Mapping[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None or value is False:
            continue
        if value is True:
            value = "true"
        pairs.append((key, str(value)))
    return urllib.parse.urlencode(pairs)


class Monitor:
    """``Monitor("http://127.0.0.1:8222")``: typed calls to the monitoring endpoints.

    ``url`` may omit the scheme (``"127.0.0.1:8222"``). ``ssl_context`` is used for an
    ``https://`` URL. Every call is a coroutine; :meth:`get_json` is the blocking
    primitive underneath.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number, got {timeout!r}")
        self._url = _normalize_url(url or default_monitor_url())
        self._timeout = float(timeout)
        self._ssl_context = ssl_context

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"Monitor({self._url!r})"

    # ----------------------------------------------------------------- transport

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept_status: frozenset[int] = frozenset(),
    ) -> tuple[int, Any]:
        """GET ``path`` (blocking); return ``(status, decoded JSON)``.

        Statuses in ``accept_status`` with a JSON body are returned rather than raised.
        """
        query = _query(params or {})
        url = f"{self._url}/{path.lstrip('/')}" + (f"?{query}" if query else "")
        try:
            status, data = request_json(url, timeout=self._timeout, ssl_context=self._ssl_context)
        except HTTPStatusError as exc:
            if exc.status in accept_status:
                try:
                    return exc.status, json.loads(exc.text)
                except ValueError:
                    pass
            text = exc.text.strip()[:_BODY_PREVIEW]
            raise MonitoringError(
                f"monitoring endpoint {url} answered HTTP {exc.status}"
                + (f": {text}" if text else f" ({exc.reason})"),
                url,
                exc.status,
                text,
            ) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            raise MonitoringError(
                f"cannot reach the nats-server monitoring endpoint at {self._url} ({reason}); "
                "is the server running with monitoring enabled (-m PORT / http_port)?",
                url,
            ) from None
        except TimeoutError as exc:
            raise MonitoringError(
                f"monitoring endpoint {url} did not answer within {self._timeout:g} s", url
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise MonitoringError(
                f"monitoring endpoint {url} failed: {type(exc).__name__}: {exc} "
                "(is this the monitoring port, not the client port?)",
                url,
            ) from exc
        except NotJSONError as exc:
            text = exc.text.strip()[:_BODY_PREVIEW]
            raise MonitoringError(_not_json(url, text), url, exc.status, text) from None
        if data is None:  # an empty answer
            raise MonitoringError(_not_json(url, ""), url, status, "")
        return status, data

    async def request(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` in a worker thread; return the decoded JSON."""
        _, data = await asyncio.to_thread(self.get_json, path, params)
        return data

    async def _object(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        data = await self.request(path, params)
        if not isinstance(data, dict):
            raise MonitoringError(
                f"monitoring endpoint {self._url}/{path} answered {type(data).__name__}, "
                "not a JSON object",
                f"{self._url}/{path}",
            )
        return data

    # ----------------------------------------------------------------- endpoints

    async def varz(self) -> Varz:
        """``/varz``: identity, configuration, message and byte totals."""
        return Varz.from_dict(await self._object("varz"))

    async def connz(
        self,
        *,
        sort: str | None = None,
        auth: bool = False,
        subs: bool | str = False,
        offset: int = 0,
        limit: int | None = None,
        cid: int | None = None,
        state: str | None = None,
        user: str | None = None,
        account: str | None = None,
        mqtt_client: str | None = None,
        filter_subject: str | None = None,
    ) -> Connz:
        """``/connz``: one page of connections (``offset``, ``limit``), optionally sorted
        (:data:`CONNZ_SORTS`), with user and account (``auth``), subscriptions (``subs``
        True or ``"detail"``), or filtered by ``cid``, ``state`` (open, closed, any),
        ``user``, ``account``, ``mqtt_client`` or ``filter_subject``."""
        if sort is not None and sort not in CONNZ_SORTS:
            raise ValueError(
                f"unknown connz sort {sort!r} (one of {', '.join(sorted(CONNZ_SORTS))})"
            )
        if state is not None and state not in CONNZ_STATES:
            raise ValueError(f"unknown connz state {state!r} (open, closed or any)")
        if offset < 0 or (limit is not None and limit < 1):
            raise ValueError("offset must be >= 0 and limit >= 1")
        params: dict[str, Any] = {
            "sort": sort,
            "auth": auth,
            "subs": "detail" if subs == "detail" else bool(subs),
            "offset": offset or None,
            "limit": limit,
            "cid": cid,
            "state": state,
            "user": user,
            "acc": account,
            "mqtt_client": mqtt_client,
            "filter_subject": filter_subject,
        }
        return Connz.from_dict(await self._object("connz", params))

    async def connz_pages(self, *, page_size: int = 1024, **filters: Any) -> AsyncIterator[Connz]:
        """Every page of ``/connz`` in turn (``filters`` as :meth:`connz`, without
        ``offset`` and ``limit``)."""
        offset = 0
        while True:
            page = await self.connz(offset=offset, limit=page_size, **filters)
            yield page
            offset += len(page.connections)
            if not page.connections or offset >= page.total or filters.get("cid"):
                return

    async def connections(self, *, page_size: int = 1024, **filters: Any) -> list[ConnInfo]:
        """Every connection of ``/connz``, all pages."""
        out: list[ConnInfo] = []
        async for page in self.connz_pages(page_size=page_size, **filters):
            out.extend(page.connections)
        return out

    async def routez(self, *, subs: bool = False) -> Routez:
        """``/routez``: the cluster routes."""
        return Routez.from_dict(await self._object("routez", {"subs": subs}))

    async def subsz(
        self,
        *,
        subs: bool = False,
        offset: int = 0,
        limit: int | None = None,
        test: str | None = None,
        account: str | None = None,
    ) -> Subsz:
        """``/subsz``: subscription table statistics (with ``subs``, the subscriptions;
        ``test`` keeps those a publish to that subject would reach)."""
        params = {
            "subs": subs,
            "offset": offset or None,
            "limit": limit,
            "test": test,
            "acc": account,
        }
        return Subsz.from_dict(await self._object("subsz", params))

    async def jsz(
        self,
        *,
        account: str | None = None,
        accounts: bool = False,
        streams: bool = False,
        consumers: bool = False,
        config: bool = False,
        leader_only: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> Jsz:
        """``/jsz``: JetStream usage; ``accounts``/``account``, ``streams`` and
        ``consumers`` add detail."""
        params = {
            "acc": account,
            "accounts": accounts,
            "streams": streams,
            "consumers": consumers,
            "config": config,
            "leader-only": leader_only,
            "offset": offset or None,
            "limit": limit,
        }
        return Jsz.from_dict(await self._object("jsz", params))

    async def accountz(self, account: str | None = None) -> Accountz:
        """``/accountz``: the account names, or one account's detail."""
        return Accountz.from_dict(await self._object("accountz", {"acc": account}))

    async def healthz(
        self, *, js_enabled_only: bool = False, js_server_only: bool = False
    ) -> Healthz:
        """``/healthz``: an unhealthy server is an answer (``ok`` false), not an error."""
        params = {"js-enabled-only": js_enabled_only, "js-server-only": js_server_only}
        status, data = await asyncio.to_thread(
            self.get_json, "healthz", params, accept_status=frozenset({500, 503})
        )
        if not isinstance(data, dict):
            raise MonitoringError(f"healthz answered {data!r}", f"{self._url}/healthz", status)
        result = Healthz.from_dict(data)
        if "status_code" not in data:
            result.status_code = status
        return result
