"""/api/v1/reconciliation: the institution submits its disbursement ledger of a month (the
statement period) as one batch, reads the matching against the platform's loans, and
resolves a discrepancy with a note — the same verbs and checks as the console."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec
from litestar import Request, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from marketplace.errors import ValidationFailed
from marketplace.i18n import N_, _
from marketplace.parsing import FieldError
from marketplace.reconciliation.ledger import check_rows, parse_period, period_text
from marketplace.reconciliation.queries import (
    OUTCOME_FILTERS,
    STATE_FILTERS,
    ReconciliationRow,
    RowFilters,
    reconciliation_rows,
    reconciliation_summary,
)
from marketplace.reconciliation.services import (
    parse_note,
    resolve_discrepancy,
    submit_report,
)
from marketplace.reconciliation.statuses import ReportSource
from open_api import schemas
from open_api.auth import actor
from open_api.problems import problem_responses
from open_api.writes import IdempotencyKey, answer

READ = {"access": "public", "scope": "reconciliation:read"}
WRITE = {"access": "public", "scope": "reconciliation:write"}
MAX_PER_PAGE = 500
_READ_PROBLEMS = problem_responses(401, 403, 404, 422, 429)
_WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 422, 429)
Period = Annotated[
    str,
    PathParameter(
        description=N_("对账月份（北京时间），如 2026-11"),
        pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$",
    ),
]


def _period(raw: str) -> date:
    try:
        return parse_period(raw)
    except FieldError as exc:
        raise ValidationFailed({"period": exc.message}) from None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


async def _summary(institution_id: int, period: date) -> schemas.ReconciliationSummary:
    s = await reconciliation_summary(institution_id, period)
    return schemas.ReconciliationSummary(
        matched=s.matched,
        amount_differs=s.amount_differs,
        date_differs=s.date_differs,
        missing_on_platform=s.missing_on_platform,
        missing_in_report=s.missing_in_report,
        unresolved=s.unresolved,
        reported_at=s.reported_at,
    )


def _item(row: ReconciliationRow) -> schemas.ReconciliationItem:
    return schemas.ReconciliationItem(
        application_reference=row.reference,
        outcome=row.outcome,
        outcome_label=row.outcome_label,
        reported_principal=_money(row.reported_principal),
        reported_on=row.reported_on.isoformat() if row.reported_on else None,
        loan_number=row.loan_number,
        lead_id=row.application_id,
        loan_id=row.loan_id,
        platform_principal=_money(row.platform_principal),
        platform_on=row.platform_on.isoformat() if row.platform_on else None,
        difference=_money(row.difference),
        state=row.state,
        note=row.note,
        resolved_at=row.resolved_at,
    )


@post(
    "/v1/reconciliation/{period:str}/ledger",
    name="api.reconciliation.submit",
    opt=WRITE,
    summary=N_("报送月度放款台账"),
    description=N_(
        "整月的放款台账一次提交（最多 5000 行），替换该月此前的报送（旧报送保留为历史）。"
        "任何一行有误则整批不导入，errors 按 rows[序号].字段 列出每一处错误（序号从 0 起）；"
        "同一申请编号不可重复。建议带 Idempotency-Key 重试。"
    ),
    tags=[N_("对账")],
    status_code=201,
    responses=_WRITE_PROBLEMS,
    security=[{"oauth2": ["reconciliation:write"]}],
)
async def submit_ledger(
    request: Request,
    period: Period,
    data: JSONBody[schemas.Ledger],
    idempotency_key: IdempotencyKey,
) -> Response[schemas.LedgerSubmitted]:
    async def act() -> schemas.LedgerSubmitted:
        month = _period(period)
        items = [(index + 1, msgspec.structs.asdict(row)) for index, row in enumerate(data.rows)]
        rows, errors = check_rows(items, month)
        if errors:
            raise ValidationFailed(
                {f"rows[{error.row - 1}].{error.field}": error.message for error in errors}
            )
        submitted = await submit_report(actor(request), month, rows, source=ReportSource.API)
        institution = actor(request).institution_id or 0
        return schemas.LedgerSubmitted(
            period=period_text(month),
            report_id=submitted.report_id,
            rows=submitted.rows,
            replaced_report_id=submitted.replaced_report_id,
            summary=await _summary(institution, month),
        )

    return await answer(request, idempotency_key, 201, act)


@get(
    "/v1/reconciliation/{period:str}",
    name="api.reconciliation.result",
    opt=READ,
    summary=N_("对账结果"),
    description=N_(
        "该月的汇总与明细：matched 一致、amount_differs 金额不符（日期也不符时亦归此类）、"
        "date_differs 日期不符、missing_on_platform 平台无记录、missing_in_report 机构未报送；"
        "state 为 open（待处理）或 resolved（已处理）。"
    ),
    tags=[N_("对账")],
    responses=_READ_PROBLEMS,
    security=[{"oauth2": ["reconciliation:read"]}],
)
async def reconciliation_result(
    request: Request,
    period: Period,
    outcome: Annotated[
        str | None,
        QueryParameter(
            description=N_("对账结果：discrepancies（全部差异）或上述取值之一"), max_length=40
        ),
    ] = None,
    state_filter: Annotated[
        str | None,
        QueryParameter(name="state", description=N_("open 或 resolved"), max_length=20),
    ] = None,
    page: Annotated[int, QueryParameter(description=N_("页码"), ge=1, le=10_000)] = 1,
    per_page: Annotated[
        int, QueryParameter(description=N_("每页条数（1–500）"), ge=1, le=MAX_PER_PAGE)
    ] = 100,
) -> schemas.ReconciliationPage:
    month = _period(period)
    if outcome is not None and outcome not in OUTCOME_FILTERS:
        raise ValidationFailed({"outcome": _("对账结果取值不正确")})
    if state_filter is not None and state_filter not in STATE_FILTERS:
        raise ValidationFailed({"state": _("处理状态取值不正确")})
    who = actor(request)
    result = await reconciliation_rows(
        who,
        None,
        month,
        RowFilters(outcome=outcome or "", state=state_filter or ""),
        page=page,
        per_page=per_page,
    )
    return schemas.ReconciliationPage(
        period=period_text(month),
        summary=await _summary(who.institution_id or 0, month),
        items=[_item(row) for row in result.rows],
        page=page,
        total=result.total,
    )


@post(
    "/v1/reconciliation/{period:str}/resolutions",
    name="api.reconciliation.resolve",
    opt=WRITE,
    summary=N_("处理对账差异"),
    description=N_(
        "为该月某申请编号的差异填写说明并标记为已处理；一致的记录和已处理的差异返回 409。"
    ),
    tags=[N_("对账")],
    status_code=201,
    responses=_WRITE_PROBLEMS,
    security=[{"oauth2": ["reconciliation:write"]}],
)
async def resolve(
    request: Request,
    period: Period,
    data: JSONBody[schemas.Resolution],
    idempotency_key: IdempotencyKey,
) -> Response[schemas.ResolutionRecorded]:
    async def act() -> schemas.ResolutionRecorded:
        month = _period(period)
        try:
            note = parse_note(data.note)
        except FieldError as exc:
            raise ValidationFailed({"note": exc.message}) from None
        resolution_id = await resolve_discrepancy(
            actor(request), None, month, data.application_reference, note
        )
        return schemas.ResolutionRecorded(
            period_text(month), data.application_reference, resolution_id
        )

    return await answer(request, idempotency_key, 201, act)


handlers = [submit_ledger, reconciliation_result, resolve]
