"""Managing other people's accounts: operators (A1, /admin/users) and institution admins
for their own staff (/console/staff). Freeze / unfreeze with a reason, a password reset,
ending every session, resetting an operator's second factor, inviting staff, roles.

Sessions live in the web layer's store, so the verbs that end them take the store's
"end every session of this user" function (`SessionEnder`). A frozen account is refused on
its very next request anyway (services.actor_for reads the status on each one).

Rules that count accounts (never freeze the last active super admin; an institution keeps
one active institution_admin) lock the counted rows in id order before anything else, so
parallel requests are taken one after the other and each sees the others' outcome.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from marketplace import outbox
from marketplace.accounts.closure import DELETED_STATUS
from marketplace.accounts.codes import start_cooldown
from marketplace.accounts.credentials import RESET_PURPOSE
from marketplace.accounts.limits import clear
from marketplace.accounts.roles import STAFF_ROLES
from marketplace.accounts.services import login_failures
from marketplace.accounts.tables import AccountPasswordLink, AccountStatusChange, User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.cache import redis
from marketplace.db import transaction
from marketplace.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)
from marketplace.i18n import N_, _
from marketplace.notifications.services import send_email
from marketplace.parsing import FormReader, column_length, parse_choice, parse_text
from marketplace.security import hash_password_async, validate_password_strength
from marketplace.settings import settings

ACTIVE = "active"
FROZEN = "frozen"
STATUS_LABELS = {ACTIVE: N_("正常"), FROZEN: N_("已冻结"), DELETED_STATUS: N_("已注销")}
KIND_LABELS = {"borrower": N_("借款人"), "staff": N_("机构员工"), "operator": N_("运营人员")}
SUPER_ADMIN = "super_admin"
INSTITUTION_ADMIN = "institution_admin"
REASON_MIN = 2
REASON_MAX = column_length(AccountStatusChange.reason)
EMAIL_MAX = column_length(User.login_key)
NAME_MAX = 20
PASSWORD_LINK_HOURS = 72
TOKEN_MAX_LENGTH = 64
# A second password link within this many seconds is refused (double clicks, floods).
LINK_COOLDOWN_SECONDS = 60
# Where each kind of account sets its password (the web layer mounts these paths).
LINK_PATHS = {"staff": "/console/set-password", "operator": "/admin/set-password"}

# The web layer's "end every session of user N", returning how many ended.
SessionEnder = Callable[[int], Awaitable[int]]


def parse_reason(raw: Any) -> str:
    form = FormReader({"reason": raw})
    reason = form.field(
        "reason",
        parse_text,
        "",
        label=_("原因"),
        max_length=REASON_MAX,
        min_length=REASON_MIN,
        multiline=True,
    )
    form.raise_errors()
    return reason


def email_error(address: str) -> str | None:
    local, _at, domain = address.partition("@")
    if (
        not local
        or "." not in domain
        or "@" in domain
        or any(c.isspace() for c in address)
        or not address.isascii()
    ):
        return _("请填写正确的电子邮箱")
    return None


@dataclass(frozen=True)
class Target:
    id: int
    kind: str
    role: str
    status: str
    login_key: str
    display_name: str
    institution_id: int | None
    totp_enrolled: bool


async def _load(user_id: int, *, lock: bool) -> Target | None:
    query = User.select(
        User.id,
        User.kind,
        User.role,
        User.status,
        User.login_key,
        User.display_name,
        User.institution.as_alias("institution_id"),
        User.totp_secret_encrypted,
    ).where(User.id == user_id)
    row = await (query.lock_rows() if lock else query).first()
    if row is None:
        return None
    return Target(
        id=row["id"],
        kind=row["kind"],
        role=row["role"],
        status=row["status"],
        login_key=row["login_key"],
        display_name=row["display_name"],
        institution_id=row["institution_id"],
        totp_enrolled=bool(row["totp_secret_encrypted"]),
    )


def may_manage(actor: Actor, kind: str) -> bool:
    """Whether `actor` may act on accounts of `kind` (tenancy is checked on the row)."""
    if actor.kind == "operator":
        return actor.can("operator.manage" if kind == "operator" else "user.manage")
    return actor.kind == "staff" and kind == "staff" and actor.can("staff.manage")


def _visible(actor: Actor, target: Target | None) -> Target:
    """Another institution's account, or any non-staff account, does not exist for staff."""
    if target is None or target.status == DELETED_STATUS:
        raise NotFound(_("找不到该账号"))
    if actor.kind == "staff" and (
        target.kind != "staff" or target.institution_id != actor.institution_id
    ):
        raise NotFound(_("找不到该账号"))
    if actor.kind not in ("staff", "operator"):
        raise NotFound(_("找不到该账号"))
    return target


