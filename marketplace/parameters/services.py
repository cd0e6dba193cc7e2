"""System parameters (PRODUCT.md A3): defaults in code, overrides in the table."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from marketplace import outbox
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.loancalc import CostLines
from marketplace.parameters.tables import SystemParameter

DEFAULTS: dict[str, Any] = {
    "apr_block_line": "0.24",
    "lpr_1y": "0.030",
    "apr_warn_multiple": "4",
    "duplicate_window_days": 30,
    # Settlement (A11): a delivered lead withdrawn within this many hours is credited; the
    # VAT rate captured on each statement when it is built (shown apart from the fee).
    "credit_withdrawal_hours": 24,
    "vat_rate": "0.06",
    # Days between a borrower's account-deletion request and its processing (they may cancel).
    "account_deletion_cooling_days": 15,
    "applications_per_day": 10,
    # Over-indebtedness guard (§6.6): warn when the new loan's monthly payment plus those
    # of the borrower's active loans here exceed this share of stated monthly income; pause
    # new applications after this many within this many days.
    "dti_warning_ratio": "0.5",
    "cooling_off_applications": 6,
    "cooling_off_days": 7,
    # Distinct institutions one borrower's applications may reach within a day (one batch).
    "institutions_per_application": 5,
    # Days an institution has to confirm it deleted a borrower's data after a withdrawal;
    # minutes a one-time download link of a borrower's data export stays valid.
    "consent_deletion_days": 15,
    "data_export_link_minutes": 30,
    # Days before a due date that count as "upcoming" (reminders, institution dues).
    "repayment_reminder_days": 3,
    # The portfolio page warns when overdue principal exceeds this share of outstanding.
    "portfolio_overdue_alert_rate": "0.05",
    # A lead waiting on the institution turns amber past this many hours, red past twice it.
    "lead_sla_hours": 24,
    # Collection contacts (Asia/Shanghai, "HH:MM", end excluded) and contacts per loan a day.
    "collection_hours_start": "08:00",
    "collection_hours_end": "21:00",
    "collection_daily_cap": 3,
    # Days an offer stays open for the borrower to sign; days after signing the borrower may
    # cancel the contract without cost (a clause of every contract).
    "offer_valid_days": 7,
    "offer_cooling_off_days": 7,
    # Full ID numbers or phones one staff member may reveal per hour (each one audited).
    "lead_reveals_per_hour": 10,
    # Open API: a bearer token's lifetime, requests one API client may make a minute (the
    # token endpoint included), and how long an Idempotency-Key's answer is kept.
    "api_token_minutes": 60,
    "api_requests_per_minute": 120,
    "api_idempotency_hours": 24,
    # Webhooks: receivers per institution, hours a rotated-out secret still signs, and
    # seconds to wait for a receiver's answer.
    "webhook_endpoints_per_institution": 5,
    "webhook_secret_overlap_hours": 24,
    "webhook_timeout_seconds": 10,
    # Why a lead was rejected: the code is stored, the label is shown to the borrower.
    "rejection_reasons": [
        {"code": "not_eligible", "label": N_("资质不符")},
        {"code": "credit_history", "label": N_("信用记录不符合要求")},
        {"code": "income", "label": N_("收入不足")},
        {"code": "debt", "label": N_("负债过高")},
        {"code": "false_information", "label": N_("资料不实")},
        {"code": "unreachable", "label": N_("无法联系")},
        {"code": "other", "label": N_("其他")},
    ],
    # Licence-expiry reminders to an institution (days before expiry), and how many
    # partner applications one address may send an hour.
    "licence_reminder_days": [30, 7],
    "partner_applications_per_hour": 5,
    # Promotions (I7): how many may run on one day per placement, how long one may run and
    # how far ahead it may be requested.
    "promotion_slots_home": 3,
    "promotion_slots_list_top": 2,
    "promotion_slots_campaign": 1,
    "promotion_max_days": 31,
    "promotion_max_lead_days": 90,
    # Credit health (P8): each factor's weight in the borrower's platform score (whole
    # numbers, used as shares of their sum).
    "credit_weight_velocity": 20,
    "credit_weight_repayment": 35,
    "credit_weight_dti": 25,
    "credit_weight_overdue": 20,
    # What an institution may ask a borrower to upload.
    "document_kinds": [
        {"code": "id_card", "label": N_("身份证正反面")},
        {"code": "income_proof", "label": N_("收入证明")},
        {"code": "bank_statement", "label": N_("银行流水")},
        {"code": "employment_proof", "label": N_("工作证明")},
        {"code": "residence_proof", "label": N_("居住证明")},
        {"code": "other", "label": N_("其他")},
    ],
    # Monitoring (A7): the window (days) the automatic flags look at; a product or
    # institution is flagged when its overdue rate (overdue ÷ in-force loans) is above the
    # line with at least the minimum of loans in force, when its complaint rate (complaints
    # ÷ applications) is above the line with at least the minimum of applications, or when
    # an offer's APR is above the product's listed range by more than the tolerance.
    "monitoring_window_days": 90,
    "monitoring_overdue_rate_max": "0.10",
    "monitoring_overdue_min_loans": 20,
    "monitoring_complaint_rate_max": "0.02",
    "monitoring_complaint_min_applications": 50,
    "monitoring_apr_tolerance": "0.001",
    # The product page shows the APRs actually offered (last 90 days) from this many offers.
    "actual_apr_min_offers": 5,
}


async def get_parameters(*keys: str) -> dict[str, Any]:
    values = {key: DEFAULTS[key] for key in keys}
    rows = await SystemParameter.select(SystemParameter.key, SystemParameter.value).where(
        SystemParameter.key.is_in(list(keys))
    )
    for row in rows:
        value = row["value"]
        values[row["key"]] = value if not isinstance(value, str) else _json_scalar(value)
    return values


def _json_scalar(raw: str) -> Any:
    return json.loads(raw)


async def cost_lines() -> CostLines:
    p = await get_parameters("apr_block_line", "lpr_1y", "apr_warn_multiple")
    return CostLines(
        block_apr=Decimal(str(p["apr_block_line"])),
        lpr_1y=Decimal(str(p["lpr_1y"])),
        warn_multiple=Decimal(str(p["apr_warn_multiple"])),
    )


# The parameters every product's price depends on: changing one re-prices them all
# (a floating rate follows the LPR; every cost verdict follows the lines).
COST_KEYS = ("apr_block_line", "lpr_1y", "apr_warn_multiple")
# Parameters kept as decimal strings: each must read as a positive number.
DECIMAL_KEYS = (*COST_KEYS, "dti_warning_ratio")
_MAX_COST_VALUE = Decimal(100)
# Fractions below one, kept as strings ("0.06").
FRACTION_KEYS: tuple[str, ...] = ("vat_rate",)
# Monitoring's rate lines and APR tolerance are fractions too.
FRACTION_KEYS = (
    *FRACTION_KEYS,
    "monitoring_overdue_rate_max",
    "monitoring_complaint_rate_max",
    "monitoring_apr_tolerance",
)


def _checked(key: str, value: Any) -> Any:
    """The value if it has the default's shape (a cost parameter: a positive decimal)."""
    default = DEFAULTS[key]
    if key in DECIMAL_KEYS:
        try:
            number = Decimal(str(value))
        except ArithmeticError:
            number = Decimal(0)
        if not (number.is_finite() and 0 < number <= _MAX_COST_VALUE):
            raise DomainError(_("参数值应为大于0的数值"), field="value")
        return str(number)
    if key in FRACTION_KEYS:
        try:
            fraction = Decimal(str(value))
        except ArithmeticError:
            fraction = Decimal(-1)
        if not (fraction.is_finite() and 0 <= fraction < 1):
            raise DomainError(_("参数值应为0到1之间的小数"), field="value")
        return str(fraction)
    if type(value) is not type(default):
        raise DomainError(_("参数值的类型不正确"), field="value")
    return value


async def change_parameter(actor: Actor, key: str, value: Any) -> None:
    """Override one system parameter (audited); a cost parameter re-prices every product
    after commit, through the outbox."""
    if not actor.can("parameter.edit"):
        raise PermissionDenied()
    if key not in DEFAULTS:
        raise NotFound(_("没有这个参数"))
    stored = json.dumps(_checked(key, value), ensure_ascii=False)
    async with transaction():
        await SystemParameter.insert(
            SystemParameter(key=key, value=stored, updated_by=actor.label)
        ).on_conflict(
            target=SystemParameter.key,
            action="DO UPDATE",
            values=[SystemParameter.value, SystemParameter.updated_by, SystemParameter.updated_at],
        )
        await audit(actor, "parameter.change", "parameter", key, value=stored)
        if key in COST_KEYS:
            await outbox.record("products.reprice")
