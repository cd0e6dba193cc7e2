"""Demo anti-fraud (A8): a blacklisted phone and a blacklisted address range, one
application held for review (its borrower's phone is on the blacklist), and velocity
events from one device registering again and again. Everything goes through the verbs."""

from __future__ import annotations

from marketplace.accounts.roles import permissions_of
from marketplace.accounts.services import mobile_login_key, visitor
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.demo.catalogue import DEMO_PASSWORD
from marketplace.demo.decisions import apply_and_deliver
from marketplace.errors import DomainError
from marketplace.institutions.tables import Institution
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.risk.services import add_to_blacklist, screen_registration
from marketplace.security import encrypt_field, hash_password, mask_mobile

HELD_MOBILE = "13600009901"
HELD_NAME = "赵强"
SUPER = "super@loanmart.example"
DEMO_DEVICE = "0d" * 16
# More registrations from one device than the rule allows (its default limit is 3).
DEVICE_REGISTRATIONS = 5


async def _operator() -> Actor | None:
    row = await User.select().where(User.login_key == SUPER).first()
    if row is None:
        return None
    return Actor(
        user_id=row["id"],
        kind="operator",
        label=row["display_name"],
        role=row["role"],
        permissions=permissions_of("operator", row["role"]),
    )


async def _held_borrower() -> Actor:
    rows = await User.insert(
        User(
            kind="borrower",
            login_key=mobile_login_key(HELD_MOBILE),
            display_name=HELD_NAME,
            mobile_encrypted=encrypt_field(HELD_MOBILE, context="user.mobile"),
            mobile_masked=mask_mobile(HELD_MOBILE),
            password_hash=hash_password(DEMO_PASSWORD),
            role="borrower",
        )
    ).returning(User.id)
    return Actor(
        user_id=rows[0]["id"],
        kind="borrower",
        label=HELD_NAME,
        role="borrower",
        ip="203.0.113.45",
        device="0e" * 16,
        permissions=permissions_of("borrower", "borrower"),
    )


async def seed_risk() -> None:
    operator = await _operator()
    if operator is None:
        return
    await add_to_blacklist(operator, "phone", HELD_MOBILE, "演示：身份被冒用，机构反馈欺诈")
    await add_to_blacklist(operator, "address", "203.0.113.0/24", "演示：已知代理 IP 段")
    product = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.service_phone.as_alias("service_phone"),
        )
        .where(Product.status == ProductStatus.LISTED)
        .order_by(Product.id)
        .output(load_json=True)
        .first()
    )
    if product is not None:
        institution = (
            await Institution.select(Institution.city)
            .where(Institution.id == product["institution"])
            .first()
        )
        city = (product["cities"] or [institution["city"] if institution else "北京"])[0]
        # Held: the delivery step leaves it alone until an operator decides.
        await apply_and_deliver(
            await _held_borrower(),
            product,
            amount=product["amount_min"],
            term_months=product["term_options"][0],
            city=city,
        )
    for number in range(DEVICE_REGISTRATIONS):
        try:
            await screen_registration(
                visitor(f"198.51.100.{60 + number}", device=DEMO_DEVICE), f"1350000{number:04d}"
            )
        except DomainError:
            continue
