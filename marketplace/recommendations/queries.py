"""Read models of /recommend and /odds-calibration (PRODUCT.md P4, §6.3).

For the borrower only: odds are never part of what institutions see (leads, webhooks,
Open API, console), and nothing here is written anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marketplace.accounts.tables import BorrowerProfile
from marketplace.categories.queries import category_labels
from marketplace.cities import canonical_or_same
from marketplace.delivery.queries import receiving_conditions
from marketplace.delivery.rules import Admission, LeadFacts
from marketplace.delivery.services import admission, limits_of
from marketplace.i18n import _
from marketplace.loancalc import LoanInputError, quote
from marketplace.parameters.services import get_parameters
from marketplace.products.catalog import CATEGORIES, EMPLOYMENT_TYPES
from marketplace.products.tables import Product
from marketplace.products.visibility import on_portal
from marketplace.recommendations.calibration import BandRow
from marketplace.recommendations.eligibility import (
    BorrowerFacts,
    Criterion,
    Need,
    age_on,
    borrower_criteria,
    failed,
    institution_criterion,
    need_criteria,
    product_terms,
)
from marketplace.recommendations.odds import (
    MODEL_PARAMETERS,
    Decision,
    Estimate,
    ModelSettings,
    Tally,
    settings_from,
)
from marketplace.recommendations.tables import OddsCalibration
from marketplace.security import decrypt_field, today_in_china

# Decided applications, as the model sees them: product, the borrower's employment type
# (clear column of the profile), amount, when submitted and when first decided. Rows that
# predate application events count from their last update.
_DECISIONS = """
SELECT a.product AS product_id,
       COALESCE(p.employment_type, '') AS employment_type,
       a.amount,
       a.submitted_at,
       COALESCE(d.decided_at, a.updated_at) AS decided_at,
       COALESCE(d.approved, a.status IN ('approved', 'accepted')) AS approved
FROM application a
LEFT JOIN LATERAL (
    SELECT min(e.at) AS decided_at, bool_or(e.status = 'approved') AS approved
    FROM application_event e
    WHERE e.application = a.id AND e.status IN ('approved', 'rejected')
) d ON true
LEFT JOIN borrower_profile p ON p."user" = a.borrower
WHERE a.submitted_at >= {}
  AND (d.decided_at IS NOT NULL OR a.status IN ('approved', 'accepted', 'rejected'))
"""


# The live page's counts: the same decisions, counted per segment by the database.
_SEGMENT_COUNTS = (
    """
SELECT d.product_id,
       d.employment_type,
       width_bucket(d.amount, {}::numeric[]) AS amount_band,
       count(*) AS decided,
       count(*) FILTER (WHERE d.approved) AS approved
FROM ("""
    + _DECISIONS
    + """) d
