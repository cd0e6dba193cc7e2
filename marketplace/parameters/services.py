"""System parameters (PRODUCT.md A3): defaults in code, overrides in the table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from marketplace import outbox
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.cache import catalogue_cached
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from marketplace.i18n import N_, _
from marketplace.loancalc import CostLines
from marketplace.parameters.specs import SPECS, coerce, parse_text
from marketplace.parameters.tables import ParameterChange, SystemParameter
from marketplace.parsing import parse_reason

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
        {"code": "id_card_front", "label": N_("身份证人像面")},
        {"code": "id_card_back", "label": N_("身份证国徽面")},
        {"code": "income_proof", "label": N_("收入证明")},
        {"code": "bank_statement", "label": N_("银行流水")},
        {"code": "employment_proof", "label": N_("工作证明")},
        {"code": "residence_proof", "label": N_("居住证明")},
        {"code": "other", "label": N_("其他")},
    ],
    # Anti-fraud (A8), per velocity rule (stage × key): how many registrations or
    # applications one phone, ID number, device or address may make within the window
    # (hours) before the rule scores, and its score. Then the other rules' scores, the age
    # band outside which an applicant scores, the total that holds an application for
    # review, and the total that refuses a registration.
    "risk_registration_device_limit": 3,
    "risk_registration_device_window_hours": 24,
    "risk_registration_device_score": 40,
    "risk_registration_address_limit": 10,
    "risk_registration_address_window_hours": 24,
    "risk_registration_address_score": 40,
    "risk_application_phone_limit": 8,
    "risk_application_phone_window_hours": 24,
    "risk_application_phone_score": 40,
    "risk_application_id_number_limit": 8,
    "risk_application_id_number_window_hours": 24,
    "risk_application_id_number_score": 40,
    "risk_application_device_limit": 8,
    "risk_application_device_window_hours": 24,
    "risk_application_device_score": 40,
    "risk_application_address_limit": 20,
    "risk_application_address_window_hours": 24,
    "risk_application_address_score": 40,
    "risk_blacklist_score": 100,
    "risk_invalid_id_score": 100,
    "risk_age_score": 30,
    "risk_age_min": 18,
    "risk_age_max": 65,
    "risk_hold_score": 60,
    "risk_registration_block_score": 80,
    # A borrower's saved documents (我的资料): how many files and how many MB in all.
    "document_library_max_files": 20,
    "document_library_max_mb": 50,
    # Approval odds (P4, §6.3): days of decided applications the model counts; minimum
    # decisions for a segment (product × employment × amount band), a product and the
    # platform before their rate is used; band cut-offs in percent (高 ≥ high, 中 ≥ medium);
    # amount-band cut-offs in yuan; days the calibration page covers.
    "odds_window_days": 180,
    "odds_segment_min_decisions": 20,
    "odds_product_min_decisions": 20,
    "odds_platform_min_decisions": 20,
    "odds_band_high_percent": 60,
    "odds_band_medium_percent": 30,
    "odds_amount_bands": [10000, 50000],
    "odds_calibration_days": 90,
    # One application to many (P5): how many products one submission may pick.
    "products_per_batch": 5,
    # What a borrower may borrow for (asked once per application, shown to the institution).
    # Consumer credit may not pay for a home or for securities, so neither is offered.
    "loan_purposes": [
        {"code": "daily", "label": N_("日常消费")},
        {"code": "home_improvement", "label": N_("装修")},
        {"code": "education", "label": N_("教育培训")},
        {"code": "medical", "label": N_("医疗")},
        {"code": "travel", "label": N_("旅游")},
        {"code": "car", "label": N_("购车")},
        {"code": "appliances", "label": N_("家电数码")},
        {"code": "business", "label": N_("个体经营周转")},
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
    # Complaints (A10): hours to take an open complaint, for the institution to answer, to
    # resolve from filing; a reminder this many hours before each deadline; a resolved
    # complaint the borrower neither rates nor reopens closes after this many days.
    "complaint_assign_hours": 4,
    "complaint_institution_hours": 48,
    "complaint_resolve_hours": 120,
    "complaint_reminder_lead_hours": 4,
    "complaint_autoclose_days": 7,
    # Published complaint statistics (§6.5): the window (days) and the fewest applications
    # an institution needs in it before its complaints per 10,000 applications is shown.
    "complaint_stats_window_days": 90,
    "complaint_stats_min_applications": 100,
    # Ratings (P11): phrases that hold a borrower's rating for an operator (code = label).
    "rating_banned_phrases": [
        {"code": "guaranteed", "label": N_("包下款")},
        {"code": "no_credit_check", "label": N_("不看征信")},
        {"code": "cash_out", "label": N_("套现")},
        {"code": "add_wechat", "label": N_("加微信")},
    ],
    # Daily purges: anti-fraud observations (the velocity rules look back at most 30 days)
    # and decided holds' masked phone; a ready data export never downloaded; in-site notices.
    "risk_observation_retention_days": 45,
    "data_export_retention_days": 7,
    "inbox_retention_days": 180,
    # Analytics (A12, I8): behaviour events are kept this long; a customer band is shown
    # to an institution only with at least this many borrowers.
    "analytics_event_retention_days": 180,
    "analytics_min_band_size": 10,
}


@catalogue_cached
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


def _checked(key: str, value: Any) -> Any:
    """The value in its stored shape if it fits the key's spec (type and range); a key
    added without a spec yet must at least keep its default's type."""
    spec = SPECS.get(key)
    if spec is not None:
        return coerce(spec, value)
    if type(value) is not type(DEFAULTS[key]):
        raise DomainError(_("参数值的类型不正确"), field="value")
    return value


