"""A platform's volume in its own database: 1,000,000 applications over ~400 days.

Creates a SEPARATE database (--database, default `loanmart_bench_volume`; its name must
start with `loanmart_bench`, so the dev and test databases can never be the target),
migrates it (`loanmart migrate`), seeds the demo catalogue (`loanmart seed`: the demo's
institutions, products, agreements, staff and operators), then generates --rows
applications spread over --days days (ending today, Asia/Shanghai business dates, more
in recent months, fewer at night and at weekends) across every listed demo product, its
institution, 30 cities and the two channels (web, h5), each with the rows the contexts
keep for it:

* borrowers (`app_user` + `borrower_profile`, one per ~4 applications; age, city,
  employment type and income spread so that customer bands have a shape);
* a consent per application (withdrawn for the applications withdrawn before delivery);
* `application` with its status history in `application_event` (submitted → delivered →
  reviewing → approved / rejected / documents requested → accepted, or withdrawn / not
  delivered), timestamps in order and never in the future: a recent application is still
  being worked;
* offers for approved ones (open, expired or declined) and signed offers with their
  `offer_signature` for accepted ones;
* loans for most accepted ones with their instalments (equal principal), paid on time,
  or — one loan in twelve — stopped paying (overdue, dpd and bucket as the daily run would
  set them); settled when every instalment is paid; `loan_event` rows for disbursement,
  overdue and settlement;
* settlement billing events (CPL for delivered leads, CPS for disbursed loans) under the
  institution's signed agreement;
* behaviour events (`analytics_event`, when the analytics context's table exists:
  detected, not required), set-based in SQL after the applications are in: each
  application's search, product views, maybe the calculator and a filter, the apply form,
  submission and consent, minutes before it was submitted, under one pseudonymous visitor.

Rows go in with COPY (asyncpg `copy_records_to_table`) in batches of --batch
applications, ids assigned here and sequences moved past them at the end; every
NOT NULL / FK / unique constraint holds (the constraints stay on). Personal data is
synthetic and encrypted through marketplace.security: a few ciphertexts are made once
and reused (encryption would otherwise be most of the time).

REDIS_URL must name a Redis database other than 0: it is flushed before the demo seed
(whose sign-up throttles would refuse a second run). Without --reset an existing
generated database is left alone (the run says so and exits 0); --reset drops and
recreates it. --behaviour-only migrates an existing generated database and (re)writes only
its behaviour events (for one generated before the analytics table existed).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/9 \\
    .venv/bin/python bench/gen_volume.py [--rows 1000000] [--days 400] [--database NAME] [--reset]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse
from zoneinfo import ZoneInfo

import asyncpg

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from marketplace.dburl import engine_config  # noqa: E402

DEFAULT_DATABASE = "loanmart_bench_volume"
NAME_PREFIX = "loanmart_bench"
SHANGHAI = ZoneInfo("Asia/Shanghai")
REFERENCE_PREFIX = "BV"  # application references of generated rows: BV + 12 digits
MOBILE_BASE = 16_600_000_000  # synthetic borrowers' mobiles: 166xxxxxxxx
STEP_TIMEOUT = 600

CITIES: tuple[tuple[str, int], ...] = (
    ("北京市", 9), ("上海市", 9), ("广州市", 7), ("深圳市", 8), ("杭州市", 6), ("南京市", 5),
    ("成都市", 6), ("重庆市", 6), ("武汉市", 5), ("西安市", 4), ("天津市", 4), ("苏州市", 4),
    ("长沙市", 3), ("郑州市", 3), ("青岛市", 3), ("宁波市", 2), ("厦门市", 2), ("福州市", 2),
    ("济南市", 2), ("合肥市", 2), ("昆明市", 2), ("沈阳市", 2), ("大连市", 1), ("南宁市", 1),
    ("贵阳市", 1), ("南昌市", 1), ("石家庄市", 1), ("太原市", 1), ("兰州市", 1), ("海口市", 1),
)  # fmt: skip
EMPLOYMENT: tuple[tuple[str, int], ...] = (
    ("employee", 55), ("civil_servant", 10), ("business_owner", 8), ("self_employed", 15),
    ("freelancer", 12),
)  # fmt: skip
INCOMES = (3000, 5000, 8000, 12000, 18000, 25000, 40000, 60000)
INCOME_WEIGHTS = (8, 18, 24, 20, 13, 9, 5, 3)
CHANNELS: tuple[tuple[str, int], ...] = (("web", 40), ("h5", 60))
PURPOSES = ("consumption", "decoration", "education", "travel", "business", "car")

# Final outcome of an application that had all the time it needed (weights in percent);
# a recent one stops at the step it has reached by now.
OUTCOMES: tuple[tuple[str, int], ...] = (
    ("not_delivered", 3), ("withdrawn_early", 2), ("withdrawn_late", 2), ("rejected", 44),
    ("documents_requested", 1), ("approved", 12), ("accepted", 36),
)  # fmt: skip
DISBURSED_SHARE = 0.9  # of accepted applications
DEFAULTING_SHARE = 1 / 12  # of loans: stop paying at some instalment
BEHAVIOUR_TABLE = "analytics_event"  # the analytics context's, when it exists


# -- database --------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


async def server_connect(server_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(**engine_config(server_url))


async def database_state(server_url: str, name: str) -> str:
    """'missing', 'empty' (exists, no generated rows) or 'generated'."""
    conn = await server_connect(server_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return "missing"
    finally:
        await conn.close()
    conn = await asyncpg.connect(**engine_config(with_database(server_url, name)))
    try:
        if not await conn.fetchval("SELECT to_regclass('application') IS NOT NULL"):
            return "empty"
        generated = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM application WHERE reference LIKE $1)",
            REFERENCE_PREFIX + "%",
        )
        return "generated" if generated else "empty"
    finally:
        await conn.close()


async def recreate_database(server_url: str, name: str) -> None:
    conn = await server_connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def redis_db(url: str) -> int:
    path = urlparse(url).path.strip("/")
    return int(path) if path.isdigit() else 0


async def flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


def run_step(step: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", step],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    if done.returncode != 0:
        raise SystemExit(f"`loanmart {step}` failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return time.perf_counter() - started


def step_env(database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOANMART_DEMO": "0",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    env.pop("MEILISEARCH_URL", None)
    return env


# -- catalogue -------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    id: int
    institution: int
    version: int
    amount_min: int
    amount_max: int
    terms: tuple[int, ...]
    monthly_rate: float
    rate: Decimal
    rate_period: str
    methods: tuple[str, ...]
    weight: float


@dataclass
class Catalogue:
    products: list[Product]
    staff: dict[int, int]  # institution → a staff user id
    agreements: dict[int, tuple[int, int]]  # institution → (agreement id, version)
    behaviour_table: str | None


def _monthly(rate: Decimal, period: str) -> float:
    value = float(rate)
    return {"year": value / 12, "month": value, "day": value * 30}.get(period, value / 12)


async def load_catalogue(conn: asyncpg.Connection) -> Catalogue:
    products = []
    for row in await conn.fetch(
        "SELECT id, institution, version, amount_min, amount_max, term_options, rate,"
        " rate_period, repayment_methods, popularity FROM product WHERE status = 'listed'"
        " ORDER BY id"
    ):
        # Consumer-sized amounts and terms (a few mortgage-like products would otherwise
        # dominate the instalment count); the product's own bounds are kept.
        terms = tuple(t for t in row["term_options"] if t <= 36) or (min(row["term_options"]),)
        low = int(row["amount_min"])
        high = max(low, min(int(row["amount_max"]), max(low * 5, 300_000)))
        products.append(
            Product(
                row["id"],
                row["institution"],
                row["version"],
                low,
                high,
                terms,
                _monthly(row["rate"], row["rate_period"]),
                row["rate"],
                row["rate_period"],
                tuple(row["repayment_methods"]) or ("equal_principal",),
                1.0 + (row["popularity"] or 0) / 100 + random.random(),
            )
        )
    if not products:
        raise SystemExit("no listed product: did `loanmart seed` run?")
    staff = {
        r["institution"]: r["id"]
        for r in await conn.fetch(
            "SELECT DISTINCT ON (institution) institution, id FROM app_user"
            " WHERE kind = 'staff' ORDER BY institution, id"
        )
    }
    agreements = {
        r["institution"]: (r["id"], r["version"])
        for r in await conn.fetch(
            "SELECT DISTINCT ON (institution) institution, id, version FROM agreement"
            " WHERE status = 'signed' ORDER BY institution, id DESC"
        )
    }
    behaviour_table = (
        BEHAVIOUR_TABLE
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", BEHAVIOUR_TABLE)
        else None
    )
    return Catalogue(
        products,
        staff,
        agreements,
        behaviour_table,
    )


# -- synthetic personal data, encrypted once --------------------------------------------


@dataclass(frozen=True)
class Ciphers:
    real_name: str
    id_number: str
    id_index: str
    address: str
    contact_name: str
    contact_mobile: str
    mobile: str
    incomes: dict[int, str]
    shared: list[str]
    contract: str
    contract_sha256: str
    password_hash: str


def make_ciphers() -> Ciphers:
    from marketplace.accounts.profiles import _CONTEXTS as PROFILE
    from marketplace.applications.services import SHARED_DATA_CONTEXT
    from marketplace.offers.contract import CONTRACT_CONTEXT
    from marketplace.security import blind_index, encrypt_field

    def enc(value: str, context: str) -> str:
        return encrypt_field(value, context=context)

    shared = [
        enc(
            json.dumps(
                {
                    "real_name": "压测用户",
                    "id_number": "110101199001011234",
                    "mobile": "16600000000",
                    "city": city,
                    "employment_type": "employee",
                    "monthly_income": str(income),
                    "address": "压测路1号",
                    "contact_name": "压测联系人",
                    "contact_relation": "friend",
                    "contact_mobile": "16600000001",
                },
                ensure_ascii=False,
            ),
            SHARED_DATA_CONTEXT,
        )
        for city, income in zip(("北京市", "上海市", "广州市", "深圳市"), INCOMES[2:6], strict=True)
    ]
    contract = "压测合同文本（合成数据）"
    return Ciphers(
        real_name=enc("压测用户", PROFILE["real_name"]),
        id_number=enc("110101199001011234", PROFILE["id_number"]),
        id_index=blind_index("110101199001011234", purpose="id_number"),
        address=enc("压测路1号", PROFILE["address"]),
        contact_name=enc("压测联系人", PROFILE["contact_name"]),
        contact_mobile=enc("16600000001", PROFILE["contact_mobile"]),
        mobile=enc("16600000000", "user.mobile"),
        incomes={income: enc(str(income), PROFILE["monthly_income"]) for income in INCOMES},
        shared=shared,
        contract=enc(contract, CONTRACT_CONTEXT),
        contract_sha256=hashlib.sha256(contract.encode()).hexdigest(),
        password_hash="!",  # no usable password: generated borrowers never sign in
    )


# -- the generator ---------------------------------------------------------------------


@dataclass
class Ids:
    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


TABLES = (
    "app_user",
    "borrower_profile",
    "consent",
    "application",
    "application_event",
    "offer",
    "offer_signature",
    "loan",
    "loan_instalment",
    "loan_event",
    "billing_event",
)


@dataclass
class Batch:
    rows: dict[str, list[tuple]] = field(default_factory=lambda: {t: [] for t in TABLES})


def _weighted(pairs: Sequence[tuple[str, int]]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _cum(weights: Iterable[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


COLUMNS: dict[str, tuple[str, ...]] = {
    "app_user": (
        "id", "kind", "login_key", "display_name", "mobile_encrypted", "mobile_masked",
        "password_hash", "role", "status", "created_at",
    ),
    "borrower_profile": (
        "id", "user", "real_name_encrypted", "real_name_masked", "id_number_encrypted",
        "id_number_masked", "id_number_index", "birth_date", "city", "monthly_income_encrypted",
        "employment_type", "updated_at", "address_encrypted", "address_masked",
        "contact_name_encrypted", "contact_name_masked", "contact_relation",
        "contact_mobile_encrypted", "contact_mobile_masked",
    ),
    "consent": (
        "id", "borrower", "institution", "notice_version", "notice_hash", "purpose",
        "data_items", "retention", "granted_at", "withdrawn_at",
    ),
    "application": (
        "id", "reference", "borrower", "product", "product_version", "institution", "consent",
        "amount", "term_months", "status", "shared_data_encrypted", "submission_key",
        "submitted_at", "updated_at", "assignee", "city", "delivered_at", "rejection_reason",
        "repayment_method", "prescreen_score", "purpose", "channel", "income_band",
    ),
    "application_event": ("id", "application", "status", "actor_kind", "actor_id", "note", "at"),
    "offer": (
        "id", "application", "institution", "borrower", "amount", "term_months",
        "repayment_method", "rate", "rate_period", "apr", "first_payment", "largest_payment",
        "total_cost", "expires_at", "status", "made_by", "created_at", "updated_at",
    ),
    "offer_signature": (
        "id", "offer", "contract_encrypted", "contract_sha256", "signed_at", "client_address",
        "user_agent",
    ),
    "loan": (
        "id", "application", "institution", "borrower", "product", "principal", "rate",
        "rate_period", "term_months", "repayment_method", "disbursed_on",
        "receiving_account_masked", "status", "dpd", "dpd_bucket", "settled_on", "created_at",
        "updated_at", "principal_outstanding",
    ),
    "loan_instalment": (
        "id", "loan", "number", "due_on", "principal_due", "interest_due", "fee_due",
        "principal_paid", "interest_paid", "fee_paid", "paid_on", "status",
    ),
    "loan_event": (
        "id", "loan", "institution", "kind", "occurred_on", "amount", "dpd", "dpd_bucket", "at",
    ),
    "billing_event": (
        "id", "institution", "application", "loan", "kind", "agreement", "agreement_version",
        "amount", "base_amount", "occurred_at", "period", "borrower_key", "created_at",
    ),
}  # fmt: skip

REJECTION_REASONS = ("credit_score", "income", "debt_ratio", "policy", "fraud_suspected")


def dpd_bucket(dpd: int) -> str:
    if dpd <= 0:
        return "current"
    if dpd <= 30:
        return "1-30"
    if dpd <= 60:
        return "31-60"
    if dpd <= 90:
        return "61-90"
    return "90+"


class Generator:
    def __init__(self, catalogue: Catalogue, ciphers: Ciphers, rows: int, days: int, seed: int):
        from marketplace.consents.notices import NOTICE_VERSION, PURPOSE, RETENTION, SHARED_ITEMS

        self.cat = catalogue
        self.c = ciphers
        self.rows = rows
        self.days = days
        self.rng = random.Random(seed)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.today = self.now.astimezone(SHANGHAI).date()
        self.first_day = self.today - timedelta(days=days - 1)
        # Day weights: growth over the period (×3 from first to last day), quieter weekends.
        weights = [
            (1 + 2 * d / max(days - 1, 1))
            * (0.7 if (self.first_day + timedelta(days=d)).weekday() >= 5 else 1.0)
            for d in range(days)
        ]
        self.day_cum = _cum(weights)
        self.hour_cum = _cum(
            (1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 4, 6, 7, 7, 6, 6, 6, 6, 6, 6, 6, 7, 8, 8, 6, 3)
        )
        self.product_cum = _cum(p.weight for p in catalogue.products)
        self.city_names, city_w = _weighted(CITIES)
        self.city_cum = _cum(city_w)
        self.emp_names, emp_w = _weighted(EMPLOYMENT)
        self.emp_cum = _cum(emp_w)
        self.income_cum = _cum(INCOME_WEIGHTS)
        self.outcomes, out_w = _weighted(OUTCOMES)
        self.outcome_cum = _cum(out_w)
        self.channel_names, channel_w = _weighted(CHANNELS)
        self.channel_cum = _cum(channel_w)
        self.notice_version = NOTICE_VERSION
        self.notice_hash = hashlib.sha256(NOTICE_VERSION.encode()).hexdigest()
        self.purpose = str(PURPOSE)[:200]
        self.retention = str(RETENTION)[:60]
        self.items = list(SHARED_ITEMS)
        self.borrower_count = max(rows // 4, 10)
        self.borrowers: list[tuple[int, str, str]] = []  # (user id, city, income band)
        self.counts: dict[str, int] = {t: 0 for t in TABLES}

    # -- helpers

    def pick(self, names: Sequence[Any], cum: list[float]) -> Any:
        return self.rng.choices(names, cum_weights=cum, k=1)[0]

    def submitted_at(self) -> datetime:
        rng = self.rng
        d = rng.choices(range(self.days), cum_weights=self.day_cum, k=1)[0]
        hour = rng.choices(range(24), cum_weights=self.hour_cum, k=1)[0]
        local = datetime.combine(
            self.first_day + timedelta(days=d),
            dtime(hour, rng.randrange(60), rng.randrange(60)),
            tzinfo=SHANGHAI,
        )
        at = local.astimezone(UTC)
        return min(at, self.now - timedelta(seconds=rng.randrange(60, 3600)))

    # -- borrowers

    def borrower_rows(self, ids: Ids, batch: Batch, start: int, stop: int) -> None:
        rng = self.rng
        c = self.c
        from marketplace.accounts.services import mobile_login_key
        from marketplace.applications.reporting import income_band

        for n in range(start, stop):
            user_id = ids.take("app_user")
            mobile = str(MOBILE_BASE + n)
            city = self.pick(self.city_names, self.city_cum)
            created = self.now - timedelta(days=self.days + rng.randrange(30))
            batch.rows["app_user"].append(
                (
                    user_id, "borrower", mobile_login_key(mobile), "借款人", c.mobile,
                    mobile[:3] + "****" + mobile[-4:], c.password_hash, "borrower", "active",
                    created,
                )
            )  # fmt: skip
            income = rng.choices(INCOMES, cum_weights=self.income_cum, k=1)[0]
            birth = date(1962, 1, 1) + timedelta(days=rng.randrange(365 * 43))
            batch.rows["borrower_profile"].append(
                (
                    ids.take("borrower_profile"), user_id, c.real_name, "压*", c.id_number,
                    "110***********1234", c.id_index, birth, city, c.incomes[income],
                    self.pick(self.emp_names, self.emp_cum), created, c.address, "压测路**",
                    c.contact_name, "压*", "friend", c.contact_mobile, "166****0001",
                )
            )  # fmt: skip
            self.borrowers.append((user_id, city, income_band(Decimal(income))))

    # -- one application and everything that follows it

    def application(self, ids: Ids, batch: Batch, n: int) -> None:
        rng = self.rng
        rows = batch.rows
        product = self.cat.products[
            rng.choices(range(len(self.cat.products)), cum_weights=self.product_cum, k=1)[0]
        ]
        inst = product.institution
        staff = self.cat.staff.get(inst)
        borrower, city, band = self.borrowers[rng.randrange(len(self.borrowers))]
        t0 = self.submitted_at()
        outcome = self.pick(self.outcomes, self.outcome_cum)
        amount = max(
            product.amount_min,
            min(product.amount_max, round(rng.lognormvariate(10.6, 0.8) / 1000) * 1000),
        )
        term = rng.choice(product.terms)
        method = rng.choice(product.methods)
        app_id = ids.take("application")
        consent_id = ids.take("consent")
        events: list[tuple[str, str, int | None, datetime]] = [
            ("submitted", "borrower", borrower, t0)
        ]

        def step(status: str, kind: str, actor: int | None, at: datetime) -> bool:
            if at > self.now:
                return False
            events.append((status, kind, actor, at))
            return True

        delivered_at = None
        withdrawn_at = None
        status = "submitted"
        reason = ""
        decided_at = None
        signed_at = None
        t_deliver = t0 + timedelta(seconds=rng.randrange(5, 600))
        if outcome == "not_delivered":
            if step("not_delivered", "system", None, t_deliver):
                status = "not_delivered"
        elif outcome == "withdrawn_early":
            at = t0 + timedelta(seconds=rng.randrange(1, 300))
            if step("withdrawn", "borrower", borrower, at):
                status, withdrawn_at = "withdrawn", at
        elif step("delivered", "system", None, t_deliver):
            status, delivered_at = "delivered", t_deliver
            t_review = t_deliver + timedelta(minutes=rng.randrange(10, 24 * 60))
            if outcome == "withdrawn_late":
                if step("withdrawn", "borrower", borrower, t_review):
                    status = "withdrawn"
            elif step("reviewing", "staff", staff, t_review):
                status = "reviewing"
                t_decide = t_review + timedelta(minutes=rng.randrange(30, 72 * 60))
                target = {"rejected": "rejected", "documents_requested": "documents_requested"}.get(
                    outcome, "approved"
                )
                if step(target, "staff", staff, t_decide):
                    status, decided_at = target, t_decide
                    if target == "rejected":
                        reason = rng.choice(REJECTION_REASONS)
                    elif outcome == "accepted":
                        t_sign = t_decide + timedelta(minutes=rng.randrange(10, 5 * 24 * 60))
                        if step("accepted", "borrower", borrower, t_sign):
                            status, signed_at = "accepted", t_sign
        updated = events[-1][3]
        channel = self.pick(self.channel_names, self.channel_cum)
        rows["consent"].append(
            (
                consent_id, borrower, inst, self.notice_version, self.notice_hash, self.purpose,
                self.items, self.retention, t0, withdrawn_at,
            )
        )  # fmt: skip
        app_row = [
            app_id, f"{REFERENCE_PREFIX}{n:012d}", borrower, product.id, product.version, inst,
            consent_id, Decimal(amount), term, status, self.c.shared[n % len(self.c.shared)],
            f"bv-{n}", t0, updated, staff if delivered_at and rng.random() < 0.5 else None, city,
            delivered_at, reason, method,
            rng.randrange(300, 900) if delivered_at else None, rng.choice(PURPOSES), channel, band,
        ]  # fmt: skip
        rows["application"].append(tuple(app_row))
        for ev_status, kind, actor, at in events:
            rows["application_event"].append(
                (ids.take("application_event"), app_id, ev_status, kind, actor, "", at)
            )
        if delivered_at and inst in self.cat.agreements:
            agreement, version = self.cat.agreements[inst]
            self._bill(
                ids,
                rows,
                inst,
                app_id,
                None,
                "cpl",
                agreement,
                version,
                Decimal(30),
                None,
                delivered_at,
            )
        if decided_at and status in ("approved", "accepted"):
            self._offer(
                ids,
                rows,
                product,
                app_id,
                borrower,
                staff,
                amount,
                term,
                method,
                decided_at,
                signed_at,
            )
        if signed_at and rng.random() < DISBURSED_SHARE:
            disbursed_at = signed_at + timedelta(hours=rng.randrange(1, 72))
            if disbursed_at <= self.now:
                loan_id = self._loan(
                    ids, rows, product, app_id, borrower, amount, term, method, disbursed_at
                )
                if inst in self.cat.agreements:
                    agreement, version = self.cat.agreements[inst]
                    fee = (Decimal(amount) * Decimal("0.012")).quantize(Decimal("0.01"))
                    self._bill(
                        ids,
                        rows,
                        inst,
                        app_id,
                        loan_id,
                        "cps",
                        agreement,
                        version,
                        fee,
                        Decimal(amount),
                        disbursed_at,
                    )

    def _bill(self, ids, rows, inst, app_id, loan_id, kind, agreement, version, amount, base, at):
        period = at.astimezone(SHANGHAI).date().replace(day=1)
        rows["billing_event"].append(
            (ids.take("billing_event"), inst, app_id, loan_id, kind, agreement, version, amount,
             base, at, period, "", at)
        )  # fmt: skip

    def _offer(
        self, ids, rows, product, app_id, borrower, staff, amount, term, method, at, signed_at
    ):
        rng = self.rng
        offer_id = ids.take("offer")
        expires = at + timedelta(days=7)
        if signed_at:
            status = "signed"
        elif expires < self.now:
            status = "expired" if rng.random() < 0.8 else "declined"
        else:
            status = "open"
        principal = Decimal(amount)
        monthly = Decimal(str(round(product.monthly_rate, 8)))
        first = (principal / term + principal * monthly).quantize(Decimal("0.01"))
        interest_total = (principal * monthly * (term + 1) / 2).quantize(Decimal("0.01"))
        apr = Decimal(str(round(product.monthly_rate * 12, 6)))
        rows["offer"].append(
            (offer_id, app_id, product.institution, borrower, principal, term, method,
             product.rate, product.rate_period, apr, first, first, principal + interest_total,
             expires, status, staff, at, signed_at or at)
        )  # fmt: skip
        if signed_at:
            rows["offer_signature"].append(
                (ids.take("offer_signature"), offer_id, self.c.contract, self.c.contract_sha256,
                 signed_at, "127.0.0.1", "loanmart-bench")
            )  # fmt: skip

    def _loan(self, ids, rows, product, app_id, borrower, amount, term, method, disbursed_at):
        rng = self.rng
        loan_id = ids.take("loan")
        disbursed_on = disbursed_at.astimezone(SHANGHAI).date()
        principal = Decimal(amount)
        per = (principal / term).quantize(Decimal("0.01"))
        monthly = product.monthly_rate
        stops_at = rng.randrange(1, term + 1) if rng.random() < DEFAULTING_SHARE else None
        outstanding = principal
        paid_principal = Decimal(0)
        first_missed: date | None = None
        last_due = disbursed_on
        for k in range(1, term + 1):
            due = _add_months(disbursed_on, k)
            last_due = due
            principal_due = per if k < term else principal - per * (term - 1)
            interest_due = Decimal(str(round(float(outstanding) * monthly, 2)))
            outstanding -= principal_due
            is_due = due < self.today
            paid = is_due and (stops_at is None or k < stops_at)
            if is_due and not paid and first_missed is None:
                first_missed = due
            rows["loan_instalment"].append(
                (ids.take("loan_instalment"), loan_id, k, due, principal_due, interest_due,
                 Decimal(0), principal_due if paid else Decimal(0),
                 interest_due if paid else Decimal(0), Decimal(0), due if paid else None,
                 "paid" if paid else "pending")
            )  # fmt: skip
            if paid:
                paid_principal += principal_due
        dpd = (self.today - first_missed).days if first_missed else 0
        if first_missed:
            status = "overdue"
        elif last_due < self.today:
            status = "settled"
        elif paid_principal > 0:
            status = "repaying"
        else:
            status = "disbursed"
        inst = product.institution
        rows["loan"].append(
            (loan_id, app_id, inst, borrower, product.id, principal, product.rate,
             product.rate_period, term, method, disbursed_on, "****" + f"{loan_id % 10000:04d}",
             status, dpd, dpd_bucket(dpd), last_due if status == "settled" else None,
             disbursed_at, disbursed_at, principal - paid_principal)
        )  # fmt: skip
        events = [("disbursed", disbursed_on, principal, 0, "current")]
        if first_missed:
            events.append(("overdue", first_missed + timedelta(days=1), None, 1, "1-30"))
        if status == "settled":
            events.append(("settled", last_due, None, 0, "current"))
        for kind, on, amount_, ev_dpd, bucket in events:
            at = datetime.combine(on, dtime(9), tzinfo=SHANGHAI).astimezone(UTC)
            rows["loan_event"].append(
                (ids.take("loan_event"), loan_id, inst, kind, on, amount_, ev_dpd, bucket, at)
            )
        return loan_id


SEARCHES = ("装修", "消费贷", "车贷", "低息", "公积金", "信用卡", "经营贷", "zxd", "房贷", "无抵押")
RESULT_COUNTS = (0, 1, 3, 5, 8, 12, 20, 35)
FILTER_SETS = (
    '{"category": "consumer"}',
    '{"amount": "50000"}',
    '{"term": "12"}',
    '{"category": "car", "term": "36"}',
    '{"institution": "1", "sort": "apr"}',
)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    last = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return date(year, month, min(day.day, last))


async def copy_batch(conn: asyncpg.Connection, gen: Generator, batch: Batch) -> None:
    async with conn.transaction():
        for table in TABLES:
            records = batch.rows[table]
            if not records:
                continue
            columns = list(COLUMNS[table])
            await conn.copy_records_to_table(table, records=records, columns=columns)
            gen.counts[table] += len(records)


async def generate(database_url: str, rows: int, days: int, batch_size: int, seed: int) -> dict:
    conn = await asyncpg.connect(**engine_config(database_url))
    try:
        catalogue = await load_catalogue(conn)
        ciphers = make_ciphers()
        gen = Generator(catalogue, ciphers, rows, days, seed)
        ids = Ids(
            {
                t: (await conn.fetchval(f'SELECT COALESCE(max(id), 0) FROM "{t}"')) + 1
                for t in TABLES
            }
        )
        print(
            f"  {len(catalogue.products)} products of {len({p.institution for p in catalogue.products})}"
            f" institutions; {gen.borrower_count:,} borrowers; behaviour table: "
            f"{catalogue.behaviour_table or 'none'}"
        )
        started = time.perf_counter()
        for start in range(0, gen.borrower_count, batch_size):
            batch = Batch()
            gen.borrower_rows(ids, batch, start, min(start + batch_size, gen.borrower_count))
            await copy_batch(conn, gen, batch)
        print(f"  borrowers: {time.perf_counter() - started:.1f} s")
        # A thread builds batch i + 1 while two connections COPY the batches before it
        # (batches share no rows: borrowers are in already), so the client's CPU and the
        # server's constraint checks overlap on the machine's cores.
        queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=2)
        extra = await asyncpg.connect(**engine_config(database_url))
        done = 0

        def build(start: int) -> Batch:
            batch = Batch()
            for n in range(start, min(start + batch_size, rows)):
                gen.application(ids, batch, n)
            return batch

        async def produce() -> None:
            for start in range(0, rows, batch_size):
                await queue.put(await asyncio.to_thread(build, start))
            for _ in range(2):
                await queue.put(None)

        async def consume(connection: asyncpg.Connection) -> None:
            nonlocal done
            while (batch := await queue.get()) is not None:
                await copy_batch(connection, gen, batch)
                done += len(batch.rows["application"])
                elapsed = time.perf_counter() - started
                print(
                    f"  {done:>9,} / {rows:,} applications  {elapsed:7.1f} s"
                    f"  (~{elapsed / done * (rows - done):.0f} s left)",
                    flush=True,
                )

        try:
            await asyncio.gather(produce(), consume(conn), consume(extra))
        finally:
            await extra.close()
        t = time.perf_counter()
        for table in TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                f' (SELECT COALESCE(max(id), 1) FROM "{table}"))'
            )
        await conn.execute("ANALYZE")
        print(f"  sequences + ANALYZE {time.perf_counter() - t:.1f} s")
        return gen.counts
    finally:
        await conn.close()


# Behaviour events for the generated applications, set-based (built one event at a time in
# Python and COPYed they took ~40 min for 1,000,000 applications on a busy 2-CPU machine,
# ~7 per application; this takes a few minutes): every application gets its search, apply-form, submission and consent events,
# one or two product views, the calculator (2 in 5) and a filter (3 in 10), minutes before
# it was submitted, under one pseudonymous visitor (random: not derived from any id).
BEHAVIOUR_SQL = """
WITH a AS MATERIALIZED (  -- one random visitor per application, drawn once
  SELECT id, product, submitted_at,
         'bv' || substr(md5(random()::text || clock_timestamp()::text), 1, 16) AS visitor
  FROM application WHERE reference LIKE 'BV%' AND id > $4 AND id <= $5
)
INSERT INTO analytics_event (kind, visitor, at, product, query, filters, result_count)
SELECT k.kind, a.visitor,
       a.submitted_at - make_interval(secs => (9 - k.n) * 90 + a.id % 60),
       CASE WHEN k.kind = 'search' THEN NULL ELSE a.product END,
       CASE WHEN k.kind = 'search' THEN ($1::text[])[1 + (a.id + k.n) % cardinality($1)]
            ELSE '' END,
       CASE WHEN k.kind = 'filter_use' THEN (($2::text[])[1 + a.id % cardinality($2)])::jsonb
            ELSE '{}'::jsonb END,
       CASE WHEN k.kind = 'search' THEN ($3::int[])[1 + (a.id * 7 + k.n) % cardinality($3)] END
