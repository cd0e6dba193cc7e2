"""Submitting applications (with per-institution consent) and working them as leads."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from marketplace import outbox
from marketplace.accounts.limits import Limit, reserve
from marketplace.accounts.profiles import ProfileFacts, save_borrower_profile
from marketplace.accounts.roles import permissions_of
from marketplace.accounts.tables import User
from marketplace.actors import SYSTEM, Actor
from marketplace.applications.applicant import (
    PERSON_FIELDS,
    LoanNeed,
    coded_items,
    eligibility_reasons,
    read_need,
    read_person,
)
from marketplace.applications.guard import (
    GUARD_PARAMETERS,
    OPEN_DUES_SQL,
    DebtToIncome,
    GuardSettings,
    active_loan_payments,
    cooling_off_end,
    cooling_off_message,
    guard_from,
    new_loan_payment,
    open_dues_args,
    product_quote,
)
from marketplace.applications.reporting import Channel, income_band
from marketplace.applications.statuses import (
    APPLICATION_MACHINE,
    FORM_ACTIONS,
    OPEN_STATUSES,
    ApplicationStatus,
    received_leads,
)
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.cache import catalogue_cached, pinned_catalogue
from marketplace.consents.notices import Notice, build_notice
from marketplace.consents.services import grant_consent
from marketplace.db import Statement, by_column, fetch, transaction, write_before_commit
from marketplace.delivery.rules import LeadFacts
from marketplace.delivery.services import admission
from marketplace.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)
from marketplace.i18n import N_, _
from marketplace.inbox.services import notify_borrower, notify_institution
from marketplace.loancalc import LoanInputError
from marketplace.parameters.services import get_parameters
from marketplace.parsing import (
    FormReader,
    column_length,
    first,
    lenient,
    parse_choice,
    parse_int,
)
from marketplace.products.tables import Product
from marketplace.products.validation import REPAYMENT_METHODS
from marketplace.products.visibility import on_portal
from marketplace.risk.rules import NEUTRAL_REFUSAL, HoldStatus, parameter_keys
from marketplace.risk.services import (
    ApplicationCase,
    hold_status,
    rule_values,
    screen_application,
)
from marketplace.security import decrypt_field, encrypt_field
from marketplace.webhooks.services import publish

SHARED_DATA_CONTEXT = "application.shared_data"
# The form's key for the debt-to-income warning, which the borrower may acknowledge.
DEBT_WARNING = "debt_warning"
# A batch form names more products than this only when someone is typing URLs.
MAX_BATCH_IDS = 50


@dataclass(frozen=True)
class ApplicationInput:
    """One product's application form (a batch of one)."""

    product_id: int
    amount: Decimal
    term_months: int
    repayment_method: str
    real_name: str
    id_number: str
    city: str
    monthly_income: Decimal
    employment_type: str
    consent_given: bool
    notice_digest: str
    submission_key: str
    # The borrower read the debt-to-income warning and sends the application anyway.
    debt_warning_read: bool = False
    purpose: str = ""  # checked against the loan_purposes parameter by the verb
    address: str = ""
    contact_name: str = ""
    contact_relation: str = ""
    contact_mobile: str = ""
    channel: Channel = Channel.WEB


@dataclass(frozen=True)
class BatchInput:
    """One submission to one or more products: the need and the borrower once, per
    product its repayment method, per institution its consent (PRODUCT.md P5)."""

    product_ids: tuple[int, ...]
    need: LoanNeed
    person: ProfileFacts
    methods: Mapping[int, str]  # product id → repayment method
    consents: frozenset[int]  # the institutions whose notice the borrower ticked
    notice_digests: Mapping[int, str]  # institution id → digest of the notice shown
    submission_key: str
    debt_warning_read: bool = False
    channel: Channel = Channel.WEB


def _submission_key(form: FormReader) -> str:
    key = first(form.data.get("submission_key")).strip()
    if not 16 <= len(key) <= column_length(Application.submission_key):
        form.fail("submission_key", _("表单已过期，请刷新页面后重新提交"))
    return key


def parse_application_input(
    product_id: int, data: Mapping, channel: Channel = Channel.WEB
) -> ApplicationInput:
    form = FormReader(data)
    need = read_need(form)
    # Which of the product's methods it is, is checked with the product's other terms.
    method = form.field(
        "repayment_method", parse_choice, "", choices=REPAYMENT_METHODS, label=_("还款方式")
    )
    person = read_person(form)
    consent_given = first(data.get("consent")).strip() == "yes"
    if not consent_given:
        form.fail("consent", _("请阅读个人信息单独同意书，并勾选同意后再提交"))
    submission_key = _submission_key(form)
    form.raise_errors()
    return ApplicationInput(
        product_id=product_id,
        amount=need.amount,
        term_months=need.term_months,
        repayment_method=method,
        consent_given=consent_given,
        notice_digest=first(data.get("notice_digest")).strip(),
        submission_key=submission_key,
        debt_warning_read=first(data.get("debt_warning_read")).strip() == "yes",
        purpose=need.purpose,
        channel=channel,
        **{field: getattr(person, field) for field in PERSON_FIELDS},
    )


