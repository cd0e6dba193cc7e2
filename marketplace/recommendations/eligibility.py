"""Does a product fit the borrower and the need? Every criterion, matched or failed, with
the product's own terms beside it, so the page can say why (PRODUCT.md P4).

The need (amount, term, purpose) is checked in both views; the borrower's facts (age from
the birth date, city, income, employment) only in the personalised one. The institution's
stated receiving conditions (its delivery filters, and whether it takes applications now)
come from the delivery gate's answer, read without side effects. An institution's
pre-screen scorecard is its private policy, never shown to borrowers, so it is not a
criterion here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from marketplace.cities import covers
from marketplace.delivery.rules import Admission
from marketplace.i18n import N_, _
from marketplace.loancalc import MAX_TERM_MONTHS, MIN_TERM_MONTHS
from marketplace.parsing import FormReader, first, parse_choice, parse_int, parse_money
from marketplace.products.catalog import EMPLOYMENT_TYPES


class Purpose(StrEnum):
    ANY = "any"
    CONSUMPTION = "consumption"
    BUSINESS = "business"
    CAR = "car"
    HOME = "home"


PURPOSE_LABELS: dict[Purpose, str] = {
    Purpose.ANY: N_("不限用途"),
    Purpose.CONSUMPTION: N_("日常消费"),
    Purpose.BUSINESS: N_("经营周转"),
    Purpose.CAR: N_("购车"),
    Purpose.HOME: N_("装修或大额消费"),
}
# The catalogue categories that serve each purpose; a category of the operators' own
# making (not listed in any) is taken to fit every purpose.
PURPOSE_CATEGORIES: dict[Purpose, frozenset[str]] = {
    Purpose.CONSUMPTION: frozenset({"consumer", "credit_card"}),
    Purpose.BUSINESS: frozenset({"business", "mortgage"}),
    Purpose.CAR: frozenset({"car", "consumer"}),
    Purpose.HOME: frozenset({"consumer", "mortgage"}),
}
KNOWN_CATEGORIES = frozenset().union(*PURPOSE_CATEGORIES.values())


def purpose_options() -> dict[str, str]:
    """The form's choices, translated now."""
    return {str(code): _(label) for code, label in PURPOSE_LABELS.items()}


@dataclass(frozen=True)
class Need:
    amount: Decimal
    term_months: int
    purpose: Purpose = Purpose.ANY


@dataclass(frozen=True)
class BorrowerFacts:
    """From the saved profile, for the borrower's own page only."""

    birth_date: date
    city: str
    monthly_income: Decimal
    employment_type: str


@dataclass(frozen=True)
class ProductTerms:
    category: str
    category_label: str
    amount_min: Decimal
    amount_max: Decimal
    term_options: Sequence[int]
    age_min: int
    age_max: int
    cities: Sequence[str]
    min_monthly_income: Decimal
    employment_types: Sequence[str]


@dataclass(frozen=True)
class Criterion:
    code: str  # amount | term | purpose | age | city | income | employment | institution
    label: str  # what is checked: 借款金额
    matched: bool
    detail: str  # the product's term and, when it fails, what does not fit


