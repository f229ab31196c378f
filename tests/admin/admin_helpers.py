"""Shared by the admin tests (a unique module name: ``tests`` is on ``sys.path``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import natswire
from natswire import amqp

#: A system account ``SYS`` (user ``sys``) and an application account ``APP`` with
#: JetStream (users ``app`` and ``app2``); passwords equal user names.
ACCOUNTS = """
accounts {
  SYS { users = [{user: sys, password: sys}] }
  APP {
    users = [{user: app, password: app}, {user: app2, password: app2}]
    jetstream: enabled
  }
}
system_account: SYS
"""

Connect = Callable[..., Awaitable[natswire.Client]]
AmqpConnect = Callable[..., Awaitable[amqp.Connection]]


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
