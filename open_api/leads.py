"""/api/v1/leads: pull leads, push status changes and decisions (the same verbs, and so the
same rules, as the console)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Request, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from marketplace.api_clients.queries import ApiLeadRow, LeadCursor, api_leads
from marketplace.applications.decisions import parse_rejection, reject_lead, rejection_reasons
from marketplace.applications.queries import institution_lead
from marketplace.applications.services import move_lead
from marketplace.applications.statuses import LEAD_STATUSES, ApplicationStatus
from marketplace.errors import ValidationFailed
from marketplace.i18n import N_, _
from marketplace.loancalc import SHANGHAI
from marketplace.offers.services import make_offer
from open_api import schemas
from open_api.auth import actor
from open_api.problems import problem_responses
from open_api.writes import IdempotencyKey, answer

READ = {"access": "public", "scope": "leads:read"}
WRITE = {"access": "public", "scope": "leads:write"}
OFFER = {"access": "public", "scope": "offers:write"}
MAX_PAGE = 100
_READ_PROBLEMS = problem_responses(401, 403, 404, 422, 429)
_WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 422, 429)
LeadId = Annotated[int, PathParameter(description=N_("线索编号（id）"))]


def money(value: object) -> str:
    return f"{value:.2f}"


def _lead(row: ApiLeadRow) -> schemas.Lead:
    return schemas.Lead(
        id=row.id,
        reference=row.reference,
        status=str(row.status),
        status_label=row.status_label,
        product_id=row.product_id,
        product_name=row.product_name,
        amount=money(row.amount),
        term_months=row.term_months,
        city=row.city,
        consent_withdrawn=row.consent_withdrawn,
        submitted_at=row.submitted_at,
        delivered_at=row.delivered_at,
        updated_at=row.updated_at,
    )


def _encode_cursor(row: ApiLeadRow) -> str:
    text = f"{row.updated_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(raw: str) -> LeadCursor:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        stamp, _sep, lead_id = text.partition("|")
        cursor = LeadCursor(datetime.fromisoformat(stamp), int(lead_id))
        if cursor.updated_at.tzinfo is None or not lead_id.isdigit():
            raise ValueError(raw)
        return cursor
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed({"cursor": _("游标无效，请使用上一页返回的 next_cursor")}) from None


@get(
    "/v1/leads",
    name="api.leads.list",
    opt=READ,
    summary=N_("线索列表"),
    description=N_(
        "按更新时间（及编号）升序分页；用上一页的 next_cursor 取下一页，为空表示已取完。"
    ),
    tags=[N_("线索")],
    responses=_READ_PROBLEMS,
    security=[{"oauth2": ["leads:read"]}],
)
async def list_leads(
    request: Request,
    status: Annotated[
        str | None,
        QueryParameter(description=N_("状态：") + "、".join(LEAD_STATUSES), max_length=40),
    ] = None,
    updated_since: Annotated[
        datetime | None,
        QueryParameter(
            description=N_("只列出此时刻及之后更新的线索（ISO 8601；无时区按北京时间）")
        ),
    ] = None,
    cursor: Annotated[
        str | None, QueryParameter(description=N_("上一页返回的 next_cursor"), max_length=200)
    ] = None,
    limit: Annotated[
        int, QueryParameter(description=N_("每页条数（1–100）"), ge=1, le=MAX_PAGE)
    ] = 50,
) -> schemas.LeadPage:
    if status is not None and status not in LEAD_STATUSES:
        raise ValidationFailed({"status": _("状态取值不正确")})
    if updated_since is not None and updated_since.tzinfo is None:
        updated_since = updated_since.replace(tzinfo=SHANGHAI)
    rows = await api_leads(
        actor(request),
        status=ApplicationStatus(status) if status else None,
        updated_since=updated_since,
        after=_decode_cursor(cursor) if cursor else None,
        limit=limit,
    )
    return schemas.LeadPage(
        items=[_lead(row) for row in rows],
        next_cursor=_encode_cursor(rows[-1]) if len(rows) == limit else None,
    )


@get(
    "/v1/leads/{lead_id:int}",
    name="api.leads.detail",
    opt=READ,
    summary=N_("线索详情"),
    description=N_(
        "借款人授权提供的资料（证件号、手机号脱敏）；借款人撤回授权后 applicant 为 null。"
    ),
    tags=[N_("线索")],
    responses=_READ_PROBLEMS,
    security=[{"oauth2": ["leads:read"]}],
)
async def lead_detail(request: Request, lead_id: LeadId) -> schemas.LeadDetail:
    lead = await institution_lead(actor(request), lead_id)
    applicant = lead.applicant
    return schemas.LeadDetail(
        id=lead.id,
        reference=lead.reference,
        status=str(lead.status),
        status_label=lead.status_label,
        product_id=lead.product_id,
        product_name=lead.product_name,
        amount=money(lead.amount),
        term_months=lead.term_months,
        submitted_at=lead.submitted_at,
        updated_at=lead.updated_at,
        consent_withdrawn=lead.consent_withdrawn,
        applicant=schemas.Applicant(
            real_name=applicant.real_name,
            id_number_masked=applicant.id_number_masked,
            mobile_masked=applicant.mobile_masked,
            city=applicant.city,
            employment_type=applicant.employment_type,
            monthly_income=money(applicant.monthly_income),
            address_masked=applicant.address_masked,
            contact_name_masked=applicant.contact_name_masked,
            contact_relation=applicant.contact_relation,
            contact_mobile_masked=applicant.contact_mobile_masked,
        )
        if applicant
        else None,
        allowed_actions=[action.name for action in lead.actions],
        purpose=lead.purpose,
    )


@get(
    "/v1/rejection-reasons",
    name="api.leads.reasons",
    opt=READ,
    summary=N_("拒绝原因代码"),
    tags=[N_("线索")],
    responses=problem_responses(401, 403, 429),
    security=[{"oauth2": ["leads:read"]}],
)
async def reasons() -> list[schemas.Reason]:
    return [schemas.Reason(code, label) for code, label in (await rejection_reasons()).items()]


@post(
    "/v1/leads/{lead_id:int}/status",
    name="api.leads.status",
    opt=WRITE,
    summary=N_("更新线索状态"),
    description=N_("不需要表单的状态变更，目前为 review（开始审核）。拒绝与批复用各自的接口。"),
    tags=[N_("线索")],
    status_code=200,
    responses=_WRITE_PROBLEMS,
    security=[{"oauth2": ["leads:write"]}],
)
async def change_status(
    request: Request,
    lead_id: LeadId,
    data: JSONBody[schemas.StatusChange],
    idempotency_key: IdempotencyKey,
) -> Response[schemas.LeadStatus]:
    async def act() -> schemas.LeadStatus:
        status = await move_lead(actor(request), lead_id, data.action, data.note)
        return schemas.LeadStatus(lead_id, str(status))

    return await answer(request, idempotency_key, 200, act)


@post(
    "/v1/leads/{lead_id:int}/rejection",
    name="api.leads.reject",
    opt=WRITE,
    summary=N_("拒绝线索"),
    description=N_(
        "reason 为拒绝原因代码（见 /v1/rejection-reasons），借款人看到其名称；note 仅机构内部可见。"
    ),
    tags=[N_("线索")],
    status_code=200,
    responses=_WRITE_PROBLEMS,
    security=[{"oauth2": ["leads:write"]}],
)
async def reject(
    request: Request,
    lead_id: LeadId,
    data: JSONBody[schemas.Rejection],
    idempotency_key: IdempotencyKey,
) -> Response[schemas.LeadStatus]:
    async def act() -> schemas.LeadStatus:
        rejection = await parse_rejection({"reason": data.reason, "internal_note": data.note})
        await reject_lead(actor(request), lead_id, rejection)
        return schemas.LeadStatus(lead_id, str(ApplicationStatus.REJECTED))

    return await answer(request, idempotency_key, 200, act)


@post(
    "/v1/leads/{lead_id:int}/offer",
    name="api.leads.offer",
    opt=OFFER,
    summary=N_("批复：发送批复方案"),
    description=N_("审核中的线索可批复；综合年化利率超过平台上限的方案会被拒绝（422）。"),
    tags=[N_("线索")],
    status_code=201,
    responses=_WRITE_PROBLEMS,
    security=[{"oauth2": ["offers:write"]}],
)
async def offer(
    request: Request,
    lead_id: LeadId,
    data: JSONBody[schemas.OfferTerms],
    idempotency_key: IdempotencyKey,
) -> Response[schemas.OfferMade]:
    async def act() -> schemas.OfferMade:
        terms = {key: str(value) for key, value in msgspec.structs.asdict(data).items()}
        return schemas.OfferMade(lead_id, await make_offer(actor(request), lead_id, terms))

    return await answer(request, idempotency_key, 201, act)


handlers = [list_leads, lead_detail, reasons, change_status, reject, offer]
