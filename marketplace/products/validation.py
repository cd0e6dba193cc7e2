"""Turn a submitted product form into checked values, collecting every error at once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from piccolo.columns import Column

from marketplace.cities import parse_city_list
from marketplace.i18n import _
from marketplace.loancalc import (
    MAX_PRINCIPAL,
    MAX_TERM_MONTHS,
    MIN_TERM_MONTHS,
    Fee,
    LoanInputError,
    RatePeriod,
    RepaymentMethod,
    apr_range,
)
from marketplace.parsing import (
    LIST_SEPARATORS,
    FieldError,
    FormReader,
    column_length,
    first,
    parse_choice,
    parse_decimal,
    parse_int,
    parse_list,
    parse_money,
    parse_text,
)
from marketplace.products.catalog import CATEGORIES as SHIPPED_CATEGORIES
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.products.disclosures import (
    BASES,
    MAX_AMOUNT,
    MAX_RATE,
    Basis,
    ContingentFee,
    ContingentKind,
    missing,
)
from marketplace.products.tables import Product

PERCENT = Decimal(100)
# Matched against the zh-CN text institutions write: content rules, not UI text.
BANNED_PHRASES = ("秒批", "无视征信", "黑户可贷", "黑户", "包过", "百分百下款", "零门槛")

# Business limits; each is within its column (test_parsing checks), so a value that passes
# here always fits the database.
NAME_MAX_LENGTH = 30
SUMMARY_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 5000
MIN_AMOUNT = Decimal(100)
MAX_AGE = 75
MAX_APPROVAL_HOURS = 24 * 30
MAX_TERM_OPTIONS = 24
MAX_TAGS = 4
MAX_LIST_ITEMS = 50
# Rates are typed as percentages and kept as fractions in Numeric(12, 8).
RATE_PERCENT_SCALE = 6
RATE_PERIODS = tuple(p.value for p in RatePeriod)
REPAYMENT_METHODS = tuple(m.value for m in RepaymentMethod)
RATE_TYPES = ("fixed", "floating")
# A floating rate is the one-year LPR plus this many basis points (1bp = 0.01%); a
# negative spread is a discount on the LPR, kept small (an LPR far below 1% is unheard of).
MIN_SPREAD_BPS = -100
MAX_SPREAD_BPS = 5000
BPS = Decimal(10000)

# form field -> (fee kind, timing)
FEE_FIELDS: dict[str, tuple[str, str]] = {
    "fee_upfront_amount": ("arrangement", "upfront"),
    "fee_service_rate": ("service", "per_period"),
    "fee_guarantee_rate": ("guarantee", "per_period"),
    "fee_insurance_rate": ("insurance", "per_period"),
}


@dataclass(frozen=True)
class PriceTerms:
    """What the price depends on: enough for the APR preview on a half-filled form."""

    amount_min: Decimal
    amount_max: Decimal
    term_options: list[int]
    rate: Decimal  # the fixed rate; for a floating one, the LPR plus the spread
    rate_period: str
    repayment_methods: list[str]
    fees: list[Fee]
    rate_type: str = "fixed"
    spread_bps: int | None = None

    def with_lpr(self, lpr: Decimal) -> PriceTerms:
        """The terms priced at this LPR: a floating rate is LPR + spread a year."""
        if self.rate_type != "floating" or self.spread_bps is None:
            return self
        return replace(self, rate=lpr + Decimal(self.spread_bps) / BPS, rate_period="year")


@dataclass
class ProductInput:
    name: str
    category: str
    summary: str
    description: str
    price_terms: PriceTerms
    age_min: int
    age_max: int
    cities: list[str]
    min_monthly_income: Decimal
    employment_types: list[str]
    required_documents: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    approval_speed_hours: int = 24
    contingent_fees: list[ContingentFee] = field(default_factory=list)


def banned_phrase_in(*texts: str) -> str | None:
    for phrase in BANNED_PHRASES:
        if any(phrase in text for text in texts):
            return phrase
    return None


def read_rate(form: FormReader) -> tuple[Decimal, str]:
    """The rate (typed as a percentage, kept as a fraction) and its period."""
    rate_period = form.field(
        "rate_period", parse_choice, "year", choices=RATE_PERIODS, label=_("计息周期")
    )
    rate_percent = form.field(
        "rate",
        parse_decimal,
        Decimal(0),
        label=_("利率"),
        minimum=Decimal(0),
        maximum=PERCENT,
        scale=RATE_PERCENT_SCALE,
    )
    if "rate" not in form.errors and rate_percent <= 0:
        form.fail("rate", _("利率必须大于0"))
    return rate_percent / PERCENT, rate_period


def read_fees(form: FormReader) -> list[Fee]:
    """The fee fields (FEE_FIELDS) of a product or offer form: an upfront amount in yuan,
    per-period rates typed as percentages of the principal; blank or zero means none."""
    money = {"minimum": MIN_AMOUNT, "maximum": MAX_PRINCIPAL, "scale": 2}
    fees: list[Fee] = []
    for key, (kind, timing) in FEE_FIELDS.items():
        if not first(form.data.get(key)).strip():
            continue
        if timing == "upfront":
            amount = form.field(key, parse_decimal, Decimal(0), label=_("费用"), **money)
            if amount:
                fees.append(Fee(kind=kind, timing=timing, amount=amount))
        else:
            percent = form.field(
                key,
                parse_decimal,
                Decimal(0),
                label=_("费率"),
                minimum=Decimal(0),
                maximum=PERCENT,
                scale=RATE_PERCENT_SCALE,
            )
            if percent:
                fees.append(Fee(kind=kind, timing=timing, rate=percent / PERCENT))
    return fees


def _price_terms(form: FormReader) -> PriceTerms:
    money = {"minimum": MIN_AMOUNT, "maximum": MAX_PRINCIPAL, "scale": 2}
    amount_min = form.field("amount_min", parse_decimal, MIN_AMOUNT, label=_("最低额度"), **money)
    amount_max = form.field("amount_max", parse_decimal, MIN_AMOUNT, label=_("最高额度"), **money)
    if not form.errors.keys() & {"amount_min", "amount_max"} and amount_max < amount_min:
        form.fail("amount_max", _("最高额度不能低于最低额度"))

    terms: list[int] = []
    for item in LIST_SEPARATORS.split(first(form.data.get("term_options"))):
        if not item:
            continue
        try:
            terms.append(
                parse_int(item, label=_("期限"), minimum=MIN_TERM_MONTHS, maximum=MAX_TERM_MONTHS)
            )
        except FieldError:
            form.fail("term_options", _("期限应为1到360之间的整数月数"))
            break
    terms = sorted(set(terms))
    if not terms:
        form.fail("term_options", _("请至少选择一个期限"))
    elif len(terms) > MAX_TERM_OPTIONS:
        form.fail("term_options", _("期限最多{count}个", count=MAX_TERM_OPTIONS))

    rate_type = "fixed"  # the form's default: a form without the choice is a fixed rate
    if first(form.data.get("rate_type")).strip():
        rate_type = form.field(
            "rate_type", parse_choice, "fixed", choices=RATE_TYPES, label=_("利率类型")
        )
    spread_bps = None
    if rate_type == "floating":
        spread_bps = form.field(
            "rate_spread_bps",
            _parse_spread,
            0,
            label=_("LPR加点"),
        )
        rate, rate_period = Decimal(0), "year"
    else:
        rate, rate_period = read_rate(form)
    methods = _repayment_methods(form)
    fees = read_fees(form)
    terms_read = PriceTerms(
        amount_min, amount_max, terms, rate, rate_period, methods, fees, rate_type, spread_bps
    )
    # A floating rate is known only with today's LPR: the pricing service checks it then.
    if not form.errors and rate_type == "fixed":
        try:
            methods_apr_range(terms_read)
        except LoanInputError as exc:
            form.fail(engine_field(exc, terms_read), exc.message)
    return terms_read


# Where the loan engine's verdict on terms that are each fine alone belongs on the form.
_ENGINE_FIELDS = {
    "principal": "amount_max",
    "amount_max": "amount_max",
    "term_months": "term_options",
    "term_options": "term_options",
    "rate_period": "rate_period",
    "method": "repayment_methods",
    "fees": "fee_upfront_amount",
}


def engine_field(exc: LoanInputError, terms: PriceTerms) -> str:
    """The form field the loan engine's objection is about (a rate over 100% a year once
    annualised, an upfront fee as large as the loan)."""
    rate_field = "rate_spread_bps" if terms.rate_type == "floating" else "rate"
    return _ENGINE_FIELDS.get(exc.field, rate_field)


def methods_apr_range(terms: PriceTerms) -> tuple[Decimal, Decimal]:
    """(cheapest, dearest) APR over every offered method × term × amount extreme.

    For each method the extremes lie at the ends of the amount range (fixed fees weigh
    most on the smallest loan), so the product's range is the union of the methods' ones.
    """
    ranges = [
        apr_range(
            terms.amount_min,
            terms.amount_max,
            terms.term_options,
            method,
            terms.rate,
            terms.rate_period,
            terms.fees,
        )
        for method in terms.repayment_methods
    ]
    return min(low for low, _high in ranges), max(high for _low, high in ranges)


def _parse_spread(raw: object, *, label: str) -> int:
    """Basis points over the LPR: ASCII digits with an optional minus sign."""
    text = first(raw).strip().replace("－", "-")
    negative = text.startswith("-")
    value = parse_int(
        text.removeprefix("-"),
        label=label,
        minimum=0,
        maximum=-MIN_SPREAD_BPS if negative else MAX_SPREAD_BPS,
    )
    return -value if negative else value


def _repayment_methods(form: FormReader) -> list[str]:
    """The ticked methods, in the engine's order; at least one."""
    raw = form.data.get("repayment_methods")
    ticked = raw if isinstance(raw, list | tuple) else [raw] if raw else []
    if any(first(item) not in REPAYMENT_METHODS for item in ticked):
        form.fail("repayment_methods", _("还款方式不正确"))
        return []
    methods = [m for m in REPAYMENT_METHODS if m in {first(item) for item in ticked}]
    if not methods:
        form.fail("repayment_methods", _("请至少选择一种还款方式"))
    return methods


