"""`loanmart demo` restarts a child that dies, pausing longer while it keeps dying young.
The clock is passed in, so nothing here depends on timing."""

from __future__ import annotations

import os
import sys

from server.cli import Supervised

DIES = [sys.executable, "-c", "raise SystemExit(3)"]


def _died(child: Supervised) -> None:
    assert child.process is not None
    child.process.wait(30)


def test_a_dead_child_is_restarted_after_a_growing_pause():
    child = Supervised("worker", DIES, dict(os.environ))
    child.start(now=0.0)
    first_pid = child.process.pid
    _died(child)

    news = child.tick(now=1.0)
    assert news is not None and "worker" in news and "3" in news
    assert child.restart_at == 2.0
    assert child.tick(now=1.5) is None, "not before the pause is over"
    assert child.process.pid == first_pid

    assert child.tick(now=2.0) is not None
    assert child.process.pid != first_pid, "a new process"
    _died(child)
    child.tick(now=3.0)  # died young again: the pause doubles
    assert child.restart_at == 5.0
    child.tick(now=5.0)
    _died(child)
    child.tick(now=6.0)
    assert child.restart_at == 10.0


def test_a_child_that_ran_a_long_time_starts_over_from_the_first_pause():
    child = Supervised("web", DIES, dict(os.environ))
    child.pause = Supervised.MAX_PAUSE
    child.start(now=0.0)
    _died(child)
    child.tick(now=Supervised.STABLE_AFTER + 1)
    assert child.restart_at == Supervised.STABLE_AFTER + 1 + Supervised.FIRST_PAUSE


def test_a_running_child_is_left_alone():
    child = Supervised(
        "web", [sys.executable, "-c", "import time; time.sleep(30)"], dict(os.environ)
    )
    child.start(now=0.0)
    try:
        assert child.tick(now=100.0) is None
    finally:
        child.process.kill()
        child.process.wait()
