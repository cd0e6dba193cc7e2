"""What every application form asks once: the borrower (the saved profile's fields, read
and validated here for the apply forms and the profile page alike) and the need (amount,
term, purpose); and whether one product takes that borrower and that need, with reasons.

`eligibility_reasons` is the one place a product's conditions are checked: the apply
forms before and at submission, and any page that lists what a borrower may apply for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marketplace.accounts.profiles import (
    ADDRESS_MAX_LENGTH,
    CONTACT_NAME_MAX_LENGTH,
    CONTACT_RELATIONS,
    ProfileFacts,
)
from marketplace.applications.tables import Application
from marketplace.cities import covers, parse_city
from marketplace.i18n import _
from marketplace.loancalc import MAX_TERM_MONTHS, MIN_TERM_MONTHS
from marketplace.money import FEN
from marketplace.parameters.services import get_parameters
from marketplace.parsing import (
    FormReader,
    column_length,
    first,
    parse_int,
    parse_money,
    parse_text,
)
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.security import (
    age_on,
    normalise_id_number,
    normalise_mobile,
    today_in_china,
    validate_chinese_name,
    validate_id_number,
    validate_mobile,
)

# The form fields of the borrower, in the order the forms show them.
PERSON_FIELDS = (
    "real_name",
    "id_number",
    "city",
    "monthly_income",
    "employment_type",
    "address",
    "contact_name",
    "contact_relation",
    "contact_mobile",
)
NEED_FIELDS = ("amount", "term_months", "purpose")
# Longer than any valid value by far; anything longer is refused before it is examined.
RAW_MAX_LENGTH = 200


async def coded_list(parameter: str) -> dict[str, str]:
    """A system parameter kept as a list of {code, label}: code → label, in its order."""
    return coded_items((await get_parameters(parameter))[parameter])


def coded_items(items: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    # Default labels are in the catalogue; an operator's own wording passes through as is.
    return {str(item["code"]): _(str(item["label"])) for item in items}


async def loan_purposes() -> dict[str, str]:
    return await coded_list("loan_purposes")


def _raw(data: Mapping[str, Any], key: str) -> str:
    return first(data.get(key)).strip()


def read_person(form: FormReader) -> ProfileFacts:
    """The borrower's fields of `form`, every error collected in it."""
    data = form.data
    real_name = _raw(data, "real_name")
    if error := validate_chinese_name(real_name[:RAW_MAX_LENGTH]):
        form.fail("real_name", error)
    id_number = normalise_id_number(_raw(data, "id_number")[:RAW_MAX_LENGTH])
    if error := validate_id_number(id_number):
        form.fail("id_number", error)
    city = form.field("city", parse_city, "", label=_("所在城市"))
    # Income is bounded like any amount of money we can compute with.
    income = form.field("monthly_income", parse_money, Decimal(0), label=_("月收入"), minimum=FEN)
    # Chosen by the borrower, never assumed: a product or an institution may turn it down.
    employment_type = _raw(data, "employment_type")
    if employment_type not in EMPLOYMENT_TYPES:
        form.fail("employment_type", _("请选择您的职业类型"))
    address = form.field(
        "address", parse_text, "", label=_("联系地址"), max_length=ADDRESS_MAX_LENGTH
    )
    contact_name = form.field(
        "contact_name",
        parse_text,
        "",
        label=_("紧急联系人姓名"),
        max_length=CONTACT_NAME_MAX_LENGTH,
    )
    relation = _raw(data, "contact_relation")
    contact_mobile = _raw(data, "contact_mobile")
    # The emergency contact is optional, but one given is given whole.
    if contact_name or relation or contact_mobile:
        if "contact_name" not in form.errors and (error := validate_chinese_name(contact_name)):
            form.fail("contact_name", error)
        if relation not in CONTACT_RELATIONS:
            form.fail("contact_relation", _("请选择紧急联系人与您的关系"))
        if error := validate_mobile(contact_mobile[:RAW_MAX_LENGTH]):
            form.fail("contact_mobile", error)
        contact_mobile = normalise_mobile(contact_mobile[:RAW_MAX_LENGTH])
    return ProfileFacts(
        real_name=real_name,
        id_number=id_number,
        city=city,
        monthly_income=income,
        employment_type=employment_type,
        address=address,
        contact_name=contact_name,
        contact_relation=relation if contact_name else "",
        contact_mobile=contact_mobile if contact_name else "",
    )


