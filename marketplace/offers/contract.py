"""The loan contract a borrower signs: one plain-text template with every clause.

The text is built from the offer alone (no clock, no calendar), so the summary the borrower
reads and the text stored at signing are the same characters; its SHA-256 binds them.
Due dates follow the disbursement date, so the schedule is by instalment number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from marketplace.i18n import _
from marketplace.loancalc import Fee, FeeTiming, Quote, RatePeriod, RepaymentMethod, quote
from marketplace.money import format_cny, format_rate

CONTRACT_CONTEXT = "offer.contract"
# Any fixed date: the schedule's amounts do not depend on the calendar.
_SCHEDULE_START = date(2000, 1, 1)


@dataclass(frozen=True)
class ContractParties:
    lender_name: str
    lender_licence: str
    borrower_name_masked: str
    borrower_id_masked: str


@dataclass(frozen=True)
class ContractTerms:
    offer_id: int
    application_reference: str
    product_name: str
    amount: Decimal
    term_months: int
    repayment_method: str
    rate: Decimal
    rate_period: str
    day_count: int
    fees: tuple[Fee, ...]
    cooling_off_days: int


def plan_of(terms: ContractTerms) -> Quote:
    return quote(
        terms.amount,
        terms.term_months,
        terms.repayment_method,
        terms.rate,
        terms.rate_period,
        terms.fees,
        _SCHEDULE_START,
        day_count=terms.day_count,
    )


def _fee_line(fee: Fee) -> str:
    if fee.amount is not None:
        how = format_cny(fee.amount)
    else:
        how = _("借款本金的 {rate}", rate=format_rate(fee.rate, 4))
    if fee.timing is FeeTiming.UPFRONT:
        return _("  - {fee}：{how}，放款时一次性收取", fee=fee.label, how=how)
    return _("  - {fee}：{how}，每期随还款收取", fee=fee.label, how=how)


def contract_text(parties: ContractParties, terms: ContractTerms) -> str:
    """The whole contract. Every clause is here, in this order, and nowhere else."""
    plan = plan_of(terms)
    fees = [_fee_line(fee) for fee in terms.fees] or [_("  - 无")]
    rows = [
        _(
            "  第{n}期  应还 {payment}  本金 {principal}  利息 {interest}  费用 {fees}",
            n=i.period,
            payment=format_cny(i.payment),
            principal=format_cny(i.principal),
            interest=format_cny(i.interest),
            fees=format_cny(i.fees),
        )
        for i in plan.schedule
    ]
    lines = [
        _("个人借款合同"),
        _(
            "合同编号：LMT-OFFER-{offer}    申请编号：{reference}",
            offer=terms.offer_id,
            reference=terms.application_reference,
        ),
        "",
        _("一、合同双方"),
        _(
            "  贷款人：{name}（金融许可证编号：{licence}）",
            name=parties.lender_name,
            licence=parties.lender_licence,
        ),
        _(
            "  借款人：{name}（身份证号：{id_number}）",
            name=parties.borrower_name_masked,
            id_number=parties.borrower_id_masked,
        ),
        "",
        _("二、借款要素"),
        _("  产品：{product}", product=terms.product_name),
        _("  借款金额：{amount}", amount=format_cny(terms.amount)),
        _("  借款期限：{n} 个月", n=terms.term_months),
        _("  还款方式：{method}", method=RepaymentMethod(terms.repayment_method).label),
        _(
            "  合同利率：{rate}（{period}，按 {days} 天/年计）",
            rate=format_rate(terms.rate, 4),
            period=RatePeriod(terms.rate_period).label,
            days=terms.day_count,
        ),
        _("  综合年化利率（IRR，含利息及全部费用）：{apr}", apr=format_rate(plan.apr)),
        _(
            "  利息总额：{interest}    费用总额：{fees}",
            interest=format_cny(plan.total_interest),
            fees=format_cny(plan.total_fees),
        ),
        _("  借款总成本（利息+费用）：{cost}", cost=format_cny(plan.total_cost)),
        _("  还款总额：{total}", total=format_cny(plan.total_repayment)),
        "",
        _("三、费用"),
        *fees,
        _("  除上述费用外，贷款人不得以任何名义向借款人收取其他费用。"),
        "",
        _("四、还款计划（各期还款日为放款日在对应月份的同一日）"),
        *rows,
        "",
        _("五、冷静期"),
        _(
            "  借款人自签署本合同之日起 {days} 日内可无理由解除本合同；已放款的，借款人仅需"
            "归还本金及实际占用天数的利息，不承担任何费用或违约金。",
            days=terms.cooling_off_days,
        ),
        "",
        _("六、提前还款"),
        _(
            "  借款人可随时申请部分或全部提前还款，按实际借款天数计收利息，贷款人不收取提前还款"
            "违约金；未到期的分期费用不再收取。"
        ),
        "",
        _("七、其他"),
        _(
            "  本合同以短信验证码电子签名方式签署，签署记录（时间、地址、设备、合同摘要）由平台"
            "留存，与书面签字具有同等效力。"
        ),
    ]
    return "\n".join(lines) + "\n"
