"""Loan calculator (PRODUCT.md P3): per product and standalone. Pure computation, so GET:
results are shareable URLs and work without JavaScript; htmx swaps only the result."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from marketplace.i18n import _
from marketplace.loancalc import (
    Fee,
    LoanInputError,
    RatePeriod,
    RepaymentMethod,
    quote,
)
from marketplace.products.queries import ProductDetail, listed_product
from server.rendering import render

PUBLIC = {"access": "public"}
PERCENT = Decimal(100)


def _decimal(text: str | None) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _default_amount(product: ProductDetail) -> Decimal:
    low, high = Decimal(product.amount_min), Decimal(product.amount_max)
    preferred = Decimal(50000) if high >= 50000 else high
    return max(low, min(preferred, high))


def _compute(values: dict[str, Any], amount_text: str, term_text: str, **loan: Any) -> dict:
    """Run the engine; bad input becomes a field error and keeps what was typed."""
    errors: dict[str, str] = {}
    amount = _decimal(amount_text)
    if amount is None:
        errors["amount"] = _("请输入正确的借款金额")
    term = int(term_text) if term_text.isdigit() else None
    if term is None:
        errors["term"] = _("请选择借款期限")
    result = None
    if not errors:
        try:
            result = quote(amount, term, **loan)  # type: ignore[arg-type]
        except LoanInputError as exc:
            errors["amount" if exc.field == "principal" else exc.field] = exc.message
    return {"values": values, "quote": result, "errors": errors}


def calculator_context(product: ProductDetail, params: dict[str, str]) -> dict:
    amount_text = params.get("amount") or str(int(_default_amount(product)))
    terms = product.term_options
    term_text = params.get("term") or str(terms[len(terms) // 2])
    values = {"amount": amount_text, "term": term_text}
    calc = _compute(
        values,
        amount_text,
        term_text,
        method=product.repayment_method,
        rate=product.rate,
        rate_period=product.rate_period,
        fees=product.fee_list,
    )
    amount = _decimal(amount_text)
    if amount is not None and not calc["errors"]:
        if not product.amount_min <= amount <= product.amount_max:
            calc["errors"]["amount"] = _(
                "该产品额度为{amount_min}至{amount_max}元",
                amount_min=f"{product.amount_min:,.0f}",
                amount_max=f"{product.amount_max:,.0f}",
            )
            calc["quote"] = None
        elif int(term_text) not in terms:
            calc["errors"]["term"] = _("请选择该产品提供的期限")
            calc["quote"] = None
    return {"calc": calc}


@get("/products/{product_id:int}/quote", name="portal.products.quote", opt=PUBLIC)
async def product_quote(request: Request, product_id: FromPath[int]) -> Response:
    product = await listed_product(product_id)
    calc = calculator_context(product, dict(request.query_params))
    return await render(
        request,
        "portal/product_detail.html",
        {"product": product, **calc},
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
    values = {k: request.query_params.get(k, v).strip() for k, v in STANDALONE_DEFAULTS.items()}
    errors: dict[str, str] = {}
    rate = _decimal(values["rate"])
    if rate is None:
        errors["rate"] = _("请输入正确的利率")
    fees: list[Fee] = []
    upfront = _decimal(values["upfront_fee"])
    if values["upfront_fee"] and upfront is None:
        errors["upfront_fee"] = _("请输入正确的金额")
    monthly = _decimal(values["monthly_fee_rate"])
    if values["monthly_fee_rate"] and monthly is None:
        errors["monthly_fee_rate"] = _("请输入正确的费率")
    try:
        if upfront:
            fees.append(Fee(kind="arrangement", timing="upfront", amount=upfront))
        if monthly:
            fees.append(Fee(kind="service", timing="per_period", rate=monthly / PERCENT))
    except LoanInputError as exc:
        errors["upfront_fee" if exc.field == "fees" else exc.field] = exc.message
    calc: dict = {"values": values, "quote": None, "errors": errors}
    if not errors and rate is not None:
        calc = _compute(
            values,
            values["amount"],
            values["term"],
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
