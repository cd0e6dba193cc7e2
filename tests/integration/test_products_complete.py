"""Products, complete (issue #8, I2/A6): several repayment methods, contingent-fee
disclosures, LPR-floating rates re-priced on a parameter change, version history with a
diff, and the review page's diff against the last approved version."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from marketplace import jobs
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.errors import DomainError, PermissionDenied
from marketplace.parameters.services import change_parameter
from marketplace.products.disclosures import load as load_contingent
from marketplace.products.search_port import SearchQuery, backend
from marketplace.products.services import (
    change_listing,
    reprice_products,
    save_product,
    submit_for_review,
)
from marketplace.products.tables import Product
from marketplace.products.validation import parse_product_input
from tests import factories
from tests.factories import PRODUCT_FORM
from tests.fixtures import apply_form_secrets, login, soup

METHODS = ["equal_installment", "equal_principal", "interest_first"]
FLOATING = {"rate_type": "floating", "rate_spread_bps": "150", "rate": ""}


async def _product(product_id: int) -> Product:
    product = await Product.objects().where(Product.id == product_id).first()
    assert product is not None
    return product


async def test_several_methods_priced_picked_and_recorded(client, world):
    product_id = await factories.listed_product(
        world.staff, world.operator, repayment_methods=METHODS
    )
    product = await _product(product_id)
    assert product.repayment_methods == METHODS
    await jobs.run_until_idle()

    # The range covers every method: interest-only costs the same APR as the nominal rate,
    # and the product page offers each method in the calculator.
    page = await client.get(f"/products/{product_id}")
    options = [o["value"] for o in soup(page).select("select#f-method option")]
    assert options == METHODS
    for method in METHODS:
        quote = await client.get(
            f"/products/{product_id}/quote",
            params={"amount": "10000", "term": "6", "method": method},
            headers={"HX-Request": "true"},
        )
        assert quote.status_code == 200
        assert "无法计算" not in quote.text
    refused = await client.get(
        f"/products/{product_id}/quote", params={"method": "flat"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 200 and "请选择该产品提供的还款方式" in refused.text

    # The borrower's choice goes from the calculator to the application and the offer form.
    await login(client, "/login", world.borrower_mobile)
    form = await client.get(f"/products/{product_id}/apply", params={"method": "interest_first"})
    assert soup(form).select_one("#f-repayment_method option[selected]")["value"] == (
        "interest_first"
    )
    hidden = await apply_form_secrets(client, product_id)
    wrong = await client.submit(
        f"/products/{product_id}/apply",
        factories.application_form(**hidden, repayment_method="flat"),
    )
    assert wrong.status_code == 400
    assert "请选择该产品提供的还款方式" in wrong.text
    assert await Application.count() == 0
    response = await client.submit(
        f"/products/{product_id}/apply",
        factories.application_form(**hidden, repayment_method="interest_first"),
    )
    assert response.status_code == 303
    await jobs.run_until_idle()
    application = await Application.objects().first()
    assert application.repayment_method == "interest_first"

    await client.post("/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/console/login", "staff@test-bank.example")
    lead = soup(await client.get(f"/console/leads/{application.id}"))
    assert "先息后本" in lead.select_one("#request-title").find_parent("section").get_text()
    await client.submit(f"/console/leads/{application.id}/status", {"action": "review"})
    offer_form = soup(await client.get(f"/console/leads/{application.id}/offer"))
    offered = [o["value"] for o in offer_form.select("#f-repayment_method option")]
    assert set(offered) == set(METHODS)
    assert offer_form.select_one("#f-repayment_method option[selected]")["value"] == (
        "interest_first"
    )


async def test_contingent_fees_beside_the_price_outside_the_apr(client, world):
    product_id = await factories.listed_product(
        world.staff,
        world.operator,
        penalty_fee_basis="amount",
        penalty_fee_value="50",
        early_repayment_fee_basis="rate",
        early_repayment_fee_value="2",
    )
    await jobs.run_until_idle()
    with_fees = await _product(product_id)
    without = await _product(await factories.listed_product(world.staff, world.operator))
    # Contingent: the APR is the same whatever they are.
    assert with_fees.apr_max == without.apr_max

    page = soup(await client.get(f"/products/{product_id}"))
    summary = page.select_one(".product-detail__summary").get_text()
    for text in ("按逾期本金每日 0.05%", "每次逾期 ¥50.00", "提前偿还本金的 2%"):
        assert text in summary, text
    assert "不计入年化利率，仅在逾期/提前还款时收取" in summary
    listing = soup(await client.get("/products"))
    card = listing.select_one(f"a[href='/products/{product_id}']").find_parent("article")
    assert "不计入年化利率" in card.get_text() and "提前偿还本金的 2%" in card.get_text()
    quote = await client.get(f"/products/{product_id}/quote", headers={"HX-Request": "true"})
    assert "不计入上面的综合年化利率和还款计划" in quote.text
    compared = await client.get("/compare", params={"id": [product_id]})
    assert "违约金：每次逾期 ¥50.00" in compared.text


async def test_missing_disclosures_are_flagged(client, world):
    undisclosed = {
        "late_fee_basis": "",
        "penalty_fee_basis": "",
        "early_repayment_fee_basis": "none",
    }
    product_id = await save_product(
        world.staff, None, parse_product_input({**PRODUCT_FORM, **undisclosed})
    )
    await login(client, "/console/login", "staff@test-bank.example")
    page = await client.get(f"/console/products/{product_id}")
    assert "未披露逾期罚息" in page.text and "未披露违约金" in page.text
    assert "未披露提前还款费" not in page.text
    await submit_for_review(world.staff, product_id, acknowledge_high_cost=False)
    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/admin/login", "reviewer@loanmart.example")
    review = await client.get(f"/admin/reviews/products/{product_id}")
    assert "自动合规检查发现 2 个问题" in review.text
    assert "未披露违约金" in review.text


HOSTILE: list[tuple[dict[str, object], str]] = [
    ({"late_fee_basis": "amount"}, "late_fee_basis"),
    ({"late_fee_basis": "\x00"}, "late_fee_basis"),
    ({"late_fee_value": "0.2"}, "late_fee_value"),
    ({"late_fee_value": "-1"}, "late_fee_value"),
    ({"late_fee_value": "０.05"}, "late_fee_value"),
    ({"late_fee_value": "9" * 400}, "late_fee_value"),
    ({"late_fee_value": ""}, "late_fee_value"),
    ({"late_fee_value": "0"}, "late_fee_value"),
    ({"penalty_fee_basis": "daily_rate"}, "penalty_fee_basis"),
    ({"penalty_fee_basis": "rate", "penalty_fee_value": "21"}, "penalty_fee_value"),
    ({"penalty_fee_basis": "amount", "penalty_fee_value": "1e5"}, "penalty_fee_value"),
    (
        {"early_repayment_fee_basis": "amount", "early_repayment_fee_value": "100001"},
        "early_repayment_fee_value",
    ),
    (
        {"early_repayment_fee_basis": "rate", "early_repayment_fee_value": "NaN"},
        "early_repayment_fee_value",
    ),
    ({"rate_type": "both"}, "rate_type"),
    ({**FLOATING, "rate_spread_bps": "5001"}, "rate_spread_bps"),
    ({**FLOATING, "rate_spread_bps": "-101"}, "rate_spread_bps"),
    ({**FLOATING, "rate_spread_bps": "1.5"}, "rate_spread_bps"),
    ({**FLOATING, "rate_spread_bps": "٣"}, "rate_spread_bps"),
    ({**FLOATING, "rate_spread_bps": ""}, "rate_spread_bps"),
    ({"repayment_methods": ["weekly"]}, "repayment_methods"),
    ({"repayment_methods": ["equal_installment", "<script>"]}, "repayment_methods"),
    ({"repayment_methods": ""}, "repayment_methods"),
]


@pytest.mark.parametrize(("overrides", "field"), HOSTILE)
async def test_hostile_values_in_new_fields(client, world, overrides, field):
    await login(client, "/console/login", "staff@test-bank.example")
    response = await client.submit("/console/products/new", {**PRODUCT_FORM, **overrides})
    assert response.status_code == 400
    page = soup(response)
    assert page.select_one(f"#f-{field}").get("aria-invalid") == "true"
    # The form comes back with what was typed.
    assert page.select_one("#f-name")["value"] == PRODUCT_FORM["name"]
    if field != "late_fee_basis":
        assert page.select_one("#f-late_fee_basis option[selected]")["value"] == (
            overrides.get("late_fee_basis", PRODUCT_FORM["late_fee_basis"])
        )
    assert await Product.count() == 0


async def test_rejected_form_keeps_the_new_fields(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    typed = {
        **PRODUCT_FORM,
        **FLOATING,
        "repayment_methods": ["equal_principal", "interest_first"],
        "early_repayment_fee_basis": "rate",
        "early_repayment_fee_value": "2.5",
        "name": "",
    }
    page = soup(await client.submit("/console/products/new", typed))
    assert page.select_one("#f-rate_type-2").has_attr("checked")
    assert page.select_one("#f-rate_spread_bps")["value"] == "150"
    ticked = [box["value"] for box in page.select("input[name=repayment_methods][checked]")]
    assert ticked == ["equal_principal", "interest_first"]
    assert page.select_one("#f-early_repayment_fee_basis option[selected]")["value"] == "rate"
    assert page.select_one("#f-early_repayment_fee_value")["value"] == "2.5"


async def test_floating_rate_follows_the_lpr(client, world):
    admin = await factories.user(
        "operator", "admin@loanmart.example", "super_admin", None, "超级管理员"
    )
    floating_id = await factories.listed_product(world.staff, world.operator, **FLOATING)
    fixed_id = await factories.listed_product(world.staff, world.operator, name="固定利率贷")
    await jobs.run_until_idle()
    floating = await _product(floating_id)
    assert floating.rate == Decimal("0.045")  # default LPR 3.0% + 150 bp
    assert abs(floating.apr_max - Decimal("0.045")) < Decimal("0.0001")
    page = await client.get(f"/products/{floating_id}")
    assert "LPR + 150 个基点（当前 4.50%）" in page.text
    cheap = SearchQuery(apr_max=0.046)
    assert floating_id in [hit.id for hit in (await backend().search(cheap)).hits]

    with pytest.raises(PermissionDenied):
        await change_parameter(world.operator, "lpr_1y", "0.04")
    for bad in ("-0.01", "abc", "0", "1e999"):
        with pytest.raises(DomainError):
            await change_parameter(admin, "lpr_1y", bad)
    await change_parameter(admin, "lpr_1y", "0.04")
    assert await AuditEntry.exists().where(AuditEntry.action == "parameter.change")
    # Re-priced after commit by the outbox job, then re-indexed by the next one.
    await jobs.run_until_idle()

    floating = await _product(floating_id)
    assert floating.rate == Decimal("0.055")
    assert abs(floating.apr_min - Decimal("0.055")) < Decimal("0.0001")
    assert (await _product(fixed_id)).rate == Decimal("0.072")
    assert floating_id not in [hit.id for hit in (await backend().search(cheap)).hits]
    dearer = SearchQuery(apr_max=0.056)
    assert floating_id in [hit.id for hit in (await backend().search(dearer)).hits]
    page = await client.get(f"/products/{floating_id}")
    assert "LPR + 150 个基点（当前 5.50%）" in page.text
    listing = soup(await client.get("/products"))
    card = listing.select_one(f"a[href='/products/{floating_id}']").find_parent("article")
    assert "5.50%" in card.get_text()
    repriced = await AuditEntry.select().where(AuditEntry.action == "product.reprice")
    assert [row["object_id"] for row in repriced] == [str(floating_id)]


async def test_parallel_repricing_changes_each_product_once(world):
    from marketplace.parameters.tables import SystemParameter

    product_ids = [
        await factories.listed_product(world.staff, world.operator, name=f"浮动贷{i}", **FLOATING)
        for i in range(3)
    ]
    await SystemParameter.insert(SystemParameter(key="lpr_1y", value='"0.035"'))
    changed = await asyncio.gather(*(reprice_products() for _ in range(4)))
    assert sum(changed) == len(product_ids)
    for product_id in product_ids:
        assert (await _product(product_id)).rate == Decimal("0.050")


async def _new_version(world: factories.World, product_id: int, **changes: object) -> None:
    await change_listing(world.staff, product_id, "pause")
    await save_product(world.staff, product_id, parse_product_input({**PRODUCT_FORM, **changes}))


LONG_DESCRIPTION = "面向有稳定收入的工薪人群，" * 10


async def test_version_history_and_side_by_side_diff(client, world):
    product_id = await factories.listed_product(
        world.staff, world.operator, description=LONG_DESCRIPTION
    )
    await _new_version(
        world,
        product_id,
        rate="6.8",
        repayment_methods=METHODS[:2],
        description=LONG_DESCRIPTION + "可提前还款。",
    )
    await login(client, "/console/login", "staff@test-bank.example")
    url = f"/console/products/{product_id}/versions"
    page = soup(await client.get(url))
    assert "第 1 版" in page.get_text() and "第 2 版" in page.get_text()
    changed = {
        row.select_one("th").get_text(" ", strip=True).split()[0]
        for row in page.select("tr.diff-row--changed")
    }
    assert {"利率", "还款方式", "产品说明"} <= changed
    assert "产品名称" not in changed
    rate_row = next(r for r in page.select("tbody tr") if r.th.get_text().startswith("利率"))
    assert [td.get_text() for td in rate_row.select("td")] == ["年利率 7.2000%", "年利率 6.8000%"]
    # Long text shows only what changed, marked up.
    assert page.select_one("ins").get_text() == "可提前还款。"

    same = soup(await client.get(url, params={"old": "2", "new": "2"}))
    assert "两个版本的条款完全相同" in same.get_text() and not same.select("tr.diff-row--changed")
    assert (await client.get(url, params={"old": "999", "new": "1"})).status_code == 404
    # Malformed numbers fall back to the newest two, never a 500.
    assert (await client.get(url, params={"old": "x" * 500, "new": "-1"})).status_code == 200

    await client.post("/console/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/console/login", "staff@other-bank.example")
    assert (await client.get(url)).status_code == 404


async def test_review_diffs_against_last_approved_and_shows_last_rejection(client, world):
    product_id = await factories.listed_product(world.staff, world.operator)
    await _new_version(world, product_id, rate="6.8")
    await submit_for_review(world.staff, product_id, acknowledge_high_cost=False)
    await login(client, "/admin/login", "reviewer@loanmart.example")
    url = f"/admin/reviews/products/{product_id}"
    rejected = await client.submit(url, {"decision": "reject", "note": "提前还款费说明不清"})
    assert rejected.status_code == 303

    # The institution edits again (a second change) and resubmits the same version.
    await save_product(
        world.staff,
        product_id,
        parse_product_input({**PRODUCT_FORM, "rate": "6.8", "summary": "装修分期，利率更低"}),
    )
    await submit_for_review(world.staff, product_id, acknowledge_high_cost=False)
    page = soup(await client.get(url))
    text = page.get_text()
    assert "上次驳回原因" in text and "提前还款费说明不清" in text
    assert "已通过：第 1 版" in text and "本次提交：第 2 版" in text
    changed = {
        r.th.get_text(" ", strip=True).split()[0] for r in page.select("tr.diff-row--changed")
    }
    # Both edits since the approved version, not only the last one.
    assert {"利率", "一句话介绍"} <= changed


async def test_first_review_has_no_approved_version(client, world):
    product_id = await save_product(world.staff, None, parse_product_input(PRODUCT_FORM))
    await submit_for_review(world.staff, product_id, acknowledge_high_cost=False)
    await login(client, "/admin/login", "reviewer@loanmart.example")
    page = await client.get(f"/admin/reviews/products/{product_id}")
    assert "本次为首次上架审核" in page.text
    assert "上次驳回原因" not in page.text


async def test_lpr_pushing_a_listed_product_over_the_cap_pauses_it(world):
    from marketplace.inbox.tables import InboxItem

    admin = await factories.user(
        "operator", "admin@loanmart.example", "super_admin", None, "超级管理员"
    )
    product_id = await factories.listed_product(
        world.staff, world.operator, **{**FLOATING, "rate_spread_bps": "1800"}
    )
    await jobs.run_until_idle()
    assert (await _product(product_id)).cost_verdict == "warn"  # 21%: listed with a warning

    await change_parameter(admin, "lpr_1y", "0.07")  # 25%: over the 24% block line
    await jobs.run_until_idle()
    product = await _product(product_id)
    assert (product.status, product.cost_verdict) == ("paused", "block")
    assert (await backend().search(SearchQuery())).total == 0
    notice = await InboxItem.objects().where(InboxItem.recipient == world.staff.user_id).first()
    assert notice is not None and "已自动暂停" in notice.title
    assert notice.link == f"/console/products/{product_id}"
    assert await AuditEntry.exists().where(
        (AuditEntry.action == "product.pause") & (AuditEntry.actor_kind == "system")
    )


def _form_fields(form) -> dict[str, object]:
    """What a browser would send for this form as rendered (no edits)."""
    data: dict[str, list[str]] = {}
    for field in form.select("input[name], select[name], textarea[name]"):
        name = field["name"]
        if field.name == "select":
            chosen = field.select_one("option[selected]")
            value = chosen["value"] if chosen else ""
        elif field.name == "textarea":
            value = field.get_text()
        elif field.get("type") in ("checkbox", "radio"):
            if not field.has_attr("checked"):
                continue
            value = field["value"]
        else:
            value = field.get("value", "")
        data.setdefault(name, []).append(value)
    return {k: v if len(v) > 1 else v[0] for k, v in data.items() if k != "_csrf_token"}


async def test_edit_form_round_trips_every_new_field(client, world):
    product_id = await factories.listed_product(
        world.staff,
        world.operator,
        **FLOATING,
        repayment_methods=METHODS[1:],
        penalty_fee_basis="rate",
        penalty_fee_value="5",
        early_repayment_fee_basis="amount",
        early_repayment_fee_value="300",
    )
    before = await _product(product_id)
    await change_listing(world.staff, product_id, "pause")
    await login(client, "/console/login", "staff@test-bank.example")
    edit = soup(await client.get(f"/console/products/{product_id}/edit"))
    sent = _form_fields(edit.select_one("form.form[method=post]"))
    response = await client.submit(f"/console/products/{product_id}/edit", sent)
    assert response.status_code == 303, response.text[:300]
    after = await _product(product_id)
    for column in ("rate_type", "rate_spread_bps", "rate", "repayment_methods", "apr_max"):
        assert getattr(after, column) == getattr(before, column), column
    assert load_contingent(after.contingent_fees) == load_contingent(before.contingent_fees)
