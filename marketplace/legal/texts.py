"""The published legal texts as plain data (title, sections of paragraphs, lists and
tables), built from what they describe: the privacy policy from the data inventory, the
ranking policy from the ordering rules and promotion slots in force, the consent notice
template from the very function that writes every consent notice."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from marketplace.consents.notices import DATA_ITEMS as SHARED_DATA_ITEMS
from marketplace.consents.notices import build_notice
from marketplace.i18n import N_, _
from marketplace.legal.inventory import DATA_ITEMS


class LegalDocument(StrEnum):
    TERMS = "terms"
    PRIVACY = "privacy"
    RANKING = "ranking"
    CONSENT = "consent-notice"


TITLES: dict[LegalDocument, str] = {
    LegalDocument.TERMS: N_("用户协议"),
    LegalDocument.PRIVACY: N_("隐私政策"),
    LegalDocument.RANKING: N_("排序与推广规则"),
    LegalDocument.CONSENT: N_("个人信息单独同意书（模板）"),
}


@dataclass(frozen=True)
class TextTable:
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    table: TextTable | None = None


@dataclass(frozen=True)
class LegalText:
    title: str
    summary: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def digest(self) -> str:
        canonical = json.dumps(self.as_json(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LegalText:
        return cls(
            title=data["title"],
            summary=data["summary"],
            sections=tuple(
                Section(
                    heading=s["heading"],
                    paragraphs=tuple(s.get("paragraphs") or ()),
                    items=tuple(s.get("items") or ()),
                    table=TextTable(
                        tuple(s["table"]["head"]), tuple(tuple(r) for r in s["table"]["rows"])
                    )
                    if s.get("table")
                    else None,
                )
                for s in data["sections"]
            ),
        )


def terms_text() -> LegalText:
    return LegalText(
        _(TITLES[LegalDocument.TERMS]),
        _("您注册和使用 LoanMart 贷超时与平台之间的约定。"),
        (
            Section(
                _("一、平台是什么"),
                (
                    _(
                        "LoanMart 贷超是贷款信息服务平台：展示持牌金融机构的贷款产品，帮助您比较、"
                        "申请并跟踪办理进度。平台本身不发放贷款，不承诺审批结果；是否放款、额度和"
                        "利率由机构决定。"
                    ),
                ),
            ),
            Section(
                _("二、平台不向您收取任何费用"),
                (
                    _(
                        "注册、比较、申请和使用平台的所有功能均免费。平台的收入来自机构支付的服务费。"
                        "任何以平台名义要求您支付“会员费”“保证金”“解冻费”的都是诈骗，请立即报警。"
                    ),
                ),
            ),
            Section(
                _("三、您的账户"),
                items=(
                    _("账户以手机号注册，请妥善保管密码和短信验证码，不要告诉任何人。"),
                    _("您可以在“个人中心—账户安全”修改密码、更换手机号、退出其他设备。"),
                    _("您可以随时申请注销账户；冷静期后注销，依法须保存的信息除外。"),
                ),
            ),
            Section(
                _("四、如实填写与单独同意"),
                (
                    _(
                        "申请时请如实填写资料。您的个人信息只有在您针对每一家机构单独同意后，"
                        "才会提供给该机构，且只提供同意书中列出的信息；您可以随时撤回同意。"
                    ),
                ),
            ),
            Section(
                _("五、价格与排序"),
                (
                    _(
                        "所有价格以综合年化利率（按IRR计算，含全部费用）展示。产品列表默认按综合成本"
                        "排序，机构付费推广的产品标注“推广”，不改变列表排序，详见《排序与推广规则》。"
                    ),
                ),
            ),
            Section(
                _("六、禁止的行为"),
                items=(
                    _("冒用他人身份或提交虚假资料申请贷款；"),
                    _("以自动程序批量注册、申请或抓取平台内容；"),
                    _("干扰平台运行或试图获取他人的信息。"),
                ),
            ),
            Section(
                _("七、协议的变更"),
                (
                    _(
                        "本协议变更时会发布新版本并注明生效日期，此前的版本可在本页查阅。"
                        "如有争议，适用中华人民共和国法律。"
                    ),
                ),
            ),
        ),
    )


def privacy_text() -> LegalText:
    rows = tuple(
        (
            _(item.category),
            _(item.item),
            _(item.purpose),
            # Translators: separator between the items of a list.
            _("、").join(_(r.label) for r in item.recipients),
            _(item.retention),
        )
        for item in DATA_ITEMS
    )
    return LegalText(
        _(TITLES[LegalDocument.PRIVACY]),
        _("我们收集哪些个人信息、为什么、提供给谁、保存多久，以及您的权利。"),
        (
            Section(
                _("一、我们处理的个人信息"),
                (
                    _(
                        "下表列出平台保存的关于您的全部个人信息。身份证号、手机号、收入等敏感"
                        "信息加密存储，页面中只显示部分内容，且不会出现在日志、网址或搜索索引中。"
                    ),
                ),
                table=TextTable(
                    (_("类别"), _("信息"), _("用途"), _("接收方"), _("保存期限")), rows
                ),
            ),
            Section(
                _("二、向机构提供信息"),
                (
                    _(
                        "每次申请前，您会看到一份个人信息单独同意书，写明接收机构、联系方式、处理"
                        "目的、信息项和保存期限。只有您勾选同意后，平台才向该机构提供您的信息。"
                        "平台的信用健康分和审批概率只供您本人参考，从不提供给机构。"
                    ),
                    _(
                        "可能提供给机构的信息项仅限：{items}；机构要求补充证明材料时，"
                        "只提供您针对该申请上传的文件。",
                        # Translators: separator between the items of a list.
                        items=_("、").join(_(label) for label in SHARED_DATA_ITEMS.values()),
                    ),
                ),
            ),
            Section(
                _("三、您的权利"),
                items=(
                    _("查阅与复制：在“我的授权”中导出平台保存的关于您的全部信息；"),
                    _("撤回同意：在“我的授权”中一键撤回对某家机构的同意，此后不再向其提供；"),
                    _("更正：申请时可修改申请资料；"),
                    _("删除与注销：在“个人中心—注销账户”申请注销；"),
                    _("通知偏好：在“通知—短信通知设置”中选择哪些通知同时发短信。"),
                ),
            ),
            Section(
                _("四、政策的变更"),
                (
                    _(
                        "本政策随平台保存的信息变化而更新，每个版本注明生效日期，此前的版本可在本页查阅。"
                    ),
                ),
            ),
        ),
    )


def ranking_text(
    sorts: list[tuple[str, str, bool]], rules_version: int, placements: list[tuple[str, int]]
) -> LegalText:
    """`sorts`: (label, explanation, is default) of each sort offered, in order;
    `placements`: (label, promotions per day) of each promotion placement."""
    offered = tuple(
        _("{label}（默认）：{explanation}", label=label, explanation=explanation)
        if fixed
        else _("{label}：{explanation}", label=label, explanation=explanation)
        for label, explanation, fixed in sorts
    )
    rules_note = (
        _("当前使用排序规则第 {n} 版。", n=rules_version)
        if rules_version
        else _("当前使用平台默认的排序规则。")
    )
    return LegalText(
        _(TITLES[LegalDocument.RANKING]),
        _("我们如何排列贷款产品，以及“推广”是什么。本页内容由平台当前生效的排序规则自动生成。"),
        (
            Section(
                _("一、产品列表如何排序"),
                (
                    _(
                        "产品列表默认按综合年化利率从低到高排列，也就是先看到总成本最低的产品。"
                        "排序不读取您的任何个人信息，所有人看到的顺序相同；您可以随时一键回到默认排序。"
                    ),
                    _("目前产品列表提供以下 {n} 种排序方式：", n=len(offered)),
                ),
                items=offered,
            ),
            Section(
                _("二、其他位置"),
                (
                    _(
                        "首页的“热门产品”先列出综合年化未达高成本提示线的产品，按申请热度从高到低；"
                        "标有高成本提示的产品排在它们之后，同样按申请热度。"
                        "搜索、筛选只决定哪些产品出现，不改变上述排序方式。"
                    ),
                    rules_note,
                ),
            ),
            Section(
                _("三、“推广”是什么"),
                (
                    _(
                        "机构可以付费申请推广位，经平台审核后在约定日期内展示。推广产品在任何位置"
                        "都标注“推广”，只出现在单独标出的推广区域："
                    ),
                ),
                items=tuple(
                    _("{label}：每天最多 {n} 个", label=label, n=slots)
                    for label, slots in placements
                ),
            ),
            Section(
                _("四、推广从不改变排序"),
                (
                    _(
                        "推广从不改变产品列表的排序。"
                        "推广产品在列表中仍然出现在按所选排序方式应在的位置，不会被提前，也不会挤掉"
                        "更便宜的产品。推广不代表平台推荐，也不影响机构的审批结果。"
                    ),
                ),
            ),
        ),
    )


def consent_template_text() -> LegalText:
    """The notice every application shows, with the institution's particulars left as
    blanks: the same function writes both, so the template cannot differ from the real
    notice."""
    notice = build_notice(_("〔机构名称〕"), _("〔机构客服电话〕"), _("〔产品名称〕"))
    return LegalText(
        _(TITLES[LegalDocument.CONSENT]),
        _(
            "每次申请前您会看到的同意书。方括号处在申请时填入具体的机构和产品；"
            "同意书版本 {version}。",
            version=notice.version,
        ),
        (
            Section(
                _("同意书全文"),
                tuple(line for line in notice.text.split("\n") if line),
            ),
        ),
    )
