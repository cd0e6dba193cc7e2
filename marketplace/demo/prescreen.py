"""Demo pre-screen rules: 华信银行 has a published rule set (its demo leads show scores and
the per-rule explanation) and a draft with one more rule, ready to preview and publish."""

from __future__ import annotations

from marketplace.applications.statuses import ApplicationStatus
from marketplace.applications.tables import Application
from marketplace.demo.decisions import _actor
from marketplace.prescreen.services import (
    add_hard_filter,
    add_score_rule,
    publish,
    screen_lead,
    set_threshold,
    start_draft,
)
from marketplace.prescreen.tables import RuleSet
from marketplace.products.tables import Product

STAFF_LOGIN = "admin@huaxin-bank.example"

TOO_MUCH_DEBT = {
    "filter_field": "amount_to_income",
    "filter_operator": "at_least",
    "filter_low": "20",
    "reason": "debt",
}
SCORES = (
    {
        "score_field": "monthly_income",
        "score_operator": "between",
        "score_low": "8000",
        "score_high": "15000",
        "points": "20",
    },
    {
        "score_field": "monthly_income",
        "score_operator": "at_least",
        "score_low": "15000",
        "points": "40",
    },
    {
        "score_field": "employment_type",
        "score_operator": "in",
        "score_values": "employee,civil_servant",
        "points": "20",
    },
    {
        "score_field": "amount_to_income",
        "score_operator": "below",
        "score_low": "3",
        "points": "20",
    },
)


async def _product_cities(institution_id: int | None) -> list[str]:
    """The cities the institution's products are offered in, in catalogue order."""
    cities: list[str] = []
    for row in await Product.select(Product.cities).where(Product.institution == institution_id):
        cities += [city for city in row["cities"] or () if city not in cities]
    return cities


async def seed_prescreen() -> int:
    """Once (nothing without the demo account or when it has rules); returns how many demo
    leads were scored."""
    staff = await _actor(STAFF_LOGIN)
    if staff is None or await RuleSet.exists().where(RuleSet.institution == staff.institution_id):
        return 0
    cities = ",".join(await _product_cities(staff.institution_id))
    version_one = await start_draft(staff)
    await add_hard_filter(staff, version_one, TOO_MUCH_DEBT)
    for form in SCORES:
        await add_score_rule(staff, version_one, form)
    if cities:
        await add_score_rule(
            staff,
            version_one,
            {"score_field": "city", "score_operator": "in", "score_values": cities, "points": "10"},
        )
    await set_threshold(staff, version_one, {"threshold": "30", "threshold_reason": "income"})
    await publish(staff, version_one)
    # The draft: leads from outside the cities the products serve are turned down outright.
    if cities:
        only_our_cities = {
            "filter_field": "city",
            "filter_operator": "not_in",
            "filter_values": cities,
            "reason": "not_eligible",
        }
        await add_hard_filter(staff, await start_draft(staff), only_our_cities)
    # The demo leads were delivered before these rules existed: score them now, as the
    # screening job does for every lead delivered from here on.
    leads = await Application.select(Application.id).where(
        (Application.institution == staff.institution_id)
        & (Application.status != ApplicationStatus.SUBMITTED)
    )
    return sum([await screen_lead(row["id"]) for row in leads])
