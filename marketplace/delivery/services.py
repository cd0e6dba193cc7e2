"""The delivery gate and the institution's delivery settings.

`admission(institution_id, facts)` is the one answer to "may this lead go to this
institution now?" (rules in `delivery.rules`). The apply form asks it before submitting;
`applications.services.deliver` asks it again with `lock=True` inside its transaction:
the institution's settings row is locked and usage counted under the lock, so parallel
deliveries cannot overshoot a cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.agreements.queries import TERMS_IN_FORCE_SQL, terms_from, terms_in_force_args
from marketplace.audit.services import record as audit
from marketplace.cities import parse_city_list
from marketplace.db import fetch, transaction
from marketplace.delivery.rules import Admission, LeadFacts, Limits, Usage, judge
from marketplace.delivery.tables import DeliverySettings
from marketplace.errors import PermissionDenied
from marketplace.i18n import _
from marketplace.institutions.statuses import InstitutionStatus
from marketplace.loancalc import SHANGHAI
from marketplace.parsing import (
    FormReader,
    first,
    parse_int,
    parse_money,
)
from marketplace.products.catalog import EMPLOYMENT_TYPES

MAX_LEAD_CAP = 1_000_000
MAX_CITIES = 50

# Read-only look at the applications and loans tables (they belong to contexts that call
# this one, so they are read by name rather than imported): one round trip for a month.
_USAGE_SQL = """
SELECT
  (SELECT count(*) FROM application
    WHERE institution = {} AND delivered_at >= {}) AS leads_today,
  (SELECT count(*) FROM application
    WHERE institution = {} AND delivered_at >= {}) AS leads_month,
  (SELECT count(*) FROM application_event e JOIN application a ON a.id = e.application
    WHERE a.institution = {} AND e.status = 'approved' AND e.at >= {}) AS approvals_month,
  (SELECT coalesce(sum(principal), 0) FROM loan
    WHERE institution = {} AND disbursed_on >= {}) AS disbursed_month
"""


def _starts(now: datetime) -> tuple[datetime, datetime]:
    """The start of today and of this month in Asia/Shanghai."""
    local = now.astimezone(SHANGHAI)
    day = datetime.combine(local.date(), time(), SHANGHAI)
    return day, day.replace(day=1)


async def usage_of(institution_id: int, now: datetime) -> Usage:
    day, month = _starts(now)
    row = (
        await fetch(
            _USAGE_SQL,
            institution_id,
            day,
            institution_id,
            month,
            institution_id,
            month,
            institution_id,
            month.date(),
        )
    )[0]
    return Usage(**row)


def _limits(row: Mapping[str, Any] | None) -> Limits:
    if row is None:
        return Limits()
    return Limits(
        daily_lead_cap=row["daily_lead_cap"],
        monthly_lead_cap=row["monthly_lead_cap"],
        monthly_budget=row["monthly_budget"],
        cities=tuple(row["cities"] or ()),
        amount_min=row["amount_min"],
        amount_max=row["amount_max"],
        min_monthly_income=row["min_monthly_income"],
        employment_types=tuple(row["employment_types"] or ()),
    )


async def limits_of(institution_id: int) -> Limits:
    return _limits(
        await DeliverySettings.select()
        .where(DeliverySettings.institution == institution_id)
        .first()
    )


# The gate's inputs in one round trip: the institution's status, its settings (locked
# with `FOR UPDATE` when the caller delivers) and the agreement in force.
_GATE_SQL = """
SELECT i.status AS institution_status, d.*, terms.*
FROM (SELECT {{}}::integer AS id) AS asked
LEFT JOIN institution i ON i.id = asked.id
LEFT JOIN LATERAL (
  SELECT daily_lead_cap, monthly_lead_cap, monthly_budget, cities, amount_min, amount_max,
    min_monthly_income, employment_types
  FROM delivery_settings WHERE institution = asked.id {lock}
) AS d ON true
LEFT JOIN LATERAL ({terms}) AS terms ON true
"""
_GATE = _GATE_SQL.format(lock="", terms=TERMS_IN_FORCE_SQL)
_GATE_LOCKED = _GATE_SQL.format(lock="FOR UPDATE", terms=TERMS_IN_FORCE_SQL)


async def admission(
    institution_id: int, facts: LeadFacts | None, *, lock: bool = False
) -> Admission:
    """May a lead with `facts` (None: not typed yet) go to the institution now? With
    `lock`, inside the caller's transaction, the answer holds until it commits."""
    now = datetime.now(UTC)
    [row] = await fetch(
        _GATE_LOCKED if lock else _GATE,
        institution_id,
        *terms_in_force_args(institution_id, now),
    )
    limits = _limits(row)
    terms = terms_from(row)
    usage = await usage_of(institution_id, now) if limits.counts_usage and terms else Usage()
    return judge(row["institution_status"] == InstitutionStatus.ACTIVE, terms, limits, usage, facts)


