"""Role × permission matrix (PRODUCT.md A2). Deny by default.

The dicts below are the seeded default; the super admin's grants and revocations (and the
roles they create) live in tables and reach these functions through the in-process copy
that `marketplace.accounts.role_matrix.ensure_fresh` keeps current (see there)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from marketplace.i18n import N_, _

STAFF_ROLES: dict[str, str] = {
    "institution_admin": N_("机构管理员"),
    "product_manager": N_("产品经理"),
    "loan_officer": N_("信贷员"),
    "risk_officer": N_("风控专员"),
    "finance": N_("财务"),
}

OPERATOR_ROLES: dict[str, str] = {
    "super_admin": N_("超级管理员"),
    "institution_reviewer": N_("机构审核员"),
    "product_reviewer": N_("产品审核员"),
    "content_editor": N_("内容编辑"),
    "customer_service": N_("客服"),
    "risk_officer": N_("风控专员"),
    "finance": N_("财务"),
    "auditor": N_("审计员（只读）"),
}

_PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("borrower", "borrower"): frozenset(
        {
            "application.submit",
            "application.view_own",
            "application.documents",  # upload documents an institution asked for
            "application.withdraw",  # before signing (offers context)
            "application.accept",  # by signing an offer (offers context)
            "offer.respond",  # sign or decline an offer made to them
            "loan.view_own",
            "consent.withdraw",  # per institution, on /me/consents
            "data.export",  # a copy of everything held on them (PIPL art. 45)
            "notice.settings",  # which kinds of notice also come by SMS
        }
    ),
    ("staff", "institution_admin"): frozenset(
        {
            "product.view",
            "product.edit",
            "lead.view",
            "lead.work",
            "lead.assign",  # hand leads to staff of the institution
            "lead.reveal",  # see a lead's full ID number or phone, with a reason
            "loan.view",
            "loan.disburse",
            "loan.record_repayment",
            "collection.record",  # contacts on overdue loans (hours and daily cap enforced)
            "promotion.request",  # ask for a paid placement of a listed product (I7)
            "api_client.manage",  # Open API credentials of the institution
            "agreement.sign",  # the cooperation agreement with the platform (A5)
            "delivery.manage",  # lead caps, budget and filters (I6)
            "prescreen.manage",  # the institution's pre-screen rules (I4)
            "webhook.manage",  # receiver URLs, events, secrets and the deliveries log
            "consent.confirm_deletion",  # after a borrower withdraws consent
            "settlement.view",  # the institution's monthly statements (I10)
            "settlement.respond",  # confirm a statement or dispute its lines
            "reconciliation.view",  # disbursements reported vs the platform's loans (I10)
            "reconciliation.report",  # submit the month's disbursement ledger
            "reconciliation.resolve",  # close a discrepancy with a note
            "staff.manage",  # invite the institution's staff, change roles, disable / enable
            "monitoring.respond",  # read the platform's monitoring cases and respond (A7)
            "report.view",  # the institution's business reports (I8)
        }
    ),
    ("staff", "product_manager"): frozenset(
        {
            "product.view",
            "product.edit",
            "promotion.request",
            "monitoring.respond",
            "report.view",
        }
    ),
    ("staff", "loan_officer"): frozenset(
        {"product.view", "lead.view", "lead.work", "loan.view", "loan.disburse"}
    ),
    ("staff", "risk_officer"): frozenset(
        {
            "product.view",
            "lead.view",
            "lead.reveal",
            "loan.view",
            "collection.record",
            "prescreen.manage",
            "consent.confirm_deletion",
            "report.view",
        }
    ),
    ("staff", "finance"): frozenset(
        {
            "product.view",
            "loan.view",
            "loan.disburse",
            "loan.record_repayment",
            "settlement.view",
            "settlement.respond",
            "reconciliation.view",
            "reconciliation.report",
            "reconciliation.resolve",
            "report.view",
        }
    ),
    ("operator", "super_admin"): frozenset(
        {
            "product.review",
            "audit.view",
            "dashboard.view",
            "institution.view",
            "jobs.view",
            "jobs.manage",
            "collection.view",  # collection oversight across institutions (A8)
            "promotion.review",  # paid placements (A6)
            "catalogue.manage",  # ordering rules of lists (A6)
            "parameter.manage",  # system parameters (A3); a cost line change re-prices products
            "role.manage",  # edit the role × permission matrix, create roles (A2)
            "agreement.manage",  # offer and withdraw cooperation agreements (A5)
            "institution.review",  # partner applications (A4)
            "institution.manage",  # suspend / resume / close institutions
            "consent.oversee",  # institutions' deletion confirmations after withdrawals
            "settlement.view",  # every institution's statements (A11)
            "settlement.manage",  # build, issue, adjudicate, record payment, flag fraud
            "reconciliation.view",  # every institution's reconciliation (A11)
            "reconciliation.resolve",
            "risk.view",  # anti-fraud alerts, events, blacklist and rules (A8)
            "risk.manage",  # release / reject held applications, keep the blacklist
            "user.view",  # find borrowers, staff and operators; their status and history (A1)
            "user.manage",  # freeze / unfreeze, password reset, end sessions (not operators)
            "operator.manage",  # the same for operators' accounts, and their second factor
            "monitoring.view",  # figures, flags and cases per product / institution (A7)
            "monitoring.manage",  # decide cases: assign, note, suspend, dismiss, resume
        }
    ),
    ("operator", "product_reviewer"): frozenset(
        {
            "product.review",
            "dashboard.view",
            "promotion.review",
            "catalogue.manage",
            "monitoring.view",
        }
    ),
    ("operator", "institution_reviewer"): frozenset(
        {
            "institution.view",
            "dashboard.view",
            "institution.review",
            "institution.manage",
            "monitoring.view",
        }
    ),
    ("operator", "auditor"): frozenset(
        {
            "audit.view",
            "dashboard.view",
            "jobs.view",
            "collection.view",
            "consent.oversee",
            "settlement.view",
            "reconciliation.view",
            "risk.view",
            "user.view",
            "monitoring.view",
        }
    ),
    ("operator", "content_editor"): frozenset(
        {"dashboard.view", "promotion.review", "catalogue.manage"}
    ),
    ("operator", "risk_officer"): frozenset(
        {
            "dashboard.view",
            "collection.view",
            "risk.view",
            "risk.manage",
            "monitoring.view",
            "monitoring.manage",
        }
    ),
    ("operator", "customer_service"): frozenset(
        {
            "dashboard.view",
            "user.view",
            "user.manage",  # borrowers' and institution staff's accounts, never operators'
        }
    ),
    ("operator", "finance"): frozenset(
        {
            "dashboard.view",
            "agreement.manage",
            "settlement.view",
            "settlement.manage",
            "reconciliation.view",
            "reconciliation.resolve",
        }
    ),
}


# Every operator may read the matrix and the system parameters (A2, A3).
EVERY_OPERATOR: frozenset[str] = frozenset({"role.view", "parameter.view"})


def default_permissions(kind: str, role: str) -> frozenset[str]:
    """The role's permissions as shipped in code, before any edit of the matrix."""
    shipped = _PERMISSIONS.get((kind, role), frozenset())
    if kind == "operator" and role in OPERATOR_ROLES:
        return shipped | EVERY_OPERATOR
    return shipped


