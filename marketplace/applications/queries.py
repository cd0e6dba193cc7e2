"""Read models: a borrower's applications and an institution's leads.

Typed and frozen; labels are translated here, where they are read for a page, never stored.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from piccolo.query import OrderByRaw

from marketplace.accounts.profiles import CONTACT_RELATIONS, ProfileFacts
from marketplace.actors import Actor
from marketplace.applications.applicant import eligibility_reasons, loan_purposes
from marketplace.applications.decisions import rejection_reasons
from marketplace.applications.services import (
    SHARED_DATA_CONTEXT,
    assignable_staff,
    batch_notices,
    batch_products,
)
from marketplace.applications.statuses import (
    APPLICATION_MACHINE,
    BORROWER_TASK_STATUSES,
    IN_PROGRESS_STATUSES,
    LEAD_STATUSES,
    NEGATIVE_STATUSES,
    POSITIVE_STATUSES,
    TIMELINE_PATH,
    ApplicationStatus,
    received_leads,
)
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.cities import canonical_or_same, spellings
from marketplace.consents.notices import Notice
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.loancalc import SHANGHAI, RepaymentMethod
from marketplace.parameters.services import get_parameters
from marketplace.parsing import (
    column_length,
    lenient,
    parse_choice,
    parse_date,
    parse_money,
    parse_text,
)
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.products.tables import Product
from marketplace.risk.services import held_applications
from marketplace.security import (
    decrypt_field,
    mask_address,
    mask_id_number,
    mask_mobile,
    mask_name,
)
from marketplace.statemachine import Actions

LIST_COLUMNS = (
    Application.id,
    Application.reference,
    Application.amount,
    Application.term_months,
    Application.repayment_method,
    Application.status,
    Application.submitted_at,
    Application.updated_at,
    Application.product.id.as_alias("product_id"),
    Application.product.name.as_alias("product_name"),
    Application.institution.short_name.as_alias("institution_name"),
)


@dataclass(frozen=True, kw_only=True)
class ApplicationSummary:
    """One row of a list of applications (the borrower's or the institution's)."""

    id: int
    reference: str
    amount: Decimal
    term_months: int
    status: ApplicationStatus
    status_label: str
    submitted_at: datetime
    updated_at: datetime
    product_id: int
    product_name: str
    institution_name: str
    repayment_method: str = ""  # the borrower's choice among the product's methods

    @property
    def method_label(self) -> str:
        return RepaymentMethod(self.repayment_method).label if self.repayment_method else ""


def _summary_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    status = APPLICATION_MACHINE.state(row["status"])
    return {
        **{key: row[key] for key in ApplicationSummary.__dataclass_fields__ if key in row},
        "status": status,
        "status_label": APPLICATION_MACHINE.label(status),
    }


async def _borrower_summary_fields(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As the borrower reads them: an application the anti-fraud check holds reads as under
    review, like any other — nothing on their pages tells why it waits."""
    held = await held_applications(
        [row["id"] for row in rows if row["status"] == ApplicationStatus.SUBMITTED]
    )
    under_review = APPLICATION_MACHINE.label(ApplicationStatus.REVIEWING)
    return [
        {**_summary_fields(row), "status_label": under_review}
        if row["id"] in held
        else _summary_fields(row)
        for row in rows
    ]


@dataclass(frozen=True, kw_only=True)
class TimelineStep:
    status: ApplicationStatus
    label: str
    at: datetime | None
    note: str
    done: bool
    current: bool
    tone: str  # "approved" | "rejected" | "upcoming" | "": how the step is drawn


@dataclass(frozen=True, kw_only=True)
class ApplicationDetail(ApplicationSummary):
    timeline: tuple[TimelineStep, ...]
    # Still waiting on the institution or the system: the borrower's page keeps refreshing.
    in_progress: bool
    # Waiting on the borrower (documents asked for): their page shows the task.
    awaiting_borrower: bool
    purpose: str = ""  # the label of the loan purpose they gave ("" before it was asked)


@dataclass(frozen=True, kw_only=True)
class LeadSummary(ApplicationSummary):
    city: str
    applicant: str  # surname and stars: enough to tell leads apart in a list
    delivered_at: datetime | None
    assignee_id: int | None
    assignee_name: str
    age_hours: int | None  # since delivery, while the lead waits on the institution
    sla: str  # "" (not waiting) | "ok" | "amber" (past the SLA) | "red" (past twice it)
    score: int | None  # the institution's pre-screen score, once its rules have run


