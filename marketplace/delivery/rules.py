"""The delivery gate's rule, without the database: may a lead go to this institution now?

Checked in this order, the first failure answers: the institution is active; an agreement
is in force; today's and this month's lead caps (Asia/Shanghai days and months); the
monthly budget; then the filters on the lead itself.

Spend this month is the agreement in force applied to the month's usage: delivered leads ×
the CPL price, approvals × the CPA price, or disbursed amounts × the CPS rate, with the
agreement's monthly caps. A CPL lead costs its price, so it is refused when it would take
spend past the budget; under CPA and CPS a lead costs nothing until approved or disbursed,
so leads stop once spend has reached the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from marketplace.agreements.terms import AgreementTerms, PricingModel
from marketplace.cities import covers
from marketplace.i18n import N_, _
from marketplace.money import format_cny
from marketplace.products.catalog import EMPLOYMENT_TYPES


@dataclass(frozen=True)
class Limits:
    """An institution's delivery settings (empty tuples and None: no limit)."""

    daily_lead_cap: int | None = None
    monthly_lead_cap: int | None = None
    monthly_budget: Decimal | None = None
    cities: tuple[str, ...] = ()
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    min_monthly_income: Decimal | None = None
    employment_types: tuple[str, ...] = ()

    @property
    def has_filters(self) -> bool:
        return bool(
            self.cities
            or self.amount_min is not None
            or self.amount_max is not None
            or self.min_monthly_income is not None
            or self.employment_types
        )

    @property
    def counts_usage(self) -> bool:
        return (
            self.daily_lead_cap is not None
            or self.monthly_lead_cap is not None
            or self.monthly_budget is not None
        )


@dataclass(frozen=True)
class Usage:
    """What the institution has received and owes so far (Asia/Shanghai day and month)."""

    leads_today: int = 0
    leads_month: int = 0
    approvals_month: int = 0
    disbursed_month: Decimal = Decimal(0)

    def units(self, terms: AgreementTerms) -> int:
        return self.approvals_month if terms.pricing_model is PricingModel.CPA else self.leads_month

    def spend(self, terms: AgreementTerms) -> Decimal:
        return terms.month_fee(self.units(terms), self.disbursed_month)


@dataclass(frozen=True)
class LeadFacts:
    """What the gate may know about a lead (no personal identifiers)."""

    city: str
    amount: Decimal
    monthly_income: Decimal
    employment_type: str


@dataclass(frozen=True)
class Admission:
    ok: bool
    reason_code: str = ""
    label: str = ""  # translated, for the borrower
    field: str = ""  # the apply form's field the refusal is about, if any


ADMITTED = Admission(ok=True)

REASONS: dict[str, str] = {
    "inactive": N_("该机构已暂停合作"),
    "no_agreement": N_("该机构暂未开通接收申请"),
    "daily_cap": N_("今日名额已满"),
    "monthly_cap": N_("本月名额已满"),
    "budget": N_("本月名额已满"),
    "filter": N_("暂不符合该机构的接收条件"),
}


def _refuse(code: str, field: str = "delivery", detail: str = "") -> Admission:
    label = _(REASONS[code.split(".")[0]])
    if detail:
        label = _("{reason}：{detail}", reason=label, detail=detail)
    return Admission(ok=False, reason_code=code, label=label, field=field)


def judge(
    active: bool,
    terms: AgreementTerms | None,
    limits: Limits,
    usage: Usage,
    facts: LeadFacts | None,
) -> Admission:
    """The gate's answer. `facts` None: before the borrower has typed anything (the
    product page), only the institution-wide checks apply."""
    if not active:
        return _refuse("inactive")
    if terms is None:
        return _refuse("no_agreement")
    if limits.daily_lead_cap is not None and usage.leads_today >= limits.daily_lead_cap:
        return _refuse("daily_cap")
    if limits.monthly_lead_cap is not None and usage.leads_month >= limits.monthly_lead_cap:
        return _refuse("monthly_cap")
    if limits.monthly_budget is not None:
        if terms.pricing_model is PricingModel.CPL:
            after = terms.month_fee(usage.leads_month + 1, usage.disbursed_month)
            over = after > limits.monthly_budget
        else:
            over = usage.spend(terms) >= limits.monthly_budget
        if over:
            return _refuse("budget")
    return ADMITTED if facts is None else filter_lead(limits, facts)


def filter_lead(limits: Limits, facts: LeadFacts) -> Admission:
    sep = _("、")  # Translators: separator between the items of a list.
    if limits.cities and not covers(limits.cities, facts.city):
        return _refuse(
            "filter.city", "city", _("所在城市须为 {cities}", cities=sep.join(limits.cities))
        )
    if limits.amount_min is not None and facts.amount < limits.amount_min:
        return _refuse(
            "filter.amount",
            "amount",
            _("借款金额不低于 {amount}", amount=format_cny(limits.amount_min)),
        )
    if limits.amount_max is not None and facts.amount > limits.amount_max:
        return _refuse(
            "filter.amount",
            "amount",
            _("借款金额不高于 {amount}", amount=format_cny(limits.amount_max)),
        )
    if limits.min_monthly_income is not None and facts.monthly_income < limits.min_monthly_income:
        return _refuse(
            "filter.income",
            "monthly_income",
            _("月收入不低于 {amount}", amount=format_cny(limits.min_monthly_income)),
        )
    if limits.employment_types and facts.employment_type not in limits.employment_types:
        kinds = sep.join(
            _(EMPLOYMENT_TYPES[k]) for k in limits.employment_types if k in EMPLOYMENT_TYPES
        )
        return _refuse(
            "filter.employment", "employment_type", _("职业类型须为 {kinds}", kinds=kinds)
        )
    return ADMITTED
