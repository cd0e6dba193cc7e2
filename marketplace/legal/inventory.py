"""Every item of personal data the platform holds about a borrower: where it is stored
(`table.column`, checked against the real tables by tests/unit/test_legal_inventory.py),
why, who receives it and how long it is kept. The privacy policy is generated from this
list, so a new personal column cannot ship without being disclosed."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.consents.notices import RETENTION as CONSENT_RETENTION
from marketplace.i18n import N_


@dataclass(frozen=True)
class Recipient:
    label: str  # N_() marked


PLATFORM_ONLY = Recipient(N_("仅平台内部使用，不对外提供"))
CONSENTED_INSTITUTIONS = Recipient(N_("经您逐家单独同意的贷款机构"))
APPLIED_INSTITUTION = Recipient(N_("您所申请产品的贷款机构"))
SMS_PROVIDER = Recipient(N_("短信服务商（仅用于发送短信）"))
AUTHORITIES = Recipient(N_("依法提出要求的监管或司法机关"))
RATING_READERS = Recipient(N_("产品页的所有访问者（署名脱敏）及该产品的贷款机构"))


@dataclass(frozen=True)
class DataItem:
    category: str  # N_() marked
    item: str  # N_() marked
    columns: tuple[str, ...]  # "table.column"; a session field is "session.<key>"
    purpose: str  # N_() marked
    recipients: tuple[Recipient, ...]
    retention: str  # N_() marked


_ACCOUNT_LIFETIME = N_("账户存续期间；注销账户时删除")
_LOAN_RETENTION = N_("借款结清之日起 5 年（反洗钱及金融监管要求）")

DATA_ITEMS: tuple[DataItem, ...] = (
    DataItem(
        N_("账户"),
        N_("手机号码（加密存储，页面只显示部分号码）"),
        ("app_user.mobile_encrypted", "app_user.mobile_masked", "app_user.login_key"),
        N_("注册与登录、发送验证码和通知、找回密码"),
        (SMS_PROVIDER, CONSENTED_INSTITUTIONS),
        _ACCOUNT_LIFETIME,
    ),
    DataItem(
        N_("账户"),
        N_("登录密码（只保存不可逆的摘要，任何人都无法看到原密码）"),
        ("app_user.password_hash",),
        N_("验证登录身份"),
        (PLATFORM_ONLY,),
        _ACCOUNT_LIFETIME,
    ),
    DataItem(
        N_("账户"),
        N_("昵称、注册时间、最近登录时间、账户状态"),
        (
            "app_user.display_name",
            "app_user.created_at",
            "app_user.last_login_at",
            "app_user.status",
        ),
        N_("显示账户信息、保障账户安全"),
        (PLATFORM_ONLY,),
        _ACCOUNT_LIFETIME,
    ),
    DataItem(
        N_("申请资料"),
        N_("姓名、身份证号码（加密存储，页面只显示部分内容）"),
        (
            "borrower_profile.real_name_encrypted",
            "borrower_profile.real_name_masked",
            "borrower_profile.id_number_encrypted",
            "borrower_profile.id_number_masked",
            "borrower_profile.id_number_index",
        ),
        N_("预填申请表、核验身份、识别重复申请"),
        (CONSENTED_INSTITUTIONS,),
        _ACCOUNT_LIFETIME,
    ),
    DataItem(
        N_("申请资料"),
        N_("出生日期、所在城市、职业类型、月收入（月收入加密存储）"),
        (
            "borrower_profile.birth_date",
            "borrower_profile.city",
            "borrower_profile.employment_type",
            "borrower_profile.monthly_income_encrypted",
        ),
        N_("预填申请表、判断产品申请条件、计算负债收入比和信用健康分"),
        (CONSENTED_INSTITUTIONS,),
        _ACCOUNT_LIFETIME,
    ),
    DataItem(
        N_("申请资料"),
        N_("联系地址，紧急联系人的姓名、关系和手机号码（选填；加密存储，页面只显示部分内容）"),
        (
            "borrower_profile.address_encrypted",
            "borrower_profile.address_masked",
            "borrower_profile.contact_name_encrypted",
            "borrower_profile.contact_name_masked",
            "borrower_profile.contact_relation",
            "borrower_profile.contact_mobile_encrypted",
            "borrower_profile.contact_mobile_masked",
        ),
        N_("预填申请表；按您签署的同意书提供给机构，供其联系您办理借款"),
        (CONSENTED_INSTITUTIONS,),
        _ACCOUNT_LIFETIME,
    ),
    DataItem(
        N_("借款申请"),
        N_("申请的产品、金额、期限、还款方式、借款用途、所在城市和办理进度"),
        (
            "application.amount",
            "application.term_months",
            "application.repayment_method",
            "application.purpose",
            "application.city",
            "application.status",
            "application.submitted_at",
        ),
        N_("向机构提交申请、展示办理进度、与机构结算服务费"),
        (APPLIED_INSTITUTION,),
        _LOAN_RETENTION,
    ),
    DataItem(
        N_("借款申请"),
        N_("提交申请时使用的设备类型（电脑或手机）和月收入所在区间（不含具体金额）"),
        ("application.channel", "application.income_band"),
        N_("生成平台和机构的统计报表：只显示汇总人数，人数不足的分组不显示"),
        (PLATFORM_ONLY,),
        _LOAN_RETENTION,
    ),
    DataItem(
        N_("借款申请"),
        N_("统计用的客群分段：按账户编号记录的年龄段、城市等级、月收入区间和职业类型"),
        (
            "analytics_band_member.borrower",
            "analytics_band_member.age",
            "analytics_band_member.city_tier",
            "analytics_band_member.income",
            "analytics_band_member.employment",
        ),
        N_("机构客群报表按人去重计数，人数不足的分组不显示，机构看不到任何个人"),
        (PLATFORM_ONLY,),
        N_("与申请所依据的同意书相同；撤回同意后，在当晚的统计重算中删除"),
    ),
    DataItem(
        N_("借款申请"),
        N_("提供给机构的申请资料副本（加密存储）"),
        ("application.shared_data_encrypted",),
        N_("按您签署的个人信息单独同意书交付给该机构"),
        (CONSENTED_INSTITUTIONS,),
        CONSENT_RETENTION,
    ),
    DataItem(
        N_("证明材料"),
        N_("您上传的身份证照片、收入证明、银行流水等文件（加密存储）"),
        (
            "document.content_encrypted",
            "document.original_name",
            "document.content_type",
            "document.size",
            "document.sha256",
        ),
        N_("供请求补充材料的机构审核您的申请"),
        (APPLIED_INSTITUTION,),
        CONSENT_RETENTION,
    ),
    DataItem(
        N_("授权记录"),
        N_("您对每家机构的同意：机构、同意书版本及其摘要、处理目的、数据项、时间、撤回记录"),
        (
            "consent.notice_version",
            "consent.notice_hash",
            "consent.purpose",
            "consent.data_items",
            "consent.granted_at",
            "consent.withdrawn_at",
            "consent_withdrawal.withdrawn_at",
            "consent_withdrawal.confirmed_at",
        ),
        N_("证明您的同意与撤回，确保撤回后不再向该机构提供信息"),
        (AUTHORITIES,),
        N_("账户存续期间；注销后仍依法保存，用于证明个人信息处理合法"),
    ),
    DataItem(
        N_("授权记录"),
        N_("您申请导出的个人信息副本（加密存储）"),
        ("data_export.content_encrypted", "data_export.token_hash"),
        N_("响应您查阅、复制个人信息的请求"),
        (PLATFORM_ONLY,),
        N_("下载时删除；链接过期后不能再取用"),
    ),
    DataItem(
        N_("沟通与通知"),
        N_("您与机构就申请往来的消息（加密存储）"),
        ("message.body_encrypted",),
        N_("在平台内与机构沟通申请事宜"),
        (APPLIED_INSTITUTION,),
        _LOAN_RETENTION,
    ),
    DataItem(
        N_("沟通与通知"),
        N_("发给您的短信记录（号码只存摘要和部分号码，内容加密存储）与站内通知"),
        (
            "notification.recipient_index",
            "notification.recipient_masked",
            "notification.body_encrypted",
            "inbox_item.title",
        ),
        N_("发送验证码、审批结果和还款提醒等通知，并核对发送情况"),
        (SMS_PROVIDER,),
        N_("账户存续期间；注销后保留发送记录（号码只存摘要和部分号码）以备核查"),
    ),
    DataItem(
        N_("沟通与通知"),
        N_("通知偏好（哪些通知同时发短信）"),
        ("sms_preference.choices",),
        N_("按您的选择发送短信"),
        (PLATFORM_ONLY,),
        _ACCOUNT_LIFETIME,
    ),
    DataItem(
        N_("借款与还款"),
        N_("机构报告的放款、还款计划、还款记录、逾期天数和收款账户（只存部分卡号）"),
        (
            "loan.principal",
            "loan.disbursed_on",
            "loan.receiving_account_masked",
            "loan.dpd",
            "loan_instalment.due_on",
            "loan_instalment.paid_on",
            "loan_repayment.amount",
            "loan_repayment.paid_on",
        ),
        N_("展示还款计划、发送还款提醒、计算信用健康分、与机构结算"),
        (APPLIED_INSTITUTION,),
        _LOAN_RETENTION,
    ),
    DataItem(
        N_("借款与还款"),
        N_("您签署的借款合同全文（加密存储）及签署时的网络地址和浏览器"),
        (
            "offer_signature.contract_encrypted",
            "offer_signature.client_address",
            "offer_signature.user_agent",
        ),
        N_("证明合同的签署"),
        (APPLIED_INSTITUTION, AUTHORITIES),
        _LOAN_RETENTION,
    ),
    DataItem(
        N_("借款与还款"),
        N_("机构对逾期借款的联系记录（渠道、结果、备注，备注加密存储）"),
        (
            "collection_contact.channel",
            "collection_contact.result",
            "collection_contact.note_encrypted",
        ),
        N_("监督机构的催收时段和频次是否合规"),
        (APPLIED_INSTITUTION,),
        _LOAN_RETENTION,
    ),
    DataItem(
        N_("信用健康"),
        N_("平台信用健康分及各项因素的每日快照"),
        ("credit_snapshot.score", "credit_snapshot.factors"),
        N_("向您本人展示信用健康分及其变化；不提供给任何机构"),
        (PLATFORM_ONLY,),
        _ACCOUNT_LIFETIME,
    ),
    DataItem(
        N_("设备与日志"),
        N_("登录设备：设备和浏览器类型、部分隐藏的网络地址、登录和最近活动时间"),
        ("session._device", "session._ip"),
        N_("在“账户安全”中列出已登录的设备，供您退出不认识的设备"),
        (PLATFORM_ONLY,),
        N_("退出登录或登录过期时删除"),
    ),
    DataItem(
        N_("设备与日志"),
        N_("反欺诈审核：申请被暂停交付时，部分隐藏的手机号和风险分（供风控人员核对）"),
        ("risk_hold.mobile_masked",),
        N_("防范冒用身份、批量骗贷等欺诈行为，保护您和机构"),
        (PLATFORM_ONLY, AUTHORITIES),
        N_("审核结束后 3 年；账户注销后依法保存"),
    ),
    DataItem(
        N_("设备与日志"),
        N_("操作日志：您的重要操作、时间、网络地址和请求编号（不含手机号和证件号）"),
        ("audit_entry.action", "audit_entry.at", "audit_entry.ip", "audit_entry.request_id"),
        N_("账户与信息安全、合规核查"),
        (AUTHORITIES,),
        N_("至少 6 个月（《网络安全法》要求），账户注销后仍依法保存"),
    ),
    DataItem(
        N_("投诉与反馈"),
        N_("您提交的投诉、反馈、回复、评价与附件，匿名反馈留下的联系方式（均加密存储）"),
        (
            "complaint.description_encrypted",
            "complaint.contact_encrypted",
            "complaint.rating_comment_encrypted",
            "complaint_message.body_encrypted",
            "complaint_attachment.storage_key",
        ),
        N_("受理和处理您的投诉与反馈、通知处理进展、统计并公示各机构的投诉情况（不含个人信息）"),
        (PLATFORM_ONLY, APPLIED_INSTITUTION),
        N_("办结之日起 3 年"),
    ),
    DataItem(
        N_("评价"),
        N_("产品评价：评分、评价内容、“有用”投票，以及评价所依据的申请"),
        (
            "product_rating.rating",
            "product_rating.text",
            "product_rating.application",
            "product_rating_vote.voter",
        ),
        N_("向其他借款人展示产品的真实体验；发布前自动检查并删去个人信息"),
        (RATING_READERS,),
        _ACCOUNT_LIFETIME,
    ),
)
