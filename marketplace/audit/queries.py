"""Read model of the audit log for the operators' audit page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from piccolo.columns.combination import WhereRaw

from marketplace.audit.tables import AuditEntry
from marketplace.i18n import N_, _
from marketplace.loancalc import SHANGHAI

ACTOR_KINDS: dict[str, str] = {
    "operator": N_("运营人员"),
    "staff": N_("机构用户"),
    "borrower": N_("借款人"),
    "system": N_("系统"),
    "visitor": N_("访客"),
    "api_client": N_("开放接口客户端"),
}

# Actions without a label here are shown by their code, which is always shown anyway.
ACTIONS: dict[str, str] = {
    "product.create": N_("创建产品"),
    "product.update": N_("修改产品"),
    "product.edit": N_("退回草稿修改"),
    "product.submit": N_("提交审核"),
    "product.approve": N_("审核通过"),
    "product.reject": N_("审核驳回"),
    "product.pause": N_("暂停产品"),
    "product.resume": N_("重新提交上架"),
    "product.delist": N_("下架产品"),
    "product.suspend": N_("平台暂停产品"),
    "product.reinstate": N_("平台恢复产品"),
    "promotion.request": N_("申请推广"),
    "promotion.withdraw": N_("撤回推广申请"),
    "promotion.approve": N_("通过推广申请"),
    "promotion.reject": N_("驳回推广申请"),
    "promotion.start": N_("推广开始"),
    "promotion.end": N_("推广结束"),
    "ranking.rules": N_("修改列表排序规则"),
    "category.create": N_("新建产品类别"),
    "legal.published": N_("发布法律文本新版本"),
    "notifications.sms_preferences": N_("修改短信通知设置"),
    "category.update": N_("修改产品类别"),
    "product.reprice": N_("按LPR与利率警戒线重新定价"),
    "parameter.change": N_("修改系统参数"),
    "role.grant": N_("授予角色权限"),
    "role.revoke": N_("撤销角色权限"),
    "role.create": N_("新建角色"),
    "lead.reviewing": N_("开始审核线索"),
    "lead.approved": N_("批复线索"),
    "lead.rejected": N_("拒绝线索"),
    "lead.assign": N_("分配线索"),
    "lead.reveal": N_("查看线索完整证件号或手机号"),
    "lead.export": N_("导出线索"),
    "lead.documents_requested": N_("要求借款人补充资料"),
    "document.upload": N_("借款人上传资料"),
    "document.attach": N_("借款人用“我的资料”中的文件补充资料"),
    "document.delete": N_("借款人删除尚未提交的资料"),
    "document.library_upload": N_("借款人保存文件到“我的资料”"),
    "document.library_download": N_("借款人下载“我的资料”中的文件"),
    "document.library_delete": N_("借款人删除“我的资料”中的文件"),
    "profile.update": N_("借款人修改申请资料"),
    "recommendations.calibrate": N_("计算获批可能性校准"),
    "monitoring.case_open": N_("监控规则触发，开立案件"),
    "monitoring.case_assign": N_("指派监控案件"),
    "monitoring.case_note": N_("添加监控案件备注"),
    "monitoring.case_respond": N_("机构回复监控案件"),
    "monitoring.export": N_("导出监控指标"),
    "monitoring.case_suspend": N_("监控案件：暂停产品或机构"),
    "monitoring.case_dismiss": N_("监控案件：驳回，不处理"),
    "monitoring.case_resume": N_("监控案件：恢复产品或机构"),
    "campaign.banner_create": N_("新建首页横幅"),
    "campaign.banner_update": N_("修改首页横幅"),
    "campaign.banner_activate": N_("启用首页横幅"),
    "campaign.banner_withdraw": N_("首页横幅撤回为草稿"),
    "campaign.banner_archive": N_("归档首页横幅"),
    "campaign.create": N_("新建活动页"),
    "campaign.update": N_("修改活动页"),
    "campaign.activate": N_("启用活动页"),
    "campaign.withdraw": N_("活动页撤回为草稿"),
    "campaign.archive": N_("归档活动页"),
    "campaign.export": N_("导出活动与横幅列表"),
    "rating.submit": N_("借款人提交或修改产品评价"),
    "rating.vote": N_("借款人为评价点“有用”"),
    "rating.reply": N_("机构回复评价"),
    "rating.report": N_("机构举报评价"),
    "rating.approve": N_("评价审核：通过并发布"),
    "rating.reject": N_("评价审核：驳回"),
    "rating.hide": N_("评价审核：隐藏已发布的评价"),
    "rating.export": N_("导出评价审核记录"),
    "analytics.export": N_("导出数据看板或经营报表"),
    "document.return": N_("借款人提交补充资料"),
    "document.download": N_("下载借款人资料"),
    "borrower.register": N_("借款人注册"),
    "prescreen.draft": N_("新建预筛规则草稿"),
    "prescreen.edit": N_("修改预筛规则草稿"),
    "prescreen.publish": N_("发布预筛规则"),
    "prescreen.retire": N_("停用预筛规则"),
    "prescreen.screen": N_("预筛规则评分"),
    "application.submit": N_("提交借款申请"),
    "application.delivered": N_("申请交付机构"),
    "application.withdrawn": N_("申请撤回（授权已撤回）"),
    "loan.disburse": N_("登记放款"),
    "loan.repayment": N_("登记还款"),
    "loan.daily_overdue": N_("每日逾期计算"),
    "loan.repayment_file": N_("上传还款文件"),
    "loan.export": N_("导出贷款"),
    "collection.record": N_("登记催收联系"),
    "collection.refuse": N_("催收联系被平台拒绝"),
    "collection.export": N_("导出催收监控"),
    "consent.granted": N_("同意向机构提供信息"),
    "consent.withdrawn": N_("撤回向机构提供信息的授权"),
    "consent.deletion_requested": N_("借款人撤回授权，待机构确认删除"),
    "consent.deletion_confirmed": N_("机构确认已删除借款人信息"),
    "data_export.requested": N_("借款人申请导出个人信息"),
    "data_export.ready": N_("个人信息副本已生成"),
    "data_export.link_issued": N_("生成个人信息下载链接"),
    "data_export.downloaded": N_("借款人下载个人信息副本"),
    "application.accepted": N_("借款人签约，申请已接受"),
    "offer.made": N_("发送批复方案"),
    "offer.code_sent": N_("发送签约验证码"),
    "offer.signed": N_("借款人签署借款合同"),
    "offer.declined": N_("借款人婉拒批复方案"),
    "offer.withdrawn": N_("批复随申请撤回"),
    "agreement.offered": N_("发起合作协议"),
    "agreement.withdrawn": N_("撤回合作协议"),
    "agreement.code_sent": N_("发送协议签署验证码"),
    "agreement.signed": N_("机构签署合作协议"),
    "agreement.superseded": N_("合作协议由新版本取代"),
    "agreement.expired": N_("合作协议到期"),
    "settlement.statement_rebuilt": N_("重新生成结算单草稿"),
    "settlement.statement_issued": N_("出具结算单"),
    "settlement.statement_confirmed": N_("机构确认结算单"),
    "settlement.line_disputed": N_("机构对结算明细提出异议"),
    "settlement.dispute_accepted": N_("采纳结算异议"),
    "settlement.dispute_rejected": N_("驳回结算异议"),
    "settlement.payment_recorded": N_("登记结算收款"),
    "settlement.lead_flagged": N_("标记欺诈线索"),
    "settlement.statement_downloaded": N_("下载结算单"),
    "delivery.settings_saved": N_("修改线索接收设置"),
    "application.not_delivered": N_("申请未送达机构"),
    "message.post": N_("发送站内消息"),
    "auth.login": N_("登录"),
    "account.password_changed": N_("修改登录密码"),
    "account.password_reset": N_("短信验证重置密码"),
    "account.sessions_ended": N_("退出其他设备"),
    "account.phone_changed": N_("更换登录手机号"),
    "account.mobile_bound": N_("绑定或更换账号手机号"),
    "account.deletion_requested": N_("申请注销账户"),
    "account.deletion_cancelled": N_("撤销注销申请"),
    "account.deleted": N_("注销账户（已匿名化）"),
    "auth.login_failed": N_("登录失败"),
    "auth.second_factor": N_("二次验证通过"),
    "auth.second_factor_failed": N_("二次验证失败"),
    "operator.totp_enrol": N_("绑定动态验证码"),
    "job.retry": N_("重试后台任务"),
    "webhook.create": N_("添加 Webhook 接收地址"),
    "webhook.update": N_("修改 Webhook 接收地址"),
    "webhook.delete": N_("删除 Webhook 接收地址"),
    "webhook.rotate_secret": N_("轮换 Webhook 签名密钥"),
    "webhook.redeliver": N_("重新投递 Webhook"),
    "job.retry_dead": N_("重试全部失败任务"),
    "api_client.create": N_("创建开放接口客户端"),
    "api_client.revoke": N_("吊销开放接口客户端"),
    "api_client.token": N_("开放接口客户端获取访问令牌"),
    "partner_application.submit": N_("提交机构入驻申请"),
    "partner_application.review": N_("开始审核入驻申请"),
    "partner_application.request_more": N_("要求入驻申请补充材料"),
    "partner_application.reply": N_("入驻申请人补充材料"),
    "partner_application.approve": N_("入驻申请通过"),
    "partner_application.reject": N_("入驻申请驳回"),
    "partner_document.view": N_("查看入驻材料"),
    "partner_application.resend_link": N_("重发机构管理员设置密码链接"),
    "staff.create": N_("创建机构管理员账号"),
    "staff.password_set": N_("通过一次性链接设置密码"),
    "institution.admit": N_("机构准入"),
    "institution.activate": N_("机构启用（已签协议）"),
    "institution.suspend": N_("暂停机构合作"),
    "institution.resume": N_("恢复机构合作"),
    "institution.close": N_("终止机构合作"),
    "institution.licence_reminder": N_("发送许可证到期提醒"),
    "institution.licences": N_("更新机构证照有效期"),
    "application.undeliverable": N_("申请未送达（机构暂停合作）"),
    "reconciliation.submit": N_("报送放款台账"),
    "reconciliation.row": N_("录入或更正放款台账行"),
    "reconciliation.resolve": N_("处理对账差异"),
    "reconciliation.export": N_("导出放款对账"),
    "risk.hold": N_("风险评分达到阈值，申请暂停交付"),
    "risk.release": N_("风控放行申请"),
    "risk.reject": N_("风控拒绝申请"),
    "risk.registration_refused": N_("风险评分达到阈值，拒绝注册"),
    "risk.blacklist_add": N_("加入黑名单"),
    "risk.blacklist_remove": N_("移出黑名单"),
    "audit.export": N_("导出审计日志"),
    "user.freeze": N_("冻结账号"),
    "user.unfreeze": N_("解冻账号"),
    "user.sessions_ended": N_("结束账号的所有登录"),
    "user.password_reset_sent": N_("为账号发送密码重置"),
    "operator.totp_reset": N_("重置运营人员身份验证器"),
    "staff.invite": N_("邀请机构员工"),
    "staff.role_change": N_("修改机构员工角色"),
    "account.password_set_by_link": N_("通过管理员发送的链接设置密码"),
    "complaint.file": N_("借款人提交投诉"),
    "complaint.feedback": N_("提交意见反馈"),
    "complaint.assign": N_("受理并指派投诉"),
    "complaint.forward": N_("投诉转机构处理"),
    "complaint.answer": N_("机构答复投诉"),
    "complaint.resolve": N_("办结投诉"),
    "complaint.escalate": N_("升级投诉"),
    "complaint.reopen": N_("借款人不满意，重新投诉"),
    "complaint.close": N_("关闭投诉"),
    "complaint.autoclose": N_("投诉到期自动关闭"),
    "complaint.rate": N_("借款人评价投诉处理"),
    "complaint.reply": N_("回复投诉"),
    "complaint.note": N_("添加投诉内部备注"),
    "complaint.export": N_("导出投诉列表"),
    "complaint.sla_reminder": N_("投诉即将到期提醒"),
    "complaint.overdue": N_("投诉超期标记"),
    "complaint.attachment_download": N_("下载投诉附件"),
    "content.article_create": N_("新建文章草稿"),
    "content.article_edit": N_("修改文章"),
    "content.article_submit": N_("提交文章审核"),
    "content.article_approve": N_("审核通过文章（发布或定时发布）"),
    "content.article_return": N_("退回文章修改"),
    "content.article_unpublish": N_("下线文章"),
    "content.article_redraft": N_("下线文章转为草稿"),
    "content.article_publish": N_("定时发布文章"),
    "content.image_upload": N_("上传文章图片"),
}

OBJECT_TYPES: dict[str, str] = {
    "product": N_("产品"),
    "product_rating": N_("产品评价"),
    "parameter": N_("系统参数"),
    "application": N_("申请"),
    "institution": N_("机构"),
    "loan": N_("贷款"),
    "loan_run": N_("逾期计算批次"),
    "loan_file": N_("还款文件"),
    "reconciliation_report": N_("放款台账"),
    "reconciliation_resolution": N_("对账差异处理"),
    "collection_report": N_("催收监控报表"),
    "user": N_("账号"),
    "consent": N_("授权"),
    "consent_withdrawal": N_("授权撤回"),
    "data_export": N_("个人信息副本"),
    "outbox_message": N_("后台任务"),
    "api_client": N_("开放接口客户端"),
    "partner_application": N_("入驻申请"),
    "partner_document": N_("入驻材料"),
    "prescreen_rule_set": N_("预筛规则"),
    "legal_version": N_("法律文本版本"),
    "risk_blacklist": N_("黑名单条目"),
    "risk_screening": N_("风险筛查"),
    "audit_log": N_("审计日志"),
    "article": N_("文章"),
    "agreement": N_("合作协议"),
    "statement": N_("结算单"),
    "offer": N_("批复方案"),
    "delivery_settings": N_("线索交付设置"),
    "promotion": N_("推广申请"),
    "product_category": N_("产品分类"),
    "ordering_rules": N_("排序规则"),
    "banner": N_("首页横幅"),
    "campaign": N_("活动页"),
    "campaign_list": N_("活动与横幅列表"),
    "complaint": N_("投诉"),
    "complaint_desk": N_("投诉列表"),
    "monitoring_case": N_("监控案件"),
    "monitoring_board": N_("监控指标"),
    "role": N_("角色"),
    "borrower_profile": N_("借款人资料"),
    "library_document": N_("我的资料文件"),
    "webhook_endpoint": N_("Webhook 接收地址"),
    "webhook_delivery": N_("Webhook 推送"),
    "odds_calibration": N_("推荐概率校准"),
    "dashboard": N_("概览"),
    "report": N_("经营报表"),
}


@dataclass(frozen=True, kw_only=True)
class AuditRow:
    id: int
    at: datetime
    actor_kind: str
    actor_kind_label: str
    actor_id: int | None
    actor_label: str
    action: str
    action_label: str
    object_type: str
    object_label: str
    object_id: str
    ip: str
    request_id: str


def _row(entry: dict[str, Any]) -> AuditRow:
    def label(table: dict[str, str], key: str) -> str:
        return _(table[key]) if key in table else key

    return AuditRow(
        id=entry["id"],
        at=entry["at"],
        actor_kind=entry["actor_kind"],
        actor_kind_label=label(ACTOR_KINDS, entry["actor_kind"]),
        actor_id=entry["actor_id"],
        actor_label=entry["actor_label"],
        action=entry["action"],
        action_label=label(ACTIONS, entry["action"]),
        object_type=entry["object_type"],
        object_label=label(OBJECT_TYPES, entry["object_type"]),
        object_id=entry["object_id"],
        ip=entry["ip"],
        request_id=entry["request_id"],
    )


MAX_TEXT = 100
MAX_OBJECT_ID = 40


@dataclass(frozen=True, kw_only=True)
class AuditFilters:
    """What the audit page searches by; every field optional (empty = any)."""

    text: str = ""  # free text: action, actor, object, request id, details
    actor: str = ""  # an actor's name (part of it) or user id
    actor_kind: str = ""
    institution_id: int | None = None
    object_type: str = ""
    object_id: str = ""
    action: str = ""  # exact code, or a prefix ending in "." ("risk.")
    date_from: date | None = None
    date_to: date | None = None
    ip: str = ""  # exact address, or a prefix ending in "." or ":"

    def as_query(self) -> dict[str, str]:
        return {
            "q": self.text,
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "institution": str(self.institution_id or ""),
            "object_type": self.object_type,
            "object_id": self.object_id,
            "action": self.action,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "ip": self.ip,
        }


def _literal(text: str) -> str:
    """`text` inside a LIKE pattern: its % and _ match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(text: str) -> str:
    return f"%{_literal(text)}%"