@dataclass(frozen=True, kw_only=True)
class Applicant:
    """What the borrower consented to share, identity and contact numbers masked."""

    real_name: str
    id_number_masked: str
    mobile_masked: str
    city: str
    employment_type: str
    monthly_income: Decimal
    # Contact details, when the borrower gave them (applications since notice 2026-12-v2).
    address_masked: str = ""
    contact_name_masked: str = ""
    contact_relation: str = ""  # its label
    contact_mobile_masked: str = ""


@dataclass(frozen=True, kw_only=True)
class LeadDetail(ApplicationSummary):
    purpose: str  # its label; "" for applications from before it was asked
    product_version: int | None
    consent_granted_at: datetime | None
    consent_withdrawn: bool
    notice_version: str | None
    applicant: Applicant | None  # None once consent is withdrawn
    timeline: tuple[TimelineStep, ...]
    actions: Actions  # what this staff member may do with the lead now


async def borrower_applications(actor: Actor) -> list[ApplicationSummary]:
    rows = (
        await Application.select(*LIST_COLUMNS)
        .where(Application.borrower == actor.user_id)
        .order_by(Application.submitted_at, ascending=False)
    )
    return [ApplicationSummary(**fields) for fields in await _borrower_summary_fields(rows)]


async def _events(application_id: int) -> list[dict]:
    return (
        await ApplicationEvent.select(
            ApplicationEvent.status, ApplicationEvent.note, ApplicationEvent.at
        )
        .where(ApplicationEvent.application == application_id)
        .order_by(ApplicationEvent.at, ApplicationEvent.id)
    )


def _tone(status: ApplicationStatus) -> str:
    if status in POSITIVE_STATUSES:
        return "approved"
    if status in NEGATIVE_STATUSES:
        return "rejected"
    return ""


# A detour that waits on the borrower rejoins the path where it left it.
REJOINS = {ApplicationStatus.DOCUMENTS_REQUESTED: ApplicationStatus.REVIEWING}


def timeline(status: str, events: list[dict]) -> tuple[TimelineStep, ...]:
    """Past steps with their times, then the steps still ahead on the normal path."""
    past = [APPLICATION_MACHINE.state(e["status"]) for e in events]
    steps = [
        TimelineStep(
            status=state,
            label=APPLICATION_MACHINE.label(state),
            at=e["at"],
            note=e["note"],
            done=True,
            current=i == len(events) - 1,
            tone=_tone(state),
        )
        for i, (state, e) in enumerate(zip(past, events, strict=True))
    ]
    current = APPLICATION_MACHINE.state(status)
    current = REJOINS.get(current, current)
    if current in TIMELINE_PATH:
        for future in TIMELINE_PATH[TIMELINE_PATH.index(current) + 1 :]:
            if future not in past:
                steps.append(
                    TimelineStep(
                        status=future,
                        label=APPLICATION_MACHINE.label(future),
                        at=None,
                        note="",
                        done=False,
                        current=False,
                        tone="upcoming",
                    )
                )
    return tuple(steps)