def default_matrix() -> dict[tuple[str, str], frozenset[str]]:
    return {key: default_permissions(*key) for key in _PERMISSIONS}


@dataclass(frozen=True)
class EffectiveMatrix:
    """The edits on top of the code matrix, as loaded from the database: cell overrides
    ((kind, role) → {permission: granted}) and the roles created on the admin pages."""

    token: str = ""
    overrides: Mapping[tuple[str, str], Mapping[str, bool]] = field(default_factory=dict)
    custom_roles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


_effective = EffectiveMatrix()


def install(matrix: EffectiveMatrix) -> None:
    """Swap in a freshly loaded matrix (role_matrix.ensure_fresh); one assignment, so a
    request never sees half of an update."""
    global _effective
    _effective = matrix


def loaded_token() -> str:
    return _effective.token


def permissions_of(kind: str, role: str) -> frozenset[str]:
    """Everything the role may do: page chrome shows only links and buttons it can use."""
    edits = _effective.overrides.get((kind, role))
    if not edits:
        return default_permissions(kind, role)
    granted = set(default_permissions(kind, role))
    for permission, grant in edits.items():
        if grant:
            granted.add(permission)
        else:
            granted.discard(permission)
    return frozenset(granted)


def has_permission(kind: str, role: str, permission: str) -> bool:
    return permission in permissions_of(kind, role)


def roles_of(kind: str) -> dict[str, str]:
    """Role code → label (translated) for role pickers: the shipped roles, then created ones."""
    shipped = STAFF_ROLES if kind == "staff" else OPERATOR_ROLES if kind == "operator" else {}
    roles = {code: _(label) for code, label in shipped.items()}
    roles.update(_effective.custom_roles.get(kind, {}))
    return roles


def role_label(kind: str, role: str) -> str:
    if kind == "borrower":
        return _("借款人")
    return roles_of(kind).get(role, role)