def contingent_field(kind: ContingentKind, part: str) -> str:
    """The form field of one part ("basis" or "value") of a contingent charge."""
    return f"{kind.value}_fee_{part}"


def read_contingent_fees(form: FormReader) -> list[ContingentFee]:
    """Late, penalty and early-repayment charges; a kind left unanswered is not disclosed
    (allowed in a draft, flagged by the review lint)."""
    fees: list[ContingentFee] = []
    for kind in ContingentKind:
        basis_key, value_key = contingent_field(kind, "basis"), contingent_field(kind, "value")
        if not first(form.data.get(basis_key)).strip():
            continue
        choices = [str(b) for b in BASES[kind]]
        basis = Basis(
            form.field(basis_key, parse_choice, "none", choices=choices, label=kind.label)
        )
        if basis is Basis.NONE:
            fees.append(ContingentFee(kind, basis))
        elif basis is Basis.AMOUNT:
            amount = form.field(
                value_key,
                parse_decimal,
                Decimal(0),
                label=kind.label,
                minimum=Decimal("0.01"),
                maximum=MAX_AMOUNT,
                scale=2,
            )
            fees.append(ContingentFee(kind, basis, amount))
        else:
            percent = form.field(
                value_key,
                parse_decimal,
                Decimal(0),
                label=kind.label,
                minimum=Decimal(0),
                maximum=MAX_RATE[kind] * PERCENT,
                scale=RATE_PERCENT_SCALE,
            )
            if value_key not in form.errors and percent <= 0:
                form.fail(
                    value_key, _("{label}费率必须大于0；不收取请选择“不收取”", label=kind.label)
                )
            fees.append(ContingentFee(kind, basis, percent / PERCENT))
    return fees


