"""JSON log lines for the web and worker processes, the request id and the access log.

One JSON object per line: time, level, logger, message, request_id, and for access lines
method, route (the dotted route name, never the path: paths and query strings can carry
what people typed), status and duration_ms. The redaction filter sits on the handler.
Named `logs`, not `logging`, so `python server/x.py` can never shadow the standard module."""

from __future__ import annotations

import json
import logging
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

from litestar.types import Message, Receive, Scope, Send

from marketplace.security import install_log_redaction
from marketplace.tracing import current_request_id
from server.asgi import HttpMiddleware

# server.auth.request_id() reads the id from the connection state under this key.
REQUEST_ID_STATE_KEY = "lm_request_id"
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")

access_log = logging.getLogger("loanmart.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id.get(),
        }
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    """Root logger → one JSON handler with the redaction filter; replaces earlier handlers,
    so calling it again (a re-imported app, a second worker start) is harmless."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, JsonFormatter):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    install_log_redaction()


class RequestContextMiddleware(HttpMiddleware):
    """Pure ASGI, outermost: gives each request an id (state, log context, `X-Request-ID`)
    and writes one access line when it ends, whatever answered it."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]  # type: ignore[typeddict-item]  # http only, checked above
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})[REQUEST_ID_STATE_KEY] = request_id  # type: ignore[typeddict-item]
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            handler = scope.get("route_handler")  # type: ignore[call-overload]
            route = (
                (handler.name if handler is not None else None)
                or scope.get("path_template")  # type: ignore[call-overload]
                or "unmatched"
            )
            access_log.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            current_request_id.reset(token)
