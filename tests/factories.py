"""Rows for tests, built through the real services where a service exists."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from marketplace.accounts import second_factor
from marketplace.accounts.roles import permissions_of
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.agreements.tables import Agreement
from marketplace.categories.queries import product_category_choices
from marketplace.institutions.tables import Institution
from marketplace.products.services import review_product, save_product, submit_for_review
from marketplace.products.validation import parse_product_input
from marketplace.security import encrypt_field, hash_password, id_check_char, mask_mobile

PASSWORD = "Passw0rd!"  # noqa: S105
OPERATOR_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105


def valid_id_number(birth: str = "19900307", region: str = "110105", sequence: str = "123") -> str:
    first = region + birth + sequence
    return first + id_check_char(first)


async def institution(code: str, short_name: str) -> int:
    rows = await Institution.insert(
        Institution(
            code=code,
            name=f"{short_name}股份有限公司",
            short_name=short_name,
            kind="bank",
            licence_no="B0001H",
            city="北京",
            service_phone="400-000-0000",
        )
    ).returning(Institution.id)
    await agreement_in_force(rows[0]["id"])
    return rows[0]["id"]


async def agreement_in_force(
    institution_id: int, pricing_model: str = "cpl", rate: str = "30", **caps: object
) -> int:
    """A signed agreement in force for ten years, written directly: leads are delivered
    only to institutions with one (the delivery gate)."""
    from decimal import Decimal

    today = datetime.now(UTC).date()
    rows = await Agreement.insert(
        Agreement(
            institution=institution_id,
            version=1 + await Agreement.count().where(Agreement.institution == institution_id),
            pricing_model=pricing_model,
            rate=Decimal(rate),
            valid_from=today - timedelta(days=365),
            valid_to=today + timedelta(days=3650),
            status="signed",
            signed_at=datetime.now(UTC) - timedelta(days=1),
            **caps,
        )
    ).returning(Agreement.id)
    return rows[0]["id"]


async def user(
    kind: str, login: str, role: str, institution_id: int | None = None, name: str = "测试用户"
) -> Actor:
    values = dict(
        kind=kind,
        login_key=login,
        display_name=name,
        role=role,
        password_hash=hash_password(PASSWORD),
        institution=institution_id,
    )
    if kind == "operator":
        values.update(
            totp_secret_encrypted=encrypt_field(
                OPERATOR_TOTP_SECRET, context=second_factor.ENCRYPTION_CONTEXT
            )
        )
    if kind == "borrower":
        values.update(
            login_key=mobile_login_key(login),
            mobile_encrypted=encrypt_field(login, context="user.mobile"),
            mobile_masked=mask_mobile(login),
        )
    rows = await User.insert(User(**values)).returning(User.id)
    return Actor(
        user_id=rows[0]["id"],
        kind=kind,
        label=name,
        role=role,
        institution_id=institution_id,
        permissions=permissions_of(kind, role),
    )


PRODUCT_FORM = {
    "name": "安居装修贷",
    "category": "consumer",
    "summary": "装修、家电一站式分期，线上申请",
    "description": "面向有稳定收入的工薪人群。",
    "amount_min": "10000",
    "amount_max": "200000",
    "term_options": "6,12,24,36",
    "rate": "7.2",
    "rate_period": "year",
    "repayment_methods": ["equal_installment"],
    "late_fee_basis": "daily_rate",
    "late_fee_value": "0.05",
    "penalty_fee_basis": "none",
    "early_repayment_fee_basis": "none",
    "age_min": "22",
    "age_max": "55",
    "cities": "北京，上海",
    "min_monthly_income": "5000",
    "employment_types": ["employee", "civil_servant"],
    "tags": "线上申请，额度高",
}


async def listed_product(staff: Actor, operator: Actor, **overrides: object) -> int:
    form = {**PRODUCT_FORM, **overrides}
    product_id = await save_product(
        staff, None, parse_product_input(form, await product_category_choices())
    )
    await submit_for_review(staff, product_id, acknowledge_high_cost=True)
    await review_product(operator, product_id, approve=True, note="")
    return product_id


@dataclass
class World:
    bank_id: int
    other_bank_id: int
    staff: Actor
    other_staff: Actor
    operator: Actor
    auditor: Actor
    borrower: Actor
    borrower_mobile: str = "13912345678"


async def world() -> World:
    bank = await institution("test-bank", "测试银行")
    other = await institution("other-bank", "别家银行")
    return World(
        bank_id=bank,
        other_bank_id=other,
        staff=await user("staff", "staff@test-bank.example", "institution_admin", bank, "王敏"),
        other_staff=await user(
            "staff", "staff@other-bank.example", "institution_admin", other, "李静"
        ),
        operator=await user(
            "operator", "reviewer@loanmart.example", "product_reviewer", None, "审核员"
        ),
        auditor=await user("operator", "auditor@loanmart.example", "auditor", None, "审计员"),
        borrower=await user("borrower", "13912345678", "borrower", None, "张伟"),
    )


def application_form(**overrides: str) -> dict[str, str]:
    return {
        "amount": "50000",
        "term_months": "12",
        "repayment_method": "equal_installment",
        "real_name": "张伟",
        "id_number": valid_id_number(),
        "city": "北京",
        "monthly_income": "12000",
        "employment_type": "employee",
        "purpose": "daily",
        "consent": "yes",
        "submission_key": "k" * 24,
        **overrides,
    }


def _shared_data() -> str:
    """The consented document a real submission encrypts for the institution."""
    import json

    from marketplace.applications.services import SHARED_DATA_CONTEXT

    shared = {
        "real_name": "张三",
        "id_number": valid_id_number(),
        "mobile": "13800138000",
        "city": "北京",
        "employment_type": "employee",
        "monthly_income": "20000",
    }
    return encrypt_field(json.dumps(shared, ensure_ascii=False), context=SHARED_DATA_CONTEXT)


async def application_in(
    world: World, status: str = "accepted", amount: str = "50000", term_months: int = 12
) -> int:
    """An application of `world.borrower` to `world.bank_id` already in `status`, written
    directly (for tests about what comes after that state)."""
    from decimal import Decimal

    from marketplace.applications.tables import Application
    from marketplace.consents.tables import Consent

    product_id = await listed_product(world.staff, world.operator)
    consent = await Consent.insert(
        Consent(
            borrower=world.borrower.user_id,
            institution=world.bank_id,
            notice_version="1",
            notice_hash="0" * 64,
            purpose="loan",
            data_items=["name"],
            retention="1y",
        )
    ).returning(Consent.id)
    rows = await Application.insert(
        Application(
            reference=f"LMT{secrets.token_hex(6).upper()}",
            borrower=world.borrower.user_id,
            product=product_id,
            product_version=1,
            institution=world.bank_id,
            consent=consent[0]["id"],
            amount=Decimal(amount),
            term_months=term_months,
            repayment_method="equal_installment",
            status=status,
            shared_data_encrypted=_shared_data(),
            submission_key=secrets.token_hex(16),
            # Past delivery (any status but these two), as deliver() would have stamped it.
            delivered_at=None if status in ("submitted", "not_delivered") else datetime.now(UTC),
        )
    ).returning(Application.id)
    application_id: int = rows[0]["id"]
    if status == "accepted":
        await signed_offer(world, application_id, amount, term_months)
    return application_id


async def signed_offer(
    world: World,
    application_id: int,
    amount: str = "50000",
    term_months: int = 12,
    rate: str = "0.072",
    method: str = "equal_installment",
) -> int:
    """A signed offer for an application, written directly with the cost engine's figures."""
    import hashlib
    from decimal import Decimal

    from marketplace.loancalc import quote, today_shanghai
    from marketplace.offers.tables import Offer, OfferSignature

    plan = quote(Decimal(amount), term_months, method, Decimal(rate), "year", (), today_shanghai())
    rows = await Offer.insert(
        Offer(
            application=application_id,
            institution=world.bank_id,
            borrower=world.borrower.user_id,
            amount=plan.principal,
            term_months=term_months,
            repayment_method=method,
            rate=Decimal(rate),
            rate_period="year",
            apr=plan.apr,
            first_payment=plan.first_payment,
            largest_payment=plan.max_payment,
            total_cost=plan.total_interest + plan.total_fees,
            expires_at=datetime.now(UTC) + timedelta(days=7),
            status="signed",
        )
    ).returning(Offer.id)
    offer_id: int = rows[0]["id"]
    contract = f"借款合同（测试）第{offer_id}号"
    await OfferSignature.insert(
        OfferSignature(
            offer=offer_id,
            contract_encrypted=encrypt_field(contract, context="offer.contract"),
            contract_sha256=hashlib.sha256(contract.encode()).hexdigest(),
            client_address="127.0.0.1",
            user_agent="pytest",
        )
    )
    return offer_id
