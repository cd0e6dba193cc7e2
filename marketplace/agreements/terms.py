"""What an agreement says: its pricing model, the fee for a month's usage, and the text the
institution signs (built from the agreement alone, so the text shown is the text signed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from marketplace.i18n import N_, _
from marketplace.money import format_cny, format_rate, to_fen

AGREEMENT_TEXT_CONTEXT = "agreement.text"


class PricingModel(StrEnum):
    CPL = "cpl"  # yuan per delivered lead
    CPA = "cpa"  # yuan per approval
    CPS = "cps"  # a fraction of each disbursed amount

    @property
    def label(self) -> str:
        return _(_MODEL_LABELS[self])

    @property
    def unit(self) -> str:
        """What one unit of usage is, for pages and the agreement text."""
        return _(_MODEL_UNITS[self])


_MODEL_LABELS = {
    PricingModel.CPL: N_("CPL 按送达线索计费"),
    PricingModel.CPA: N_("CPA 按批复计费"),
    PricingModel.CPS: N_("CPS 按放款金额比例计费"),
}
_MODEL_UNITS = {
    PricingModel.CPL: N_("送达线索（条）"),
    PricingModel.CPA: N_("批复（笔）"),
    PricingModel.CPS: N_("放款金额（元）"),
}


@dataclass(frozen=True)
class AgreementTerms:
    """The terms of the agreement in force, for settlement and the delivery gate."""

    id: int
    institution_id: int
    version: int
    pricing_model: PricingModel
    rate: Decimal  # yuan per unit (CPL, CPA) or a fraction of the amount disbursed (CPS)
    monthly_unit_cap: int | None  # billable leads / approvals a month (CPL, CPA)
    monthly_fee_cap: Decimal | None  # yuan a month
    valid_from: date
    valid_to: date

    @property
    def rate_text(self) -> str:
        if self.pricing_model is PricingModel.CPS:
            return _("放款金额的 {rate}", rate=format_rate(self.rate, 4))
        if self.pricing_model is PricingModel.CPA:
            return _("每笔批复 {price}", price=format_cny(self.rate))
        return _("每条送达线索 {price}", price=format_cny(self.rate))

    def month_fee(self, units: int, disbursed: Decimal) -> Decimal:
        """The fee for one calendar month's usage: `units` delivered leads (CPL) or
        approvals (CPA), `disbursed` yuan (CPS); the monthly caps applied, then to the fen."""
        if self.pricing_model is PricingModel.CPS:
            fee = disbursed * self.rate
        else:
            billable = units if self.monthly_unit_cap is None else min(units, self.monthly_unit_cap)
            fee = billable * self.rate
        if self.monthly_fee_cap is not None:
            fee = min(fee, self.monthly_fee_cap)
        return to_fen(fee)


@dataclass(frozen=True)
class Party:
    name: str
    licence_no: str


def agreement_text(party: Party, terms: AgreementTerms) -> str:
    """The whole agreement. Every clause is here, in this order, and nowhere else."""
    unit_cap = (
        _("每月计费上限 {n} {unit}", n=terms.monthly_unit_cap, unit=terms.pricing_model.unit)
        if terms.monthly_unit_cap is not None and terms.pricing_model is not PricingModel.CPS
        else _("每月计费数量不设上限")
    )
    fee_cap = (
        _("每月服务费上限 {amount}", amount=format_cny(terms.monthly_fee_cap))
        if terms.monthly_fee_cap is not None
        else _("每月服务费不设上限")
    )
    lines = [
        _("LoanMart 平台合作协议"),
        _(
            "协议编号：LMT-AGR-{id}    版本：第 {version} 版",
            id=terms.id,
            version=terms.version,
        ),
        "",
        _("一、协议双方"),
        _("  甲方（平台）：LoanMart 助贷信息服务平台"),
        _(
            "  乙方（机构）：{name}（金融许可证编号：{licence}）",
            name=party.name,
            licence=party.licence_no,
        ),
        "",
        _("二、合作内容"),
        _(
            "  甲方向乙方推荐经借款人单独同意的借款申请（线索）；乙方独立审核、自主决策，"
            "对放款及贷后管理承担全部责任。"
        ),
        "",
        _("三、计费方式"),
        _("  计费模式：{model}", model=terms.pricing_model.label),
        _("  费率：{rate}", rate=terms.rate_text),
        _("  计费上限：{units}；{fee}", units=unit_cap, fee=fee_cap),
        _("  服务费按自然月（北京时间）结算，甲方于次月出具结算单，乙方可逐笔确认或提出异议。"),
        "",
        _("四、有效期"),
        _(
            "  自 {start} 起至 {end} 止（北京时间，含首尾两日）。乙方签署更新版本后，本版本即由新版本取代。",
            start=terms.valid_from.isoformat(),
            end=terms.valid_to.isoformat(),
        ),
        "",
        _("五、个人信息保护"),
        _(
            "  乙方仅为审核该笔借款申请使用借款人信息，不得超出授权范围使用或向第三方提供；"
            "借款人撤回授权后，乙方应停止处理其信息。"
        ),
        "",
        _("六、其他"),
        _(
            "  本协议以短信验证码电子签名方式签署，签署记录（时间、地址、设备、协议摘要）由平台"
            "留存，与书面签字具有同等效力。"
        ),
    ]
    return "\n".join(lines) + "\n"