WHERE d.decided_at < {}
GROUP BY 1, 2, 3
"""
)


async def model_settings() -> ModelSettings:
    return settings_from(await get_parameters(*MODEL_PARAMETERS))


async def decisions_since(since: datetime) -> list[Decision]:
    rows = await OddsCalibration.raw(_DECISIONS, since)
    return [Decision(**row) for row in rows]


async def borrower_facts(user_id: int) -> BorrowerFacts | None:
    """The saved profile's facts, for the borrower's own page (income decrypted here and
    never leaving this request)."""
    row = (
        await BorrowerProfile.select(
            BorrowerProfile.birth_date,
            BorrowerProfile.city,
            BorrowerProfile.monthly_income_encrypted,
            BorrowerProfile.employment_type,
        )
        .where(BorrowerProfile.user == user_id)
        .first()
    )
    if row is None:
        return None
    income = decrypt_field(
        row["monthly_income_encrypted"], context="borrower_profile.monthly_income"
    )
    return BorrowerFacts(
        birth_date=row["birth_date"],
        city=canonical_or_same(row["city"]),
        monthly_income=Decimal(income),
        employment_type=row["employment_type"],
    )


async def live_tally(settings: ModelSettings, now: datetime) -> Tally:
    """The counts an estimate made at `now` uses (`odds.counted`), grouped in SQL so a page
    view reads one row per segment, not one per application."""
    rows = await OddsCalibration.raw(
        _SEGMENT_COUNTS, list(settings.amount_cuts), now - settings.window, now
    )
    tally = Tally(settings)
    for row in rows:
        tally.add_group(
            row["product_id"],
            row["employment_type"],
            row["amount_band"],
            row["decided"],
            row["approved"],
        )
    return tally


@dataclass(frozen=True)
class Recommendation:
    product_id: int
    name: str
    institution_name: str
    category_label: str
    summary: str
    # The all-in APR at the need's amount and term (lowest over the product's repayment
    # methods); None when the need is outside the product's terms, then the range shows.
    apr: Decimal | None
    apr_min: Decimal | None
    apr_max: Decimal | None
    high_cost: bool
    criteria: tuple[Criterion, ...]
    estimate: Estimate | None  # only for eligible products
    odds_basis: str  # how the estimate was made, in words

    @property
    def eligible(self) -> bool:
        return not failed(self.criteria)

    @property
    def failures(self) -> list[Criterion]:
        return failed(self.criteria)

    @property
    def sort_apr(self) -> Decimal:
        for value in (self.apr, self.apr_min):
            if value is not None:
                return value
        return Decimal(100)


@dataclass(frozen=True)
class ProfileView:
    age: int
    city: str
    employment_label: str


@dataclass(frozen=True)
class RecommendationPage:
    need: Need
    personalised: bool
    profile: ProfileView | None
    eligible: list[Recommendation]
    ineligible: list[Recommendation]
    settings: ModelSettings
    amount_band: str = ""
    notes: Sequence[str] = field(default_factory=tuple)


def best_apr(row: Mapping[str, Any], need: Need) -> Decimal | None:
    """The cost engine's all-in APR for the need, the lowest over the product's methods."""
    fees = row["fees"]
    fee_list = json.loads(fees) if isinstance(fees, str) else fees
    aprs = []
    for method in row["repayment_methods"] or ():
        try:
            plan = quote(
                need.amount, need.term_months, method, row["rate"], row["rate_period"], fee_list
            )
        except LoanInputError:
            continue
        aprs.append(plan.apr)
    return min(aprs) if aprs else None


_COLUMNS = (
    Product.id,
    Product.name,
    Product.category,
    Product.summary,
    Product.amount_min,
    Product.amount_max,
    Product.term_options,
    Product.age_min,
    Product.age_max,
    Product.cities,
    Product.min_monthly_income,
    Product.employment_types,
    Product.repayment_methods,
    Product.rate,
    Product.rate_period,
    Product.fees,
    Product.apr_min,
    Product.apr_max,
    Product.cost_verdict,
    Product.institution.id.as_alias("institution_id"),
    Product.institution.short_name.as_alias("institution_name"),
)


async def recommendations(need: Need, user_id: int | None) -> RecommendationPage:
    """Listed products for the need, cheapest all-in APR first (a paid promotion never
    moves a product up). With `user_id` and a saved profile the borrower's facts are
    checked and an approval-odds band given; otherwise (signed out, no profile, or the
    non-personalised view, `user_id` None) no profile is read."""
    facts = await borrower_facts(user_id) if user_id is not None else None
    settings = await model_settings()
    now = datetime.now(UTC)
    tally = await live_tally(settings, now)
    labels = await category_labels(active_only=False)
    rows = await Product.select(*_COLUMNS).where(on_portal()).order_by(Product.id)
    today = today_in_china()
    gates: dict[int, tuple[Admission, tuple[str, ...]]] = {}
    lead = (
        LeadFacts(facts.city, need.amount, facts.monthly_income, facts.employment_type)
        if facts
        else None
    )
    amount_band = settings.amount_band_label(need.amount)
    items = []
    for row in rows:
        institution_id = row["institution_id"]
        if institution_id not in gates:
            gates[institution_id] = (
                await admission(institution_id, lead),
                receiving_conditions(await limits_of(institution_id)),
            )
        category_label = labels.get(row["category"]) or _(
            CATEGORIES.get(row["category"], row["category"])
        )
        terms = product_terms(row, category_label)
        criteria = need_criteria(terms, need)
        if facts is not None:
            criteria += borrower_criteria(terms, facts, today)
        criteria.append(institution_criterion(*gates[institution_id]))
        eligible = not failed(criteria)
        estimate = (
            tally.estimate(row["id"], facts.employment_type if facts else None, need.amount)
            if eligible
            else None
        )
        items.append(
            Recommendation(
                product_id=row["id"],
                name=row["name"],
                institution_name=row["institution_name"],
                category_label=category_label,
                summary=row["summary"],
                apr=best_apr(row, need) if not failed(criteria[:2]) else None,
                apr_min=row["apr_min"],
                apr_max=row["apr_max"],
                high_cost=row["cost_verdict"] == "warn",
                criteria=tuple(criteria),
                estimate=estimate,
                odds_basis=estimate.explain(settings, amount_band) if estimate else "",
            )
        )
    items.sort(key=lambda item: (item.sort_apr, item.product_id))
    profile = (
        ProfileView(
            age=age_on(facts.birth_date, today),
            city=facts.city,
            employment_label=_(EMPLOYMENT_TYPES.get(facts.employment_type, facts.employment_type)),
        )
        if facts
        else None
    )
    return RecommendationPage(
        need=need,
        personalised=facts is not None,
        profile=profile,
        eligible=[item for item in items if item.eligible],
        ineligible=[item for item in items if not item.eligible],
        settings=settings,
        amount_band=amount_band,
    )


@dataclass(frozen=True)
class CalibrationView:
    computed_at: datetime
    days: int
    rows: list[BandRow]
    unbanded: int
    settings: Mapping[str, Any]

    @property
    def applications(self) -> int:
        return sum(row.applications for row in self.rows) + self.unbanded


async def latest_calibration() -> CalibrationView | None:
    row = (
        await OddsCalibration.select()
        .order_by(OddsCalibration.computed_at, ascending=False)
        .order_by(OddsCalibration.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    if row is None:
        return None
    return CalibrationView(
        computed_at=row["computed_at"],
        days=row["days"],
        rows=[BandRow.from_json(item) for item in row["bands"]],
        unbanded=row["unbanded"],
        settings=row["settings"],
    )
