"""The institution's delivery page: its settings, this month's usage and spend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from marketplace.actors import Actor
from marketplace.agreements.queries import agreement_in_force
from marketplace.agreements.terms import AgreementTerms
from marketplace.delivery.rules import Admission, Limits, Usage
from marketplace.delivery.services import admission, limits_of, usage_of
from marketplace.delivery.tables import DeliverySettings
from marketplace.errors import PermissionDenied
from marketplace.i18n import _
from marketplace.money import format_cny
from marketplace.products.catalog import EMPLOYMENT_TYPES


@dataclass(frozen=True)
class DeliveryPage:
    limits: Limits
    version: int  # 0: never saved
    terms: AgreementTerms | None
    usage: Usage
    spend: Decimal | None  # this month's fee under the agreement in force


async def delivery_page(actor: Actor, now: datetime) -> DeliveryPage:
    if not actor.can("delivery.manage"):
        raise PermissionDenied()
    institution_id = actor.institution_id or 0
    terms = await agreement_in_force(institution_id, now)
    usage = await usage_of(institution_id, now)
    row = (
        await DeliverySettings.select(DeliverySettings.version)
        .where(DeliverySettings.institution == institution_id)
        .first()
    )
    return DeliveryPage(
        limits=await limits_of(institution_id),
        version=row["version"] if row else 0,
        terms=terms,
        usage=usage,
        spend=usage.spend(terms) if terms else None,
    )


def receiving_conditions(limits: Limits) -> tuple[str, ...]:
    """The institution's filters in words, for the product page (borrowers see them before
    typing anything)."""
    sep = _("、")  # Translators: separator between the items of a list.
    lines = []
    if limits.cities:
        lines.append(_("所在城市：{cities}", cities=sep.join(limits.cities)))
    if limits.amount_min is not None:
        lines.append(_("借款金额不低于 {amount}", amount=format_cny(limits.amount_min)))
    if limits.amount_max is not None:
        lines.append(_("借款金额不高于 {amount}", amount=format_cny(limits.amount_max)))
    if limits.min_monthly_income is not None:
        lines.append(_("月收入不低于 {amount}", amount=format_cny(limits.min_monthly_income)))
    if limits.employment_types:
        kinds = sep.join(_(EMPLOYMENT_TYPES[k]) for k in limits.employment_types)
        lines.append(_("职业类型：{kinds}", kinds=kinds))
    return tuple(lines)


def employment_choices() -> tuple[tuple[str, str], ...]:
    return tuple((key, _(label)) for key, label in EMPLOYMENT_TYPES.items())


@dataclass(frozen=True)
class DeliveryNotice:
    """What a borrower sees on a product before applying: whether the institution takes
    applications now, and its receiving conditions."""

    admission: Admission
    conditions: tuple[str, ...]


async def delivery_notice(institution_id: int) -> DeliveryNotice:
    return DeliveryNotice(
        admission=await admission(institution_id, None),
        conditions=receiving_conditions(await limits_of(institution_id)),
    )
