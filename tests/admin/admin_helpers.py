"""Shared by the admin tests (a unique module name: ``tests`` is on ``sys.path``)."""

from __future__ import annotations

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
