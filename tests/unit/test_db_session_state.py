"""The pool hands connections back without a reset round trip (`marketplace.db.start_pool`),
which is only right while no code leaves session state on a connection: a session-level
SET, LISTEN, a session advisory lock, a cursor or a prepared statement by name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("marketplace", "server", "search", "portal", "institution_console", "admin", "open_api")
# The first words of a statement that leave state on the session after the transaction.
SESSION_STATEMENT = re.compile(
    r"^\s*(?:(?i:SET)\s+(?!(?i:LOCAL|TRANSACTION|CONSTRAINTS)\b)(?i:SESSION\s+)?[A-Za-z_.]+"
    r"\s*(?:=|(?i:TO)\b)|RESET\b|LISTEN\b|DECLARE\b|PREPARE\b)"
)
SESSION_CALL = re.compile(
    r"\bpg_(try_)?advisory_lock(_shared)?\s*\(|\bset_config\s*\([^)]*false", re.IGNORECASE
)
SESSION_API = ("add_listener", "add_log_listener")


def _sources() -> list[Path]:
    return [path for name in CHECKED for path in sorted((ROOT / name).rglob("*.py"))]


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            statements = node.value.split(";")
            if any(SESSION_STATEMENT.match(statement) for statement in statements) or (
                SESSION_CALL.search(node.value)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
        if isinstance(node, ast.Attribute) and node.attr in SESSION_API:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    return found


def test_no_code_leaves_session_state_on_a_pooled_connection():
    problems = [problem for path in _sources() for problem in _problems(path)]
    assert problems == []


def test_the_check_sees_session_state():
    """The patterns catch what they are for (a check that cannot fail is no check)."""
    for sql in (
        "SET statement_timeout = 5",
        "SELECT 1; set search_path TO x",
        "LISTEN jobs",
        "SELECT pg_advisory_lock(1)",
        "SELECT set_config('x', 'y', false)",
    ):
        assert (
            SESSION_STATEMENT.match(sql)
            or any(SESSION_STATEMENT.match(part) for part in sql.split(";"))
            or SESSION_CALL.search(sql)
        ), sql
    for sql in (
        "Set a new password with a reset code",
        "SET LOCAL statement_timeout = 5",
        "UPDATE loan SET status = 'x'",
        "SELECT pg_advisory_xact_lock(1)",
    ):
        assert not SESSION_STATEMENT.match(sql) and not SESSION_CALL.search(sql), sql
