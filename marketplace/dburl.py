"""DATABASE_URL → asyncpg connection arguments. Imports nothing of the app, so the test
suite can use it before it sets the environment that settings will read."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlparse


def engine_config(database_url: str) -> dict:
    """asyncpg connect kwargs; socket directories (embedded Postgres) come as ?host=."""
    parsed = urlparse(database_url)
    query = parse_qs(parsed.query)
    return {
        "user": unquote(parsed.username or "postgres"),
        "password": unquote(parsed.password) if parsed.password else None,
        "database": (parsed.path or "/postgres").lstrip("/") or "postgres",
        "host": query.get("host", [parsed.hostname or "127.0.0.1"])[0],
        "port": parsed.port or 5432,
    }
