"""A lead's decisions with their own forms: reject with a reason code, ask for documents,
and download what the borrower sent (each download audited)."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from institution_console.leads import VIEW, WORK, _detail
from marketplace.applications.decisions import parse_rejection, reject_lead
from marketplace.documents.services import (
    download_for_lead,
    parse_documents_asked,
    request_documents,
)
from marketplace.i18n import _
from marketplace.parsing import first
from server.attachments import attachment
from server.auth import require_actor
from server.forms import FormData, as_list, submit_form
from server.rendering import flash, redirect_to


def _typed(data: FormData, *keys: str) -> dict[str, object]:
    """What was typed into a decision form, to show it again with the errors."""
    return {key: as_list(data, key) if key == "kinds" else first(data.get(key)) for key in keys}


@post("/leads/{application_id:int}/reject", name="console.leads.reject", opt=WORK)
async def lead_reject(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await reject_lead(actor, application_id, await parse_rejection(data))
        flash(request, _("已拒绝该线索，借款人将看到拒绝原因"))
        return redirect_to(request, "console.leads.detail", application_id=application_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(
            request, application_id, errors, values=_typed(data, "reason", "internal_note")
        )

    return await submit_form(request, submit, rerender)


@post("/leads/{application_id:int}/documents", name="console.leads.request_documents", opt=WORK)
async def lead_request_documents(request: Request, application_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await request_documents(actor, application_id, await parse_documents_asked(data))
        flash(request, _("已通知借款人补充资料"))
        return redirect_to(request, "console.leads.detail", application_id=application_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _detail(
            request, application_id, errors, values=_typed(data, "kinds", "documents_reason")
        )

    return await submit_form(request, submit, rerender)


@get(
    "/leads/{application_id:int}/documents/{document_id:int}",
    name="console.leads.document",
    opt=VIEW,
)
async def lead_document(
    request: Request, application_id: FromPath[int], document_id: FromPath[int]
) -> Response:
    actor = await require_actor(request)
    return attachment(await download_for_lead(actor, application_id, document_id))


handlers = [lead_reject, lead_request_documents, lead_document]
