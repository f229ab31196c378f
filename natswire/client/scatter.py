"""Scatter-gather requests (ADR-47): one request, every reply until a limit ends it.

``Client.request_many`` returns a :class:`ScatterGather`. Service discovery
(``$SRV.PING`` and friends) is its main use: every instance of every service answers
one request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator
from typing import TypeAlias

from ..protocol.headers import HeadersLike
from .errors import BadTimeoutError, TimeoutError
from .message import Message
from .requests import RequestHost, is_no_responders

#: Says whether a reply ends the gathering (the reply itself is not kept).
Sentinel: TypeAlias = Callable[[Message], bool]


def empty_payload(msg: Message) -> bool:
    """The standard sentinel of ADR-47: a reply with an empty payload ends the replies."""
    return not msg.data


class ScatterGather:
    """The replies to one request, gathered until the first of these ends it:

    - ``max_msgs`` replies have arrived;
    - ``stall`` seconds pass without a reply, once the first one has arrived;
    - a reply for which ``sentinel`` says true arrives (it is not kept); ``sentinel=True``
      means :func:`empty_payload`;
    - ``timeout`` seconds have passed since the request was sent;
    - the server says nobody listens on the subject (no responders): no replies.

    ``await`` it for the list of replies, or ``async for msg in ...`` to take each as it
    arrives. The request is sent when either starts, and runs once. The replies come to
    an inbox subscription of its own, removed when the gathering ends (or, when the
    loop is left early, when the iterator is closed or dropped).
    """

    def __init__(
        self,
        host: RequestHost,
        subject: str,
        payload: bytes = b"",
        timeout: float = 1.0,
        max_msgs: int | None = None,
        stall: float | None = None,
        sentinel: Sentinel | bool | None = None,
        headers: HeadersLike | None = None,
    ) -> None:
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise BadTimeoutError(f"timeout must be a positive number, got {timeout!r}")
        if stall is not None and (not isinstance(stall, (int, float)) or stall <= 0):
            raise BadTimeoutError(f"stall must be a positive number, got {stall!r}")
        if max_msgs is not None and (not isinstance(max_msgs, int) or max_msgs <= 0):
            raise ValueError(f"max_msgs must be a positive int, got {max_msgs!r}")
        self._host = host
        self.subject = subject
        self._payload = payload
        self._headers = headers
        self.timeout = timeout
        self.max_msgs = max_msgs
        self.stall = stall
        self.sentinel: Sentinel | None = (
            empty_payload if sentinel is True else sentinel if callable(sentinel) else None
        )
        self._started = False

    def __await__(self) -> Generator[object, None, list[Message]]:
        return self._collect().__await__()

    async def _collect(self) -> list[Message]:
        return [msg async for msg in self]

    def __aiter__(self) -> AsyncIterator[Message]:
        if self._started:
            raise RuntimeError("a scatter-gather request runs once")
        self._started = True
        return self._gather()

    async def _gather(self) -> AsyncIterator[Message]:
        host = self._host
        inbox = host.new_inbox()
        sub = await host.subscribe(inbox)
        try:
            await host.publish(self.subject, self._payload, inbox, self._headers)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.timeout
            stall, sentinel, max_msgs = self.stall, self.sentinel, self.max_msgs
            count = 0
            while True:
                wait = deadline - loop.time()
                if count and stall is not None and stall < wait:
                    wait = stall
                if wait <= 0:
                    return
                try:
                    msg = await sub.next_msg(timeout=wait)
                except TimeoutError:
                    return
                if is_no_responders(msg) or (sentinel is not None and sentinel(msg)):
                    return
                count += 1
                yield msg
                if max_msgs is not None and count >= max_msgs:
                    return
        finally:
            await sub.unsubscribe()
