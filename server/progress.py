"""Progress for long CLI commands: a rich bar on a terminal, plain lines otherwise (logs,
CI, pipes), so nothing but a terminal ever receives cursor movements.

Domain code takes a plain callback `(done_now, total)`; :meth:`Step.report` is one."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Step:
    def __init__(self, bar: Any | None, task: Any | None) -> None:
        self._bar, self._task = bar, task
        self.done = 0
        self.total: int | None = None

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.advance(self._task, count)

    def set_total(self, total: int) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def report(self, done_now: int, total: int) -> None:
        if total != self.total:
            self.set_total(total)
        self.advance(done_now)


@contextmanager
def progress(*descriptions: str) -> Iterator[list[Step]]:
    """One bar per step, all in one display (a spinner with a count until a total is known)."""
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=Console(stderr=True)) as bar:
            steps = [Step(bar, bar.add_task(text, total=None)) for text in descriptions]
            yield steps
            # An estimate that was off still ends as a full bar.
            for step in steps:
                step.set_total(step.done)
        return
    started = time.monotonic()
    for text in descriptions:
        print(f"{text} …", file=sys.stderr, flush=True)  # noqa: T201
    steps = [Step(None, None) for _text in descriptions]
    yield steps
    seconds = time.monotonic() - started
    for text, step in zip(descriptions, steps, strict=True):
        print(f"{text}: {step.done} in {seconds:.1f}s", file=sys.stderr, flush=True)  # noqa: T201