def _admin_group(target: Target, actor: Actor) -> Any | None:
    """The accounts that must keep one active member, if `target` is one of them: super
    admins always; an institution's admins when its own admin is acting (an operator may
    freeze a rogue institution's only admin)."""
    if target.kind == "operator" and target.role == SUPER_ADMIN:
        return (User.kind == "operator") & (User.role == SUPER_ADMIN)
    if target.kind == "staff" and target.role == INSTITUTION_ADMIN and actor.kind == "staff":
        return (
            (User.kind == "staff")
            & (User.role == INSTITUTION_ADMIN)
            & (User.institution == target.institution_id)
        )
    return None


async def _lock_group(group: Any) -> list[int]:
    """Lock the group's active members in id order; their ids, as committed by whoever
    held the locks before us."""
    rows = (
        await User.select(User.id)
        .where(group & (User.status == ACTIVE))
        .order_by(User.id)
        .lock_rows()
    )
    return [row["id"] for row in rows]


async def _still_active(actor: Actor) -> None:
    """The acting account itself may have been frozen or given another role by a parallel
    request since its permissions were loaded."""
    if not await User.exists().where(
        (User.id == actor.user_id) & (User.status == ACTIVE) & (User.role == actor.role)
    ):
        raise PermissionDenied(_("您的账号状态或角色已变化，请刷新后重试"))


async def _locked_target(actor: Actor, user_id: int) -> tuple[Target, list[int] | None]:
    """The target, checked for visibility and permission, with its admin group (if any)
    locked first and then its own row."""
    target = _visible(actor, await _load(user_id, lock=False))
    if not may_manage(actor, target.kind):
        raise PermissionDenied()
    group = _admin_group(target, actor)
    members = await _lock_group(group) if group is not None else None
    target = _visible(actor, await _load(user_id, lock=True))
    await _still_active(actor)
    return target, members


def _last_admin_message(target: Target) -> str:
    if target.kind == "operator":
        return _("这是最后一位正常状态的超级管理员，不能冻结")
    return _("机构至少需要一位正常状态的机构管理员")


async def change_status(
    actor: Actor, user_id: int, status: str, raw_reason: Any, end_sessions: SessionEnder
) -> bool:
    """Freeze (`frozen`) or unfreeze (`active`) an account with a reason. False when it
    already had that status (a second click changes nothing and records nothing). A frozen
    account's sessions are ended once the freeze is committed."""
    if status not in (ACTIVE, FROZEN):
        raise ValidationFailed({"action": _("请选择要执行的操作")})
    reason = parse_reason(raw_reason)
    async with transaction():
        target, members = await _locked_target(actor, user_id)
        if target.status == status:
            return False
        if status == FROZEN:
            if target.id == actor.user_id:
                raise DomainError(_("不能冻结或停用自己的账号"), field="reason")
            if members is not None and not set(members) - {target.id}:
                raise InvalidTransition(_last_admin_message(target))
        await User.update({User.status: status}).where(User.id == target.id)
        await AccountStatusChange.insert(
            AccountStatusChange(
                user=target.id,
                status=status,
                reason=reason,
                actor_kind=actor.kind,
                actor_label=actor.label,
            )
        )
        await audit(
            actor,
            "user.freeze" if status == FROZEN else "user.unfreeze",
            "user",
            target.id,
            kind=target.kind,
            reason=reason,
        )
    if status == FROZEN:
        await end_sessions(target.id)
    return True


async def end_all_sessions(
    actor: Actor, user_id: int, raw_reason: Any, end_sessions: SessionEnder
) -> int:
    """End every session of the account (signed in elsewhere, a lost phone); how many."""
    reason = parse_reason(raw_reason)
    async with transaction():
        target, _members = await _locked_target(actor, user_id)
        ended = await end_sessions(target.id)
        await audit(actor, "user.sessions_ended", "user", target.id, count=ended, reason=reason)
    return ended


