"""What each system parameter is (PRODUCT.md A3): its type, unit, allowed range, area and
description — one entry per key of `services.DEFAULTS` (a unit test holds them together).

Values keep the shape the code reads: decimals as strings ("0.24"), whole numbers as int,
times as "HH:MM", code lists as [{"code", "label"}], day lists as [int]. `parse_text` reads
what an operator typed on the admin page; `coerce` checks a value handed in by code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from marketplace.errors import DomainError
from marketplace.i18n import N_, _

DECIMAL = "decimal"
INTEGER = "integer"
TIME = "time"
CODE_LIST = "code_list"
INTEGER_LIST = "integer_list"

KIND_LABELS: dict[str, str] = {
    DECIMAL: N_("小数"),
    INTEGER: N_("整数"),
    TIME: N_("时刻（时:分）"),
    CODE_LIST: N_("代码列表"),
    INTEGER_LIST: N_("整数列表"),
}

GROUPS: dict[str, str] = {
    "cost": N_("综合成本与利率"),
    "applications": N_("申请与线索"),
    "offers": N_("批复与借款"),
    "consents": N_("授权与个人信息"),
    "collections": N_("催收"),
    "settlement": N_("结算"),
    "api": N_("开放接口与 Webhook"),
    "institutions": N_("机构与推广"),
    "credit": N_("信用健康评分"),
    "risk": N_("反欺诈"),
    "recommendations": N_("推荐与通过率"),
    "monitoring": N_("产品与机构监控"),
    "analytics": N_("数据分析"),
}

# ASCII digits only (a full-width "１" or an exponent is refused, not read).
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,6})?")
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,9}")
_TIME_TEXT = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_CODE_TEXT = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_LABEL = 20
MAX_TEXT = 2000


@dataclass(frozen=True)
class ParameterSpec:
    key: str
    group: str
    kind: str
    label: str  # short name (msgid)
    description: str  # what it does (msgid)
    unit: str = ""  # msgid
    minimum: Decimal | int | None = None
    maximum: Decimal | int | None = None
    max_items: int = 0  # lists
    descending: bool = True  # how a number list is kept (reminder days count down)

    @property
    def range_text(self) -> str:
        if self.kind in (CODE_LIST, INTEGER_LIST):
            items = _("1 到 {n} 项", n=self.max_items)
            if self.kind == INTEGER_LIST:
                return _(
                    "{items}，每项 {low} 到 {high}",
                    items=items,
                    low=self.minimum,
                    high=self.maximum,
                )
            return items
        if self.kind == TIME:
            return "00:00 – 23:59"
        return _("{low} 到 {high}", low=self.minimum, high=self.maximum)


def _spec(key: str, group: str, kind: str, label: str, description: str, **extra: Any):
    return key, ParameterSpec(key, group, kind, label, description, **extra)


def _dec(text: str) -> Decimal:
    return Decimal(text)


SPECS: dict[str, ParameterSpec] = dict(
    [
        _spec(
            "apr_block_line",
            "cost",
            DECIMAL,
            N_("综合年化成本拦截线"),
            N_("综合年化成本（APR）超过此值的产品不能上架；改动后所有产品重新定价。"),
            unit=N_("年化比例（0.24 即 24%）"),
            minimum=_dec("0.01"),
            maximum=_dec("1"),
        ),
        _spec(
            "lpr_1y",
            "cost",
            DECIMAL,
            N_("一年期 LPR"),
            N_("贷款市场报价利率（一年期）；浮动利率产品按它定价，改动后所有产品重新定价。"),
            unit=N_("年化比例（0.03 即 3%）"),
            minimum=_dec("0.001"),
            maximum=_dec("0.2"),
        ),
        _spec(
            "apr_warn_multiple",
            "cost",
            DECIMAL,
            N_("高成本提示倍数"),
            N_("APR 超过 LPR 的这个倍数时，向借款人显示高成本提示；改动后所有产品重新定价。"),
            unit=N_("倍"),
            minimum=_dec("1"),
            maximum=_dec("10"),
        ),
        _spec(
            "duplicate_window_days",
            "applications",
            INTEGER,
            N_("重复申请窗口"),
            N_("同一借款人在此天数内向同一产品再次申请视为重复。"),
            unit=N_("天"),
            minimum=1,
            maximum=365,
        ),
        _spec(
            "credit_withdrawal_hours",
            "settlement",
            INTEGER,
            N_("撤回退费时限"),
            N_("已交付的线索在此小时数内被借款人撤回，结算时退还该线索费用。"),
            unit=N_("小时"),
            minimum=0,
            maximum=720,
        ),
        _spec(
            "vat_rate",
            "settlement",
            DECIMAL,
            N_("增值税率"),
            N_("生成结算单时记录的增值税率，与服务费分开列示。"),
            unit=N_("比例（0.06 即 6%）"),
            minimum=_dec("0"),
            maximum=_dec("0.99"),
        ),
        _spec(
            "account_deletion_cooling_days",
            "consents",
            INTEGER,
            N_("注销冷静期"),
            N_("借款人申请注销账号后等待的天数，期间可以撤销申请。"),
            unit=N_("天"),
            minimum=0,
            maximum=90,
        ),
        _spec(
            "applications_per_day",
            "applications",
            INTEGER,
            N_("每日申请上限"),
            N_("一位借款人每天最多提交的申请数。"),
            unit=N_("笔/天"),
            minimum=1,
            maximum=100,
        ),
        _spec(
            "dti_warning_ratio",
            "applications",
            DECIMAL,
            N_("负债收入比提示线"),
            N_("新贷款月供加上在贷月供超过月收入的这个比例时，提示借款人量力而行。"),
            unit=N_("比例（0.5 即 50%）"),
            minimum=_dec("0.05"),
            maximum=_dec("5"),
        ),
        _spec(
            "cooling_off_applications",
            "applications",
            INTEGER,
            N_("冷静期触发申请数"),
            N_("在“冷静期统计天数”内申请达到此数，暂停借款人的新申请。"),
            unit=N_("笔"),
            minimum=1,
            maximum=100,
        ),
        _spec(
            "cooling_off_days",
            "applications",
            INTEGER,
            N_("冷静期统计天数"),
            N_("统计频繁申请的时间窗口。"),
            unit=N_("天"),
            minimum=1,
            maximum=90,
        ),
        _spec(
            "institutions_per_application",
            "applications",
            INTEGER,
            N_("单次申请机构上限"),
            N_("一位借款人一天内的申请最多送达的不同机构数。"),
            unit=N_("家"),
            minimum=1,
            maximum=20,
        ),
        _spec(
            "consent_deletion_days",
            "consents",
            INTEGER,
            N_("删除确认期限"),
            N_("借款人撤回授权后，机构确认删除其信息的期限。"),
            unit=N_("天"),
            minimum=1,
            maximum=90,
        ),
        _spec(
            "data_export_link_minutes",
            "consents",
            INTEGER,
            N_("个人信息下载链接有效期"),
            N_("借款人导出个人信息后，一次性下载链接的有效时间。"),
            unit=N_("分钟"),
            minimum=5,
            maximum=1440,
        ),
        _spec(
            "repayment_reminder_days",
            "offers",
            INTEGER,
            N_("还款提醒提前天数"),
            N_("到期日前这么多天内的还款算作“即将到期”，提醒借款人和机构。"),
            unit=N_("天"),
            minimum=1,
            maximum=30,
        ),
        _spec(
            "portfolio_overdue_alert_rate",
            "offers",
            DECIMAL,
            N_("逾期预警比例"),
            N_("机构贷后页面在逾期本金超过在贷余额的这个比例时显示预警。"),
            unit=N_("比例（0.05 即 5%）"),
            minimum=_dec("0.001"),
            maximum=_dec("1"),
        ),
        _spec(
            "lead_sla_hours",
            "applications",
            INTEGER,
            N_("线索处理时限"),
            N_("线索等待机构处理超过此小时数标黄，超过两倍标红。"),
            unit=N_("小时"),
            minimum=1,
            maximum=720,
        ),
        _spec(
            "collection_hours_start",
            "collections",
            TIME,
            N_("催收开始时间"),
            N_("每天允许联系逾期借款人的开始时刻（北京时间），须早于结束时间。"),
        ),
        _spec(
            "collection_hours_end",
            "collections",
            TIME,
            N_("催收结束时间"),
            N_("每天允许联系逾期借款人的结束时刻（北京时间，不含该时刻），须晚于开始时间。"),
        ),
        _spec(
            "collection_daily_cap",
            "collections",
            INTEGER,
            N_("每日催收次数上限"),
            N_("每笔逾期贷款每天最多联系的次数。"),
            unit=N_("次/天"),
            minimum=1,
            maximum=10,
        ),
        _spec(
            "offer_valid_days",
            "offers",
            INTEGER,
            N_("批复有效期"),
            N_("批复方案等待借款人签约的天数。"),
            unit=N_("天"),
            minimum=1,
            maximum=60,
        ),
        _spec(
            "offer_cooling_off_days",
            "offers",
            INTEGER,
            N_("签约冷静期"),
            N_("借款人签约后可以无成本解除合同的天数（写入每份合同）。"),
            unit=N_("天"),
            minimum=0,
            maximum=30,
        ),
        _spec(
            "lead_reveals_per_hour",
            "applications",
            INTEGER,
            N_("每小时查看完整信息上限"),
            N_("一名机构员工每小时最多查看的完整证件号或手机号次数（每次审计）。"),
            unit=N_("次/小时"),
            minimum=1,
            maximum=200,
        ),
        _spec(
            "api_token_minutes",
            "api",
            INTEGER,
            N_("访问令牌有效期"),
            N_("开放接口访问令牌的有效时间。"),
            unit=N_("分钟"),
            minimum=5,
            maximum=1440,
        ),
        _spec(
            "api_requests_per_minute",
            "api",
            INTEGER,
            N_("接口调用频率上限"),
            N_("一个接口客户端每分钟最多的请求数（含获取令牌）。"),
            unit=N_("次/分钟"),
            minimum=1,
            maximum=10000,
        ),
        _spec(
            "api_idempotency_hours",
            "api",
            INTEGER,
            N_("幂等键保留时长"),
            N_("带 Idempotency-Key 的请求，其结果保留的小时数。"),
            unit=N_("小时"),
            minimum=1,
            maximum=168,
        ),
        _spec(
            "webhook_endpoints_per_institution",
            "api",
            INTEGER,
            N_("Webhook 接收地址上限"),
            N_("每家机构最多配置的 Webhook 接收地址数。"),
            unit=N_("个"),
            minimum=1,
            maximum=50,
        ),
        _spec(
            "webhook_secret_overlap_hours",
            "api",
            INTEGER,
            N_("旧密钥并行签名时长"),
            N_("轮换 Webhook 密钥后，旧密钥继续签名的小时数。"),
            unit=N_("小时"),
            minimum=0,
            maximum=168,
        ),
        _spec(
            "webhook_timeout_seconds",
            "api",
            INTEGER,
            N_("Webhook 响应超时"),
            N_("等待接收方响应的秒数。"),
            unit=N_("秒"),
            minimum=1,
            maximum=60,
        ),
        _spec(
            "rejection_reasons",
            "applications",
            CODE_LIST,
            N_("拒绝原因"),
            N_("机构拒绝线索时可选的原因：代码保存在记录中，名称展示给借款人。"),
            max_items=30,
        ),
        _spec(
            "licence_reminder_days",
            "institutions",
            INTEGER_LIST,
            N_("执照到期提醒"),
            N_("机构执照到期前这些天各提醒一次。"),
            unit=N_("天"),
            minimum=1,
            maximum=365,
            max_items=10,
        ),
        _spec(
            "partner_applications_per_hour",
            "institutions",
            INTEGER,
            N_("入驻申请频率上限"),
            N_("同一网络地址每小时最多提交的机构入驻申请数。"),
            unit=N_("次/小时"),
            minimum=1,
            maximum=100,
        ),
        _spec(
            "promotion_slots_home",
            "institutions",
            INTEGER,
            N_("首页推广位"),
            N_("同一天首页最多展示的推广数。"),
            unit=N_("个"),
            minimum=0,
            maximum=20,
        ),
        _spec(
            "promotion_slots_list_top",
            "institutions",
            INTEGER,
            N_("列表置顶推广位"),
            N_("同一天产品列表顶部最多展示的推广数。"),
            unit=N_("个"),
            minimum=0,
            maximum=20,
        ),
        _spec(
            "promotion_slots_campaign",
            "institutions",
            INTEGER,
            N_("专题活动推广位"),
            N_("同一天专题活动最多展示的推广数。"),
            unit=N_("个"),
            minimum=0,
            maximum=20,
        ),
        _spec(
            "promotion_max_days",
            "institutions",
            INTEGER,
            N_("单次推广最长天数"),
            N_("一次推广最多持续的天数。"),
            unit=N_("天"),
            minimum=1,
            maximum=366,
        ),
        _spec(
            "promotion_max_lead_days",
            "institutions",
            INTEGER,
            N_("推广最早预约天数"),
            N_("推广最多可以提前多少天申请。"),
            unit=N_("天"),
            minimum=1,
            maximum=366,
        ),
        _spec(
            "credit_weight_velocity",
            "credit",
            INTEGER,
            N_("申请频率权重"),
            N_("信用健康分中“申请频率”因素的权重（与其他权重之和的占比）。"),
            unit=N_("分"),
            minimum=0,
            maximum=100,
        ),
        _spec(
            "credit_weight_repayment",
            "credit",
            INTEGER,
            N_("还款记录权重"),
            N_("信用健康分中“还款记录”因素的权重。"),
            unit=N_("分"),
            minimum=0,
            maximum=100,
        ),
        _spec(
            "credit_weight_dti",
            "credit",
            INTEGER,
            N_("负债收入比权重"),
            N_("信用健康分中“负债收入比”因素的权重。"),
            unit=N_("分"),
            minimum=0,
            maximum=100,
        ),
        _spec(
            "credit_weight_overdue",
            "credit",
            INTEGER,
            N_("逾期情况权重"),
            N_("信用健康分中“逾期情况”因素的权重。"),
            unit=N_("分"),
            minimum=0,
            maximum=100,
        ),
        _spec(
            "document_kinds",
            "applications",
            CODE_LIST,
            N_("补充资料种类"),
            N_("机构可以要求借款人上传的资料种类。"),
            max_items=30,
        ),
        _spec(
            "risk_registration_device_limit",
            "risk",
            INTEGER,
            N_("注册频次上限：同一设备"),
            N_("同一设备在统计时长内的注册次数超过此数即记一次风险事件。"),
            unit=N_("次"),
            minimum=1,
            maximum=1000,
        ),
        _spec(
            "risk_registration_device_window_hours",
            "risk",
            INTEGER,
            N_("注册频次统计时长：同一设备"),
            N_("统计同一设备注册次数的时间窗口。"),
            unit=N_("小时"),
            minimum=1,
            maximum=720,
        ),
        _spec(
            "risk_registration_device_score",
            "risk",
            INTEGER,
            N_("注册频次风险分：同一设备"),
            N_("同一设备注册过于频繁时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_registration_address_limit",
            "risk",
            INTEGER,
            N_("注册频次上限：同一网络地址"),
            N_("同一网络地址在统计时长内的注册次数超过此数即记一次风险事件。"),
            unit=N_("次"),
            minimum=1,
            maximum=1000,
        ),
        _spec(
            "risk_registration_address_window_hours",
            "risk",
            INTEGER,
            N_("注册频次统计时长：同一网络地址"),
            N_("统计同一网络地址注册次数的时间窗口。"),
            unit=N_("小时"),
            minimum=1,
            maximum=720,
        ),
        _spec(
            "risk_registration_address_score",
            "risk",
            INTEGER,
            N_("注册频次风险分：同一网络地址"),
            N_("同一网络地址注册过于频繁时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_application_phone_limit",
            "risk",
            INTEGER,
            N_("申请频次上限：同一手机号"),
            N_("同一手机号在统计时长内的申请次数超过此数即记一次风险事件。"),
            unit=N_("次"),
            minimum=1,
            maximum=1000,
        ),
        _spec(
            "risk_application_phone_window_hours",
            "risk",
            INTEGER,
            N_("申请频次统计时长：同一手机号"),
            N_("统计同一手机号申请次数的时间窗口。"),
            unit=N_("小时"),
            minimum=1,
            maximum=720,
        ),
        _spec(
            "risk_application_phone_score",
            "risk",
            INTEGER,
            N_("申请频次风险分：同一手机号"),
            N_("同一手机号申请过于频繁时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_application_id_number_limit",
            "risk",
            INTEGER,
            N_("申请频次上限：同一身份证号"),
            N_("同一身份证号在统计时长内的申请次数超过此数即记一次风险事件。"),
            unit=N_("次"),
            minimum=1,
            maximum=1000,
        ),
        _spec(
            "risk_application_id_number_window_hours",
            "risk",
            INTEGER,
            N_("申请频次统计时长：同一身份证号"),
            N_("统计同一身份证号申请次数的时间窗口。"),
            unit=N_("小时"),
            minimum=1,
            maximum=720,
        ),
        _spec(
            "risk_application_id_number_score",
            "risk",
            INTEGER,
            N_("申请频次风险分：同一身份证号"),
            N_("同一身份证号申请过于频繁时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_application_device_limit",
            "risk",
            INTEGER,
            N_("申请频次上限：同一设备"),
            N_("同一设备在统计时长内的申请次数超过此数即记一次风险事件。"),
            unit=N_("次"),
            minimum=1,
            maximum=1000,
        ),
        _spec(
            "risk_application_device_window_hours",
            "risk",
            INTEGER,
            N_("申请频次统计时长：同一设备"),
            N_("统计同一设备申请次数的时间窗口。"),
            unit=N_("小时"),
            minimum=1,
            maximum=720,
        ),
        _spec(
            "risk_application_device_score",
            "risk",
            INTEGER,
            N_("申请频次风险分：同一设备"),
            N_("同一设备申请过于频繁时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_application_address_limit",
            "risk",
            INTEGER,
            N_("申请频次上限：同一网络地址"),
            N_("同一网络地址在统计时长内的申请次数超过此数即记一次风险事件。"),
            unit=N_("次"),
            minimum=1,
            maximum=1000,
        ),
        _spec(
            "risk_application_address_window_hours",
            "risk",
            INTEGER,
            N_("申请频次统计时长：同一网络地址"),
            N_("统计同一网络地址申请次数的时间窗口。"),
            unit=N_("小时"),
            minimum=1,
            maximum=720,
        ),
        _spec(
            "risk_application_address_score",
            "risk",
            INTEGER,
            N_("申请频次风险分：同一网络地址"),
            N_("同一网络地址申请过于频繁时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_blacklist_score",
            "risk",
            INTEGER,
            N_("黑名单命中风险分"),
            N_("手机号、身份证号或网络地址命中黑名单时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_invalid_id_score",
            "risk",
            INTEGER,
            N_("身份证校验失败风险分"),
            N_("身份证号校验位不符时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_age_score",
            "risk",
            INTEGER,
            N_("年龄超出范围风险分"),
            N_("申请人年龄不在允许范围内时记入的风险分。"),
            unit=N_("分"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "risk_age_min",
            "risk",
            INTEGER,
            N_("反欺诈最低年龄"),
            N_("低于此年龄的申请记入年龄风险分。"),
            unit=N_("岁"),
            minimum=16,
            maximum=100,
        ),
        _spec(
            "risk_age_max",
            "risk",
            INTEGER,
            N_("反欺诈最高年龄"),
            N_("高于此年龄的申请记入年龄风险分。"),
            unit=N_("岁"),
            minimum=18,
            maximum=120,
        ),
        _spec(
            "risk_hold_score",
            "risk",
            INTEGER,
            N_("申请暂停交付分数线"),
            N_("一笔申请的风险分合计达到此数时暂停交付，等待风控人工审核。"),
            unit=N_("分"),
            minimum=1,
            maximum=10000,
        ),
        _spec(
            "risk_registration_block_score",
            "risk",
            INTEGER,
            N_("注册拦截分数线"),
            N_("注册时风险分合计达到此数时拒绝注册。"),
            unit=N_("分"),
            minimum=1,
            maximum=10000,
        ),
        _spec(
            "document_library_max_files",
            "consents",
            INTEGER,
            N_("“我的资料”文件数上限"),
            N_("每位借款人在“我的资料”中最多保存的文件数。"),
            unit=N_("个"),
            minimum=0,
            maximum=200,
        ),
        _spec(
            "document_library_max_mb",
            "consents",
            INTEGER,
            N_("“我的资料”总容量上限"),
            N_("每位借款人在“我的资料”中保存的文件总大小上限。"),
            unit=N_("MB"),
            minimum=0,
            maximum=1000,
        ),
        _spec(
            "odds_window_days",
            "recommendations",
            INTEGER,
            N_("通过率统计天数"),
            N_("估算获批可能性时使用最近这些天提交并已有结果的申请。"),
            unit=N_("天"),
            minimum=7,
            maximum=730,
        ),
        _spec(
            "odds_segment_min_decisions",
            "recommendations",
            INTEGER,
            N_("细分人群最少样本"),
            N_("产品×职业×金额段的结果数达到此数才使用细分通过率。"),
            unit=N_("笔"),
            minimum=1,
            maximum=10000,
        ),
        _spec(
            "odds_product_min_decisions",
            "recommendations",
            INTEGER,
            N_("产品最少样本"),
            N_("产品的结果数达到此数才使用产品通过率，否则使用全平台通过率。"),
            unit=N_("笔"),
            minimum=1,
            maximum=10000,
        ),
        _spec(
            "odds_platform_min_decisions",
            "recommendations",
            INTEGER,
            N_("全平台最少样本"),
            N_("全平台结果数低于此数时显示“数据不足”。"),
            unit=N_("笔"),
            minimum=1,
            maximum=100000,
        ),
        _spec(
            "odds_band_high_percent",
            "recommendations",
            INTEGER,
            N_("“高”档通过率下限"),
            N_("估算通过率不低于此百分比时显示“高”。"),
            unit=N_("%"),
            minimum=1,
            maximum=100,
        ),
        _spec(
            "odds_band_medium_percent",
            "recommendations",
            INTEGER,
            N_("“中”档通过率下限"),
            N_("估算通过率不低于此百分比（且低于“高”档）时显示“中”。"),
            unit=N_("%"),
            minimum=0,
            maximum=100,
        ),
        _spec(
            "odds_amount_bands",
            "recommendations",
            INTEGER_LIST,
            N_("金额分段"),
            N_("细分人群时使用的借款金额分段点。"),
            unit=N_("元"),
            minimum=1,
            maximum=10000000,
            max_items=10,
            descending=False,
        ),
        _spec(
            "odds_calibration_days",
            "recommendations",
            INTEGER,
            N_("校准统计天数"),
            N_("校准页面比较预测与实际通过率所用的天数。"),
            unit=N_("天"),
            minimum=7,
            maximum=365,
        ),
        _spec(
            "products_per_batch",
            "applications",
            INTEGER,
            N_("一次申请的产品数上限"),
            N_("借款人一次填写最多可同时申请的产品数（仍受“每笔申请可达机构数”限制）。"),
            unit=N_("个"),
            minimum=1,
            maximum=20,
        ),
        _spec(
            "loan_purposes",
            "applications",
            CODE_LIST,
            N_("借款用途"),
            N_("申请时可选的借款用途：代码保存在申请中，名称展示给借款人和机构。"),
            max_items=30,
        ),
        _spec(
            "monitoring_window_days",
            "monitoring",
            INTEGER,
            N_("监控统计天数"),
            N_("自动预警规则统计申请、批复和投诉的天数。"),
            unit=N_("天"),
            minimum=7,
            maximum=365,
        ),
        _spec(
            "monitoring_overdue_rate_max",
            "monitoring",
            DECIMAL,
            N_("逾期率预警线"),
            N_("在贷笔数足够时，逾期率高于此值即开立监控案件。"),
            unit=N_("比例（0.10 即 10%）"),
            minimum=_dec("0.001"),
            maximum=_dec("1"),
        ),
        _spec(
            "monitoring_overdue_min_loans",
            "monitoring",
            INTEGER,
            N_("逾期率最少在贷笔数"),
            N_("在贷笔数达到此数才评估逾期率规则。"),
            unit=N_("笔"),
            minimum=1,
            maximum=100000,
        ),
        _spec(
            "monitoring_complaint_rate_max",
            "monitoring",
            DECIMAL,
            N_("投诉率预警线"),
            N_("申请数足够时，投诉数与申请数之比高于此值即开立监控案件。"),
            unit=N_("比例（0.02 即 2%）"),
            minimum=_dec("0.0001"),
            maximum=_dec("1"),
        ),
        _spec(
            "monitoring_complaint_min_applications",
            "monitoring",
            INTEGER,
            N_("投诉率最少申请数"),
            N_("申请数达到此数才评估投诉率规则。"),
            unit=N_("笔"),
            minimum=1,
            maximum=100000,
        ),
        _spec(
            "monitoring_apr_tolerance",
            "monitoring",
            DECIMAL,
            N_("实际年化超出容差"),
            N_("批复年化高于产品公示上限超过此值即开立监控案件。"),
            unit=N_("年化比例（0.001 即 0.1 个百分点）"),
            minimum=_dec("0"),
            maximum=_dec("0.1"),
        ),
        _spec(
            "actual_apr_min_offers",
            "monitoring",
            INTEGER,
            N_("展示实际年化的最少批复数"),
            N_("产品近期批复达到此数，产品页才向借款人展示实际批复年化区间。"),
            unit=N_("笔"),
            minimum=1,
            maximum=1000,
        ),
        _spec(
            "analytics_event_retention_days",
            "analytics",
            INTEGER,
            N_("行为数据保留天数"),
            N_(
                "浏览、搜索、计算器等匿名行为事件保留的天数，过期由每日任务删除；汇总报表不受影响。"
            ),
            unit=N_("天"),
            minimum=7,
            maximum=3650,
        ),
        _spec(
            "analytics_min_band_size",
            "analytics",
            INTEGER,
            N_("客群分析最少人数"),
            N_(
                "机构经营报表中每个客群分段至少包含此数量的借款人才单独展示，不足的合并为“其他”或隐藏。"
            ),
            unit=N_("人"),
            minimum=2,
            maximum=1000,
        ),
    ]
)


def _bad(message: str) -> DomainError:
    return DomainError(message, field="value")


def _in_range(spec: ParameterSpec, number: Decimal | int) -> None:
    low, high = spec.minimum, spec.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        raise _bad(_("应在 {low} 到 {high} 之间", low=low, high=high))


def _integer(spec: ParameterSpec, text: str) -> int:
    if not _INTEGER_TEXT.fullmatch(text):
        raise _bad(_("请输入整数（半角数字）"))
    number = int(text)
    _in_range(spec, number)
    return number


def _code_list(spec: ParameterSpec, items: list[tuple[str, str]]) -> list[dict[str, str]]:
    if not 1 <= len(items) <= spec.max_items:
        raise _bad(_("应有 1 到 {n} 项", n=spec.max_items))
    seen: set[str] = set()
    result = []
    for code, label in items:
        if not _CODE_TEXT.fullmatch(code):
            raise _bad(_("代码“{code}”应为小写字母开头的字母、数字或下划线", code=code[:40]))
        if code in seen:
            raise _bad(_("代码“{code}”重复了", code=code))
        if not 1 <= len(label) <= MAX_LABEL or not label.isprintable():
            raise _bad(_("“{code}”的名称应为 1 到 {n} 个字", code=code, n=MAX_LABEL))
        seen.add(code)
        result.append({"code": code, "label": label})
    return result


def _integer_list(spec: ParameterSpec, texts: list[str]) -> list[int]:
    if not 1 <= len(texts) <= spec.max_items:
        raise _bad(_("应有 1 到 {n} 项", n=spec.max_items))
    numbers = [_integer(spec, text) for text in texts]
    if len(set(numbers)) != len(numbers):
        raise _bad(_("不能有重复的数"))
    return sorted(numbers, reverse=spec.descending)


def parse_text(spec: ParameterSpec, raw: str) -> Any:
    """The value an operator typed (a code list one "代码=名称" a line; a number list
    separated by commas) in the parameter's shape, or a DomainError on `value`."""
    text = raw.strip()
    if not text:
        raise _bad(_("请填写参数值"))
    if len(text) > MAX_TEXT:
        raise _bad(_("内容过长（最多 {n} 个字符）", n=MAX_TEXT))
    if spec.kind == CODE_LIST:
        items = []
        for line in text.splitlines():
            if not line.strip():
                continue
            code, sep, label = line.partition("=")
            if not sep:
                raise _bad(_("每行写成“代码=名称”，如 income=收入不足"))
            items.append((code.strip(), label.strip()))
        return _code_list(spec, items)
    if spec.kind == INTEGER_LIST:
        return _integer_list(spec, [t.strip() for t in re.split(r"[,，\s]+", text) if t.strip()])
    return coerce(spec, text)