# Pairs whose first must stay before the second ("HH:MM" strings compare as times).
_ORDERED_PAIRS = (("collection_hours_start", "collection_hours_end"),)


async def _check_order(key: str, value: Any) -> None:
    for first, second in _ORDERED_PAIRS:
        if key in (first, second):
            other = await get_parameters(second if key == first else first)
            start, end = (value, other[second]) if key == first else (other[first], value)
            if not start < end:
                raise DomainError(_("催收开始时间须早于结束时间"), field="value")


async def change_parameter(
    actor: Actor,
    key: str,
    value: Any,
    *,
    reason: str = "",
    expected_version: int | None = None,
) -> int:
    """Override one system parameter: checked against its spec, numbered, kept in the
    history (who, when, old → new, why) and audited; a cost parameter re-prices every
    product after commit, through the outbox. `expected_version` (the admin page) refuses
    the change when someone changed the parameter since it was shown. Returns the new
    version. Every reader goes to the table (`get_parameters`), so it applies at once in
    every process."""
    if not actor.can("parameter.manage"):
        raise PermissionDenied()
    if key not in DEFAULTS:
        raise NotFound(_("没有这个参数"))
    new_value = _checked(key, value)
    stored = json.dumps(new_value, ensure_ascii=False)
    async with transaction():
        await SystemParameter.insert(
            SystemParameter(key=key, value=json.dumps(DEFAULTS[key], ensure_ascii=False))
        ).on_conflict(target=SystemParameter.key, action="DO NOTHING")
        row = (
            await SystemParameter.select(SystemParameter.value, SystemParameter.version)
            .where(SystemParameter.key == key)
            .lock_rows()
            .first()
        )
        assert row is not None  # inserted above when missing
        if expected_version is not None and expected_version != row["version"]:
            raise DomainError(_("这个参数刚被其他人修改过，请查看最新值后重试"))
        old_value = _json_scalar(row["value"]) if isinstance(row["value"], str) else row["value"]
        if old_value == new_value:
            # On the admin page (a version was shown) this is a mistake worth saying; for
            # code (tests, the demo) setting what is already set is simply done.
            if expected_version is not None:
                raise DomainError(_("新值与当前值相同"), field="value")
            return int(row["version"])
        await _check_order(key, new_value)
        version = row["version"] + 1
        await SystemParameter.update(
            {
                SystemParameter.value: stored,
                SystemParameter.version: version,
                SystemParameter.updated_by: actor.label,
                SystemParameter.updated_at: datetime.now(UTC),
            }
        ).where(SystemParameter.key == key)
        old_stored = json.dumps(old_value, ensure_ascii=False)
        await ParameterChange.insert(
            ParameterChange(
                key=key,
                version=version,
                old_value=old_stored,
                new_value=stored,
                reason=reason,
                actor_id=actor.user_id,
                actor_label=actor.label,
            )
        )
        await audit(
            actor,
            "parameter.change",
            "parameter",
            key,
            value=stored,
            old=old_stored,
            version=version,
            reason=reason,
        )
        if key in COST_KEYS:
            await outbox.record("products.reprice")
    return version


def parse_change(key: str, raw_value: str, raw_reason: str) -> tuple[Any, str]:
    """What the admin page posted: the value in the key's shape and a required reason;
    every problem at once (ValidationFailed on `value` / `reason`)."""
    errors: dict[str, str] = {}
    value: Any = None
    spec = SPECS.get(key)
    try:
        value = parse_text(spec, raw_value) if spec else _checked(key, json.loads(raw_value))
    except DomainError as exc:
        errors["value"] = exc.message
    except ValueError:
        errors["value"] = _("参数值的类型不正确")
    reason = ""
    try:
        reason = parse_reason(raw_reason)
    except DomainError as exc:
        errors["reason"] = exc.message
    if errors:
        raise ValidationFailed(errors)
    return value, reason


async def sync_defaults() -> None:
    """Give every parameter a row (PRODUCT.md A3: the table is seeded with the defaults),
    run by `loanmart migrate` and the demo seed. A row nobody changed (version 0, no
    author) follows the code default; a changed one keeps its value. Readers fall back to
    the code default for a key without a row, so a new parameter works before this runs."""
    for key, default in DEFAULTS.items():
        await SystemParameter.raw(
            "INSERT INTO system_parameter (key, value, updated_by, version, updated_at)"
            " VALUES ({}, {}::jsonb, '', 0, now())"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            " WHERE system_parameter.version = 0 AND system_parameter.updated_by = ''"
            " AND system_parameter.value IS DISTINCT FROM EXCLUDED.value",
            key,
            json.dumps(default, ensure_ascii=False),
        )