def parse_price_terms(data: Mapping) -> PriceTerms:
    """Only the fields that set the price; raises ValidationFailed for those alone."""
    form = FormReader(data)
    terms = _price_terms(form)
    form.raise_errors()
    return terms


def _list(form: FormReader, key: str, label: str, column: Column, max_items: int) -> list[str]:
    no_items: list[str] = []
    return form.field(
        key,
        parse_list,
        no_items,
        label=label,
        max_length=column_length(column),
        max_items=max_items,
    )


def parse_product_input(
    data: Mapping, categories: Collection[str] = SHIPPED_CATEGORIES
) -> ProductInput:
    """`data` is the raw form (values str or list[str]); raises ValidationFailed.
    `categories`: the codes the form offered (`product_category_choices`: operators may
    have created or hidden some); `save_product` checks the choice again either way."""
    form = FormReader(data)
    name = form.field(
        "name", parse_text, "", label=_("产品名称"), min_length=2, max_length=NAME_MAX_LENGTH
    )
    category = form.field("category", parse_choice, "", choices=categories, label=_("产品类别"))
    summary = form.field(
        "summary", parse_text, "", label=_("一句话介绍"), max_length=SUMMARY_MAX_LENGTH
    )
    description = form.field(
        "description",
        parse_text,
        "",
        label=_("产品说明"),
        max_length=DESCRIPTION_MAX_LENGTH,
        multiline=True,
    )
    if phrase := banned_phrase_in(name, summary, description):
        form.fail("summary", _("宣传用语不得包含“{phrase}”等违规表述", phrase=phrase))

    price_terms = _price_terms(form)

    ages = {"minimum": 0, "maximum": MAX_AGE}
    age_min = _optional_int(form, "age_min", _("最低年龄"), 18, **ages)
    age_max = _optional_int(form, "age_max", _("最高年龄"), 60, **ages)
    if age_min < 18:
        form.fail("age_min", _("借款人须年满18周岁"))
    if age_max < age_min:
        form.fail("age_max", _("最高年龄应在最低年龄与75岁之间"))

    no_items: list[str] = []
    employment_types = form.field(
        "employment_types",
        parse_list,
        no_items,
        label=_("职业类型"),
        max_length=column_length(Product.employment_types),
        max_items=len(EMPLOYMENT_TYPES),
    )
    if any(item not in EMPLOYMENT_TYPES for item in employment_types):
        form.fail("employment_types", _("职业类型不正确"))
    min_income = Decimal(0)
    if first(data.get("min_monthly_income")).strip():
        min_income = form.field(
            "min_monthly_income", parse_money, Decimal(0), label=_("最低月收入")
        )
    approval_speed_hours = _optional_int(
        form, "approval_speed_hours", _("审批时效"), 24, minimum=1, maximum=MAX_APPROVAL_HOURS
    )
    cities = form.field(
        "cities", parse_city_list, list[str](), label=_("城市"), max_items=MAX_LIST_ITEMS
    )
    documents = _list(
        form, "required_documents", _("所需材料"), Product.required_documents, MAX_LIST_ITEMS
    )
    tags = _list(form, "tags", _("标签"), Product.tags, MAX_TAGS)
    keywords = _list(form, "keywords", _("搜索关键词"), Product.keywords, MAX_LIST_ITEMS)
    contingent_fees = read_contingent_fees(form)
    form.raise_errors()
    return ProductInput(
        name=name,
        category=category,
        summary=summary,
        description=description,
        price_terms=price_terms,
        age_min=age_min,
        age_max=age_max,
        cities=cities,
        min_monthly_income=min_income,
        employment_types=employment_types or list(EMPLOYMENT_TYPES),
        required_documents=documents,
        tags=tags,
        keywords=keywords,
        approval_speed_hours=approval_speed_hours,
        contingent_fees=contingent_fees,
    )


def compliance_lint(
    texts: tuple[str, ...], high_cost: bool, contingent_fees: tuple[ContingentFee, ...]
) -> list[str]:
    """What a reviewer must look at before listing (PRODUCT.md A6), in plain words."""
    issues = []
    if phrase := banned_phrase_in(*texts):
        issues.append(_("宣传用语含违规表述“{phrase}”", phrase=phrase))
    if high_cost:
        issues.append(_("综合年化利率高于警示线：上架后将向借款人显著提示"))
    for kind in missing(contingent_fees):
        issues.append(_("未披露{label}（不收取也须注明）", label=kind.label))
    return issues


def _optional_int(
    form: FormReader, key: str, label: str, default: int, *, minimum: int, maximum: int
) -> int:
    if not first(form.data.get(key)).strip():
        return default
    return form.field(key, parse_int, default, label=label, minimum=minimum, maximum=maximum)
