"""Load the demo catalogue and accounts. Idempotent: an already seeded database is left as is."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.accounts import second_factor
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.db import transaction
from marketplace.demo.account_security import seed_account_security
from marketplace.demo.agreements import seed_agreements
from marketplace.demo.analytics import seed_analytics
from marketplace.demo.api_clients import seed_api_client
from marketplace.demo.articles import seed_articles
from marketplace.demo.campaigns import seed_campaigns
from marketplace.demo.catalogue import DEMO_ACCOUNTS, INSTITUTIONS, PRODUCTS
from marketplace.demo.collections import seed_collections
from marketplace.demo.complaints import seed_complaints
from marketplace.demo.consents import seed_consents
from marketplace.demo.decisions import seed_decisions
from marketplace.demo.documents import seed_documents
from marketplace.demo.loans import seed_loans
from marketplace.demo.monitoring import seed_monitoring
from marketplace.demo.offers import seed_offers
from marketplace.demo.parameters import seed_parameters
from marketplace.demo.partners import seed_partners
from marketplace.demo.prescreen import seed_prescreen
from marketplace.demo.promotions import seed_promotions
from marketplace.demo.ratings import seed_ratings
from marketplace.demo.recommendations import seed_recommendations
from marketplace.demo.reconciliation import seed_reconciliation
from marketplace.demo.risk import seed_risk
from marketplace.demo.settlement import seed_settlement
from marketplace.demo.users import seed_users
from marketplace.demo.webhooks import seed_webhooks
from marketplace.institutions.tables import Institution
from marketplace.loancalc import Fee, classify_cost
from marketplace.parameters.services import cost_lines
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.products.validation import PriceTerms, methods_apr_range
from marketplace.security import encrypt_field, hash_password, mask_mobile, new_totp_secret


def _no_progress(done_now: int, total: int) -> None:
    pass


async def seed_demo(progress: Callable[[int, int], None] = _no_progress) -> bool:
    """Returns False when demo data was already there. `progress(done_now, total)` is
    called per institution, product and account (accounts are slow: password hashing)."""
    if await Institution.exists().where(Institution.code == INSTITUTIONS[0]["code"]):
        return False
    lines = await cost_lines()
    now = datetime.now(UTC)
    total = len(INSTITUTIONS) + len(PRODUCTS) + len(DEMO_ACCOUNTS)
    async with transaction():
        ids: dict[str, int] = {}
        for inst in INSTITUTIONS:
            rows = await Institution.insert(
                Institution(
                    **{
                        k: inst[k]
                        for k in (
                            "code",
                            "name",
                            "short_name",
                            "kind",
                            "licence_no",
                            "city",
                            "description",
                            "service_phone",
                            "contact_name",
                            "contact_email",
                        )
                    }
                )
            ).returning(Institution.id)
            ids[inst["code"]] = rows[0]["id"]
            progress(1, total)
        for position, item in enumerate(PRODUCTS):
            fees = [Fee.from_dict(f) for f in item["fees"]]
            terms = PriceTerms(
                amount_min=Decimal(item["amount_min"]),
                amount_max=Decimal(item["amount_max"]),
                term_options=item["term_options"],
                rate=Decimal(item["rate"]),
                rate_period=item["rate_period"],
                repayment_methods=item["repayment_methods"],
                fees=fees,
                rate_type=item.get("rate_type", "fixed"),
                spread_bps=item.get("rate_spread_bps"),
            ).with_lpr(lines.lpr_1y)
            low, high = methods_apr_range(terms)
            verdict = classify_cost(high, lines)
            await Product.insert(
                Product(
                    institution=ids[item["institution"]],
                    name=item["name"],
                    category=item["category"],
                    summary=item["summary"],
                    description=item["description"],
                    amount_min=Decimal(item["amount_min"]),
                    amount_max=Decimal(item["amount_max"]),
                    term_options=item["term_options"],
                    rate_type=terms.rate_type,
                    rate_spread_bps=terms.spread_bps,
                    rate=terms.rate,
                    rate_period=terms.rate_period,
                    repayment_methods=terms.repayment_methods,
                    fees=[fee.to_dict() for fee in fees],
                    contingent_fees=item["contingent_fees"],
                    age_min=item["age_min"],
                    age_max=item["age_max"],
                    cities=item["cities"],
                    min_monthly_income=Decimal(item["min_monthly_income"]),
                    employment_types=item["employment_types"],
                    required_documents=item["required_documents"],
                    tags=item["tags"],
                    keywords=item["keywords"],
                    approval_speed_hours=item["approval_speed_hours"],
                    approval_rate=item["approval_rate"],
                    popularity=item["popularity"],
                    apr_min=low,
                    apr_max=high,
                    cost_verdict=str(verdict),
                    high_cost_acknowledged=str(verdict) == "warn",
                    status=ProductStatus.LISTED,
                    listed_at=now - timedelta(days=len(PRODUCTS) - position),
                )
            )
            progress(1, total)
        for account in DEMO_ACCOUNTS:
            await User.insert(_demo_user(account, ids))
            progress(1, total)
    await seed_parameters()  # every parameter's row, a short history, created roles
    await seed_agreements()  # before any lead: delivery needs an agreement in force
    await seed_webhooks()
    await seed_loans()
    await seed_collections()
    await seed_decisions()
    await seed_offers()
    await seed_promotions()
    await seed_api_client()
    await seed_prescreen()
    await seed_consents()
    await seed_partners()
    await seed_settlement()
    await seed_reconciliation()
    await seed_risk()
    await seed_documents()
    await seed_recommendations()
    await seed_account_security()
    await seed_users()
    await seed_monitoring()
    await seed_complaints()
    await seed_campaigns()
    await seed_ratings()
    await seed_articles()
    await seed_analytics()
    return True


def _demo_user(account: dict, institution_ids: dict[str, int]) -> User:
    password_hash = hash_password(account["password"])
    if account["kind"] == "borrower":
        mobile = account["mobile"]
        return User(
            kind="borrower",
            login_key=mobile_login_key(mobile),
            display_name=account["name"],
            mobile_encrypted=encrypt_field(mobile, context="user.mobile"),
            mobile_masked=mask_mobile(mobile),
            password_hash=password_hash,
            role="borrower",
        )
    kind = "staff" if account["kind"] == "institution" else "operator"
    # Operators are enrolled for TOTP; the demo console prints their codes at sign-in.
    totp = (
        encrypt_field(new_totp_secret(), context=second_factor.ENCRYPTION_CONTEXT)
        if kind == "operator"
        else None
    )
    return User(
        kind=kind,
        totp_secret_encrypted=totp,
        login_key=account["username"].lower(),
        display_name=account["name"],
        password_hash=password_hash,
        role=account["role"],
        institution=institution_ids.get(account.get("institution", "")),
    )