def _prefix(text: str) -> str:
    return f"{_literal(text)}%"


def _condition(filters: AuditFilters) -> Any:
    condition: Any = AuditEntry.id > 0
    if filters.text:
        pattern = _like(filters.text)
        condition &= (
            AuditEntry.action.ilike(pattern)
            | AuditEntry.actor_label.ilike(pattern)
            | AuditEntry.object_type.ilike(pattern)
            | (AuditEntry.object_id == filters.text)
            | (AuditEntry.request_id == filters.text)
            | WhereRaw("detail::text ILIKE {}", pattern)
        )
    if filters.actor:
        by_name: Any = AuditEntry.actor_label.ilike(_like(filters.actor))
        if filters.actor.isascii() and filters.actor.isdigit() and len(filters.actor) <= 9:
            by_name |= AuditEntry.actor_id == int(filters.actor)
        condition &= by_name
    if filters.actor_kind:
        condition &= AuditEntry.actor_kind == filters.actor_kind
    if filters.institution_id:
        condition &= AuditEntry.institution_id == filters.institution_id
    if filters.object_type:
        condition &= AuditEntry.object_type == filters.object_type
    if filters.object_id:
        condition &= AuditEntry.object_id == filters.object_id
    if filters.action:
        if filters.action.endswith("."):
            condition &= AuditEntry.action.like(_prefix(filters.action))
        else:
            condition &= AuditEntry.action == filters.action
    if filters.date_from:
        start = datetime.combine(filters.date_from, time.min, tzinfo=SHANGHAI)
        condition &= AuditEntry.at >= start
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=SHANGHAI)
        condition &= AuditEntry.at < end
    if filters.ip:
        if filters.ip.endswith((".", ":")):
            condition &= AuditEntry.ip.like(_prefix(filters.ip))
        else:
            condition &= AuditEntry.ip == filters.ip
    return condition


async def search_audit(
    filters: AuditFilters, *, page: int, per_page: int
) -> tuple[list[AuditRow], int]:
    """Newest first, every filter applied together."""
    condition = _condition(filters)
    total = await AuditEntry.count().where(condition)
    rows = (
        await AuditEntry.select()
        .where(condition)
        .order_by(AuditEntry.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [_row(row) for row in rows], total


async def audit_rows_for_export(filters: AuditFilters, *, limit: int) -> list[AuditRow]:
    """At most `limit` rows, newest first (the caller asks for one more to know it cut)."""
    rows = (
        await AuditEntry.select()
        .where(_condition(filters))
        .order_by(AuditEntry.id, ascending=False)
        .limit(limit)
    )
    return [_row(row) for row in rows]


def action_choices() -> list[tuple[str, str]]:
    return sorted(((code, f"{_(label)}（{code}）") for code, label in ACTIONS.items()))


def object_type_choices() -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in OBJECT_TYPES.items()]


def actor_kind_choices() -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in ACTOR_KINDS.items()]
