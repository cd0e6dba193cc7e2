"""Controllers do not catch domain errors by hand: server/errors.py maps them to HTTP and
server.forms.submit_form re-renders forms. The few deliberate exceptions are listed here
with their reason, so a new one is a decision, not an accident."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SURFACES = ("portal", "institution_console", "admin", "open_api")
DOMAIN_ERRORS = {
    "DomainError",
    "ValidationFailed",
    "InvalidTransition",
    "Throttled",
    "NotFound",
    "PermissionDenied",
}
ALLOWED = {
    # The live APR preview answers its errors as a 200 fragment: htmx swaps only successes.
    ("institution_console/products.py", "ValidationFailed"),
    # Too many wrong second-factor codes end the half-signed-in session: a redirect, not a form.
    ("server/login.py", "Throttled"),
    ("server/login.py", "DomainError"),
}


def caught_domain_errors(source: str) -> set[str]:
    caught: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            caught |= {t.id for t in types if isinstance(t, ast.Name)} & DOMAIN_ERRORS
    return caught


def test_controllers_leave_domain_errors_to_the_one_mapping():
    files = [p for surface in SURFACES for p in (ROOT / surface).rglob("*.py")]
    files.append(ROOT / "server" / "login.py")
    found = {
        (str(path.relative_to(ROOT)), name)
        for path in files
        for name in caught_domain_errors(path.read_text())
    }
    assert found - ALLOWED == set()


def test_the_scan_sees_an_except_clause():
    source = "try:\n    pass\nexcept (DomainError, KeyError):\n    pass\n"
    assert caught_domain_errors(source) == {"DomainError"}
