"""Institutions for operators (A4): the partner-application queue and its decisions, and
the institutions themselves with suspend / resume / close."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.i18n import N_, _
from marketplace.institutions.queries import (
    STATUS_CHOICES as INSTITUTION_STATUSES,
)
from marketplace.institutions.queries import institution_detail, institutions
from marketplace.institutions.services import (
    change_status,
    parse_licence_dates,
    update_licence_dates,
)
from marketplace.institutions.statuses import INSTITUTION_MACHINE
from marketplace.parsing import first
from marketplace.partners.queries import STATUS_CHOICES as APPLICATION_STATUSES
from marketplace.partners.queries import application_for_review, review_queue
from marketplace.partners.services import decide, open_document, resend_password_link
from marketplace.partners.statuses import PARTNER_MACHINE
from server.attachments import content_disposition
from server.auth import require_actor
from server.forms import FormData, query_choice, query_page, query_text, submit_form
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

REVIEW = {"access": "operator", "permission": "institution.review"}
VIEW = {"access": "operator", "permission": "institution.view"}
MANAGE = {"access": "operator", "permission": "institution.manage"}
DONE = {
    "review": N_("已开始审核"),
    "request_more": N_("已要求补充材料，申请人将收到邮件"),
    "approve": N_("已通过：机构和管理员账号已创建，设置密码的链接已发给申请人"),
    "reject": N_("已驳回，申请人将收到邮件"),
}
PER_PAGE = 50
MAX_QUERY_TEXT = 60
LICENCE_FIELDS = ("licence_expires_on", "business_licence_expires_on")
# review_queue / institutions: (actor, *, status, q, page, per_page) -> (rows, total)
ListQuery = Callable[..., Awaitable[tuple[Sequence[Any], int]]]


async def _list_page(
    request: Request, template: str, statuses: list[tuple[str, str]], query: ListQuery
) -> Response:
    """A filtered, paged staff table (status + text search) of either list below."""
    actor = await require_actor(request)
    status = query_choice(request, "status", [code for code, _label in statuses])
    q = query_text(request, "q", max_length=MAX_QUERY_TEXT)
    page = query_page(request)
    rows, total = await query(actor, status=status, q=q, page=page, per_page=PER_PAGE)
    filters = {"status": status, "q": q}
    return await render(
        request,
        template,
        {
            "rows": rows,
            "total": total,
            **filters,
            "statuses": statuses,
            **pagination(request.url.path, filters, page, total, PER_PAGE),
        },
        nav="institutions",
    )


@get("/institutions/applications", name="admin.partners.list", opt=REVIEW)
async def application_queue(request: Request) -> Response:
    statuses = [(s, PARTNER_MACHINE.label(s)) for s in APPLICATION_STATUSES]
    return await _list_page(request, "admin/partner_applications.html", statuses, review_queue)


async def _application(
    request: Request, application_id: int, errors: dict, note: str = ""
) -> Response:
    detail = await application_for_review(await require_actor(request), application_id)
    return await render(
        request,
        "admin/partner_application.html",
        {"application": detail, "errors": errors, "note": note},
        nav="institutions",
    )


@get("/institutions/applications/{application_id:int}", name="admin.partners.detail", opt=REVIEW)
async def application_detail(request: Request, application_id: FromPath[int]) -> Response:
    return await _application(request, application_id, {})


@post("/institutions/applications/{application_id:int}", name="admin.partners.decide", opt=REVIEW)
async def application_decide(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        action = first(data.get("decision"))
        await decide(actor, application_id, action, first(data.get("note")))
        flash(request, _(DONE.get(action, N_("已处理"))))
        return redirect_to(request, "admin.partners.detail", application_id=application_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _application(request, application_id, errors, first(data.get("note")))

    return await submit_form(request, submit, rerender)


@post(
    "/institutions/applications/{application_id:int}/resend-link",
    name="admin.partners.resend_link",
    opt=REVIEW,
)
async def application_resend_link(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await resend_password_link(actor, application_id)
        flash(request, _("已重新发送设置密码链接，旧链接已失效"))
        return redirect_to(request, "admin.partners.detail", application_id=application_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _application(request, application_id, errors)

    return await submit_form(request, submit, rerender)


@get(
    "/institutions/applications/{application_id:int}/documents/{document_id:int}",
    name="admin.partners.document",
    opt=REVIEW,
)
async def application_document(
    request: Request, application_id: FromPath[int], document_id: FromPath[int]
) -> Response:
    """Shown in the browser (image in the page, PDF in a tab), never cached; the type was
    fixed by content at upload, so nothing executable is served."""
    file = await open_document(await require_actor(request), application_id, document_id)
    return Response(
        content=file.content,
        media_type=file.content_type,
        headers={
            "Content-Disposition": content_disposition(file.name).replace(
                "attachment", "inline", 1
            ),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@get("/institutions", name="admin.institutions.list", opt=VIEW)
async def institution_list(request: Request) -> Response:
    statuses = [(s, INSTITUTION_MACHINE.label(s)) for s in INSTITUTION_STATUSES]
    return await _list_page(request, "admin/institutions.html", statuses, institutions)


async def _institution(
    request: Request,
    institution_id: int,
    errors: dict,
    reason: str = "",
    dates: dict[str, str] | None = None,
) -> Response:
    detail = await institution_detail(await require_actor(request), institution_id)
    if dates is None:
        dates = {
            key: value.isoformat() if (value := getattr(detail, key)) else ""
            for key in LICENCE_FIELDS
        }
    return await render(
        request,
        "admin/institution.html",
        {"institution": detail, "errors": errors, "reason": reason, "dates": dates},
        nav="institutions",
    )


@get("/institutions/{institution_id:int}", name="admin.institutions.detail", opt=VIEW)
async def institution_page(request: Request, institution_id: FromPath[int]) -> Response:
    return await _institution(request, institution_id, {})


@post("/institutions/{institution_id:int}", name="admin.institutions.change", opt=MANAGE)
async def institution_change(request: Request, institution_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await change_status(
            actor, institution_id, first(data.get("action")), first(data.get("reason"))
        )
        flash(request, _("机构状态已更新"))
        return redirect_to(request, "admin.institutions.detail", institution_id=institution_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _institution(request, institution_id, errors, first(data.get("reason")))

    return await submit_form(request, submit, rerender)


@post("/institutions/{institution_id:int}/licences", name="admin.institutions.licences", opt=MANAGE)
async def institution_licences(request: Request, institution_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        licence, business = parse_licence_dates(data)
        await update_licence_dates(
            actor, institution_id, licence_expires_on=licence, business_licence_expires_on=business
        )
        flash(request, _("证照有效期已更新"))
        return redirect_to(request, "admin.institutions.detail", institution_id=institution_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        dates = {key: first(data.get(key)) for key in LICENCE_FIELDS}
        return await _institution(request, institution_id, errors, dates=dates)

    return await submit_form(request, submit, rerender)


handlers = [
    application_queue,
    application_detail,
    application_decide,
    application_resend_link,
    application_document,
    institution_list,
    institution_page,
    institution_change,
    institution_licences,
]
