"""Read models for the monitoring pages: the figures board (filtered, sorted), the case
queue and a case for operators, and an institution's own cases (its shared events only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from piccolo.columns.combination import Combinable

from marketplace.accounts.roles import permissions_of
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.institutions.statuses import INSTITUTION_MACHINE
from marketplace.money import format_rate
from marketplace.monitoring.figures import (
    WINDOWS,
    ActualApr,
    Figures,
    actual_apr,
    counting_complaints,
    figures,
)
from marketplace.monitoring.flags import thresholds
from marketplace.monitoring.services import MANAGE, RESPOND, VIEW
from marketplace.monitoring.statuses import (
    CASE_MACHINE,
    EVENT_LABELS,
    RULE_LABELS,
    SUBJECT_LABELS,
    UNRESOLVED,
    CaseStatus,
    EventKind,
    Rule,
    Subject,
)
from marketplace.monitoring.tables import CaseEvent, MonitoringCase
from marketplace.parameters.services import DEFAULTS, get_parameters
from marketplace.products.statuses import PRODUCT_MACHINE
from marketplace.products.tables import Product
from marketplace.statemachine import Actions

SORTS = (
    "name",
    "applications",
    "approval_rate",
    "disbursement_rate",
    "overdue_rate",
    "complaint_rate",
    "complaints",
    "offers",
    "offers_above",
)
CASE_STATUSES = tuple(CaseStatus)
CASE_RULES = tuple(Rule)
LEVELS = tuple(Subject)
MAX_QUERY_TEXT = 60


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


@dataclass(frozen=True)
class BoardFilters:
    window: int = WINDOWS[0]
    level: Subject = Subject.PRODUCT
    institution_id: int | None = None
    q: str = ""
    flagged: bool = False
    sort: str = "applications"
    descending: bool = True

    def as_query(self) -> dict[str, str]:
        return {
            "window": str(self.window),
            "level": str(self.level),
            "institution": str(self.institution_id or ""),
            "q": self.q,
            "flagged": "1" if self.flagged else "",
            "sort": self.sort,
            "dir": "desc" if self.descending else "asc",
        }


@dataclass(frozen=True)
class BoardRow:
    figures: Figures
    status_label: str

    @property
    def flagged(self) -> bool:
        return self.figures.unresolved_cases > 0

    @property
    def apr_above_listing(self) -> bool:
        return self.figures.offers_above > 0


@dataclass(frozen=True)
class Board:
    """`rows` is one page of the filtered, sorted rows (all of them without a page);
    `total` counts every filtered row."""

    filters: BoardFilters
    rows: list[BoardRow]
    total: int
    institution_options: list[tuple[int, str]]
    complaints_counted: bool


def _sort_value(row: BoardRow, key: str) -> Any:
    if key == "name":
        return row.figures.name
    return getattr(row.figures, key)


def _sorted(rows: list[BoardRow], key: str, descending: bool) -> list[BoardRow]:
    """By `key`, rows without a value (no decisions, no loans, …) last either way."""
    valued = [row for row in rows if _sort_value(row, key) is not None]
    empty = [row for row in rows if _sort_value(row, key) is None]
    valued.sort(key=lambda row: (_sort_value(row, key), row.figures.subject_id), reverse=descending)
    return valued + empty


def _status_label(subject: Subject, status: str) -> str:
    machine = PRODUCT_MACHINE if subject is Subject.PRODUCT else INSTITUTION_MACHINE
    try:
        return machine.label(status)
    except ValueError:
        return status


async def board(
    actor: Actor, filters: BoardFilters, *, page: int | None = None, per_page: int = 50
) -> Board:
    """Every figure comes from one query (figures.py), so filtering, sorting and paging
    happen here; `page=None` (the export) keeps every filtered row."""
    _require(actor, VIEW)
    limits = await thresholds()
    rows = await figures(filters.level, filters.window, apr_tolerance=limits.apr_tolerance)
    options = sorted({(row.institution_id, row.institution_name) for row in rows}, key=str)
    needle = filters.q.casefold()
    chosen = [
        BoardRow(figures=row, status_label=_status_label(filters.level, row.status))
        for row in rows
        if (filters.institution_id is None or row.institution_id == filters.institution_id)
        and (not needle or needle in f"{row.name} {row.institution_name}".casefold())
        and (not filters.flagged or row.unresolved_cases > 0)
    ]
    ordered = _sorted(chosen, filters.sort, filters.descending)
    shown = ordered if page is None else ordered[(page - 1) * per_page : page * per_page]
    return Board(
        filters=filters,
        rows=shown,
        total=len(ordered),
        institution_options=options,
        complaints_counted=counting_complaints(),
    )


def figures_summary(rule: str, shown: Mapping[str, Any]) -> str:
    """What raised the flag, in a sentence (from the figures stored with the case)."""
    try:
        if rule == Rule.OVERDUE_RATE:
            return _(
                "近{days}天评估：在贷{in_force}笔中逾期{overdue}笔，逾期率{rate}，"
                "超过阈值{threshold}（至少{min_loans}笔在贷时评估）",
                days=shown["window_days"],
                in_force=shown["in_force"],
                overdue=shown["overdue"],
                rate=format_rate(Decimal(shown["rate"])),
                threshold=format_rate(Decimal(shown["threshold"])),
                min_loans=shown["min_loans"],
            )
        if rule == Rule.COMPLAINT_RATE:
            return _(
                "近{days}天：{applications}笔申请收到{complaints}件投诉，投诉率{rate}，超过阈值{threshold}",
                days=shown["window_days"],
                applications=shown["applications"],
                complaints=shown["complaints"],
                rate=format_rate(Decimal(shown["rate"])),
                threshold=format_rate(Decimal(shown["threshold"])),
            )
        if rule == Rule.APR_ABOVE_LISTING:
            return _(
                "近{days}天{offers}笔批复中有{above}笔年化高于标示上限{listed}，最高{actual}",
                days=shown["window_days"],
                offers=shown["offers"],
                above=shown["offers_above"],
                listed=format_rate(Decimal(shown["listed_apr_max"])),
                actual=format_rate(Decimal(shown["actual_apr_max"])),
            )
    except (KeyError, ArithmeticError, TypeError):
        return ""
    return ""


@dataclass(frozen=True)
class CaseRow:
    id: int
    subject: Subject
    subject_id: int
    subject_label: str
    subject_name: str
    institution_id: int
    institution_name: str
    rule: str
    rule_label: str
    status: str
    status_label: str
    summary: str
    opened_at: datetime
    updated_at: datetime
    responded_at: datetime | None
    assignee_name: str


@dataclass(frozen=True)
class EventRow:
    kind: str
    kind_label: str
    actor_kind: str
    actor_label: str
    text: str
    shared: bool
    at: datetime


@dataclass(frozen=True)
class CaseDetail(CaseRow):
    events: list[EventRow] = field(default_factory=list)
    actions: Actions = Actions()
    subject_status_label: str = ""
    operators: list[tuple[int, str]] = field(default_factory=list)
    assignee_id: int | None = None

    @property
    def unresolved(self) -> bool:
        return self.status in UNRESOLVED


_CASE_COLUMNS = (
    MonitoringCase.id,
    MonitoringCase.subject_key,
    MonitoringCase.product,
    MonitoringCase.product.name.as_alias("product_name"),
    MonitoringCase.product.status.as_alias("product_status"),
    MonitoringCase.institution,
    MonitoringCase.institution.short_name.as_alias("institution_name"),
    MonitoringCase.institution.status.as_alias("institution_status"),
    MonitoringCase.rule,
    MonitoringCase.status,
    MonitoringCase.figures,
    MonitoringCase.opened_at,
    MonitoringCase.updated_at,
    MonitoringCase.responded_at,
    MonitoringCase.assignee,
    MonitoringCase.assignee.display_name.as_alias("assignee_name"),
)


def _row_values(row: Mapping[str, Any]) -> dict[str, Any]:
    kind, _sep, raw_id = str(row["subject_key"]).partition(":")
    subject = Subject(kind)
    shown = row["figures"]
    if isinstance(shown, str):
        shown = json.loads(shown or "{}")
    return {
        "id": row["id"],
        "subject": subject,
        "subject_id": int(raw_id),
        "subject_label": _(SUBJECT_LABELS[subject]),
        "subject_name": (
            row["product_name"] if subject is Subject.PRODUCT else row["institution_name"]
        )
        or "",
        "institution_id": row["institution"],
        "institution_name": row["institution_name"] or "",
        "rule": row["rule"],
        "rule_label": _(RULE_LABELS.get(Rule(row["rule"]), row["rule"])),
        "status": row["status"],
        "status_label": CASE_MACHINE.label(row["status"]),
        "summary": figures_summary(row["rule"], shown or {}),
        "opened_at": row["opened_at"],
        "updated_at": row["updated_at"],
        "responded_at": row["responded_at"],
        "assignee_name": row["assignee_name"] or "",
    }


async def case_queue(
    actor: Actor, *, status: str, rule: str, page: int, per_page: int
) -> tuple[list[CaseRow], int]:
    """Operators' queue, latest activity first; filtered by status and rule."""
    _require(actor, VIEW)
    where: Combinable = MonitoringCase.id > 0
    if status:
        where &= MonitoringCase.status == status
    if rule:
        where &= MonitoringCase.rule == rule
    total = await MonitoringCase.count().where(where)
    rows = (
        await MonitoringCase.select(*_CASE_COLUMNS)
        .where(where)
        .order_by(MonitoringCase.updated_at, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [CaseRow(**_row_values(row)) for row in rows], total


async def _events(case_id: int, *, shared_only: bool) -> list[EventRow]:
    where: Combinable = CaseEvent.case == case_id
    if shared_only:
        where &= CaseEvent.shared.eq(True)
    rows = await CaseEvent.select().where(where).order_by(CaseEvent.at).order_by(CaseEvent.id)
    return [
        EventRow(
            kind=row["kind"],
            kind_label=_(EVENT_LABELS.get(EventKind(row["kind"]), row["kind"])),
            actor_kind=row["actor_kind"],
            actor_label=row["actor_label"],
            text=row["text"],
            shared=row["shared"],
            at=row["at"],
        )
        for row in rows
    ]


async def _case_row(case_id: int) -> Mapping[str, Any]:
    row = await MonitoringCase.select(*_CASE_COLUMNS).where(MonitoringCase.id == case_id).first()
    if row is None:
        raise NotFound(_("找不到该案件"))
    return row


def _subject_status(row: Mapping[str, Any], subject: Subject) -> str:
    if subject is Subject.PRODUCT:
        return _status_label(subject, row["product_status"])
    return _status_label(subject, row["institution_status"])


async def deciders() -> list[tuple[int, str]]:
    """Active operators who may decide cases (the assignee choices)."""
    rows = await User.select(User.id, User.display_name, User.role).where(
        (User.kind == "operator") & (User.status == "active")
    )
    return [
        (row["id"], row["display_name"])
        for row in rows
        if MANAGE in permissions_of("operator", row["role"])
    ]


async def case_for_operator(actor: Actor, case_id: int) -> CaseDetail:
    _require(actor, VIEW)
    row = await _case_row(case_id)
    values = _row_values(row)
    return CaseDetail(
        **values,
        events=await _events(case_id, shared_only=False),
        actions=CASE_MACHINE.actions(row["status"], actor),
        subject_status_label=_subject_status(row, values["subject"]),
        operators=await deciders() if actor.can(MANAGE) else [],
        assignee_id=row["assignee"],
    )


async def institution_cases(actor: Actor) -> list[CaseRow]:
    """The actor's institution's cases, unresolved first."""
    _require(actor, RESPOND)
    rows = (
        await MonitoringCase.select(*_CASE_COLUMNS)
        .where(MonitoringCase.institution == actor.institution_id)
        .order_by(MonitoringCase.updated_at, ascending=False)
    )
    cases = [CaseRow(**_row_values(row)) for row in rows]
    return sorted(cases, key=lambda case: case.status not in UNRESOLVED)


async def institution_case(actor: Actor, case_id: int) -> CaseDetail:
    """One of the actor's institution's cases; another institution's is a 404. Operators'
    internal notes and assignments are left out."""
    _require(actor, RESPOND)
    row = await _case_row(case_id)
    if row["institution"] != actor.institution_id:
        raise NotFound(_("找不到该案件"))
    values = _row_values(row)
    values["assignee_name"] = ""
    return CaseDetail(
        **values,
        events=await _events(case_id, shared_only=True),
        subject_status_label=_subject_status(row, values["subject"]),
    )


@dataclass(frozen=True)
class ProductWatch:
    """A product as monitoring sees it: its state, the platform actions open to the
    actor now (suspend / reinstate come through cases) and its cases."""

    id: int
    name: str
    institution_id: int
    institution_name: str
    status: str
    status_label: str
    may_suspend: bool
    cases: list[CaseRow]


async def product_watch(actor: Actor, product_id: int) -> ProductWatch:
    _require(actor, VIEW)
    row = (
        await Product.select(
            Product.id,
            Product.name,
            Product.status,
            Product.institution,
            Product.institution.short_name.as_alias("institution_name"),
        )
        .where(Product.id == product_id)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该产品"))
    cases = (
        await MonitoringCase.select(*_CASE_COLUMNS)
        .where(MonitoringCase.product == product_id)
        .order_by(MonitoringCase.updated_at, ascending=False)
    )
    return ProductWatch(
        id=row["id"],
        name=row["name"],
        institution_id=row["institution"],
        institution_name=row["institution_name"],
        status=row["status"],
        status_label=_status_label(Subject.PRODUCT, row["status"]),
        may_suspend="suspend" in PRODUCT_MACHINE.actions(row["status"], actor),
        cases=[CaseRow(**_row_values(case)) for case in cases],
    )


async def disclosed_actual_apr(product_id: int) -> ActualApr | None:
    """What the product page tells borrowers about the APRs actually offered: only from
    `actual_apr_min_offers` offers in the last 90 days (§6.1 promised vs actual)."""
    values = await get_parameters("actual_apr_min_offers")
    minimum = values["actual_apr_min_offers"]
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        minimum = DEFAULTS["actual_apr_min_offers"]
    return await actual_apr(product_id, minimum)
