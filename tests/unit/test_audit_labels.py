"""Every action and object type the code audits has a label on the operators' audit page
(otherwise the page shows raw codes such as `auth.login_failed` or `complaint #12`)."""

from __future__ import annotations

import ast
from pathlib import Path

from marketplace.applications.statuses import APPLICATION_MACHINE
from marketplace.audit.queries import ACTIONS, ACTOR_KINDS, OBJECT_TYPES
from marketplace.products.statuses import PRODUCT_MACHINE

ROOT = Path(__file__).resolve().parents[2]


def audited_literals(position: int = 1) -> set[str]:
    """String literals passed to `audit(...)` / `record(...)` at `position`: 1 the action,
    2 the object type."""
    found: set[str] = set()
    for path in (ROOT / "marketplace").rglob("*.py"):
        if "piccolo_migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"audit", "record"}
                and len(node.args) > position
                and isinstance(node.args[position], ast.Constant)
                and isinstance(node.args[position].value, str)
            ):
                found.add(node.args[position].value)
    return found


def test_every_literal_audit_action_has_a_label():
    literals = audited_literals()
    assert "auth.login_failed" in literals, "the scan found the audit calls"
    assert literals - set(ACTIONS) == set()


def test_every_audited_object_type_has_a_label():
    """Including the two passed through a variable: campaign verbs (`banner`/`campaign`)
    and analytics exports (`dashboard`/`report`)."""
    literals = audited_literals(2) | {"banner", "campaign", "dashboard", "report"}
    assert {"complaint", "monitoring_case", "role"} <= literals, "the scan found the calls"
    assert literals - set(OBJECT_TYPES) == set()


def test_every_state_machine_action_has_a_label():
    """Verbs audit `product.<action>` and `lead.<target state>`."""
    product_actions = {
        f"product.{name}" for exits in PRODUCT_MACHINE.table.values() for name in exits
    }
    lead_moves = {
        f"lead.{transition.target}"
        for exits in APPLICATION_MACHINE.table.values()
        for transition in exits.values()
        if transition.permission == "lead.work"
    }
    assert (product_actions | lead_moves) - set(ACTIONS) == set()


def test_every_actor_kind_has_a_label():
    assert {"borrower", "staff", "operator", "system", "visitor"} <= set(ACTOR_KINDS)
