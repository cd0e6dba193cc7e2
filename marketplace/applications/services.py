"""Submitting applications (with per-institution consent) and working them as leads."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
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
from marketplace.applications.guard import (
    DebtToIncome,
    GuardSettings,
    active_loan_payments,
    cooling_off_message,
    cooling_off_until,
    guard_settings,
    new_loan_payment,
    product_quote,
)
from marketplace.applications.statuses import (
    APPLICATION_MACHINE,
    FORM_ACTIONS,
    OPEN_STATUSES,
    ApplicationStatus,
    received_leads,
)
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.audit.services import record as audit
from marketplace.cities import covers, parse_city
from marketplace.consents.notices import build_notice
from marketplace.consents.services import grant_consent
from marketplace.consents.tables import Consent
from marketplace.db import transaction
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
from marketplace.loancalc import MAX_TERM_MONTHS, MIN_TERM_MONTHS, LoanInputError
from marketplace.money import FEN
from marketplace.parameters.services import get_parameters
from marketplace.parsing import (
    FormReader,
    column_length,
    first,
    parse_choice,
    parse_int,
    parse_money,
)
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.products.tables import Product
from marketplace.products.validation import REPAYMENT_METHODS
from marketplace.products.visibility import on_portal
from marketplace.risk.rules import NEUTRAL_REFUSAL, HoldStatus
from marketplace.risk.services import ApplicationCase, hold_status, screen_application
from marketplace.security import (
    age_on,
    decrypt_field,
    encrypt_field,
    normalise_id_number,
    today_in_china,
    validate_chinese_name,
    validate_id_number,
)
from marketplace.webhooks.services import publish

SHARED_DATA_CONTEXT = "application.shared_data"
# The form's key for the debt-to-income warning, which the borrower may acknowledge.
DEBT_WARNING = "debt_warning"


@dataclass(frozen=True)
class ApplicationInput:
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


def parse_application_input(product_id: int, data: Mapping) -> ApplicationInput:
    form = FormReader(data)
    amount = form.field("amount", parse_money, Decimal(0), label=_("借款金额"), minimum=FEN)
    term = form.field(
        "term_months",
        parse_int,
        0,
        label=_("借款期限"),
        minimum=MIN_TERM_MONTHS,
        maximum=MAX_TERM_MONTHS,
    )
    # Which of the product's methods it is, is checked with the product's other terms.
    method = form.field(
        "repayment_method", parse_choice, "", choices=REPAYMENT_METHODS, label=_("还款方式")
    )
    real_name = first(data.get("real_name")).strip()
    if error := validate_chinese_name(real_name):
        form.fail("real_name", error)
    id_number = normalise_id_number(first(data.get("id_number")).strip())
    if error := validate_id_number(id_number):
        form.fail("id_number", error)
    city = form.field("city", parse_city, "", label=_("所在城市"))
    # Income is bounded like any amount of money we can compute with.
    income = form.field("monthly_income", parse_money, Decimal(0), label=_("月收入"), minimum=FEN)
    # Chosen by the borrower, never assumed: a product or an institution may turn it down.
    employment_type = first(data.get("employment_type")).strip()
    if employment_type not in EMPLOYMENT_TYPES:
        form.fail("employment_type", _("请选择您的职业类型"))
    consent_given = first(data.get("consent")).strip() == "yes"
    if not consent_given:
        form.fail("consent", _("请阅读个人信息单独同意书，并勾选同意后再提交"))
    submission_key = first(data.get("submission_key")).strip()
    if not 16 <= len(submission_key) <= column_length(Application.submission_key):
        form.fail("submission_key", _("表单已过期，请刷新页面后重新提交"))
    notice_digest = first(data.get("notice_digest")).strip()
    debt_warning_read = first(data.get("debt_warning_read")).strip() == "yes"
    form.raise_errors()
    return ApplicationInput(
        product_id=product_id,
        amount=amount,
        term_months=term,
        repayment_method=method,
        real_name=real_name,
        id_number=id_number,
        city=city,
        monthly_income=income,
        employment_type=employment_type,
        consent_given=consent_given,
        notice_digest=notice_digest,
        submission_key=submission_key,
        debt_warning_read=debt_warning_read,
    )


def new_submission_key() -> str:
    return secrets.token_urlsafe(24)


def _eligibility_errors(product: dict, cmd: ApplicationInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not product["amount_min"] <= cmd.amount <= product["amount_max"]:
        errors["amount"] = _(
            "该产品额度为{amount_min}至{amount_max}元",
            amount_min=f"{product['amount_min']:,.0f}",
            amount_max=f"{product['amount_max']:,.0f}",
        )
    if cmd.term_months not in product["term_options"]:
        errors["term_months"] = _("请选择该产品提供的期限")
    if cmd.repayment_method not in product["repayment_methods"]:
        errors["repayment_method"] = _("请选择该产品提供的还款方式")
    age = age_on(cmd.id_number, today_in_china())
    if not product["age_min"] <= age <= product["age_max"]:
        errors["id_number"] = _(
            "该产品仅面向{age_min}至{age_max}周岁的借款人",
            age_min=product["age_min"],
            age_max=product["age_max"],
        )
    if product["cities"] and not covers(product["cities"], cmd.city):
        # Translators: separator between the items of a list.
        cities = _("、").join(product["cities"])
        errors["city"] = _("该产品暂不覆盖您所在的城市：{cities}", cities=cities)
    if cmd.monthly_income < product["min_monthly_income"]:
        errors["monthly_income"] = _(
            "该产品要求月收入不低于{amount}元", amount=f"{product['min_monthly_income']:,.0f}"
        )
    if product["employment_types"] and cmd.employment_type not in product["employment_types"]:
        errors["employment_type"] = _("该产品暂不面向您的职业类型")
    return errors


# Crockford base32: no I, L, O or U, so a reference read out over the phone is unambiguous.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_ATTEMPTS = 5


def _reference() -> str:
    """LM + date + 10 random characters (50 bits): at 8,000 applications a day two share
    one about 3 times in 100 million days, and `_insert_application` retries when they do."""
    random_part = "".join(secrets.choice(REFERENCE_ALPHABET) for _position in range(10))
    return "LM" + datetime.now(UTC).strftime("%y%m%d") + random_part


async def _insert_application(**values: Any) -> tuple[int, str]:
    """Insert under a fresh reference; a clash takes another one, so it never reaches the
    borrower. ON CONFLICT rather than catching the violation keeps the transaction usable."""
    for _attempt in range(REFERENCE_ATTEMPTS):
        reference = _reference()
        rows = (
            await Application.insert(Application(reference=reference, **values))
            .on_conflict(target=Application.reference, action="DO NOTHING")
            .returning(Application.id)
        )
        if rows:
            return rows[0]["id"], reference
    raise RuntimeError(f"no free application reference in {REFERENCE_ATTEMPTS} attempts")


async def submit_application(actor: Actor, cmd: ApplicationInput) -> str:
    """Create one application for one product; returns its reference.

    Re-sending the same form (same submission key) returns the first application."""
    if not actor.can("application.submit"):
        raise PermissionDenied()
    product = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.service_phone.as_alias("service_phone"),
        )
        .where((Product.id == cmd.product_id) & on_portal())
        .first()
    )
    if product is None:
        raise NotFound(_("该产品已下架或不存在"))
    notice = build_notice(product["institution_name"], product["service_phone"], product["name"])
    errors = _eligibility_errors(product, cmd)
    if not cmd.consent_given:
        errors["consent"] = _(
            "请阅读并勾选同意向{institution}提供个人信息", institution=product["institution_name"]
        )
    elif cmd.notice_digest != notice.digest:
        errors["consent"] = _("告知内容已更新，请重新阅读后勾选同意")
    gate = await admission(product["institution"], _facts_of(cmd))
    if not gate.ok:
        errors.setdefault(gate.field, gate.label)
    guard = await guard_settings()
    if not errors.keys() & {"amount", "term_months", "repayment_method", "monthly_income"}:
        try:
            debt = await _debt_to_income(actor, product, cmd, guard)
        except LoanInputError as exc:
            errors["amount"] = exc.message
        else:
            if debt.exceeded and not cmd.debt_warning_read:
                errors[DEBT_WARNING] = debt.warning()
    params = await get_parameters(
        "duplicate_window_days", "applications_per_day", "institutions_per_application"
    )
    async with transaction():
        # Serialise one borrower's submissions: the checks below are then race-free.
        await User.raw("SELECT id FROM app_user WHERE id = {} FOR UPDATE", actor.user_id)
        existing = (
            await Application.select(Application.reference)
            .where(
                (Application.borrower == actor.user_id)
                & (Application.submission_key == cmd.submission_key)
            )
            .first()
        )
        if existing:
            return existing["reference"]
        if errors:
            raise ValidationFailed(errors)
        since = datetime.now(UTC) - timedelta(days=int(params["duplicate_window_days"]))
        if await Application.exists().where(
            (Application.borrower == actor.user_id)
            & (Application.product == cmd.product_id)
            & (Application.status.is_in(list(OPEN_STATUSES)))
            & (Application.submitted_at >= since)
        ):
            raise ValidationFailed({"product": _("您已申请过该产品，请在“我的申请”中查看进度")})
        pause_ends = await cooling_off_until(actor.user_id or 0, guard)
        if pause_ends is not None:
            message = cooling_off_message(
                pause_ends, limit=guard.cooling_off_applications, days=guard.cooling_off_days
            )
            wait = pause_ends - datetime.now(UTC)
            raise Throttled(message, retry_after=max(1, int(wait.total_seconds())))
        day_ago = datetime.now(UTC) - timedelta(days=1)
        recent = await Application.select(Application.institution).where(
            (Application.borrower == actor.user_id) & (Application.submitted_at >= day_ago)
        )
        if len(recent) >= int(params["applications_per_day"]):
            raise Throttled(_("今天的申请次数已达上限，请明天再试；频繁申请可能影响您的征信"))
        # One application's data reaches a bounded number of institutions: the submissions
        # of one rolling day count as one batch (a multi-product submission calls this verb
        # once per product under the same lock, so it meets the same count).
        reached = {row["institution"] for row in recent}
        cap = int(params["institutions_per_application"])
        if product["institution"] not in reached and len(reached) >= cap:
            raise ValidationFailed(
                {
                    "product": _(
                        "24小时内您的申请最多提供给{n}家机构，请稍后再申请其他机构的产品",
                        n=cap,
                    )
                }
            )

        await save_borrower_profile(
            actor.user_id or 0,
            ProfileFacts(
                real_name=cmd.real_name,
                id_number=cmd.id_number,
                city=cmd.city,
                monthly_income=cmd.monthly_income,
                employment_type=cmd.employment_type,
            ),
        )
        consent_id = await grant_consent(actor, product["institution"], notice)
        mobile = await _borrower_mobile(actor.user_id)
        shared = {
            "real_name": cmd.real_name,
            "id_number": cmd.id_number,
            "mobile": mobile,
            "city": cmd.city,
            "employment_type": cmd.employment_type,
            "monthly_income": str(cmd.monthly_income),
        }
        application_id, reference = await _insert_application(
            borrower=actor.user_id,
            product=cmd.product_id,
            product_version=product["version"],
            institution=product["institution"],
            consent=consent_id,
            amount=cmd.amount,
            term_months=cmd.term_months,
            repayment_method=cmd.repayment_method,
            status=ApplicationStatus.SUBMITTED,
            city=cmd.city,
            shared_data_encrypted=encrypt_field(
                json.dumps(shared, ensure_ascii=False), context=SHARED_DATA_CONTEXT
            ),
            submission_key=cmd.submission_key,
        )
        await _add_event(application_id, ApplicationStatus.SUBMITTED, actor)
        await audit(actor, "application.submit", "application", application_id, reference=reference)
        # Anti-fraud (A8): a held application waits in the delivery job until decided.
        await screen_application(
            actor,
            ApplicationCase(
                application_id,
                reference,
                product["institution"],
                actor.user_id,
                mobile,
                cmd.id_number,
            ),
        )
        await outbox.record("applications.deliver", application_id=application_id)
    return reference


async def _debt_to_income(
    actor: Actor, product: dict, cmd: ApplicationInput, guard: GuardSettings
) -> DebtToIncome:
    plan = product_quote(product, cmd.amount, cmd.term_months, cmd.repayment_method)
    return DebtToIncome(
        new_payment=new_loan_payment(plan),
        existing_payments=await active_loan_payments(actor.user_id or 0),
        monthly_income=cmd.monthly_income,
        limit=guard.dti_warning_ratio,
    )


def _facts_of(cmd: ApplicationInput) -> LeadFacts:
    return LeadFacts(cmd.city, cmd.amount, cmd.monthly_income, cmd.employment_type)


async def _borrower_mobile(user_id: int | None) -> str:
    row = await User.select(User.mobile_encrypted).where(User.id == user_id).first()
    if not row or not row["mobile_encrypted"]:
        return ""
    return decrypt_field(row["mobile_encrypted"], context="user.mobile")


async def _add_event(application_id: int, status: str, actor: Actor, note: str = "") -> None:
    await ApplicationEvent.insert(
        ApplicationEvent(
            application=application_id,
            status=status,
            actor_kind=actor.kind,
            actor_id=actor.user_id,
            note=note,
        )
    )


async def deliver(application_id: int) -> bool:
    """Hand a submitted application to its institution, if consent still stands."""
    async with transaction():
        row = (
            await Application.select(
                Application.id,
                Application.status,
                Application.consent,
                Application.institution,
                Application.reference,
                Application.borrower,
                Application.amount,
                Application.shared_data_encrypted,
            )
            .where(Application.id == application_id)
            .lock_rows()
            .first()
        )
        # Delivered already (a job that ran twice): nothing to do.
        if row is None or row["status"] != ApplicationStatus.SUBMITTED:
            return False
        hold = await hold_status(application_id)
        if hold == HoldStatus.HELD:
            return False
        if hold == HoldStatus.REJECTED:
            await _refuse_delivery(row, _(NEUTRAL_REFUSAL), "risk")
            return False
        if await Consent.exists().where(
            (Consent.id == row["consent"]) & Consent.withdrawn_at.is_not_null()
        ):
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


async def _set_status(
    row: Mapping[str, Any], action: str, actor: Actor, note: str = ""
) -> ApplicationStatus:
    """Take `action` on a locked application row ({id, status}) by the one transition table."""
    target = APPLICATION_MACHINE.target(row["status"], action, actor)
    now = datetime.now(UTC)
    changes: dict[Any, Any] = {Application.status: target, Application.updated_at: now}
    if target is ApplicationStatus.DELIVERED:
        changes[Application.delivered_at] = now  # the lead desk's SLA clock starts here
    await Application.update(changes).where(Application.id == row["id"])
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
REVEALABLE_FIELDS: dict[str, str] = {"id_number": N_("身份证号"), "mobile": N_("手机号")}
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
        reference=row["reference"], label=_(REVEALABLE_FIELDS[field]), value=shared[field] or ""
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
