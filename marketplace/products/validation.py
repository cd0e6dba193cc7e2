"""Turn a submitted product form into checked values, collecting every error at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from marketplace.errors import ValidationFailed
from marketplace.i18n import N_, _
from marketplace.loancalc import Fee, LoanInputError, RatePeriod, RepaymentMethod
from marketplace.products.catalog import CATEGORIES, EMPLOYMENT_TYPES

_SPLIT = re.compile(r"[,，、;；\s]+")
PERCENT = Decimal(100)
# Matched against the zh-CN text institutions write: content rules, not UI text.
BANNED_PHRASES = ("秒批", "无视征信", "黑户可贷", "黑户", "包过", "百分百下款", "零门槛")

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
    rate: Decimal
    rate_period: str
    repayment_method: str
    fees: list[Fee]


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


def split_list(raw: str | list[str] | None) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else _SPLIT.split(raw)
    return [item.strip() for item in items if item and item.strip()]


def _first(data: Mapping, key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "").replace("，", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def banned_phrase_in(*texts: str) -> str | None:
    for phrase in BANNED_PHRASES:
        if any(phrase in text for text in texts):
            return phrase
    return None


class _Form:
    """Reads one submitted form, collecting every error instead of stopping at the first."""

    def __init__(self, data: Mapping) -> None:
        self.data = data
        self.errors: dict[str, str] = {}

    def text(self, key: str) -> str:
        return _first(self.data, key)

    # `label` is the field's name, marked with N_() by the caller.
    def decimal(self, key: str, label: str, *, minimum: Decimal = Decimal(0)) -> Decimal:
        value = _decimal(self.text(key))
        if value is None:
            self.errors[key] = _("请填写正确的{label}", label=_(label))
            return Decimal(0)
        if value < minimum:
            self.errors[key] = _("{label}不能小于{minimum}", label=_(label), minimum=minimum)
        return value

    def integer(self, key: str, label: str, default: int) -> int:
        text = self.text(key)
        if not text:
            return default
        value = _int(text)
        if value is None:
            self.errors[key] = _("{label}应为整数", label=_(label))
            return default
        return value


def _price_terms(form: _Form) -> PriceTerms:
    errors = form.errors
    amount_min = form.decimal("amount_min", N_("最低额度"), minimum=Decimal(100))
    amount_max = form.decimal("amount_max", N_("最高额度"), minimum=Decimal(100))
    if "amount_min" not in errors and "amount_max" not in errors and amount_max < amount_min:
        errors["amount_max"] = _("最高额度不能低于最低额度")

    terms: list[int] = []
    for item in split_list(form.data.get("term_options")):
        term = _int(item)
        if term is None or not 1 <= term <= 360:
            errors["term_options"] = _("期限应为1到360之间的整数月数")
            break
        terms.append(term)
    terms = sorted(set(terms))
    if not terms and "term_options" not in errors:
        errors["term_options"] = _("请至少选择一个期限")

    rate_period = form.text("rate_period")
    if rate_period not in RatePeriod.__members__.values():
        errors["rate_period"] = _("请选择计息周期")
    rate_percent = form.decimal("rate", N_("利率"))
    if "rate" not in errors and rate_percent <= 0:
        errors["rate"] = _("利率必须大于0")
    method = form.text("repayment_method")
    if method not in RepaymentMethod.__members__.values():
        errors["repayment_method"] = _("请选择还款方式")

    fees: list[Fee] = []
    for key, (kind, timing) in FEE_FIELDS.items():
        text = form.text(key)
        if not text:
            continue
        value = _decimal(text)
        if value is None or value < 0:
            errors[key] = _("请填写正确的费用")
            continue
        if value == 0:
            continue
        try:
            if timing == "upfront":
                fees.append(Fee(kind=kind, timing=timing, amount=value))
            else:
                fees.append(Fee(kind=kind, timing=timing, rate=value / PERCENT))
        except LoanInputError as exc:
            errors[key] = exc.message
    return PriceTerms(
        amount_min, amount_max, terms, rate_percent / PERCENT, rate_period, method, fees
    )


def parse_price_terms(data: Mapping) -> PriceTerms:
    """Only the fields that set the price; raises ValidationFailed for those alone."""
    form = _Form(data)
    terms = _price_terms(form)
    if form.errors:
        raise ValidationFailed(form.errors)
    return terms


def parse_product_input(data: Mapping) -> ProductInput:
    """`data` is the raw form (values str or list[str]); raises ValidationFailed."""
    form = _Form(data)
    errors = form.errors
    name = form.text("name")
    if not 2 <= len(name) <= 30:
        errors["name"] = _("产品名称应为2到30个字")
    category = form.text("category")
    if category not in CATEGORIES:
        errors["category"] = _("请选择产品类别")
    summary = form.text("summary")
    if len(summary) > 100:
        errors["summary"] = _("一句话介绍最多100个字")
    description = form.text("description")
    if phrase := banned_phrase_in(name, summary, description):
        errors["summary"] = _("宣传用语不得包含“{phrase}”等违规表述", phrase=phrase)

    price_terms = _price_terms(form)

    age_min = form.integer("age_min", N_("最低年龄"), 18)
    age_max = form.integer("age_max", N_("最高年龄"), 60)
    if age_min < 18:
        errors["age_min"] = _("借款人须年满18周岁")
    if age_max < age_min or age_max > 75:
        errors["age_max"] = _("最高年龄应在最低年龄与75岁之间")

    employment_types = split_list(data.get("employment_types"))
    if any(item not in EMPLOYMENT_TYPES for item in employment_types):
        errors["employment_types"] = _("职业类型不正确")
    min_income = (
        form.decimal("min_monthly_income", N_("最低月收入"))
        if form.text("min_monthly_income")
        else Decimal(0)
    )
    approval_speed_hours = form.integer("approval_speed_hours", N_("审批时效"), 24)

    if errors:
        raise ValidationFailed(errors)
    return ProductInput(
        name=name,
        category=category,
        summary=summary,
        description=description,
        price_terms=price_terms,
        age_min=age_min,
        age_max=age_max,
        cities=split_list(data.get("cities")),
        min_monthly_income=min_income,
        employment_types=employment_types or list(EMPLOYMENT_TYPES),
        required_documents=split_list(data.get("required_documents")),
        tags=split_list(data.get("tags"))[:4],
        keywords=split_list(data.get("keywords")),
        approval_speed_hours=approval_speed_hours,
    )
