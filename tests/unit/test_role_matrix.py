"""The effective matrix: code defaults, then the super admin's edits (deny by default)."""

from __future__ import annotations

import pytest

from marketplace.accounts import role_matrix, roles


@pytest.fixture(autouse=True)
def _code_matrix():
    roles.install(roles.EffectiveMatrix())
    yield
    roles.install(roles.EffectiveMatrix())


def test_without_edits_the_code_matrix_applies_and_every_operator_may_read_roles() -> None:
    assert roles.has_permission("operator", "product_reviewer", "product.review")
    assert not roles.has_permission("operator", "product_reviewer", "audit.view")
    for role in roles.OPERATOR_ROLES:
        assert {"role.view", "parameter.view"} <= roles.permissions_of("operator", role)
    assert roles.has_permission("operator", "super_admin", "role.manage")
    assert roles.has_permission("operator", "super_admin", "parameter.manage")
    assert not roles.has_permission("operator", "auditor", "parameter.manage")
    # Staff and borrowers get nothing from the operators' extra line.
    assert "role.view" not in roles.permissions_of("staff", "institution_admin")


def test_edits_grant_and_revoke_on_top_of_the_defaults() -> None:
    roles.install(
        roles.EffectiveMatrix(
            token="t1",
            overrides={
                ("operator", "product_reviewer"): {"audit.view": True, "product.review": False}
            },
        )
    )
    assert roles.has_permission("operator", "product_reviewer", "audit.view")
    assert not roles.has_permission("operator", "product_reviewer", "product.review")
    assert roles.has_permission("operator", "product_reviewer", "dashboard.view")
    assert roles.loaded_token() == "t1"


def test_an_unknown_or_created_role_has_nothing_until_granted() -> None:
    assert roles.permissions_of("operator", "nobody") == frozenset()
    roles.install(
        roles.EffectiveMatrix(token="t2", custom_roles={"operator": {"analyst": "数据分析员"}})
    )
    assert roles.permissions_of("operator", "analyst") == frozenset()
    assert roles.roles_of("operator")["analyst"] == "数据分析员"
    assert roles.role_label("operator", "analyst") == "数据分析员"
    assert "analyst" not in roles.roles_of("staff")
    assert roles.roles_of("staff")["finance"] == "财务"


def test_every_permission_a_shipped_role_holds_has_a_label_and_a_group() -> None:
    """The matrix page shows labels, not codes: a permission added without one is caught."""
    codes = {
        code
        for kind, role in roles.default_matrix()
        for code in roles.default_permissions(kind, role)
    }
    assert sorted(codes - set(role_matrix.PERMISSION_LABELS)) == []
    assert sorted({c.split(".", 1)[0] for c in codes} - set(role_matrix.PERMISSION_GROUPS)) == []
