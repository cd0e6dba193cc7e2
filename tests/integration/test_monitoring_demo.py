"""The demo has a flagged product with its open case, an operator's note and the
institution's response."""

from __future__ import annotations

from marketplace.demo.seed import seed_demo
from marketplace.monitoring.tables import CaseEvent, MonitoringCase
from marketplace.products.tables import Product


async def test_the_demo_has_a_flagged_product_with_an_open_case_and_a_response():
    await seed_demo()
    case = await MonitoringCase.objects().where(MonitoringCase.rule == "apr_above_listing").first()
    assert case is not None and case.status == "open" and case.responded_at is not None
    product = await Product.select(Product.status).where(Product.id == case.product).first()
    assert product["status"] == "listed"
    kinds = {
        e["kind"] for e in await CaseEvent.select(CaseEvent.kind).where(CaseEvent.case == case.id)
    }
    assert kinds == {"opened", "assigned", "note", "response"}