async def send_password_reset(actor: Actor, user_id: int, raw_reason: Any) -> str:
    """A borrower gets an SMS reset code (the /password/forgot flow goes on from there);
    staff and operators a one-time link to set a new password. Returns "sms" or "email".
    A second request within the resend window is refused (Throttled)."""
    reason = parse_reason(raw_reason)
    async with transaction():
        target, _members = await _locked_target(actor, user_id)
        if target.status != ACTIVE:
            raise InvalidTransition(_("账号已冻结，请先解冻再发送密码重置"))
        if target.kind == "borrower":
            await start_cooldown(RESET_PURPOSE, target.login_key, field="reason")
            # The blind index, not the number: job payloads carry no personal data.
            await outbox.record("accounts.send_reset_code", login_key=target.login_key)
            channel = "sms"
        else:
            await _link_cooldown(target.id)
            await _send_password_link(target.id, target.kind, target.login_key, invited=False)
            channel = "email"
        await audit(
            actor, "user.password_reset_sent", "user", target.id, channel=channel, reason=reason
        )
    return channel


async def reset_second_factor(
    actor: Actor, user_id: int, raw_reason: Any, end_sessions: SessionEnder
) -> bool:
    """Remove an operator's authenticator: at the next sign-in they enrol a new one (the
    enrolment step of the sign-in). Their sessions end. False if none was enrolled."""
    if not actor.can("operator.manage"):
        raise PermissionDenied()
    reason = parse_reason(raw_reason)
    async with transaction():
        target, _members = await _locked_target(actor, user_id)
        if target.kind != "operator":
            raise NotFound(_("找不到该账号"))
        if target.id == actor.user_id:
            raise DomainError(_("不能重置自己的身份验证器，请联系另一位超级管理员"), field="reason")
        if not target.totp_enrolled:
            return False
        await User.update({User.totp_secret_encrypted: None}).where(User.id == target.id)
        await audit(actor, "operator.totp_reset", "user", target.id, reason=reason)
    await redis().delete(f"totp:last_step:{target.id}")
    await end_sessions(target.id)
    return True


# --- Institution staff (/console/staff) --------------------------------------------


@dataclass(frozen=True)
class Invitation:
    email: str
    name: str
    role: str


def parse_invitation(data: Mapping[str, Any]) -> Invitation:
    form = FormReader(data)
    email = form.field("email", parse_text, "", label=_("工作邮箱"), max_length=EMAIL_MAX)
    email = email.lower()
    if not email:
        form.fail("email", _("请填写工作邮箱"))
    elif error := email_error(email):
        form.fail("email", error)
    name = form.field("name", parse_text, "", label=_("姓名"), max_length=NAME_MAX, min_length=1)
    role = form.field("role", parse_choice, "", choices=STAFF_ROLES, label=_("角色"))
    form.raise_errors()
    return Invitation(email=email, name=name, role=role)


def _require_staff_admin(actor: Actor) -> int:
    if actor.kind != "staff" or not actor.can("staff.manage") or not actor.institution_id:
        raise PermissionDenied()
    return actor.institution_id


async def invite_staff(actor: Actor, data: Mapping[str, Any]) -> int:
    """A staff account of the actor's institution with no usable password; its holder sets
    one through the one-time link e-mailed to the address."""
    institution_id = _require_staff_admin(actor)
    invitation = parse_invitation(data)
    unusable = await hash_password_async(secrets.token_urlsafe(32))
    async with transaction():
        await _still_active(actor)
        # Parallel invitations of one address: the second waits here and then sees the first.
        await User.raw(
            "SELECT pg_advisory_xact_lock(hashtext('staff.invite'), hashtext({}))",
            invitation.email,
        )
        if await User.exists().where((User.kind == "staff") & (User.login_key == invitation.email)):
            raise ValidationFailed({"email": _("该邮箱已有机构用户账号")})
        rows = await User.insert(
            User(
                kind="staff",
                login_key=invitation.email,
                display_name=invitation.name,
                password_hash=unusable,
                role=invitation.role,
                institution=institution_id,
            )
        ).returning(User.id)
        user_id = int(rows[0]["id"])
        await _send_password_link(user_id, "staff", invitation.email, invited=True)
        await audit(actor, "staff.invite", "user", user_id, role=invitation.role)
    return user_id


async def change_staff_role(
    actor: Actor, user_id: int, raw_role: Any, end_sessions: SessionEnder
) -> bool:
    """False when the role is unchanged. The institution keeps one active admin. The
    member's sessions end once the change is committed: they sign in again as the new role."""
    _require_staff_admin(actor)
    form = FormReader({"role": raw_role})
    role = form.field("role", parse_choice, "", choices=STAFF_ROLES, label=_("角色"))
    form.raise_errors()
    async with transaction():
        target, members = await _locked_target(actor, user_id)
        if target.role == role:
            return False
        if target.id == actor.user_id:
            raise DomainError(_("不能修改自己的角色"), field="role")
        if members is not None and target.status == ACTIVE and not set(members) - {target.id}:
            raise InvalidTransition(_last_admin_message(target))
        await User.update({User.role: role}).where(User.id == target.id)
        await audit(actor, "staff.role_change", "user", target.id, role=role, was=target.role)
    await end_sessions(target.id)
    return True