async def borrower_application(actor: Actor, reference: str) -> ApplicationDetail:
    row = (
        await Application.select(*LIST_COLUMNS, Application.purpose)
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    events = await _events(row["id"])
    purposes = await loan_purposes()
    (fields,) = await _borrower_summary_fields([row])
    return ApplicationDetail(
        **fields,
        purpose=purposes.get(row["purpose"]) or row["purpose"],
        timeline=timeline(row["status"], events),
        in_progress=row["status"] in IN_PROGRESS_STATUSES,
        awaiting_borrower=row["status"] in BORROWER_TASK_STATUSES,
    )


def lead_status_labels() -> dict[str, str]:
    """The statuses an institution can filter its leads by, translated."""
    return {str(status): APPLICATION_MACHINE.label(status) for status in LEAD_STATUSES}


# Leads waiting on the institution: the SLA clock runs on these.
WAITING_STATUSES = frozenset({ApplicationStatus.DELIVERED, ApplicationStatus.REVIEWING})

ASSIGNEE_ALL = "all"
ASSIGNEE_MINE = "me"
ASSIGNEE_NONE = "none"


class LeadSort(StrEnum):
    AGE = "age"
    RECENT = "recent"
    AMOUNT_DESC = "amount_desc"
    AMOUNT_ASC = "amount_asc"
    SCORE_DESC = "score_desc"


SORT_LABELS: dict[LeadSort, str] = {
    LeadSort.AGE: N_("等待最久优先"),
    LeadSort.RECENT: N_("最新接收优先"),
    LeadSort.AMOUNT_DESC: N_("金额从高到低"),
    LeadSort.AMOUNT_ASC: N_("金额从低到高"),
    LeadSort.SCORE_DESC: N_("按评分（从高到低）"),
}


@dataclass(frozen=True, kw_only=True)
class LeadFilters:
    """What the lead desk shows: the page, its pagination links and its exports agree."""

    status: str = ""
    product: int = 0
    delivered_from: date | None = None
    delivered_to: date | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    city: str = ""
    assignee: str = ASSIGNEE_ALL  # ASSIGNEE_* or a staff member's id
    sort: str = LeadSort.AGE

    def as_query(self) -> dict[str, str]:
        """The query string that reproduces these filters (empty ones left out)."""
        values = {
            "status": self.status,
            "product": str(self.product or ""),
            "delivered_from": self.delivered_from.isoformat() if self.delivered_from else "",
            "delivered_to": self.delivered_to.isoformat() if self.delivered_to else "",
            "amount_min": "" if self.amount_min is None else str(self.amount_min),
            "amount_max": "" if self.amount_max is None else str(self.amount_max),
            "city": self.city,
            "assignee": self.assignee,
            "sort": str(self.sort),
        }
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True, kw_only=True)
class LeadDeskOptions:
    """The choices of the lead desk's filters, labels translated."""

    statuses: dict[str, str]
    products: dict[str, str]  # id → name, this institution's products
    assignees: dict[str, str]  # ASSIGNEE_* and staff ids → label
    officers: dict[str, str]  # staff who may work leads: id → name (assignment targets)
    sorts: dict[str, str]
    default_assignee: str
    can_assign: bool
    bulk_actions: dict[str, str]  # what a bulk move may ask for, if the actor works leads
    rejection_reasons: dict[str, str]  # a bulk rejection's reason codes → labels


async def lead_desk_options(actor: Actor) -> LeadDeskOptions:
    products = (
        await Product.select(Product.id, Product.name)
        .where(Product.institution == actor.institution_id)
        .order_by(Product.id)
    )
    officers = {str(k): v for k, v in (await assignable_staff(actor.institution_id)).items()}
    return LeadDeskOptions(
        statuses=lead_status_labels(),
        products={str(row["id"]): row["name"] for row in products},
        assignees={
            ASSIGNEE_ALL: _("全部"),
            ASSIGNEE_MINE: _("我的线索"),
            ASSIGNEE_NONE: _("未分配"),
            **officers,
        },
        officers=officers,
        sorts={str(key): _(label) for key, label in SORT_LABELS.items()},
        # Officers start on their own leads; whoever hands leads out starts on all of them.
        default_assignee=ASSIGNEE_ALL if actor.can("lead.assign") else ASSIGNEE_MINE,
        can_assign=actor.can("lead.assign"),
        bulk_actions={
            action: _(transition.label)
            for state in LEAD_STATUSES
            for action, transition in APPLICATION_MACHINE.transitions(state).items()
            # Documents are asked of one borrower at a time, never in bulk; approving is an
            # offer made to one borrower (offers context).
            if transition.permission == "lead.work"
            and actor.can("lead.work")
            and action not in ("request_documents", "approve")
        },
        rejection_reasons=await rejection_reasons() if actor.can("lead.work") else {},
    )


