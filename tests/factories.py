"""Rows for tests, built through the real services where a service exists."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.accounts import second_factor
from marketplace.accounts.roles import permissions_of
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
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
    "repayment_method": "equal_installment",
    "age_min": "22",
    "age_max": "55",
    "cities": "北京，上海",
    "min_monthly_income": "5000",
    "employment_types": ["employee", "civil_servant"],
    "tags": "线上申请，额度高",
}


async def listed_product(staff: Actor, operator: Actor, **overrides: object) -> int:
    product_id = await save_product(staff, None, parse_product_input({**PRODUCT_FORM, **overrides}))
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
        "real_name": "张伟",
        "id_number": valid_id_number(),
        "city": "北京",
        "monthly_income": "12000",
        "employment_type": "employee",
        "consent": "yes",
        "submission_key": "k" * 24,
        **overrides,
    }