def coerce(spec: ParameterSpec, value: Any) -> Any:
    """A value handed in by code (or parsed text) checked against the spec, in the stored
    shape; a DomainError on `value` when it does not fit."""
    if spec.kind == DECIMAL:
        text = str(value).strip() if isinstance(value, str | Decimal | int) else ""
        if isinstance(value, bool) or not _DECIMAL_TEXT.fullmatch(text):
            raise _bad(_("请输入数值（半角数字，最多 6 位小数）"))
        try:
            number = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            raise _bad(_("请输入数值")) from None
        _in_range(spec, number)
        return str(number)
    if spec.kind == INTEGER:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _bad(_("请输入整数（半角数字）"))
        return _integer(spec, str(value).strip())
    if spec.kind == TIME:
        if not isinstance(value, str) or not _TIME_TEXT.fullmatch(value.strip()):
            raise _bad(_("请按“时:分”填写，如 08:00"))
        return value.strip()
    if spec.kind == CODE_LIST:
        if not isinstance(value, list) or not all(
            isinstance(item, dict)
            and isinstance(item.get("code"), str)
            and isinstance(item.get("label"), str)
            for item in value
        ):
            raise _bad(_("参数值的类型不正确"))
        return _code_list(spec, [(item["code"], item["label"]) for item in value])
    if spec.kind == INTEGER_LIST:
        if not isinstance(value, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in value
        ):
            raise _bad(_("参数值的类型不正确"))
        return _integer_list(spec, [str(item) for item in value])
    raise _bad(_("参数值的类型不正确"))


def as_text(spec: ParameterSpec, value: Any) -> str:
    """The value as the edit form shows it (what `parse_text` reads back)."""
    if spec.kind == CODE_LIST and isinstance(value, list):
        return "\n".join(f"{item.get('code', '')}={_(item.get('label', ''))}" for item in value)
    if spec.kind == INTEGER_LIST and isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