@dataclass(frozen=True)
class LoanNeed:
    amount: Decimal
    term_months: int
    purpose: str  # a code of the loan_purposes parameter


def read_need(form: FormReader) -> LoanNeed:
    """Amount, term and the purpose's shape; which purposes exist (a parameter) is the
    submitting verb's check."""
    amount = form.field("amount", parse_money, Decimal(0), label=_("借款金额"), minimum=FEN)
    term = form.field(
        "term_months",
        parse_int,
        0,
        label=_("借款期限"),
        minimum=MIN_TERM_MONTHS,
        maximum=MAX_TERM_MONTHS,
    )
    purpose = _raw(form.data, "purpose")
    if not purpose or len(purpose) > column_length(Application.purpose):
        form.fail("purpose", _("请选择借款用途"))
    return LoanNeed(amount=amount, term_months=term, purpose=purpose)


def eligibility_reasons(
    product: Mapping[str, Any],
    person: ProfileFacts | None,
    *,
    amount: Decimal | None = None,
    term_months: int | None = None,
    method: str | None = None,
) -> dict[str, str]:
    """Why `product` would refuse this borrower and need, by form field; empty when it
    would not. What is not known yet (None, or a field left empty) is not held against
    the borrower, so a page can say it before anything is typed."""
    reasons: dict[str, str] = {}
    if amount is not None and not product["amount_min"] <= amount <= product["amount_max"]:
        reasons["amount"] = _(
            "该产品额度为{amount_min}至{amount_max}元",
            amount_min=f"{product['amount_min']:,.0f}",
            amount_max=f"{product['amount_max']:,.0f}",
        )
    if term_months is not None and term_months not in product["term_options"]:
        reasons["term_months"] = _("请选择该产品提供的期限")
    if method is not None and method not in product["repayment_methods"]:
        reasons["repayment_method"] = _("请选择该产品提供的还款方式")
    if person is None:
        return reasons
    if person.id_number and not validate_id_number(person.id_number):
        age = age_on(person.id_number, today_in_china())
        if not product["age_min"] <= age <= product["age_max"]:
            reasons["id_number"] = _(
                "该产品仅面向{age_min}至{age_max}周岁的借款人",
                age_min=product["age_min"],
                age_max=product["age_max"],
            )
    if person.city and product["cities"] and not covers(product["cities"], person.city):
        # Translators: separator between the items of a list.
        cities = _("、").join(product["cities"])
        reasons["city"] = _("该产品暂不覆盖您所在的城市：{cities}", cities=cities)
    if person.monthly_income and person.monthly_income < product["min_monthly_income"]:
        reasons["monthly_income"] = _(
            "该产品要求月收入不低于{amount}元", amount=f"{product['min_monthly_income']:,.0f}"
        )
    if (
        person.employment_type in EMPLOYMENT_TYPES
        and product["employment_types"]
        and person.employment_type not in product["employment_types"]
    ):
        reasons["employment_type"] = _("该产品暂不面向您的职业类型")
    return reasons


def form_values(profile: ProfileFacts | None) -> dict[str, str]:
    """A saved profile as the forms' field values (its owner's own pages only)."""
    if profile is None:
        return {}
    return {field: str(getattr(profile, field)) for field in PERSON_FIELDS}


def parse_profile(data: Mapping[str, Any]) -> ProfileFacts:
    """The profile page's form: the same fields and rules as the apply forms."""
    form = FormReader(data)
    person = read_person(form)
    form.raise_errors()
    return person