def age_on(birth_date: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


def _yuan(value: Decimal) -> str:
    return f"{value:,.0f}"


def need_criteria(terms: ProductTerms, need: Need) -> list[Criterion]:
    sep = _("、")  # Translators: separator between the items of a list.
    amount_ok = terms.amount_min <= need.amount <= terms.amount_max
    term_ok = need.term_months in terms.term_options
    criteria = [
        Criterion(
            "amount",
            _("借款金额"),
            amount_ok,
            _(
                "产品额度 {low}–{high} 元，您需要 {amount} 元",
                low=_yuan(terms.amount_min),
                high=_yuan(terms.amount_max),
                amount=_yuan(need.amount),
            ),
        ),
        Criterion(
            "term",
            _("借款期限"),
            term_ok,
            _(
                "可选期限 {terms} 个月，您需要 {term} 个月",
                terms=sep.join(str(t) for t in sorted(terms.term_options)),
                term=need.term_months,
            ),
        ),
    ]
    if need.purpose is not Purpose.ANY:
        fits = terms.category not in KNOWN_CATEGORIES or (
            terms.category in PURPOSE_CATEGORIES[need.purpose]
        )
        criteria.append(
            Criterion(
                "purpose",
                _("借款用途"),
                fits,
                _(
                    "产品类别为{category}，您的用途是{purpose}",
                    category=terms.category_label,
                    purpose=_(PURPOSE_LABELS[need.purpose]),
                ),
            )
        )
    return criteria


def borrower_criteria(terms: ProductTerms, facts: BorrowerFacts, today: date) -> list[Criterion]:
    sep = _("、")  # Translators: separator between the items of a list.
    age = age_on(facts.birth_date, today)
    employment = _(EMPLOYMENT_TYPES.get(facts.employment_type, facts.employment_type))
    wanted_employment = sep.join(
        _(EMPLOYMENT_TYPES.get(code, code)) for code in terms.employment_types
    )
    return [
        Criterion(
            "age",
            _("年龄"),
            terms.age_min <= age <= terms.age_max,
            _(
                "面向 {low}–{high} 周岁，您 {age} 周岁",
                low=terms.age_min,
                high=terms.age_max,
                age=age,
            ),
        ),
        Criterion(
            "city",
            _("所在城市"),
            not terms.cities or covers(terms.cities, facts.city),
            _("覆盖全国，您在{city}", city=facts.city)
            if not terms.cities
            else _("覆盖 {cities}，您在{city}", cities=sep.join(terms.cities), city=facts.city),
        ),
        Criterion(
            "income",
            _("月收入"),
            facts.monthly_income >= terms.min_monthly_income,
            _(
                "要求不低于 {low} 元，您填写的是 {income} 元",
                low=_yuan(terms.min_monthly_income),
                income=_yuan(facts.monthly_income),
            ),
        ),
        Criterion(
            "employment",
            _("职业类型"),
            not terms.employment_types or facts.employment_type in terms.employment_types,
            _("不限职业类型，您是{mine}", mine=employment)
            if not terms.employment_types
            else _("面向{kinds}，您是{mine}", kinds=wanted_employment, mine=employment),
        ),
    ]


def institution_criterion(admission: Admission, conditions: Sequence[str]) -> Criterion:
    """The institution's stated conditions, as the delivery gate reads them now."""
    if admission.ok:
        detail = (
            _("机构接收条件：{conditions}", conditions=_("；").join(conditions))
            if conditions
            else _("机构正在接收申请，未设额外条件")
        )
    else:
        detail = admission.label
    return Criterion("institution", _("机构接收条件"), admission.ok, detail)


def failed(criteria: Sequence[Criterion]) -> list[Criterion]:
    return [criterion for criterion in criteria if not criterion.matched]


def product_terms(row: Mapping, category_label: str) -> ProductTerms:
    return ProductTerms(
        category=row["category"],
        category_label=category_label,
        amount_min=row["amount_min"],
        amount_max=row["amount_max"],
        term_options=tuple(row["term_options"] or ()),
        age_min=row["age_min"],
        age_max=row["age_max"],
        cities=tuple(row["cities"] or ()),
        min_monthly_income=row["min_monthly_income"],
        employment_types=tuple(row["employment_types"] or ()),
    )


DEFAULT_NEED = Need(amount=Decimal(20000), term_months=12, purpose=Purpose.ANY)


def parse_need(params: Mapping[str, str]) -> tuple[Need | None, dict[str, str]]:
    """The need from the page's GET form; absent fields take the defaults the form shows,
    malformed ones are errors (and no need) so the page can say what to fix."""
    form = FormReader(params)
    amount = DEFAULT_NEED.amount
    if first(params.get("amount")).strip():
        amount = form.field(
            "amount", parse_money, amount, label=_("借款金额"), minimum=Decimal(100)
        )
    term = DEFAULT_NEED.term_months
    if first(params.get("term")).strip():
        term = form.field(
            "term",
            parse_int,
            term,
            label=_("借款期限"),
            minimum=MIN_TERM_MONTHS,
            maximum=MAX_TERM_MONTHS,
        )
    purpose = DEFAULT_NEED.purpose
    if first(params.get("purpose")).strip():
        purpose = Purpose(
            form.field(
                "purpose", parse_choice, str(purpose), choices=PURPOSE_LABELS, label=_("借款用途")
            )
        )
    if form.errors:
        return None, form.errors
    return Need(amount=amount, term_months=term, purpose=purpose), {}