def _optional(form: FormReader, data: Mapping, key: str, parse: Any, **options: Any) -> Any:
    """A field left blank means "no limit"."""
    if not first(data.get(key)).strip():
        return None
    return form.field(key, parse, None, **options)


def parse_limits(data: Mapping[str, Any]) -> Limits:
    """Read the settings form; every error at once."""
    form = FormReader(data)
    daily = _optional(
        form,
        data,
        "daily_lead_cap",
        parse_int,
        label=_("每日线索上限"),
        minimum=1,
        maximum=MAX_LEAD_CAP,
    )
    monthly = _optional(
        form,
        data,
        "monthly_lead_cap",
        parse_int,
        label=_("每月线索上限"),
        minimum=1,
        maximum=MAX_LEAD_CAP,
    )
    if daily is not None and monthly is not None and daily > monthly:
        form.fail("daily_lead_cap", _("每日线索上限不能大于每月线索上限"))
    budget = _optional(form, data, "monthly_budget", parse_money, label=_("每月预算"))
    amount_min = _optional(form, data, "amount_min", parse_money, label=_("最低借款金额"))
    amount_max = _optional(form, data, "amount_max", parse_money, label=_("最高借款金额"))
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        form.fail("amount_max", _("最高借款金额不能低于最低借款金额"))
    income = _optional(form, data, "min_monthly_income", parse_money, label=_("最低月收入"))
    cities: list[str] = form.field(
        "cities", parse_city_list, list[str](), label=_("城市"), max_items=MAX_CITIES
    )
    raw_kinds = data.get("employment_types")
    kinds = [
        first(k).strip() for k in (raw_kinds if isinstance(raw_kinds, list) else [raw_kinds]) if k
    ]
    if any(k not in EMPLOYMENT_TYPES for k in kinds):
        form.fail("employment_types", _("请选择职业类型"))
    form.raise_errors()
    return Limits(
        daily_lead_cap=daily,
        monthly_lead_cap=monthly,
        monthly_budget=budget,
        cities=tuple(cities),
        amount_min=amount_min,
        amount_max=amount_max,
        min_monthly_income=income,
        employment_types=tuple(k for k in EMPLOYMENT_TYPES if k in kinds),
    )


def _audited(limits: Limits) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(limits).items()}


async def save_delivery_settings(actor: Actor, limits: Limits) -> int:
    """Replace the institution's settings; returns the new version. Audited with the
    values before and after."""
    if not actor.can("delivery.manage"):
        raise PermissionDenied()
    institution_id = actor.institution_id or 0
    values: dict[Any, Any] = {
        DeliverySettings.daily_lead_cap: limits.daily_lead_cap,
        DeliverySettings.monthly_lead_cap: limits.monthly_lead_cap,
        DeliverySettings.monthly_budget: limits.monthly_budget,
        DeliverySettings.cities: list(limits.cities),
        DeliverySettings.amount_min: limits.amount_min,
        DeliverySettings.amount_max: limits.amount_max,
        DeliverySettings.min_monthly_income: limits.min_monthly_income,
        DeliverySettings.employment_types: list(limits.employment_types),
        DeliverySettings.updated_by: actor.user_id,
        DeliverySettings.updated_at: datetime.now(UTC),
    }
    async with transaction():
        # The row exists before it is locked (version 0: never saved), so two first saves
        # at once queue on its lock like any other two saves.
        await DeliverySettings.insert(
            DeliverySettings(
                {DeliverySettings.institution: institution_id, DeliverySettings.version: 0}
            )
        ).on_conflict(target=DeliverySettings.institution, action="DO NOTHING")
        row = (
            await DeliverySettings.select()
            .where(DeliverySettings.institution == institution_id)
            .lock_rows()
            .first()
        )
        assert row is not None
        version = row["version"] + 1
        await DeliverySettings.update({**values, DeliverySettings.version: version}).where(
            DeliverySettings.id == row["id"]
        )
        await audit(
            actor,
            "delivery.settings_saved",
            "delivery_settings",
            institution_id,
            version=version,
            before=_audited(_limits(row)) if row["version"] else None,
            after=_audited(limits),
        )
    return version
