"""What the current log lines belong to: a web request's id, or in the worker the job run
(`job:<name>:<outbox id>:<run>`, `cron:<name>`), so one run's lines can be found together."""

from __future__ import annotations

from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
