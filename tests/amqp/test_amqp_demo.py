"""``natswire demo``: the Wire-style flow runs end to end and every check holds."""

from __future__ import annotations

import pytest

from natswire.cli import main


def test_demo_runs_and_every_check_holds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out
    assert "All checks held." in out
    assert "dead letter from user-notifications.alice.laptop (rejected)" in out
    assert "dead letter from user-notifications.bob.phone (expired)" in out
    assert "nothing published and unacked was lost across the crash" in out