def batch_product_ids(raw: Any) -> list[int]:
    """The `products` of a batch form or link: well-formed ids, in order, without repeats,
    at most MAX_BATCH_IDS (the parameter's cap is the verb's check)."""
    values = raw if isinstance(raw, list | tuple) else [raw]
    ids = (lenient(parse_int, value, 0, minimum=1) for value in values[:MAX_BATCH_IDS])
    return list(dict.fromkeys(i for i in ids if i))


def _keyed(data: Mapping, prefix: str) -> dict[int, str]:
    """`<prefix><id>` fields → {id: value}."""
    keyed: dict[int, str] = {}
    for key in list(data)[: 4 * MAX_BATCH_IDS + 50]:
        suffix = key[len(prefix) :] if key.startswith(prefix) else ""
        if suffix.isascii() and suffix.isdigit() and len(suffix) <= 10:
            keyed[int(suffix)] = first(data.get(key)).strip()[:100]
    return keyed


def parse_batch_input(data: Mapping, channel: Channel = Channel.WEB) -> BatchInput:
    """The multi-product form: `products` (repeated), `method_<product>`,
    `consent_<institution>` = yes, `notice_<institution>` (the digest shown)."""
    form = FormReader(data)
    product_ids = batch_product_ids(data.get("products"))
    if not product_ids:
        form.fail("products", _("请至少选择一个产品"))
    need = read_need(form)
    person = read_person(form)
    submission_key = _submission_key(form)
    form.raise_errors()
    return BatchInput(
        product_ids=tuple(product_ids),
        need=need,
        person=person,
        methods=_keyed(data, "method_"),
        consents=frozenset(i for i, value in _keyed(data, "consent_").items() if value == "yes"),
        notice_digests=_keyed(data, "notice_"),
        submission_key=submission_key,
        debt_warning_read=first(data.get("debt_warning_read")).strip() == "yes",
        channel=channel,
    )


def new_submission_key() -> str:
    return secrets.token_urlsafe(24)


# Crockford base32: no I, L, O or U, so a reference read out over the phone is unambiguous.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_ATTEMPTS = 5


def _reference() -> str:
    """LM + date + 10 random characters (50 bits): at 8,000 applications a day two share
    one about 3 times in 100 million days, and `_insert_application` retries when they do."""
    random_part = "".join(secrets.choice(REFERENCE_ALPHABET) for _position in range(10))
    return "LM" + datetime.now(UTC).strftime("%y%m%d") + random_part


# The application and its first event in one round trip (a data-modifying CTE runs
# whether or not the outer query reads it). ON CONFLICT rather than catching the
# violation keeps the transaction usable.
_INSERT_APPLICATION_SQL = """
WITH app AS (
  INSERT INTO application (reference, borrower, product, product_version, institution,
    consent, amount, term_months, repayment_method, purpose, status, city, channel,
    income_band, shared_data_encrypted, submission_key, submitted_at, updated_at)
  VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
  ON CONFLICT (reference) DO NOTHING
  RETURNING id, status, submitted_at
), event AS (
  INSERT INTO application_event (application, status, actor_kind, actor_id, note, at)
  SELECT id, status, {}, {}, '', submitted_at FROM app
)
SELECT id FROM app
"""


@dataclass(frozen=True)
class NewApplication:
    """One row of a submission, as `_insert_application` writes it."""

    borrower: int | None
    product: int
    product_version: int
    institution: int
    consent: int
    amount: Decimal
    term_months: int
    repayment_method: str
    purpose: str
    city: str
    channel: str
    income_band: str
    shared_data_encrypted: str
    submission_key: str


async def _insert_application(new: NewApplication, actor: Actor, now: datetime) -> tuple[int, str]:
    """Insert it (submitted, with its event) under a fresh reference; a clash takes
    another one, so it never reaches the borrower."""
    for _attempt in range(REFERENCE_ATTEMPTS):
        reference = _reference()
        rows = await fetch(
            _INSERT_APPLICATION_SQL,
            reference,
            new.borrower,
            new.product,
            new.product_version,
            new.institution,
            new.consent,
            new.amount,
            new.term_months,
            new.repayment_method,
            new.purpose,
            ApplicationStatus.SUBMITTED.value,
            new.city,
            new.channel,
            new.income_band,
            new.shared_data_encrypted,
            new.submission_key,
            now,
            now,
            actor.kind,
            actor.user_id,
        )
        if rows:
            return rows[0]["id"], reference
    raise RuntimeError(f"no free application reference in {REFERENCE_ATTEMPTS} attempts")


