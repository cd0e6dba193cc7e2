"""Demo agreements and delivery settings: every demo institution has a signed agreement in
force (so demo leads flow), one of each pricing model among the banks with admin accounts;
华信银行 also has a newer version offered and not yet signed (its admin can sign it in the
console: the SMS code is printed on the demo terminal); 云帆银行 has caps, a budget and
filters. Signed through the agreements verbs where the institution has an admin account;
the others' agreements are written as signed rows (no one could sign them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.accounts.codes import issue_code
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.agreements.queries import agreement_text_of
from marketplace.agreements.services import (
    SIGN_CODE_PURPOSE,
    AgreementInput,
    offer_agreement,
    sign_agreement,
    today_shanghai,
)
from marketplace.agreements.tables import Agreement
from marketplace.agreements.terms import PricingModel
from marketplace.delivery.services import parse_limits, save_delivery_settings
from marketplace.demo.decisions import _actor
from marketplace.institutions.tables import Institution
from marketplace.security import encrypt_field, mask_mobile
from marketplace.signing import SigningRequest, digest

OPERATOR = "super@loanmart.example"
# (admin, pricing model, rate, demo mobile for the SMS code)
SIGNED_BY_ADMINS = (
    ("admin@huaxin-bank.example", PricingModel.CPL, Decimal("35"), "13900000001"),
    ("admin@yunfan-bank.example", PricingModel.CPA, Decimal("180"), "13900000002"),
    ("admin@hanhai-bank.example", PricingModel.CPS, Decimal("0.012"), "13900000003"),
)
OTHERS_RATE = Decimal("30")  # CPL yuan per lead for institutions without an admin account
CAPPED = "admin@yunfan-bank.example"


def _terms(
    institution_id: int, model: PricingModel, rate: Decimal, **caps: object
) -> AgreementInput:
    today = today_shanghai()
    return AgreementInput(
        institution_id=institution_id,
        pricing_model=model,
        rate=rate,
        monthly_unit_cap=caps.get("unit_cap"),  # type: ignore[arg-type]
        monthly_fee_cap=caps.get("fee_cap"),  # type: ignore[arg-type]
        valid_from=today - timedelta(days=30),
        valid_to=today + timedelta(days=335),
    )


async def _sign(admin: Actor, agreement_id: int) -> None:
    code = await issue_code(SIGN_CODE_PURPOSE, str(agreement_id))
    text = await agreement_text_of(agreement_id)
    await sign_agreement(
        admin, agreement_id, SigningRequest(code, digest(text), "127.0.0.1", "LoanMart demo")
    )


async def seed_agreements() -> int:
    """Once (nothing when the demo accounts are missing or agreements exist); returns how
    many agreements were written."""
    operator = await _actor(OPERATOR)
    if operator is None or await Agreement.exists():
        return 0
    written = 0
    signed_institutions = set()
    for login, model, rate, mobile in SIGNED_BY_ADMINS:
        admin = await _actor(login)
        if admin is None or admin.institution_id is None:
            continue
        await User.update(
            {
                User.mobile_encrypted: encrypt_field(mobile, context="user.mobile"),
                User.mobile_masked: mask_mobile(mobile),
                User.mobile_key: mobile_login_key(mobile),
            }
        ).where(User.id == admin.user_id)
        await _sign(
            admin, await offer_agreement(operator, _terms(admin.institution_id, model, rate))
        )
        signed_institutions.add(admin.institution_id)
        written += 1
    huaxin = await _actor(SIGNED_BY_ADMINS[0][0])
    if huaxin is not None and huaxin.institution_id is not None:
        newer = _terms(
            huaxin.institution_id,
            PricingModel.CPL,
            Decimal("32"),
            unit_cap=3000,
            fee_cap=Decimal(90000),
        )
        await offer_agreement(operator, newer)
        written += 1
    now = datetime.now(UTC)
    for row in await Institution.select(Institution.id).where(
        Institution.id.not_in(list(signed_institutions) or [0])
    ):
        terms = _terms(row["id"], PricingModel.CPL, OTHERS_RATE)
        await Agreement.insert(
            Agreement(
                institution=row["id"],
                version=1,
                pricing_model=terms.pricing_model,
                rate=terms.rate,
                valid_from=terms.valid_from,
                valid_to=terms.valid_to,
                status="signed",
                signed_at=now,
                offered_by=operator.user_id,
            )
        )
        written += 1
    capped = await _actor(CAPPED)
    if capped is not None:
        await save_delivery_settings(
            capped,
            parse_limits(
                {
                    "daily_lead_cap": "200",
                    "monthly_lead_cap": "3000",
                    "monthly_budget": "150000",
                    "amount_min": "1000",
                    "min_monthly_income": "3000",
                    "employment_types": [
                        "employee",
                        "civil_servant",
                        "business_owner",
                        "self_employed",
                    ],
                }
            ),
        )
    return written
