"""Editing the role × permission matrix (PRODUCT.md A2) and keeping every process's copy
of it current.

The code matrix (`roles._PERMISSIONS`) is the default; a cell the super admin changed is a
`RoleGrant` row, a role they created a `CustomRole` row, and every edit a numbered
`RoleMatrixChange`. `roles.has_permission` / `permissions_of` stay synchronous: they read
an in-process copy of those rows. Freshness across processes: after an edit commits, the
writer stores a new random token under `MATRIX_STAMP_KEY` in Redis; `ensure_fresh()` —
called once per signed-in request by the guard (`server.auth.current_actor`) and before
every job and cron a worker runs (`marketplace.jobs`) — compares that token (one Redis GET) with
the one the copy was loaded under and reloads the rows when they differ (on a request,
the session load reads the token in the same round trip as the session). So an edit applies
in every web and worker process from their next request or job. A lost key (Redis flushed)
is replaced by a new token, which makes every process reload once.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError

from marketplace import cache
from marketplace.accounts import roles
from marketplace.accounts.management import SessionEnder
from marketplace.accounts.role_tables import CustomRole, RoleGrant, RoleMatrixChange
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import on_commit, transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from marketplace.i18n import N_, _
from marketplace.parsing import parse_reason

log = logging.getLogger(__name__)

MATRIX_STAMP_KEY = "role_matrix:stamp"
MANAGE = "role.manage"
EDITABLE_KINDS: dict[str, str] = {"operator": N_("运营人员"), "staff": N_("机构员工")}
# The super admin can always come back to the matrix: this cell cannot be revoked.
LOCKED_CELLS = frozenset({("operator", "super_admin", MANAGE)})
ROLE_CODE = re.compile(r"[a-z][a-z0-9_]{2,39}")
ROLE_LABEL_LENGTH = (2, 20)

PERMISSION_GROUPS: dict[str, str] = {
    "product": N_("产品"),
    "catalogue": N_("产品"),
    "promotion": N_("推广"),
    "lead": N_("线索与申请"),
    "application": N_("线索与申请"),
    "prescreen": N_("线索与申请"),
    "delivery": N_("线索与申请"),
    "offer": N_("线索与申请"),
    "loan": N_("贷款与催收"),
    "collection": N_("贷款与催收"),
    "consent": N_("授权与个人信息"),
    "data": N_("授权与个人信息"),
    "notice": N_("授权与个人信息"),
    "institution": N_("机构与协议"),
    "agreement": N_("机构与协议"),
    "api_client": N_("开放接口"),
    "webhook": N_("开放接口"),
    "settlement": N_("结算与对账"),
    "reconciliation": N_("结算与对账"),
    "dashboard": N_("系统管理"),
    "audit": N_("系统管理"),
    "jobs": N_("系统管理"),
    "parameter": N_("系统管理"),
    "role": N_("系统管理"),
    "user": N_("用户与员工"),
    "operator": N_("用户与员工"),
    "staff": N_("用户与员工"),
    "risk": N_("反欺诈"),
    "monitoring": N_("产品与机构监控"),
    "complaint": N_("投诉与反馈"),
    "campaign": N_("活动与横幅"),
    "rating": N_("评价"),
    "content": N_("内容管理"),
    "report": N_("数据分析"),
}
OTHER_GROUP = N_("其他")

PERMISSION_LABELS: dict[str, str] = {
    "product.view": N_("查看产品"),
    "product.edit": N_("新建与修改产品"),
    "product.review": N_("审核产品"),
    "catalogue.manage": N_("管理类别与排序"),
    "promotion.request": N_("申请推广"),
    "promotion.review": N_("审核推广"),
    "lead.view": N_("查看线索"),
    "lead.work": N_("处理线索"),
    "lead.assign": N_("分配线索"),
    "lead.reveal": N_("查看完整证件号或手机号"),
    "prescreen.manage": N_("管理预筛规则"),
    "delivery.manage": N_("管理接收设置"),
    "application.submit": N_("提交申请"),
    "application.view_own": N_("查看本人申请"),
    "application.documents": N_("上传补充资料"),
    "application.withdraw": N_("撤回申请"),
    "application.accept": N_("接受批复"),
    "offer.respond": N_("签署或婉拒批复"),
    "loan.view": N_("查看贷款"),
    "loan.view_own": N_("查看本人借款"),
    "loan.disburse": N_("登记放款"),
    "loan.record_repayment": N_("登记还款"),
    "collection.record": N_("登记催收联系"),
    "collection.view": N_("催收监控"),
    "consent.withdraw": N_("撤回授权"),
    "consent.confirm_deletion": N_("确认删除借款人信息"),
    "consent.oversee": N_("监督授权撤回"),
    "data.export": N_("导出本人信息"),
    "notice.settings": N_("通知设置"),
    "institution.view": N_("查看机构"),
    "institution.review": N_("审核入驻申请"),
    "institution.manage": N_("暂停、恢复或关闭机构"),
    "agreement.sign": N_("签署合作协议"),
    "agreement.manage": N_("发起与撤回合作协议"),
    "api_client.manage": N_("管理开放接口凭证"),
    "webhook.manage": N_("管理 Webhook"),
    "settlement.view": N_("查看结算单"),
    "settlement.respond": N_("确认或异议结算单"),
    "settlement.manage": N_("管理结算"),
    "reconciliation.view": N_("查看放款对账"),
    "reconciliation.report": N_("上报放款台账"),
    "reconciliation.resolve": N_("处理对账差异"),
    "dashboard.view": N_("查看概览"),
    "audit.view": N_("查看审计日志"),
    "jobs.view": N_("查看后台任务"),
    "jobs.manage": N_("重试后台任务"),
    "parameter.view": N_("查看系统参数"),
    "parameter.manage": N_("修改系统参数"),
    "role.view": N_("查看角色权限"),
    "role.manage": N_("编辑角色权限、新建角色"),
    "risk.view": N_("查看风险预警与黑名单"),
    "risk.manage": N_("处理风险预警、维护黑名单"),
    "user.view": N_("查找用户"),
    "user.manage": N_("冻结账号、重置密码、结束登录"),
    "operator.manage": N_("管理运营人员账号与身份验证器"),
    "staff.manage": N_("管理本机构员工"),
    "monitoring.view": N_("查看产品与机构监控"),
    "monitoring.manage": N_("处理监控案件、暂停或恢复产品与机构"),
    "monitoring.respond": N_("回复平台监控案件"),
    "complaint.file": N_("投诉、回复和评价自己的投诉"),
    "complaint.view": N_("查看投诉与反馈"),
    "complaint.handle": N_("处理投诉与反馈：受理、指派、转机构、办结"),
    "complaint.answer": N_("答复平台转来的投诉"),
    "campaign.view": N_("查看活动与横幅"),
    "campaign.manage": N_("编辑、启用与归档活动和横幅"),
    "rating.write": N_("评价申请过的产品、为评价点“有用”"),
    "rating.reply": N_("回复或举报本机构产品的评价"),
    "rating.view": N_("查看评价审核队列"),
    "rating.moderate": N_("审核评价：通过、驳回、隐藏"),
    "content.view": N_("查看资讯文章与审核记录"),
    "content.edit": N_("撰写与下线资讯文章"),
    "content.approve": N_("审核发布他人撰写的文章"),
    "report.view": N_("查看经营报表"),
}

# Permissions the web routes check (`opt["permission"]`), by access level: registered by
# the composition root when it builds the app, so a permission only a route names is known.
_route_permissions: dict[str, set[str]] = {}


def register_route_permissions(access: str, permissions: Iterable[str]) -> None:
    _route_permissions.setdefault(access, set()).update(permissions)


def known_permissions(kind: str) -> list[str]:
    """Every permission the code knows for this kind of account: granted to one of its
    shipped roles, or checked by one of its routes. Only these can be granted."""
    known: set[str] = set(_route_permissions.get(kind, ()))
    for role_kind, role in roles.default_matrix():
        if role_kind == kind:
            known |= roles.default_permissions(role_kind, role)
    return sorted(known)


def permission_label(code: str) -> str:
    return _(PERMISSION_LABELS[code]) if code in PERMISSION_LABELS else code


def permission_group(code: str) -> str:
    return _(PERMISSION_GROUPS.get(code.split(".", 1)[0], OTHER_GROUP))


# --- keeping the in-process copy current -------------------------------------------------


async def ensure_fresh(stamp: str | None = None) -> None:
    """Reload the matrix edits when another process (or this one) changed them.

    `stamp`: the token under `MATRIX_STAMP_KEY` when the caller has just read it (the
    session load reads it in the same round trip as the session); read here otherwise."""
    try:
        token = stamp if stamp is not None else await cache.redis().get(MATRIX_STAMP_KEY)
        if token is None:
            await cache.redis().set(MATRIX_STAMP_KEY, secrets.token_hex(8), nx=True)
            token = await cache.redis().get(MATRIX_STAMP_KEY)
    except RedisError:
        # Sessions need Redis too; until it is back, the copy loaded last stays in force.
        log.warning("role matrix token unavailable; keeping the loaded matrix")
        return
    if token and token != roles.loaded_token():
        await _load(token)


async def _load(token: str) -> None:
    overrides: dict[tuple[str, str], dict[str, bool]] = {}
    for row in await RoleGrant.select(
        RoleGrant.kind, RoleGrant.role, RoleGrant.permission, RoleGrant.granted
    ):
        overrides.setdefault((row["kind"], row["role"]), {})[row["permission"]] = row["granted"]
    custom: dict[str, dict[str, str]] = {}
    for row in await CustomRole.select(CustomRole.kind, CustomRole.code, CustomRole.label).order_by(
        CustomRole.id
    ):
        custom.setdefault(row["kind"], {})[row["code"]] = row["label"]
    roles.install(roles.EffectiveMatrix(token=token, overrides=overrides, custom_roles=custom))


async def _publish() -> None:
    """After commit: a new token tells every process to reload; this one reloads now."""
    token = secrets.token_hex(8)
    try:
        await cache.redis().set(MATRIX_STAMP_KEY, token)
    except RedisError:
        log.warning("role matrix token not published; other processes reload on next change")
    await _load(token)


# --- verbs -------------------------------------------------------------------------------


async def _next_version() -> int:
    """Serialises matrix edits (held until commit) and numbers the next one."""
    await RoleMatrixChange.raw("SELECT pg_advisory_xact_lock(hashtext('role_matrix'))")
    row = (
        await RoleMatrixChange.select(RoleMatrixChange.version)
        .order_by(RoleMatrixChange.version, ascending=False)
        .first()
    )
    return (row["version"] if row else 0) + 1


async def _role_exists(kind: str, role: str) -> bool:
    if kind not in EDITABLE_KINDS:
        return False
    if role in (roles.STAFF_ROLES if kind == "staff" else roles.OPERATOR_ROLES):
        return True
    return await CustomRole.exists().where((CustomRole.kind == kind) & (CustomRole.code == role))


async def set_permissions(
    actor: Actor,
    kind: str,
    role: str,
    wanted: Iterable[str],
    seen_versions: Mapping[str, int] | None,
    reason: str,
    *,
    end_sessions: SessionEnder | None,
) -> int:
    """Make the role hold exactly `wanted`: each cell that changes is granted or revoked,
    numbered, audited and kept in the history. `seen_versions` (the edit form) are the
    role's cell versions the editor saw: when any cell changed since, the whole form is
    refused (409) rather than applied over an edit the editor never saw. Returns how many
    cells changed. A revocation ends the sessions of everyone else holding the role
    (`end_sessions`; None only where nobody can be signed in, as in the demo seed)."""
    if not actor.can(MANAGE):
        raise PermissionDenied()
    if kind not in EDITABLE_KINDS:
        raise NotFound()
    wanted_set = set(wanted)
    known = set(known_permissions(kind))
    if unknown := wanted_set - known:
        raise DomainError(
            _("不认识的权限：{codes}", codes="、".join(sorted(unknown))[:200]), field="permissions"
        )
    why = parse_reason(reason)
    async with transaction():
        version = await _next_version()
        if not await _role_exists(kind, role):
            raise NotFound()
        cells = {
            row["permission"]: row
            for row in await RoleGrant.select().where(
                (RoleGrant.kind == kind) & (RoleGrant.role == role)
            )
        }
        if seen_versions is not None and any(
            seen_versions.get(permission, 0) != cell["version"]
            for permission, cell in cells.items()
        ):
            raise DomainError(_("这个角色的权限刚被其他人修改过，请刷新页面后重试"))
        defaults = roles.default_permissions(kind, role)
        changes: list[tuple[str, bool]] = []
        for permission in sorted(known):
            cell = cells.get(permission)
            now = cell["granted"] if cell else permission in defaults
            want = permission in wanted_set
            if now == want:
                continue
            if (kind, role, permission) in LOCKED_CELLS and not want:
                raise DomainError(_("超级管理员的“编辑角色权限”不能撤销"), field="permissions")
            changes.append((permission, want))
        if not changes:
            raise DomainError(_("没有改动：勾选或取消权限后再保存"), field="permissions")
        for offset, (permission, want) in enumerate(changes):
            number = version + offset
            await RoleGrant.insert(
                RoleGrant(
                    kind=kind,
                    role=role,
                    permission=permission,
                    granted=want,
                    version=number,
                    updated_by=actor.label,
                )
            ).on_conflict(
                target=(RoleGrant.kind, RoleGrant.role, RoleGrant.permission),
                action="DO UPDATE",
                values=[
                    RoleGrant.granted,
                    RoleGrant.version,
                    RoleGrant.updated_by,
                    RoleGrant.updated_at,
                ],
            )
            action = "grant" if want else "revoke"
            await RoleMatrixChange.insert(
                RoleMatrixChange(
                    version=number,
                    action=action,
                    kind=kind,
                    role=role,
                    permission=permission,
                    reason=why,
                    actor_id=actor.user_id,
                    actor_label=actor.label,
                )
            )
            await audit(
                actor,
                f"role.{action}",
                "role",
                f"{kind}:{role}",
                permission=permission,
                version=number,
                reason=why,
            )
        on_commit(_publish)
        holders = await User.select(User.id).where(
            (User.kind == kind) & (User.role == role) & (User.id != actor.user_id)
        )
    if end_sessions is not None and not all(want for _permission, want in changes):
        for holder in holders:
            await end_sessions(holder["id"])
    return len(changes)


async def create_role(actor: Actor, kind: str, code: str, label: str, reason: str) -> None:
    """A new role with no permission (deny by default); it appears in role pickers."""
    if not actor.can(MANAGE):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    if kind not in EDITABLE_KINDS:
        errors["kind"] = _("请选择角色适用的账号类型")
    if not ROLE_CODE.fullmatch(code):
        errors["code"] = _("角色代码应为3到40位小写字母、数字或下划线，以字母开头")
    low, high = ROLE_LABEL_LENGTH
    if not low <= len(label) <= high or any(not c.isprintable() for c in label):
        errors["label"] = _("角色名称应为{low}到{high}个字", low=low, high=high)
    try:
        why = parse_reason(reason)
    except DomainError as exc:
        errors["reason"] = exc.message
    if errors:
        raise ValidationFailed(errors)
    async with transaction():
        version = await _next_version()
        if await _role_exists(kind, code):
            raise DomainError(_("已有代码为 {code} 的角色", code=code), field="code")
        await CustomRole.insert(
            CustomRole(kind=kind, code=code, label=label, created_by=actor.label)
        )
        await RoleMatrixChange.insert(
            RoleMatrixChange(
                version=version,
                action="create_role",
                kind=kind,
                role=code,
                reason=why,
                actor_id=actor.user_id,
                actor_label=actor.label,
            )
        )
        await audit(actor, "role.create", "role", f"{kind}:{code}", label=label, reason=why)
        on_commit(_publish)


# --- read models -------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleColumn:
    kind: str
    code: str
    label: str
    custom: bool


@dataclass(frozen=True)
class MatrixCell:
    granted: bool
    default: bool
    version: int  # of the last edit of this cell; 0 when never edited

    @property
    def edited(self) -> bool:
        return self.granted != self.default


@dataclass(frozen=True)
class PermissionRow:
    code: str
    label: str
    cells: tuple[MatrixCell, ...]
    locked: bool = False


@dataclass(frozen=True)
class PermissionGroup:
    label: str
    rows: tuple[PermissionRow, ...]


@dataclass(frozen=True)
class MatrixView:
    kind: str
    kind_label: str
    roles: tuple[RoleColumn, ...]
    groups: tuple[PermissionGroup, ...]


@dataclass(frozen=True)
class MatrixChangeRow:
    version: int
    at: datetime
    actor_label: str
    action: str
    action_label: str
    kind_label: str
    role_label: str
    permission: str
    permission_label: str
    reason: str


_CHANGE_ACTIONS = {
    "grant": N_("授予"),
    "revoke": N_("撤销"),
    "create_role": N_("新建角色"),
}


async def _role_columns(kind: str, only: str | None = None) -> tuple[RoleColumn, ...]:
    shipped = roles.STAFF_ROLES if kind == "staff" else roles.OPERATOR_ROLES
    columns = [RoleColumn(kind, code, _(label), False) for code, label in shipped.items()]
    for row in (
        await CustomRole.select(CustomRole.code, CustomRole.label)
        .where(CustomRole.kind == kind)
        .order_by(CustomRole.id)
    ):
        columns.append(RoleColumn(kind, row["code"], row["label"], True))
    return tuple(c for c in columns if only is None or c.code == only)


async def matrix_view(kind: str, only_role: str | None = None) -> MatrixView:
    """The matrix as stored now (not the process copy), grouped by area."""
    if kind not in EDITABLE_KINDS:
        raise NotFound()
    columns = await _role_columns(kind, only_role)
    if only_role is not None and not columns:
        raise NotFound()
    cells: dict[tuple[str, str], dict] = {
        (row["role"], row["permission"]): row
        for row in await RoleGrant.select().where(RoleGrant.kind == kind)
    }
    grouped: dict[str, list[PermissionRow]] = {}
    for permission in known_permissions(kind):
        row_cells = []
        for column in columns:
            default = permission in roles.default_permissions(kind, column.code)
            cell = cells.get((column.code, permission))
            row_cells.append(
                MatrixCell(
                    granted=cell["granted"] if cell else default,
                    default=default,
                    version=cell["version"] if cell else 0,
                )
            )
        grouped.setdefault(permission_group(permission), []).append(
            PermissionRow(
                permission,
                permission_label(permission),
                tuple(row_cells),
                locked=any((kind, c.code, permission) in LOCKED_CELLS for c in columns),
            )
        )
    return MatrixView(
        kind=kind,
        kind_label=_(EDITABLE_KINDS[kind]),
        roles=columns,
        groups=tuple(PermissionGroup(label, tuple(rows)) for label, rows in grouped.items()),
    )


async def recent_changes(limit: int = 20) -> list[MatrixChangeRow]:
    rows = (
        await RoleMatrixChange.select()
        .order_by(RoleMatrixChange.version, ascending=False)
        .limit(limit)
    )
    custom = {
        (r["kind"], r["code"]): r["label"]
        for r in await CustomRole.select(CustomRole.kind, CustomRole.code, CustomRole.label)
    }
    result = []
    for row in rows:
        kind, role = row["kind"], row["role"]
        shipped = roles.STAFF_ROLES if kind == "staff" else roles.OPERATOR_ROLES
        role_text = _(shipped[role]) if role in shipped else custom.get((kind, role), role)
        result.append(
            MatrixChangeRow(
                version=row["version"],
                at=row["at"],
                actor_label=row["actor_label"],
                action=row["action"],
                action_label=_(_CHANGE_ACTIONS.get(row["action"], row["action"])),
                kind_label=_(EDITABLE_KINDS.get(kind, kind)),
                role_label=role_text,
                permission=row["permission"],
                permission_label=permission_label(row["permission"]) if row["permission"] else "",
                reason=row["reason"],
            )
        )
    return result
