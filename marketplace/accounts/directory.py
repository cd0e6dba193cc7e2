"""Read models of accounts for the people who manage them: operators' user search and
user page (A1), an institution admin's staff list. Masked values only; a borrower is found
by the blind index of the exact number, never by matching clear text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.columns.combination import Combinable

from marketplace.accounts.management import (
    ACTIVE,
    EMAIL_MAX,
    FROZEN,
    KIND_LABELS,
    STATUS_LABELS,
    may_manage,
)
from marketplace.accounts.roles import STAFF_ROLES, role_label
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import AccountStatusChange, BorrowerProfile, User
from marketplace.actors import Actor
from marketplace.audit.tables import AuditEntry
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.i18n import N_, _
from marketplace.institutions.tables import Institution
from marketplace.security import mask_ip, validate_mobile

KINDS = tuple(KIND_LABELS)
STATUSES = (ACTIVE, FROZEN)
SIGN_IN_ACTIONS = ("auth.login", "auth.login_failed")
RECENT_SIGN_INS = 10
MAX_RESULTS = 50
# Application references are "LM" + 6 digits + 10 characters; anything longer is not one.
REFERENCE_MAX = 24


@dataclass(frozen=True)
class UserRow:
    id: int
    kind: str
    kind_label: str
    display_name: str
    login: str  # e-mail for staff and operators, the masked number for borrowers
    role_label: str
    institution_name: str
    status: str
    status_label: str
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class StatusChangeRow:
    status: str
    status_label: str
    reason: str
    actor_label: str
    at: datetime


@dataclass(frozen=True)
class SignIn:
    at: datetime
    succeeded: bool
    ip_masked: str
    reason: str


@dataclass(frozen=True)
class UserDetail:
    user: UserRow
    real_name_masked: str
    id_number_masked: str
    mobile_masked: str
    institution_id: int | None
    totp_enrolled: bool
    history: list[StatusChangeRow]
    sign_ins: list[SignIn]
    may_manage: bool
    may_reset_second_factor: bool


_COLUMNS = (
    User.id,
    User.kind,
    User.display_name,
    User.login_key,
    User.mobile_masked,
    User.role,
    User.institution.id.as_alias("institution_id"),
    User.institution.short_name.as_alias("institution_name"),
    User.status,
    User.created_at,
    User.last_login_at,
    User.totp_secret_encrypted,
)


def _row(row: dict[str, Any]) -> UserRow:
    borrower = row["kind"] == "borrower"
    return UserRow(
        id=row["id"],
        kind=row["kind"],
        kind_label=_(KIND_LABELS.get(row["kind"], row["kind"])),
        display_name=row["display_name"],
        login=row["mobile_masked"] if borrower else row["login_key"],
        role_label=role_label(row["kind"], row["role"]),
        institution_name=row["institution_name"] or "",
        status=row["status"],
        status_label=_(STATUS_LABELS.get(row["status"], row["status"])),
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
    )


def _require_view(actor: Actor) -> None:
    if actor.kind != "operator" or not actor.can("user.view"):
        raise PermissionDenied()


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_users(
    actor: Actor,
    *,
    kind: str = "",
    status: str = "",
    institution_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[UserRow], int]:
    """Accounts by kind, status and institution (no personal data in these filters, so
    they may sit in the address bar), newest first."""
    _require_view(actor)
    where: Combinable = User.status.is_in(list(STATUSES))
    if kind:
        where &= User.kind == kind
    if status:
        where &= User.status == status
    if institution_id:
        where &= User.institution == institution_id
    total = await User.count().where(where)
    rows = (
        await User.select(*_COLUMNS)
        .where(where)
        .order_by(User.id, ascending=False)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [_row(row) for row in rows], total


def is_mobile_query(q: str) -> bool:
    """Digits, spaces, dashes and a leading + only: meant as a phone number."""
    return bool(q) and all(c.isdigit() or c in " -+()" for c in q)


def parse_search(kind: str, q: str) -> str:
    """The query, checked for its kind: a borrower is searched by a whole mobile number or
    an application reference, staff and operators by (part of) their e-mail."""
    q = q.strip()
    if not q:
        raise ValidationFailed({"q": _("请输入要查找的内容")})
    if any(not c.isprintable() for c in q):
        raise ValidationFailed({"q": _("查找内容含有无法识别的字符")})
    if kind == "borrower":
        if is_mobile_query(q):
            if error := validate_mobile(q):
                raise ValidationFailed({"q": _("请输入完整的11位手机号：{error}", error=error)})
            return q
        if len(q) > REFERENCE_MAX or not q.isascii() or not q.isalnum():
            raise ValidationFailed(
                {"q": _("请输入完整的11位手机号或申请编号（如 LM2611301234ABCDEF）")}
            )
        return q.upper()
    if kind not in ("staff", "operator"):
        raise ValidationFailed({"kind": _("请选择账号类型")})
    if len(q) > EMAIL_MAX:
        raise ValidationFailed({"q": _("邮箱最多{maximum}个字符", maximum=EMAIL_MAX)})
    if not q.isascii():
        raise ValidationFailed({"q": _("邮箱只能包含英文字母、数字和符号")})
    return q.lower()


async def find_users(
    actor: Actor, kind: str, q: str, *, institution_id: int | None = None
) -> list[UserRow]:
    """Borrowers by the exact number (through its blind index) — the caller resolves an
    application reference to its borrower with `users_by_id`; staff and operators by
    e-mail (a part of it is enough)."""
    _require_view(actor)
    q = parse_search(kind, q)
    if kind == "borrower":
        where: Combinable = (User.kind == "borrower") & (User.login_key == mobile_login_key(q))
    else:
        where = (User.kind == kind) & User.login_key.like(_like(q))
        if kind == "staff" and institution_id:
            where &= User.institution == institution_id
    rows = (
        await User.select(*_COLUMNS)
        .where(where & (User.status.is_in(list(STATUSES))))
        .order_by(User.id)
        .limit(MAX_RESULTS)
    )
    return [_row(row) for row in rows]


async def users_by_id(actor: Actor, user_ids: list[int]) -> list[UserRow]:
    _require_view(actor)
    if not user_ids:
        return []
    rows = await User.select(*_COLUMNS).where(User.id.is_in(user_ids)).order_by(User.id)
    return [_row(row) for row in rows]


async def _history(user_id: int) -> list[StatusChangeRow]:
    rows = (
        await AccountStatusChange.select()
        .where(AccountStatusChange.user == user_id)
        .order_by(AccountStatusChange.id, ascending=False)
    )
    return [
        StatusChangeRow(
            status=row["status"],
            status_label=_(STATUS_LABELS.get(row["status"], row["status"])),
            reason=row["reason"],
            actor_label=row["actor_label"],
            at=row["created_at"],
        )
        for row in rows
    ]


_FAILURE_REASONS = {"password": N_("密码错误"), "frozen": N_("账号已冻结")}


async def _sign_ins(user_id: int) -> list[SignIn]:
    rows = (
        await AuditEntry.select(AuditEntry.at, AuditEntry.action, AuditEntry.ip, AuditEntry.detail)
        .where(
            (AuditEntry.object_type == "user")
            & (AuditEntry.object_id == str(user_id))
            & AuditEntry.action.is_in(list(SIGN_IN_ACTIONS))
        )
        .order_by(AuditEntry.id, ascending=False)
        .limit(RECENT_SIGN_INS)
        .output(load_json=True)
    )
    return [
        SignIn(
            at=row["at"],
            succeeded=row["action"] == "auth.login",
            ip_masked=mask_ip(row["ip"] or ""),
            reason=""
            if row["action"] == "auth.login"
            else _(_FAILURE_REASONS.get((row["detail"] or {}).get("reason", ""), N_("失败"))),
        )
        for row in rows
    ]


async def user_detail(actor: Actor, user_id: int) -> UserDetail:
    _require_view(actor)
    row = (
        await User.select(*_COLUMNS)
        .where((User.id == user_id) & User.status.is_in(list(STATUSES)))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该账号"))
    profile = (
        await BorrowerProfile.select(
            BorrowerProfile.real_name_masked, BorrowerProfile.id_number_masked
        )
        .where(BorrowerProfile.user == user_id)
        .first()
    )
    return UserDetail(
        user=_row(row),
        real_name_masked=profile["real_name_masked"] if profile else "",
        id_number_masked=profile["id_number_masked"] if profile else "",
        mobile_masked=row["mobile_masked"],
        institution_id=row["institution_id"],
        totp_enrolled=bool(row["totp_secret_encrypted"]),
        history=await _history(user_id),
        sign_ins=await _sign_ins(user_id),
        may_manage=may_manage(actor, row["kind"]) and row["id"] != actor.user_id,
        may_reset_second_factor=(
            row["kind"] == "operator"
            and actor.can("operator.manage")
            and row["id"] != actor.user_id
        ),
    )


@dataclass(frozen=True)
class StaffRow:
    user: UserRow
    role: str
    mobile_masked: str
    is_self: bool


async def institution_staff(actor: Actor) -> list[StaffRow]:
    """Every account of the admin's own institution, admins first."""
    if actor.kind != "staff" or not actor.can("staff.manage"):
        raise PermissionDenied()
    rows = (
        await User.select(*_COLUMNS)
        .where(
            (User.kind == "staff")
            & (User.institution == actor.institution_id)
            & User.status.is_in(list(STATUSES))
        )
        .order_by(User.id)
    )
    order = list(STAFF_ROLES)
    rows.sort(key=lambda r: (order.index(r["role"]) if r["role"] in order else len(order), r["id"]))
    return [
        StaffRow(
            user=_row(row),
            role=row["role"],
            mobile_masked=row["mobile_masked"],
            is_self=row["id"] == actor.user_id,
        )
        for row in rows
    ]


async def staff_member(actor: Actor, user_id: int) -> tuple[StaffRow, list[StatusChangeRow]]:
    """One account of the admin's institution with its freeze history; another
    institution's account is a 404."""
    for row in await institution_staff(actor):
        if row.user.id == user_id:
            return row, await _history(user_id)
    raise NotFound(_("找不到该账号"))


async def institution_choices(actor: Actor) -> list[tuple[str, str]]:
    """(id, short name) of every institution, for the staff filter."""
    _require_view(actor)
    rows = await Institution.select(Institution.id, Institution.short_name).order_by(Institution.id)
    return [(str(row["id"]), row["short_name"]) for row in rows]
