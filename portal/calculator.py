"""Loan calculator (PRODUCT.md P3): per product and standalone. Pure computation, so GET:
results are shareable URLs and work without JavaScript; htmx swaps only the result."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from marketplace.delivery.queries import DeliveryNotice, delivery_notice
from marketplace.i18n import _
from marketplace.loancalc import (
    MAX_TERM_MONTHS,
    MIN_TERM_MONTHS,
    Fee,
    LoanInputError,
    RatePeriod,
    RepaymentMethod,
    quote,
)
from marketplace.money import FEN
from marketplace.parsing import FormReader, first, parse_decimal, parse_int, parse_money
from marketplace.products.queries import ProductDetail, listed_product
from server.behaviour import EventKind, track
from server.page_cache import live_figures
from server.rendering import render

PUBLIC = {"access": "public"}
PERCENT = Decimal(100)


def _default_amount(product: ProductDetail) -> Decimal:
    low, high = product.amount_min, product.amount_max
    preferred = Decimal(50000) if high >= 50000 else high
    return max(low, min(preferred, high))


def _terms(values: dict[str, str], errors: dict[str, str]) -> tuple[Decimal, int]:
    """The amount and term typed into the calculator; bad ones become field errors."""
    form = FormReader(values)
    amount = form.field("amount", parse_money, Decimal(0), label=_("借款金额"), minimum=FEN)
    term = form.field(
        "term",
        parse_int,
        0,
        label=_("借款期限"),
        minimum=MIN_TERM_MONTHS,
        maximum=MAX_TERM_MONTHS,
    )
    errors.update(form.errors)
    return amount, term


def _compute(
    values: dict[str, str], errors: dict[str, str], amount: Decimal, term: int, **loan: Any
) -> dict:
    """Run the engine unless the input is already wrong; what it refuses becomes a field
    error, and what was typed is kept either way."""
    result = None
    if not errors:
        try:
            result = quote(amount, term, **loan)
        except LoanInputError as exc:
            errors["amount" if exc.field == "principal" else exc.field] = exc.message
    return {"values": values, "quote": result, "errors": errors}


def calculator_context(product: ProductDetail, params: Mapping[str, str]) -> dict:
    terms = product.term_options
    values = {
        "amount": params.get("amount") or str(int(_default_amount(product))),
        "term": params.get("term") or str(terms[len(terms) // 2]),
        "method": params.get("method") or product.repayment_methods[0],
    }
    errors: dict[str, str] = {}
    amount, term = _terms(values, errors)
    if not errors and not product.amount_min <= amount <= product.amount_max:
        errors["amount"] = _(
            "该产品额度为{amount_min}至{amount_max}元",
            amount_min=f"{product.amount_min:,.0f}",
            amount_max=f"{product.amount_max:,.0f}",
        )
    elif not errors and term not in terms:
        errors["term"] = _("请选择该产品提供的期限")
    if values["method"] not in product.repayment_methods:
        errors["method"] = _("请选择该产品提供的还款方式")
    calc = _compute(
        values,
        errors,
        amount,
        term,
        method=values["method"],
        rate=product.rate,
        rate_period=product.rate_period,
        fees=product.fee_list,
    )
    return {"calc": calc}


async def kept_delivery_notice(institution_id: int) -> DeliveryNotice:
    """The product pages' delivery notice, as fresh as a cached page (`LiveFigures`)."""
    return await live_figures.read(
        ("delivery", institution_id), lambda: delivery_notice(institution_id)
    )


@get("/products/{product_id:int}/quote", name="portal.products.quote", opt=PUBLIC)
async def product_quote(request: Request, product_id: FromPath[int]) -> Response:
    product = await listed_product(product_id)
    calc = calculator_context(product, dict(request.query_params))
    delivery = await kept_delivery_notice(product.institution_id)  # the page without htmx
    await track(request, EventKind.CALCULATOR_USE, product=product_id)
    return await render(
        request,
        "portal/product_detail.html",
        {"product": product, "delivery": delivery, **calc},
        fragment="portal/_quote.html",
        nav="products",
    )


STANDALONE_DEFAULTS = {
    "amount": "50000",
    "term": "12",
    "rate": "7.2",
    "rate_period": "year",
    "method": "equal_installment",
    "upfront_fee": "",
    "monthly_fee_rate": "",
}


@get("/calculator", name="portal.calculator", opt=PUBLIC)
async def calculator(request: Request) -> Response:
    values = {
        key: first(request.query_params.get(key, default)).strip()
        for key, default in STANDALONE_DEFAULTS.items()
    }
    form = FormReader(values)
    percent = {"minimum": Decimal(0), "maximum": PERCENT, "scale": 6}
    rate = form.field("rate", parse_decimal, Decimal(0), label=_("利率"), **percent)
    fees: list[Fee] = []
    if values["upfront_fee"]:
        upfront = form.field("upfront_fee", parse_money, Decimal(0), label=_("一次性费用"))
        if upfront:
            fees.append(Fee(kind="arrangement", timing="upfront", amount=upfront))
    if values["monthly_fee_rate"]:
        monthly = form.field(
            "monthly_fee_rate", parse_decimal, Decimal(0), label=_("月服务费率"), **percent
        )
        if monthly:
            fees.append(Fee(kind="service", timing="per_period", rate=monthly / PERCENT))
    errors = dict(form.errors)
    amount, term = _terms(values, errors)
    if any(key in request.query_params for key in STANDALONE_DEFAULTS):
        await track(request, EventKind.CALCULATOR_USE)
    calc = _compute(
        values,
        errors,
        amount,
        term,
        method=values["method"],
        rate=rate / PERCENT,
        rate_period=values["rate_period"],
        fees=fees,
    )
    return await render(
        request,
        "portal/calculator.html",
        {
            "calc": calc,
            "methods": {m.value: m.label for m in RepaymentMethod},
            "periods": {p.value: p.label for p in RatePeriod},
        },
        fragment="portal/_quote.html",
        nav="calculator",
    )


handlers = [product_quote, calculator]