def parse_lead_filters(params: Mapping[str, Any], options: LeadDeskOptions) -> LeadFilters:
    """Leniently, as a query string is read: a malformed or unknown value is no filter."""
    status = lenient(parse_choice, params.get("status"), "", choices=options.statuses)
    product = lenient(parse_choice, params.get("product"), "", choices=options.products)
    amount_min = lenient(parse_money, params.get("amount_min"), None)
    amount_max = lenient(parse_money, params.get("amount_max"), None)
    # A sort given for decided leads is kept; waiting leads default to the oldest first.
    default_sort = str(
        LeadSort.AGE if not status or status in WAITING_STATUSES else LeadSort.RECENT
    )
    return LeadFilters(
        status=status,
        product=int(product) if product else 0,
        delivered_from=lenient(parse_date, params.get("delivered_from"), None),
        delivered_to=lenient(parse_date, params.get("delivered_to"), None),
        amount_min=amount_min,
        amount_max=amount_max,
        city=canonical_or_same(
            lenient(parse_text, params.get("city"), "", max_length=column_length(Application.city))
        ),
        assignee=lenient(
            parse_choice,
            params.get("assignee"),
            options.default_assignee,
            choices=options.assignees,
        ),
        sort=lenient(parse_choice, params.get("sort"), default_sort, choices=options.sorts),
    )


def lead_filter_query(filters: LeadFilters, options: LeadDeskOptions) -> dict[str, str]:
    """The query string of `filters` without the values a bare visit gets anyway, so
    links stay short and a plain visit and its page 1 link are the same list."""
    defaults = parse_lead_filters({"status": filters.status}, options).as_query()
    return {
        key: value
        for key, value in filters.as_query().items()
        if key == "status" or defaults.get(key) != value
    }


async def institution_leads(
    actor: Actor, filters: LeadFilters, *, page: int = 1, per_page: int = 20
) -> tuple[list[LeadSummary], int]:
    """One page of the institution's leads matching `filters`, and how many match."""
    condition = _lead_condition(actor, filters)
    total = await Application.count().where(condition)
    leads = await _lead_rows(
        actor, filters, condition, limit=per_page, offset=(page - 1) * per_page
    )
    return leads, total


async def lead_rows_for_export(
    actor: Actor, filters: LeadFilters, *, limit: int
) -> list[LeadSummary]:
    """Every lead matching `filters`, in the page's order, at most `limit`."""
    return await _lead_rows(actor, filters, _lead_condition(actor, filters), limit=limit)


def _lead_condition(actor: Actor, filters: LeadFilters) -> Any:
    condition = received_leads(actor)
    if filters.status:
        condition &= Application.status == filters.status
    if filters.product:
        condition &= Application.product == filters.product
    if filters.delivered_from:
        condition &= Application.delivered_at >= _china_midnight(filters.delivered_from)
    if filters.delivered_to:
        condition &= Application.delivered_at < _china_midnight(
            filters.delivered_to + timedelta(days=1)
        )
    if filters.amount_min is not None:
        condition &= Application.amount >= filters.amount_min
    if filters.amount_max is not None:
        condition &= Application.amount <= filters.amount_max
    if filters.city:
        # Leads from before the city list may say 杭州 where newer ones say 杭州市.
        condition &= Application.city.is_in(spellings(filters.city))
    if filters.assignee == ASSIGNEE_MINE:
        condition &= Application.assignee == actor.user_id
    elif filters.assignee == ASSIGNEE_NONE:
        condition &= Application.assignee.is_null()
    elif filters.assignee != ASSIGNEE_ALL:
        condition &= Application.assignee == int(filters.assignee)
    return condition


def _china_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=SHANGHAI)


