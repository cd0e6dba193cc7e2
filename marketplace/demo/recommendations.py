"""Demo history for the approval odds (PRODUCT.md P4, §6.3): half a year of decided
applications from forty demo borrowers (each with a saved profile) to the products of the
institutions without demo accounts, approved more or less often by product and employment
type, so /recommend shows every band and /odds-calibration has numbers from the first
start. Written as rows like the settlement demo's leads; then the calibration runs once.

Seeded randomness (a fixed seed), so every demo shows the same figures."""

from __future__ import annotations

import json
import random
import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.accounts.profiles import ProfileFacts, save_borrower_profile
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.applications.reporting import Channel, income_band
from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.consents.tables import Consent
from marketplace.db import transaction
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.recommendations.services import record_calibration
from marketplace.security import encrypt_field, hash_password, id_check_char, mask_mobile

BORROWERS = 40
APPLICATIONS = 900
DAYS = 200
SEED = 20261201
# The lead desks of the institutions with demo accounts stay as the other demos and the
# browser tests expect them.
SKIPPED_INSTITUTIONS = ("huaxin-bank", "yunfan-bank", "hanhai-bank")
MOBILE_PREFIX = "1361000"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超")
CITIES = ("北京市", "上海市", "广州市", "深圳市", "杭州市", "成都市", "武汉市", "南京市")
# Employment types and how much more (or less) often they are approved.
EMPLOYMENT_LIFT = {
    "civil_servant": 0.15,
    "employee": 0.05,
    "business_owner": 0.0,
    "self_employed": -0.1,
    "freelancer": -0.2,
}


def _id_number(rng: random.Random) -> str:
    birth = f"{rng.randint(1970, 2002)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first = "110105" + birth + f"{rng.randint(100, 999)}"
    return first + id_check_char(first)


async def _borrowers(rng: random.Random) -> list[tuple[int, str, ProfileFacts]]:
    password_hash = hash_password(secrets.token_urlsafe(16))  # nobody signs in as them
    borrowers = []
    for n in range(BORROWERS):
        mobile = f"{MOBILE_PREFIX}{n:04d}"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        rows = await User.insert(
            User(
                kind="borrower",
                login_key=mobile_login_key(mobile),
                display_name=name,
                mobile_encrypted=encrypt_field(mobile, context="user.mobile"),
                mobile_masked=mask_mobile(mobile),
                password_hash=password_hash,
                role="borrower",
            )
        ).returning(User.id)
        facts = ProfileFacts(
            real_name=name,
            id_number=_id_number(rng),
            city=rng.choice(CITIES),
            monthly_income=Decimal(rng.choice((4000, 6500, 9000, 12000, 18000, 30000))),
            employment_type=rng.choice(list(EMPLOYMENT_LIFT)),
        )
        await save_borrower_profile(rows[0]["id"], facts)
        borrowers.append((rows[0]["id"], mobile, facts))
    return borrowers


def _channel(user_id: int) -> Channel:
    """Three borrowers in five apply from a phone (H5), each always from the same device."""
    return Channel.H5 if user_id % 5 < 3 else Channel.WEB


def _shared(facts: ProfileFacts, mobile: str, city: str) -> str:
    shared = {
        "real_name": facts.real_name,
        "id_number": facts.id_number,
        "mobile": mobile,
        "city": city,
        "employment_type": facts.employment_type,
        "monthly_income": str(facts.monthly_income),
    }
    return encrypt_field(json.dumps(shared, ensure_ascii=False), context=SHARED_DATA_CONTEXT)


async def seed_recommendations(now: datetime | None = None) -> int:
    """Once (nothing when it has run or there are no products to apply to); returns how
    many decided applications were written."""
    now = now or datetime.now(UTC)
    if await User.exists().where(User.login_key == mobile_login_key(f"{MOBILE_PREFIX}0000")):
        return 0
    products = (
        await Product.select(
            Product.id,
            Product.version,
            Product.amount_min,
            Product.amount_max,
            Product.term_options,
            Product.repayment_methods,
            Product.cities,
            Product.institution.id.as_alias("institution_id"),
        )
        .where(
            (Product.status == ProductStatus.LISTED)
            & Product.institution.code.not_in(list(SKIPPED_INSTITUTIONS))
        )
        .order_by(Product.id)
    )
    if not products:
        return 0
    rng = random.Random(SEED)
    # Each product's own approval rate, spread so that 高, 中 and 低 all occur; every third
    # product is popular (five times as many applications), so those have rates of their own
    # and the rest fall back to the platform's.
    base = {p["id"]: rng.choice((0.2, 0.35, 0.5, 0.7, 0.85)) for p in products}
    weights = [5 if n % 3 == 0 else 1 for n in range(len(products))]
    async with transaction():
        borrowers = await _borrowers(rng)
        consents: dict[tuple[int, int], int] = {}
        for _ in range(APPLICATIONS):
            product = rng.choices(products, weights)[0]
            user_id, mobile, facts = rng.choice(borrowers)
            institution_id = product["institution_id"]
            if (user_id, institution_id) not in consents:
                rows = await Consent.insert(
                    Consent(
                        borrower=user_id,
                        institution=institution_id,
                        notice_version="1",
                        notice_hash="0" * 64,
                        purpose="loan",
                        data_items=["name", "id_number", "mobile", "city", "income"],
                        retention="1y",
                    )
                ).returning(Consent.id)
                consents[(user_id, institution_id)] = rows[0]["id"]
            low, high = int(product["amount_min"]), int(product["amount_max"])
            amount = Decimal(rng.randrange(low, high + 1, max(1, (high - low) // 20 or 1)))
            # At least four days ago, so every decision (within 72 hours) is in the past.
            submitted = now - timedelta(days=rng.uniform(4, DAYS))
            decided = submitted + timedelta(hours=rng.uniform(2, 72))
            chance = base[product["id"]] + EMPLOYMENT_LIFT[facts.employment_type]
            approved = rng.random() < chance
            status = "approved" if approved else "rejected"
            city = (product["cities"] or [facts.city])[0]
            rows = await Application.insert(
                Application(
                    reference=f"LMR{secrets.token_hex(6).upper()}",
                    borrower=user_id,
                    product=product["id"],
                    product_version=product["version"],
                    institution=institution_id,
                    consent=consents[(user_id, institution_id)],
                    amount=amount,
                    term_months=product["term_options"][0],
                    repayment_method=product["repayment_methods"][0],
                    status=status,
                    shared_data_encrypted=_shared(facts, mobile, city),
                    submission_key=secrets.token_hex(16),
                    submitted_at=submitted,
                    updated_at=decided,
                    delivered_at=submitted + timedelta(minutes=5),
                    city=city,
                    channel=_channel(user_id),
                    income_band=income_band(facts.monthly_income),
                    rejection_reason="" if approved else "not_eligible",
                )
            ).returning(Application.id)
            application_id = rows[0]["id"]
            await ApplicationEvent.insert(
                ApplicationEvent(
                    application=application_id,
                    status="submitted",
                    actor_kind="borrower",
                    at=submitted,
                ),
                ApplicationEvent(
                    application=application_id,
                    status="delivered",
                    actor_kind="system",
                    at=submitted + timedelta(minutes=5),
                ),
                ApplicationEvent(
                    application=application_id, status=status, actor_kind="staff", at=decided
                ),
            )
    await record_calibration(now)
    return APPLICATIONS