# --- One-time set-password links ---------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _link_cooldown(user_id: int) -> None:
    key = f"passwordlink:cooldown:{user_id}"
    if not await redis().set(key, "1", nx=True, ex=LINK_COOLDOWN_SECONDS):
        raise Throttled(
            _("刚刚已发送过设置密码链接，请{seconds}秒后再试", seconds=LINK_COOLDOWN_SECONDS),
            field="reason",
            retry_after=max(1, int(await redis().ttl(key))),
        )


async def new_password_link(user_id: int) -> str:
    """A new one-time link's token (kept only hashed); the user's earlier unused links stop
    working, so `used_at` is set only by a password actually set. Joins the caller's
    transaction. Also the first institution admin's link (partners)."""
    await AccountPasswordLink.delete().where(
        (AccountPasswordLink.user == user_id) & AccountPasswordLink.used_at.is_null()
    )
    token = secrets.token_urlsafe(32)
    await AccountPasswordLink.insert(
        AccountPasswordLink(
            user=user_id,
            token_hash=_hash(token),
            expires_at=datetime.now(UTC) + timedelta(hours=PASSWORD_LINK_HOURS),
        )
    )
    return token


async def password_set_by_link(user_id: int) -> bool:
    """Whether the account has already set a password with one of its links."""
    return await AccountPasswordLink.exists().where(
        (AccountPasswordLink.user == user_id) & AccountPasswordLink.used_at.is_not_null()
    )


async def _send_password_link(user_id: int, kind: str, email: str, *, invited: bool) -> None:
    """A new link by e-mail. Joins the caller's transaction (the e-mail is an outbox row)."""
    token = await new_password_link(user_id)
    url = f"{settings.base_url}{LINK_PATHS[kind]}/{token}"
    if invited:
        body = _(
            "【LoanMart】您已受邀加入机构工作台。请在{hours}小时内设置密码（登录账号为本邮箱）：{url}",
            hours=PASSWORD_LINK_HOURS,
            url=url,
        )
    else:
        body = _(
            "【LoanMart】管理员为您发起了密码重置。请在{hours}小时内设置新密码：{url} 如有疑问请联系管理员。",
            hours=PASSWORD_LINK_HOURS,
            url=url,
        )
    await send_email(email, "account.set_password", body)


async def _password_link(token: str, kind: str, *, lock: bool = False) -> dict:
    """The unused, unexpired link of an account of `kind` (a staff link does not work on
    the operators' page), else NotFound."""
    invalid = NotFound(_("链接无效、已使用或已过期，请联系管理员重新发送"))
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise invalid
    query = AccountPasswordLink.select(
        AccountPasswordLink.id,
        AccountPasswordLink.user,
        AccountPasswordLink.user.login_key.as_alias("login_key"),
        AccountPasswordLink.user.display_name.as_alias("display_name"),
    ).where(
        (AccountPasswordLink.token_hash == _hash(token))
        & AccountPasswordLink.used_at.is_null()
        & (AccountPasswordLink.expires_at > datetime.now(UTC))
        & (AccountPasswordLink.user.kind == kind)
    )
    row = await (query.lock_rows() if lock else query).first()
    if row is None:
        raise invalid
    return row


async def check_password_link(token: str, kind: str) -> None:
    await _password_link(token, kind)


async def set_password_with_link(
    origin: Actor, kind: str, token: str, password: str, confirm: str
) -> None:
    """Single use: the link is locked, the password set and the link spent together; the
    sign-in lockout of the account is lifted."""
    if error := validate_password_strength(password):
        raise ValidationFailed({"password": error})
    if password != confirm:
        raise ValidationFailed({"confirm": _("两次输入的密码不一致")})
    password_hash = await hash_password_async(password)
    async with transaction():
        link = await _password_link(token, kind, lock=True)
        await User.update({User.password_hash: password_hash}).where(User.id == link["user"])
        await AccountPasswordLink.update({AccountPasswordLink.used_at: datetime.now(UTC)}).where(
            AccountPasswordLink.id == link["id"]
        )
        holder = Actor(
            user_id=link["user"],
            kind=kind,
            label=link["display_name"],
            ip=origin.ip,
            request_id=origin.request_id,
        )
        await audit(holder, "account.password_set_by_link", "user", link["user"])
    await clear(login_failures(kind, link["login_key"]))