async def _lead_rows(
    actor: Actor, filters: LeadFilters, condition: Any, *, limit: int, offset: int = 0
) -> list[LeadSummary]:
    sla_hours = int((await get_parameters("lead_sla_hours"))["lead_sla_hours"])
    unscored_last = OrderByRaw("application.prescreen_score IS NULL")
    order: tuple[tuple[Any, bool], ...] = {
        LeadSort.AGE: ((Application.delivered_at, True),),
        LeadSort.RECENT: ((Application.delivered_at, False),),
        LeadSort.AMOUNT_DESC: ((Application.amount, False),),
        LeadSort.AMOUNT_ASC: ((Application.amount, True),),
        # Leads the rules have not scored come after every scored one.
        LeadSort.SCORE_DESC: ((unscored_last, True), (Application.prescreen_score, False)),
    }[LeadSort(filters.sort)]
    query = Application.select(
        *LIST_COLUMNS,
        Application.city,
        Application.delivered_at,
        Application.shared_data_encrypted,
        Application.prescreen_score,
        Application.consent.withdrawn_at.as_alias("consent_withdrawn_at"),
        Application.assignee.id.as_alias("assignee_id"),
        Application.assignee.display_name.as_alias("assignee_name"),
    ).where(condition)
    for column, ascending in order:
        query = query.order_by(column, ascending=ascending)
    rows = await query.order_by(Application.id, ascending=order[-1][1]).limit(limit).offset(offset)
    now = datetime.now(UTC)
    leads = []
    for row in rows:
        withdrawn = row["consent_withdrawn_at"] is not None
        shared = {} if withdrawn else _shared(row["shared_data_encrypted"])
        age_hours = None
        sla = ""
        if row["status"] in WAITING_STATUSES and row["delivered_at"] is not None:
            age_hours = int((now - row["delivered_at"]).total_seconds() // 3600)
            sla = (
                "red" if age_hours >= 2 * sla_hours else "amber" if age_hours >= sla_hours else "ok"
            )
        leads.append(
            LeadSummary(
                **_summary_fields(row),
                # A withdrawn consent: the desk and its exports show nothing of the person.
                city="" if withdrawn else row["city"] or shared["city"],
                applicant=_("已撤回授权") if withdrawn else shared["real_name"][:1] + "**",
                delivered_at=row["delivered_at"],
                assignee_id=row["assignee_id"],
                assignee_name=row["assignee_name"] or "",
                age_hours=age_hours,
                sla=sla,
                score=row["prescreen_score"],
            )
        )
    return leads


def _shared(token: str) -> dict:
    return json.loads(decrypt_field(token, context=SHARED_DATA_CONTEXT))


async def institution_lead(actor: Actor, application_id: int) -> LeadDetail:
    """One lead, scoped to the actor's institution, showing only consented data.

    Identity and contact numbers stay masked; revealing them is a separate audited act."""
    row = (
        await Application.select(
            *LIST_COLUMNS,
            Application.shared_data_encrypted,
            Application.product_version,
            Application.purpose,
            Application.consent.withdrawn_at.as_alias("consent_withdrawn_at"),
            Application.consent.granted_at.as_alias("consent_granted_at"),
            Application.consent.notice_version.as_alias("notice_version"),
        )
        .where((Application.id == application_id) & received_leads(actor))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    withdrawn = row["consent_withdrawn_at"] is not None
    applicant = None
    if not withdrawn:
        shared = _shared(row["shared_data_encrypted"])
        applicant = Applicant(
            real_name=shared["real_name"],
            id_number_masked=mask_id_number(shared["id_number"]),
            mobile_masked=mask_mobile(shared["mobile"]) if shared["mobile"] else "",
            city=shared["city"],
            employment_type=_(EMPLOYMENT_TYPES.get(shared["employment_type"], "")),
            monthly_income=Decimal(shared["monthly_income"]),
            address_masked=mask_address(shared.get("address", "")),
            contact_name_masked=mask_name(shared.get("contact_name", "")),
            contact_relation=_(CONTACT_RELATIONS.get(shared.get("contact_relation", ""), "")),
            contact_mobile_masked=mask_mobile(shared.get("contact_mobile", "")),
        )
    events = await _events(row["id"])
    purposes = await loan_purposes()
    return LeadDetail(
        **_summary_fields(row),
        purpose=purposes.get(row["purpose"]) or row["purpose"],
        product_version=row["product_version"],
        consent_granted_at=row["consent_granted_at"],
        consent_withdrawn=withdrawn,
        notice_version=row["notice_version"],
        applicant=applicant,
        timeline=timeline(row["status"], events),
        actions=APPLICATION_MACHINE.actions(row["status"], actor),
    )


@dataclass(frozen=True, kw_only=True)
class LeadTile:
    """One figure of the console dashboard, linking to the leads it counts."""

    status: str  # the lead list's filter value; "" for all leads
    label: str
    n: int
    needs_attention: bool  # leads nobody has started on


@dataclass(frozen=True, kw_only=True)
class LeadCounts:
    total: int
    waiting: int  # delivered, not yet taken up
    waiting_status: str  # the lead list's filter value for those
    tiles: tuple[LeadTile, ...]


# The dashboard's figures, in the institution's words: a delivered lead is work waiting.
DASHBOARD_TILES: tuple[tuple[ApplicationStatus, str], ...] = (
    (ApplicationStatus.DELIVERED, N_("待处理")),
    (ApplicationStatus.REVIEWING, N_("审核中")),
    (ApplicationStatus.DOCUMENTS_REQUESTED, N_("待补充资料")),
    (ApplicationStatus.APPROVED, N_("已批复")),
    (ApplicationStatus.REJECTED, N_("已拒绝")),
)


async def institution_lead_counts(actor: Actor) -> LeadCounts | None:
    """None for a role that may not see leads (nothing is counted for it)."""
    if not actor.can("lead.view"):
        return None
    rows = await Application.raw(
        "SELECT status, count(*) AS n FROM application "
        "WHERE institution = {} AND status NOT IN ({}, {}) GROUP BY status",
        actor.institution_id,
        ApplicationStatus.SUBMITTED.value,
        ApplicationStatus.NOT_DELIVERED.value,
    )
    counts = {row["status"]: row["n"] for row in rows}
    total = sum(counts.values())
    waiting = ApplicationStatus.DELIVERED
    return LeadCounts(
        total=total,
        waiting=counts.get(waiting, 0),
        waiting_status=waiting.value,
        tiles=(
            LeadTile(status="", label=_("全部线索"), n=total, needs_attention=False),
            *(
                LeadTile(
                    status=status.value,
                    label=_(label),
                    n=counts.get(status, 0),
                    needs_attention=status is waiting and counts.get(status, 0) > 0,
                )
                for status, label in DASHBOARD_TILES
            ),
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ConsentedFacts:
    """The consented items an institution's own rules may weigh (pre-screen)."""

    city: str
    employment_type: str
    monthly_income: Decimal


@dataclass(frozen=True, kw_only=True)
class ScreenableLead:
    id: int
    reference: str
    institution_id: int
    status: ApplicationStatus
    status_label: str
    amount: Decimal
    delivered_at: datetime | None
    rejection_reason: str
    facts: ConsentedFacts | None  # None once consent is withdrawn: nothing may be weighed


_SCREENABLE_COLUMNS = (
    Application.id,
    Application.reference,
    Application.institution.as_alias("institution_id"),
    Application.status,
    Application.amount,
    Application.delivered_at,
    Application.rejection_reason,
    Application.shared_data_encrypted,
    Application.consent.withdrawn_at.as_alias("consent_withdrawn_at"),
)


def _screenable(row: Mapping[str, Any]) -> ScreenableLead:
    facts = None
    if row["consent_withdrawn_at"] is None:
        shared = _shared(row["shared_data_encrypted"])
        facts = ConsentedFacts(
            city=shared["city"],
            employment_type=shared["employment_type"],
            monthly_income=Decimal(shared["monthly_income"]),
        )
    status = APPLICATION_MACHINE.state(row["status"])
    return ScreenableLead(
        id=row["id"],
        reference=row["reference"],
        institution_id=row["institution_id"],
        status=status,
        status_label=APPLICATION_MACHINE.label(status),
        amount=row["amount"],
        delivered_at=row["delivered_at"],
        rejection_reason=row["rejection_reason"],
        facts=facts,
    )


async def screenable_lead(application_id: int) -> ScreenableLead | None:
    """A delivered lead as the system's pre-screen sees it (any institution: a job's view)."""
    row = (
        await Application.select(*_SCREENABLE_COLUMNS)
        .where(
            (Application.id == application_id) & (Application.status != ApplicationStatus.SUBMITTED)
        )
        .first()
    )
    return None if row is None else _screenable(row)


async def recent_screenable_leads(actor: Actor, limit: int) -> list[ScreenableLead]:
    """The actor's institution's last `limit` delivered leads, newest first."""
    rows = (
        await Application.select(*_SCREENABLE_COLUMNS)
        .where(received_leads(actor) & Application.delivered_at.is_not_null())
        .order_by(Application.delivered_at, ascending=False)
        .order_by(Application.id, ascending=False)
        .limit(limit)
    )
    return [_screenable(row) for row in rows]


async def applications_of_borrower(
    actor: Actor, borrower_id: int, limit: int
) -> tuple[list[ApplicationSummary], int]:
    """For operators managing the borrower's account (A1): the latest applications and
    how many there are in all."""
    if not actor.can("user.view"):
        raise PermissionDenied()
    mine = Application.borrower == borrower_id
    rows = (
        await Application.select(*LIST_COLUMNS)
        .where(mine)
        .order_by(Application.submitted_at, ascending=False)
        .limit(limit)
    )
    return [
        ApplicationSummary(**_summary_fields(row)) for row in rows
    ], await Application.count().where(mine)


async def borrower_of_reference(actor: Actor, reference: str) -> int | None:
    """The borrower who made the application with this reference (A1 user search)."""
    if not actor.can("user.view"):
        raise PermissionDenied()
    row = (
        await Application.select(Application.borrower)
        .where(Application.reference == reference)
        .first()
    )
    return row["borrower"] if row else None


@dataclass(frozen=True, kw_only=True)
class BatchProduct:
    """One product of a multi-product application page, with why it would refuse."""

    id: int
    name: str
    institution_name: str
    amount_min: Decimal
    amount_max: Decimal
    term_options: tuple[int, ...]
    methods: tuple[tuple[str, str], ...]  # (code, label), the product's order
    apr_min: Decimal | None
    apr_max: Decimal | None
    high_cost: bool
    reasons: tuple[tuple[str, str], ...]  # (form field, why), empty when it takes them

    @property
    def eligible(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, kw_only=True)
class BatchInstitution:
    """An institution of the batch: its one notice and consent cover all its products."""

    id: int
    name: str
    notice: Notice
    products: tuple[BatchProduct, ...]


@dataclass(frozen=True, kw_only=True)
class BatchPage:
    institutions: tuple[BatchInstitution, ...]
    chosen: frozenset[int]  # the ticked product ids
    per_batch: int  # the products_per_batch parameter
    asked: int  # product ids asked for, before the cap
    unavailable: int  # of those within the cap, how many are not listed now

    @property
    def product_ids(self) -> tuple[int, ...]:
        return tuple(p.id for group in self.institutions for p in group.products)

    @property
    def terms(self) -> tuple[int, ...]:
        """Every term some product of the batch offers, for the one term select."""
        return tuple(
            sorted(
                {t for group in self.institutions for p in group.products for t in p.term_options}
            )
        )


async def batch_page(
    product_ids: list[int],
    person: ProfileFacts | None,
    *,
    amount: Decimal | None = None,
    term_months: int | None = None,
    methods: Mapping[int, str] | None = None,
    chosen: Collection[int] | None = None,
) -> BatchPage:
    """The multi-product application page: the products asked for (up to the parameter),
    grouped by institution with its notice, each with the reasons it would refuse the
    borrower and the need as far as they are known (eligibility_reasons, as at submission).

    `chosen`: the ticked products (None on the first view: those that take the borrower).
    An institution's notice names its chosen products, as the consent will cover them."""
    per_batch = int((await get_parameters("products_per_batch"))["products_per_batch"])
    products = await batch_products(product_ids[:per_batch])
    groups: dict[int, list[BatchProduct]] = {}
    for product in products:
        method = (methods or {}).get(product["id"])
        reasons = eligibility_reasons(
            product, person, amount=amount, term_months=term_months, method=method or None
        )
        groups.setdefault(product["institution"], []).append(
            BatchProduct(
                id=product["id"],
                name=product["name"],
                institution_name=product["institution_name"],
                amount_min=product["amount_min"],
                amount_max=product["amount_max"],
                term_options=tuple(product["term_options"]),
                methods=tuple((m, RepaymentMethod(m).label) for m in product["repayment_methods"]),
                apr_min=product["apr_min"],
                apr_max=product["apr_max"],
                high_cost=product["cost_verdict"] == "warn",
                reasons=tuple(reasons.items()),
            )
        )
    if chosen is None:
        chosen = {p.id for group in groups.values() for p in group if p.eligible}
    # An institution none of whose products is ticked shows the notice for all of them.
    named = [
        product
        for product in products
        if product["id"] in chosen
        or not any(p.id in chosen for p in groups[product["institution"]])
    ]
    notices = batch_notices(named)
    return BatchPage(
        chosen=frozenset(chosen),
        institutions=tuple(
            BatchInstitution(
                id=institution_id,
                name=notices[institution_id].institution_name,
                notice=notices[institution_id],
                products=tuple(group),
            )
            for institution_id, group in groups.items()
        ),
        per_batch=per_batch,
        asked=len(product_ids),
        unavailable=len(product_ids[:per_batch]) - len(products),
    )