async def batch_products(product_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The products of a batch that borrowers can apply for now, in the order asked, each
    with its institution's name and service phone (treat them as read-only: cached)."""
    return await _batch_products(tuple(product_ids))


@catalogue_cached
async def _batch_products(product_ids: tuple[int, ...]) -> list[dict[str, Any]]:
    rows = await Product.select(
        *Product.all_columns(),
        Product.institution.short_name.as_alias("institution_name"),
        Product.institution.service_phone.as_alias("service_phone"),
    ).where(Product.id.is_in(list(product_ids) or [0]) & on_portal())
    by_id = {row["id"]: row for row in rows}
    return [by_id[i] for i in product_ids if i in by_id]


def batch_notices(products: Sequence[Mapping[str, Any]]) -> dict[int, Notice]:
    """One notice per institution, naming all its products of the batch in their order."""
    names: dict[int, list[str]] = {}
    for product in products:
        names.setdefault(product["institution"], []).append(product["name"])
    return {
        product["institution"]: build_notice(
            product["institution_name"],
            product["service_phone"],
            # Translators: separator between the items of a list.
            _("、").join(names[product["institution"]]),
        )
        for product in products
    }


async def submit_application(
    actor: Actor, cmd: ApplicationInput, *, recorded_at: datetime | None = None
) -> str:
    """Create one application for one product; returns its reference (a batch of one,
    with the batch's errors under the single form's field names). `recorded_at`: see
    `submit_batch`.

    Re-sending the same form (same submission key) returns the first application."""
    async with pinned_catalogue():  # the product and the parameters: one version read
        return await _submit_one(actor, cmd, recorded_at)


async def _submit_one(actor: Actor, cmd: ApplicationInput, recorded_at: datetime | None) -> str:
    products = await batch_products([cmd.product_id])
    if not products:
        raise NotFound(_("该产品已下架或不存在"))
    institution_id = products[0]["institution"]
    batch = BatchInput(
        product_ids=(cmd.product_id,),
        need=LoanNeed(cmd.amount, cmd.term_months, cmd.purpose),
        person=ProfileFacts(**{field: getattr(cmd, field) for field in PERSON_FIELDS}),
        methods={cmd.product_id: cmd.repayment_method},
        consents=frozenset({institution_id} if cmd.consent_given else ()),
        notice_digests={institution_id: cmd.notice_digest},
        submission_key=cmd.submission_key,
        debt_warning_read=cmd.debt_warning_read,
        channel=cmd.channel,
    )
    try:
        references = await _submit(actor, batch, products, recorded_at=recorded_at)
    except ValidationFailed as exc:
        raise ValidationFailed(
            single_form_errors(exc.errors, cmd.product_id, institution_id)
        ) from None
    return references[0]


def single_form_errors(
    errors: Mapping[str, str], product_id: int, institution_id: int
) -> dict[str, str]:
    """A batch of one's errors under the one-product form's names: its product's reasons
    on their fields, its institution's consent on `consent`."""
    renamed = {f"consent_{institution_id}": "consent"}
    prefix = f"p{product_id}."
    single: dict[str, str] = {}
    for key, message in errors.items():
        name = key[len(prefix) :] if key.startswith(prefix) else renamed.get(key, key)
        single.setdefault(name, message)
    return single


async def submit_batch(
    actor: Actor, cmd: BatchInput, *, recorded_at: datetime | None = None
) -> list[str]:
    """One application per product of the batch, in its order; returns their references.

    Every product must take the borrower (its reasons are errors under `p<id>.<field>`),
    every institution needs its consent (`consent_<id>`); the guard, the duplicate window,
    the daily limit and the institutions cap count the batch as a whole. All or nothing:
    re-sending the same form (same submission key) returns the first set."""
    async with pinned_catalogue():
        return await _submit(actor, cmd, None, recorded_at=recorded_at)


# Every parameter a submission reads, loaded in one query.
SUBMIT_PARAMETERS = (
    "duplicate_window_days",
    "applications_per_day",
    "institutions_per_application",
    "products_per_batch",
    "loan_purposes",
    *GUARD_PARAMETERS,
    *parameter_keys(),
)


async def _submit(
    actor: Actor,
    cmd: BatchInput,
    products: list[dict[str, Any]] | None,
    *,
    recorded_at: datetime | None,
) -> list[str]:
    """`submit_batch`, with the batch's products when the caller has loaded them."""
    if not actor.can("application.submit"):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    params = await get_parameters(*SUBMIT_PARAMETERS)
    per_batch = int(params["products_per_batch"])
    if len(cmd.product_ids) > per_batch:
        errors["products"] = _("一次最多申请{n}个产品，请减少所选产品", n=per_batch)
    if products is None:
        products = await batch_products(cmd.product_ids[:per_batch])
    if len(products) < min(len(cmd.product_ids), per_batch):
        errors.setdefault("products", _("所选产品中有已下架或不存在的，请重新选择"))
    if cmd.need.purpose not in coded_items(params["loan_purposes"]):
        errors["purpose"] = _("请选择借款用途")
    notices = batch_notices(products)
    for institution_id, notice in notices.items():
        if institution_id not in cmd.consents:
            errors[f"consent_{institution_id}"] = _(
                "请阅读并勾选同意向{institution}提供个人信息", institution=notice.institution_name
            )
        elif cmd.notice_digests.get(institution_id) != notice.digest:
            # The notice names the products it covers: ticking others changes it too.
            errors[f"consent_{institution_id}"] = _(
                "同意书内容已变化（所选产品或告知内容有更新），请重新阅读后勾选同意"
            )
    facts = LeadFacts(
        cmd.person.city, cmd.need.amount, cmd.person.monthly_income, cmd.person.employment_type
    )
    guard = guard_from(params)
    payments: list[Decimal] = []
    for product in products:
        prefix = f"p{product['id']}."
        method = cmd.methods.get(product["id"], "")
        reasons = eligibility_reasons(
            product,
            cmd.person,
            amount=cmd.need.amount,
            term_months=cmd.need.term_months,
            method=method,
        )
        errors.update({prefix + field: reason for field, reason in reasons.items()})
        gate = await admission(product["institution"], facts)
        if not gate.ok:
            errors.setdefault(prefix + gate.field, gate.label)
        if reasons.keys() & {"amount", "term_months", "repayment_method"}:
            continue
        try:
            plan = product_quote(product, cmd.need.amount, cmd.need.term_months, method)
        except LoanInputError as exc:
            errors[prefix + "amount"] = exc.message
        else:
            payments.append(new_loan_payment(plan))
    async with transaction():
        # Serialise one borrower's submissions: the checks below are then race-free.
        borrower = await _lock_borrower(actor.user_id or 0)
        if payments and "monthly_income" not in errors:
            # The borrower means to take one of these loans: the dearest is the burden to
            # weigh.
            debt = DebtToIncome(
                new_payment=max(payments),
                existing_payments=borrower.loan_payments,
                monthly_income=cmd.person.monthly_income,
                limit=guard.dti_warning_ratio,
            )
            if debt.exceeded and not cmd.debt_warning_read:
                errors[DEBT_WARNING] = debt.warning()
        now = datetime.now(UTC)
        history = await _borrower_history(
            actor.user_id,
            cmd.submission_key,
            now
            - timedelta(days=max(int(params["duplicate_window_days"]), guard.cooling_off_days, 1)),
        )
        existing = [
            row["reference"] for row in history if row["submission_key"] == cmd.submission_key
        ]
        if existing:
            return existing
        if errors:
            raise ValidationFailed(errors)
        _check_batch_limits(products, params, guard, history, now)
        await save_borrower_profile(actor.user_id or 0, cmd.person)
        consent_ids = {
            institution_id: await grant_consent(actor, institution_id, notice)
            for institution_id, notice in notices.items()
        }
        shared = json.dumps(
            {
                "real_name": cmd.person.real_name,
                "id_number": cmd.person.id_number,
                "mobile": borrower.mobile,
                "city": cmd.person.city,
                "employment_type": cmd.person.employment_type,
                "monthly_income": str(cmd.person.monthly_income),
                "address": cmd.person.address,
                "contact_name": cmd.person.contact_name,
                "contact_relation": cmd.person.contact_relation,
                "contact_mobile": cmd.person.contact_mobile,
            },
            ensure_ascii=False,
        )
        references = []
        cases = []
        for product in products:
            application_id, reference = await _insert_application(
                NewApplication(
                    borrower=actor.user_id,
                    product=product["id"],
                    product_version=product["version"],
                    institution=product["institution"],
                    consent=consent_ids[product["institution"]],
                    amount=cmd.need.amount,
                    term_months=cmd.need.term_months,
                    repayment_method=cmd.methods[product["id"]],
                    purpose=cmd.need.purpose,
                    city=cmd.person.city,
                    channel=cmd.channel,
                    income_band=income_band(cmd.person.monthly_income),
                    shared_data_encrypted=encrypt_field(shared, context=SHARED_DATA_CONTEXT),
                    submission_key=cmd.submission_key,
                ),
                actor,
                now,
            )
            await audit(
                actor,
                "application.submit",
                "application",
                application_id,
                reference=reference,
                batch=len(products),
            )
            await outbox.record("applications.deliver", application_id=application_id)
            references.append(reference)
            cases.append(
                ApplicationCase(
                    application_id,
                    reference,
                    product["institution"],
                    actor.user_id,
                    borrower.mobile,
                    cmd.person.id_number,
                )
            )
        # Anti-fraud (A8) last: its velocity locks are held until the commit, so only this
        # borrower's keys wait, and only that long. A held application waits in the
        # delivery job until decided.
        rules = rule_values(params)
        for case in cases:
            # `recorded_at`: when anti-fraud observes it (the demo's history).
            await screen_application(actor, case, recorded_at=recorded_at, params=rules)
    return references


@dataclass(frozen=True)
class LockedBorrower:
    mobile: str  # "" if none
    loan_payments: Decimal  # what their tracked loans cost a month (`active_loan_payments`)


_LOCK_BORROWER = """
SELECT mobile_encrypted, ({dues}) AS open_dues FROM app_user WHERE id = {{}} FOR UPDATE
"""
_LOCK_BORROWER_SQL = _LOCK_BORROWER.format(dues=OPEN_DUES_SQL)


async def _lock_borrower(user_id: int) -> LockedBorrower:
    """Lock the borrower's account row for the transaction; with what the submission
    needs of it and of their loans, in the same round trip."""
    rows = await fetch(_LOCK_BORROWER_SQL, *open_dues_args(user_id), user_id)
    if not rows:
        return LockedBorrower("", Decimal("0.00"))
    encrypted = rows[0]["mobile_encrypted"]
    return LockedBorrower(
        decrypt_field(encrypted, context="user.mobile") if encrypted else "",
        active_loan_payments(rows[0]["open_dues"]),
    )


async def _borrower_history(
    user_id: int | None, submission_key: str, since: datetime
) -> list[dict[str, Any]]:
    """The borrower's applications the checks need, in one query: those sent since
    `since` (the longest window the checks count) and those of this submission key."""
    return await fetch(
        "SELECT reference, product, institution, status, submitted_at, submission_key"
        " FROM application WHERE borrower = {} AND (submission_key = {} OR submitted_at >= {})"
        " ORDER BY id",
        user_id,
        submission_key,
        since,
    )


def _check_batch_limits(
    products: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    guard: GuardSettings,
    history: Sequence[Mapping[str, Any]],
    now: datetime,
) -> None:
    """Under the borrower's lock, over their recent applications (`history`): the
    duplicate window per product, then the cooling-off pause, the daily limit and the
    institutions cap, each counting the whole batch."""
    since = now - timedelta(days=int(params["duplicate_window_days"]))
    asked = {product["id"] for product in products}
    duplicates = {
        row["product"]
        for row in history
        if row["product"] in asked
        and row["status"] in OPEN_STATUSES
        and row["submitted_at"] >= since
    }
    if duplicates:
        raise ValidationFailed(
            {
                f"p{product_id}.product": _("您已申请过该产品，请在“我的申请”中查看进度")
                for product_id in sorted(duplicates)
            }
        )
    pause_ends = cooling_off_end(
        (row["submitted_at"] for row in history),
        limit=guard.cooling_off_applications,
        days=guard.cooling_off_days,
        now=now,
    )
    if pause_ends is not None:
        message = cooling_off_message(
            pause_ends, limit=guard.cooling_off_applications, days=guard.cooling_off_days
        )
        wait = pause_ends - now
        raise Throttled(message, retry_after=max(1, int(wait.total_seconds())))
    cooling_since = now - timedelta(days=guard.cooling_off_days)
    left = guard.cooling_off_applications - sum(
        1 for row in history if row["submitted_at"] > cooling_since
    )
    if len(products) > left:
        raise ValidationFailed(
            {
                "products": _(
                    "为避免过度借贷，{days}天内最多提交{limit}次申请，您现在最多还能选择{n}个产品",
                    days=guard.cooling_off_days,
                    limit=guard.cooling_off_applications,
                    n=left,
                )
            }
        )
    day_ago = now - timedelta(days=1)
    recent = [row for row in history if row["submitted_at"] >= day_ago]
    per_day = int(params["applications_per_day"])
    if len(recent) >= per_day:
        raise Throttled(_("今天的申请次数已达上限，请明天再试；频繁申请可能影响您的征信"))
    if len(recent) + len(products) > per_day:
        raise ValidationFailed(
            {"products": _("今天您最多还能申请{n}个产品，请减少所选产品", n=per_day - len(recent))}
        )
    # One application's data reaches a bounded number of institutions: the submissions of
    # one rolling day and this batch count as one.
    reached = {row["institution"] for row in recent} | {p["institution"] for p in products}
    cap = int(params["institutions_per_application"])
    if len(reached) > cap:
        raise ValidationFailed(
            {
                "products": _(
                    "24小时内您的申请最多提供给{n}家机构，请减少所选机构或稍后再申请",
                    n=cap,
                )
            }
        )


async def _add_event(application_id: int, status: str, actor: Actor, note: str = "") -> None:
    """A step on the application's timeline, written with the transaction's last writes
    (nothing in it reads the timeline back)."""
    await write_before_commit(
        _insert_events, (application_id, str(status), actor.kind, actor.user_id, note)
    )


# One array per column, in the order the steps happened (the timeline's tie-break).
_INSERT_EVENTS_SQL = """
INSERT INTO application_event (application, status, actor_kind, actor_id, note)
SELECT application, status, actor_kind, actor_id, note
FROM unnest({}::integer[], {}::text[], {}::text[], {}::integer[], {}::text[]) WITH ORDINALITY
  AS event (application, status, actor_kind, actor_id, note, position)
ORDER BY position
"""


def _insert_events(events: list[tuple[Any, ...]]) -> Statement:
    return _INSERT_EVENTS_SQL, by_column(events)


# Plain SQL on the delivery job's path, which runs once per application submitted.
_LOCK_FOR_DELIVERY_SQL = """
SELECT id, status, consent, institution, reference, borrower, amount, shared_data_encrypted
FROM application WHERE id = {} FOR UPDATE
"""
_CONSENT_WITHDRAWN_SQL = "SELECT 1 FROM consent WHERE id = {} AND withdrawn_at IS NOT NULL"


async def deliver(application_id: int) -> bool:
    """Hand a submitted application to its institution, if consent still stands."""
    async with transaction():
        rows = await fetch(_LOCK_FOR_DELIVERY_SQL, application_id)
        # Delivered already (a job that ran twice): nothing to do.
        if not rows or rows[0]["status"] != ApplicationStatus.SUBMITTED:
            return False
        row = rows[0]
        hold = await hold_status(application_id)
        if hold == HoldStatus.HELD:
            return False
        if hold == HoldStatus.REJECTED:
            await _refuse_delivery(row, _(NEUTRAL_REFUSAL), "risk")
            return False
        # Its own statement, after the lock: a withdrawal committed meanwhile is seen.
        if await fetch(_CONSENT_WITHDRAWN_SQL, row["consent"]):
            await _set_status(row, "withdraw", SYSTEM, _("借款人已撤回授权，未向机构提供信息"))
            await audit(SYSTEM, "application.withdrawn", "application", application_id)
            await notify_borrower(
                row["borrower"],
                "application_not_delivered",
                _(
                    "您的申请（编号 {ref}）已停止：您已撤回对该机构的授权，您的信息未发送给该机构。",
                    ref=row["reference"],
                ),
                f"/me/applications/{row['reference']}",
            )
            return False
        # The gate again, under its lock: since the borrower applied the institution may have
        # paused cooperation (suspended), or its caps may have filled. Either way the data
        # stays with us and the borrower is told why.
        gate = await admission(row["institution"], _delivered_facts(row), lock=True)
        if not gate.ok:
            await _refuse_delivery(row, gate.label, gate.reason_code)
            return False
        await _set_status(row, "deliver", SYSTEM)
        await audit(SYSTEM, "application.delivered", "application", application_id)
        # Scored by the institution's pre-screen rules in a job of its own, so a rule never
        # holds up or fails a delivery.
        await outbox.record("prescreen.screen", application_id=application_id)
        await publish(row["institution"], "lead.delivered", application_id=application_id)
        await notify_institution(
            row["institution"],
            "lead.new",
            _("收到新的借款申请（编号 {ref}）", ref=row["reference"]),
            f"/console/leads/{application_id}",
        )
    return True


def _delivered_facts(row: Mapping[str, Any]) -> LeadFacts:
    shared = json.loads(decrypt_field(row["shared_data_encrypted"], context=SHARED_DATA_CONTEXT))
    return LeadFacts(
        shared["city"],
        row["amount"],
        Decimal(shared["monthly_income"]),
        shared["employment_type"],
    )


async def _refuse_delivery(row: Mapping[str, Any], why: str, reason_code: str) -> None:
    await _set_status(row, "refuse_delivery", SYSTEM, why)
    await audit(SYSTEM, "application.not_delivered", "application", row["id"], reason=reason_code)
    await notify_borrower(
        row["borrower"],
        "application_not_delivered",
        _(
            "您的申请（编号 {ref}）未能送达机构：{why}，您的信息未发送给该机构。您可以申请其他产品。",
            ref=row["reference"],
            why=why,
        ),
        f"/me/applications/{row['reference']}",
    )


async def record_prescreen_score(application_id: int, score: int) -> None:
    """The prescreen context's score of a lead, kept beside it for the lead desk's sort.
    Runs inside the caller's transaction, which audits the screening."""
    async with transaction():
        await Application.update({Application.prescreen_score: score}).where(
            Application.id == application_id
        )


_SET_STATUS_SQL = (
    "UPDATE application SET status = {}, updated_at = {},"
    " delivered_at = coalesce({}::timestamptz, delivered_at) WHERE id = {}"
)


async def _set_status(
    row: Mapping[str, Any], action: str, actor: Actor, note: str = ""
) -> ApplicationStatus:
    """Take `action` on a locked application row ({id, status}) by the one transition table."""
    target = APPLICATION_MACHINE.target(row["status"], action, actor)
    now = datetime.now(UTC)
    delivered_at = now if target is ApplicationStatus.DELIVERED else None  # the SLA clock
    await fetch(_SET_STATUS_SQL, target.value, now, delivered_at, row["id"])
    await _add_event(row["id"], target, actor, note)
    await _record_settlement_jobs(row["id"], row["status"], target)
    return target


async def _record_settlement_jobs(
    application_id: int, before: str, target: ApplicationStatus
) -> None:
    """Billing facts go to settlement by job name (settlement imports this context, not
    the other way round), in the transaction of the step that causes them: a delivery
    (CPL), an approval (CPA), a withdrawal after delivery (a possible credit)."""
    if target is ApplicationStatus.DELIVERED:
        await outbox.record("settlement.bill", kind="cpl", application_id=application_id)
    elif target is ApplicationStatus.APPROVED:
        await outbox.record("settlement.bill", kind="cpa", application_id=application_id)
    elif target is ApplicationStatus.WITHDRAWN and before != ApplicationStatus.SUBMITTED:
        await outbox.record("settlement.screen_withdrawal", application_id=application_id)


async def move_lead(
    actor: Actor, application_id: int, action: str, note: str = ""
) -> ApplicationStatus:
    """An institution takes `action` (review, approve, reject) on one of its own leads
    (another institution's lead is NotFound)."""
    if not actor.can("lead.work"):
        raise PermissionDenied()
    if action in FORM_ACTIONS:
        # A rejection needs its reason, a request its documents: their own forms and verbs.
        raise ValidationFailed({"action": _("请在该操作的表单中填写所需信息后提交")})
    async with transaction():
        row = (
            await Application.select(
                Application.id, Application.status, Application.borrower, Application.reference
            )
            .where(
                (Application.id == application_id)
                & (Application.institution == actor.institution_id)
            )
            .lock_rows()
            .first()
        )
        if row is None:
            raise NotFound(_("找不到该申请"))
        target = await _set_status(row, action, actor, note.strip()[:500])
        await audit(actor, f"lead.{target}", "application", application_id, note=note.strip()[:500])
        # In-site only: an SMS for every small step would be noise; decisions send one.
        await notify_borrower(
            row["borrower"],
            f"application.{target}",
            _(
                "您的申请（编号 {ref}）进度更新：{status}",
                ref=row["reference"],
                status=APPLICATION_MACHINE.label(target),
            ),
            f"/me/applications/{row['reference']}",
        )
    return target


# One bulk action touches at most this many leads (a page of checkboxes is 20).
MAX_BULK_LEADS = 200


async def assignable_staff(institution_id: int | None) -> dict[int, str]:
    """Active staff of the institution whose role may work leads: id → name."""
    rows = (
        await User.select(User.id, User.display_name, User.role)
        .where(
            (User.kind == "staff")
            & (User.institution == institution_id)
            & (User.status == "active")
        )
        .order_by(User.id)
    )
    return {
        row["id"]: row["display_name"]
        for row in rows
        if "lead.work" in permissions_of("staff", row["role"])
    }


async def assign_leads(actor: Actor, application_ids: list[int], assignee_id: int | None) -> int:
    """Hand leads of the actor's institution to one of its staff who may work leads (None:
    back to unassigned). All or nothing: another institution's lead or staff member is
    NotFound. Returns how many leads were assigned."""
    if not actor.can("lead.assign"):
        raise PermissionDenied()
    ids = sorted(set(application_ids))[:MAX_BULK_LEADS]
    if not ids:
        raise ValidationFailed({"lead": _("请至少勾选一条线索")})
    if assignee_id is not None and assignee_id not in await assignable_staff(actor.institution_id):
        raise NotFound(_("找不到该员工"))
    async with transaction():
        rows = (
            await Application.select(Application.id)
            .where(Application.id.is_in(ids) & received_leads(actor))
            .lock_rows()
        )
        if len(rows) != len(ids):
            raise NotFound(_("找不到该申请"))
        await Application.update(
            {Application.assignee: assignee_id, Application.updated_at: datetime.now(UTC)}
        ).where(Application.id.is_in(ids))
        for application_id in ids:
            await audit(actor, "lead.assign", "application", application_id, assignee=assignee_id)
    return len(ids)


@dataclass(frozen=True)
class BulkMoveResult:
    moved: list[str]  # references
    refused: list[tuple[str, str]]  # (reference or "#id", why), in the order asked


async def bulk_move_leads(
    actor: Actor,
    application_ids: list[int],
    action: str,
    note: str = "",
    *,
    move: Callable[[Actor, int], Awaitable[object]] | None = None,
) -> BulkMoveResult:
    """Take `action` on each lead in its own transaction, through the same checks as one
    lead: a lead in the wrong state (or another institution's) is refused, the rest move.
    `move(actor, id)` replaces move_lead for an action with its own verb (a rejection)."""
    if not actor.can("lead.work"):
        raise PermissionDenied()
    ids = list(dict.fromkeys(application_ids))[:MAX_BULK_LEADS]
    if not ids:
        raise ValidationFailed({"lead": _("请至少勾选一条线索")})
    references = {
        row["id"]: row["reference"]
        for row in await Application.select(Application.id, Application.reference).where(
            Application.id.is_in(ids) & (Application.institution == actor.institution_id)
        )
    }
    moved: list[str] = []
    refused: list[tuple[str, str]] = []
    for application_id in ids:
        label = references.get(application_id, f"#{application_id}")
        try:
            if move is None:
                await move_lead(actor, application_id, action, note)
            else:
                await move(actor, application_id)
        except (InvalidTransition, NotFound, PermissionDenied) as exc:
            refused.append((label, exc.message or _("无权执行该操作")))
        else:
            moved.append(label)
    return BulkMoveResult(moved=moved, refused=refused)


# What a reveal may show in full, one at a time; everything else stays masked.
REVEALABLE_FIELDS: dict[str, str] = {
    "id_number": N_("身份证号"),
    "mobile": N_("手机号"),
    "address": N_("联系地址"),
    "contact_mobile": N_("紧急联系人手机号"),
}
REVEAL_REASON_MIN_LENGTH = 4
REVEAL_REASON_MAX_LENGTH = 200
REVEAL_WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class RevealedField:
    reference: str
    label: str
    value: str


async def reveal_lead_field(
    actor: Actor, application_id: int, field: str, reason: str
) -> RevealedField:
    """One full field of one lead for a staff member allowed to see it, with a stated
    reason. A reveal is reserved against the hourly limit before anything is decrypted,
    so parallel requests cannot exceed it; the audit row keeps the field and the reason,
    never the value."""
    if not actor.can("lead.reveal"):
        raise PermissionDenied()
    errors = {}
    if field not in REVEALABLE_FIELDS:
        errors["field"] = _("请选择要查看的信息")
    reason = reason.strip()
    if not REVEAL_REASON_MIN_LENGTH <= len(reason) <= REVEAL_REASON_MAX_LENGTH:
        errors["reason"] = _(
            "查看原因应为{minimum}到{maximum}个字",
            minimum=REVEAL_REASON_MIN_LENGTH,
            maximum=REVEAL_REASON_MAX_LENGTH,
        )
    if errors:
        raise ValidationFailed(errors)
    row = (
        await Application.select(
            Application.reference,
            Application.shared_data_encrypted,
            Application.consent.withdrawn_at.as_alias("consent_withdrawn_at"),
        )
        .where((Application.id == application_id) & received_leads(actor))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    if row["consent_withdrawn_at"] is not None:
        raise PermissionDenied(_("借款人已撤回授权，不能查看其信息"))
    per_hour = int((await get_parameters("lead_reveals_per_hour"))["lead_reveals_per_hour"])
    wait = await reserve(Limit(f"lead-reveal:{actor.user_id}", per_hour, REVEAL_WINDOW_SECONDS))
    if wait:
        raise Throttled(
            _("查看完整信息的次数已达每小时上限，请稍后再试"), field="reason", retry_after=wait
        )
    async with transaction():
        await audit(actor, "lead.reveal", "application", application_id, field=field, reason=reason)
    shared = json.loads(decrypt_field(row["shared_data_encrypted"], context=SHARED_DATA_CONTEXT))
    return RevealedField(
        reference=row["reference"], label=_(REVEALABLE_FIELDS[field]), value=shared.get(field) or ""
    )


async def record_lead_export(
    actor: Actor, filters: Mapping[str, str], rows: int, file_format: str
) -> None:
    """Every export of leads leaves an audit row: which filters, how many rows, which format."""
    async with transaction():
        await audit(
            actor,
            "lead.export",
            "institution",
            actor.institution_id or 0,
            filters=dict(filters),
            rows=rows,
            format=file_format,
        )