FROM a
JOIN (VALUES (1, 'product_view'), (2, 'product_view'), (3, 'search'), (4, 'calculator_use'),
             (5, 'filter_use'), (6, 'apply_form_opened'), (7, 'apply_submitted'),
             (8, 'consent_given')) AS k (n, kind)
  ON k.n IN (1, 3, 6, 7, 8) OR (k.n = 2 AND a.id % 2 = 0) OR (k.n = 4 AND a.id % 5 < 2)
     OR (k.n = 5 AND a.id % 10 < 3)
"""


async def has_behaviour_table(database_url: str) -> bool:
    conn = await asyncpg.connect(**engine_config(database_url))
    try:
        return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", BEHAVIOUR_TABLE))
    finally:
        await conn.close()


async def add_behaviour(database_url: str, batch_size: int) -> int:
    """Behaviour events for the generated applications (also for a database generated
    before the analytics table existed): the generated ones (visitor bv…) are replaced."""
    conn = await asyncpg.connect(**engine_config(database_url))
    try:
        if not await conn.fetchval("SELECT to_regclass('analytics_event') IS NOT NULL"):
            raise SystemExit("no analytics_event table in this database: nothing to add")
        await conn.execute("DELETE FROM analytics_event WHERE visitor LIKE 'bv%'")
        low, high = await conn.fetchrow(
            "SELECT min(id) - 1, max(id) FROM application WHERE reference LIKE $1",
            REFERENCE_PREFIX + "%",
        )
        written = 0
        step = batch_size * 5
        for start in range(low, high, step):
            status = await conn.execute(
                BEHAVIOUR_SQL, list(SEARCHES), list(FILTER_SETS), list(RESULT_COUNTS),
                start, start + step,
            )  # fmt: skip
            written += int(status.split()[-1])
            print(f"  {written:,} behaviour events (applications up to id {start + step:,})")
        await conn.execute("ANALYZE analytics_event")
        return written
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="applications")
    parser.add_argument("--days", type=int, default=400, help="days of history, ending today")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="database to create")
    parser.add_argument("--batch", type=int, default=20_000, help="applications per COPY batch")
    parser.add_argument("--seed", type=int, default=20261201, help="random seed")
    parser.add_argument("--reset", action="store_true", help="drop and recreate the database")
    parser.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument(
        "--behaviour-only",
        action="store_true",
        help="migrate an existing generated database and (re)write its behaviour events",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.days < 1 or args.batch < 1:
        parser.error("--rows, --days and --batch must be positive")
    if not args.database.startswith(NAME_PREFIX) or not args.database.replace("_", "").isalnum():
        parser.error(f"--database must start with {NAME_PREFIX} (letters, digits, _ only)")
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        raise SystemExit("DATABASE_URL (the PostgreSQL server to create the database on) is unset")
    if urlparse(server_url).path.strip("/") == args.database:
        raise SystemExit("DATABASE_URL must name another database than --database")
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_db(redis_url) == 0:
        raise SystemExit(
            "REDIS_URL must name a database other than 0 (e.g. redis://127.0.0.1:6379/9):"
            " it is flushed before the demo seed"
        )
    random.seed(args.seed)
    database_url = with_database(server_url, args.database)
    total = time.perf_counter()
    state = asyncio.run(database_state(server_url, args.database))
    if args.behaviour_only:
        if state != "generated":
            raise SystemExit(f"{args.database} holds no generated applications")
        print(f"  migrate: {run_step('migrate', step_env(database_url)):.1f} s")
        os.environ["DATABASE_URL"] = database_url
        written = asyncio.run(add_behaviour(database_url, args.batch))
        print(f"{written:,} behaviour events in {time.perf_counter() - total:.1f} s")
        return 0
    if state == "generated" and not args.reset:
        print(f"{args.database} already holds generated applications; --reset to redo it")
        return 0
    if args.reset or state == "missing":
        asyncio.run(recreate_database(server_url, args.database))
        print(f"database {args.database} created")
    env = step_env(database_url)
    asyncio.run(flush_redis(redis_url))  # the seed's throttles would refuse a second run
    print(f"  migrate: {run_step('migrate', env):.1f} s")
    print(f"  seed (demo catalogue): {run_step('seed', env):.1f} s")
    os.environ["DATABASE_URL"] = database_url
    counts = asyncio.run(generate(database_url, args.rows, args.days, args.batch, args.seed))
    if asyncio.run(has_behaviour_table(database_url)):
        started = time.perf_counter()
        counts["analytics_event"] = asyncio.run(add_behaviour(database_url, args.batch))
        print(f"  behaviour events: {time.perf_counter() - started:.1f} s")
    print("rows written: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    seconds = time.perf_counter() - total
    print(f"total {seconds:.1f} s for {args.rows:,} applications")
    if not args.no_write:
        from _results import append_rows, now, python_version

        rows = sum(counts.values())
        append_rows(
            HEADING,
            SECTION,
            [
                f"| {now()} | {python_version()} | {platform.machine()} · {os.cpu_count()} CPUs "
                f"| {args.rows:,} | {args.days} | {rows:,} | {seconds:.0f} | {rows / seconds:,.0f} "
                f"| {os.getloadavg()[0]:.1f} |"
            ],
        )
    return 0


HEADING = "## Volume generator (`bench/gen_volume.py`)"
SECTION = f"""{HEADING}

A separate database migrated and demo-seeded, then N applications over D days with their
borrowers, consents, status histories, offers and signatures, loans with instalments, loan
events and billing events (COPY in batches, two connections, constraints on), and the
behaviour events when the analytics table exists. "seconds" is the whole run (create,
migrate, seed, generate, sequences, ANALYZE); "load" is the machine's 1-minute load average
at the end (other sessions' work on the same 2 CPUs slows the run). Target: ≤ 15 minutes
for 1,000,000 applications.

| when (Asia/Shanghai) | python | machine | applications | days | rows written | seconds | rows/s | load |
|---|---|---|---|---|---|---|---|---|
"""


if __name__ == "__main__":
    sys.exit(main())
