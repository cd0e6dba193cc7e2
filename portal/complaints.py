"""Complaints and feedback for borrowers (P11): my complaints (/me/complaints), filing one
against the platform or an institution I applied to (optionally about one application,
?application=…), its timeline with replies, rating and 重新投诉; and /feedback, open to
anyone (rate-limited per address in the verb). URLs name a complaint by its reference."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.accounts.services import visitor
from marketplace.complaints.queries import (
    attachment,
    categories_of,
    filing_options,
    own_complaint,
    own_complaints,
)
from marketplace.complaints.services import (
    MAX_FILE_BYTES,
    MAX_FILES,
    ComplaintInput,
    FeedbackInput,
    file_complaint,
    rate,
    reopen,
    reply,
    send_feedback,
)
from marketplace.complaints.statuses import CATEGORIES, ComplaintKind
from marketplace.complaints.tables import CONTACT_MAX_LENGTH, DESCRIPTION_MAX_LENGTH
from marketplace.i18n import _
from marketplace.parsing import first
from server.attachments import attachment as as_attachment
from server.auth import client_address, current_actor, request_id, require_actor
from server.forms import FormData, query_choice, query_text, submit_form, uploaded_files
from server.rendering import flash, redirect, redirect_to, render

BORROWER = {"access": "borrower", "permission": "complaint.file"}
PUBLIC = {"access": "public"}
UPLOAD_BODY_LIMIT = MAX_FILES * (MAX_FILE_BYTES + 1) + 64 * 1024
FILING_FIELDS = ("target", "category", "description", "application")
COMPLAINT_CATEGORIES = [str(c) for c in CATEGORIES[ComplaintKind.COMPLAINT]]


@get("/me/complaints", name="portal.complaints.list", opt=BORROWER)
async def complaint_list(request: Request) -> Response:
    actor = await require_actor(request)
    return await render(
        request, "portal/complaints.html", {"rows": await own_complaints(actor)}, nav="me"
    )


async def _new_page(request: Request, values: dict[str, str], errors: dict[str, str]) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/complaint_new.html",
        {
            "options": await filing_options(actor),
            "values": values,
            "errors": errors,
            "max_length": DESCRIPTION_MAX_LENGTH,
            "max_files": MAX_FILES,
            "max_file_mb": MAX_FILE_BYTES // 2**20,
        },
        nav="me",
    )


@get("/me/complaints/new", name="portal.complaints.new", opt=BORROWER)
async def complaint_new(request: Request) -> Response:
    """The form, with the application (and a category) preselected by the page that links
    here (an application's or a loan's)."""
    values = {
        "application": query_text(request, "application", max_length=24),
        "category": query_choice(request, "category", COMPLAINT_CATEGORIES),
    }
    return await _new_page(request, values, {})


@post(
    "/me/complaints/new",
    name="portal.complaints.file",
    opt=BORROWER,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def complaint_file(request: Request) -> Response:
    actor = await require_actor(request)
    files = await uploaded_files(request, "files", max_bytes=MAX_FILE_BYTES)

    async def submit(data: FormData) -> Response:
        form = ComplaintInput(**{key: first(data.get(key)) for key in FILING_FIELDS})
        reference = await file_complaint(actor, form, files)
        flash(request, _("投诉已提交，编号 {ref}。我们会尽快受理", ref=reference))
        return redirect_to(request, "portal.complaints.detail", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _new_page(request, {k: first(data.get(k)) for k in FILING_FIELDS}, errors)

    return await submit_form(request, submit, rerender)


async def _detail_page(
    request: Request, reference: str, errors: dict[str, str], values: dict[str, str]
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/complaint_detail.html",
        {
            "complaint": await own_complaint(actor, reference),
            "errors": errors,
            "values": values,
            "max_files": MAX_FILES,
            "max_file_mb": MAX_FILE_BYTES // 2**20,
        },
        nav="me",
    )


@get("/me/complaints/{reference:str}", name="portal.complaints.detail", opt=BORROWER)
async def complaint_detail(request: Request, reference: FromPath[str]) -> Response:
    return await _detail_page(request, reference, {}, {})


async def _act(request: Request, reference: str, act, done: str) -> Response:
    async def submit(data: FormData) -> Response:
        await act(data)
        flash(request, done)
        return redirect_to(request, "portal.complaints.detail", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {key: first(data.get(key)) for key in ("reply", "rating", "comment", "reason")}
        return await _detail_page(request, reference, errors, values)

    return await submit_form(request, submit, rerender)


@post(
    "/me/complaints/{reference:str}/reply",
    name="portal.complaints.reply",
    opt=BORROWER,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def complaint_reply(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)
    files = await uploaded_files(request, "files", max_bytes=MAX_FILE_BYTES)

    async def act(data: FormData) -> None:
        await reply(actor, reference, data.get("reply"), files)

    return await _act(request, reference, act, _("回复已发送"))


@post("/me/complaints/{reference:str}/rate", name="portal.complaints.rate", opt=BORROWER)
async def complaint_rate(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> None:
        await rate(actor, reference, data.get("rating"), data.get("comment"))

    return await _act(request, reference, act, _("感谢您的评价"))


@post("/me/complaints/{reference:str}/reopen", name="portal.complaints.reopen", opt=BORROWER)
async def complaint_reopen(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> None:
        await reopen(actor, reference, data.get("reason"))

    return await _act(request, reference, act, _("已重新投诉，平台将复核处理"))


@get(
    "/me/complaints/{reference:str}/files/{attachment_id:int}",
    name="portal.complaints.file_download",
    opt=BORROWER,
)
async def complaint_attachment(
    request: Request, reference: FromPath[str], attachment_id: FromPath[int]
) -> Response:
    actor = await require_actor(request)
    return as_attachment(await attachment(actor, reference, attachment_id))


# --- feedback, open to anyone ------------------------------------------------------------

FEEDBACK_FIELDS = ("category", "description", "contact")


async def _feedback_page(
    request: Request, values: dict[str, str], errors: dict[str, str]
) -> Response:
    actor = await current_actor(request)
    return await render(
        request,
        "portal/feedback.html",
        {
            "categories": categories_of(ComplaintKind.FEEDBACK),
            "values": values,
            "errors": errors,
            "signed_in": actor is not None and actor.kind == "borrower",
            "max_length": DESCRIPTION_MAX_LENGTH,
            "contact_max_length": CONTACT_MAX_LENGTH,
        },
    )


@get("/feedback", name="portal.feedback.page", opt=PUBLIC)
async def feedback_page(request: Request) -> Response:
    return await _feedback_page(request, {}, {})


@post("/feedback", name="portal.feedback.send", opt=PUBLIC)
async def feedback_send(request: Request) -> Response:
    actor = await current_actor(request)
    if actor is None or actor.kind != "borrower":
        actor = visitor(client_address(request), request_id(request))

    async def submit(data: FormData) -> Response:
        form = FeedbackInput(**{key: first(data.get(key)) for key in FEEDBACK_FIELDS})
        reference = await send_feedback(actor, form)
        if actor.kind == "borrower":
            flash(request, _("感谢您的反馈，编号 {ref}", ref=reference))
            return redirect_to(request, "portal.complaints.detail", reference=reference)
        return redirect(request, f"/feedback/sent?ref={reference}")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _feedback_page(
            request, {k: first(data.get(k)) for k in FEEDBACK_FIELDS}, errors
        )

    return await submit_form(request, submit, rerender)


@get("/feedback/sent", name="portal.feedback.sent", opt=PUBLIC)
async def feedback_sent(request: Request) -> Response:
    return await render(
        request,
        "portal/feedback_sent.html",
        {"reference": query_text(request, "ref", max_length=24)},
    )


handlers = [
    complaint_list,
    complaint_new,
    complaint_file,
    complaint_detail,
    complaint_reply,
    complaint_rate,
    complaint_reopen,
    complaint_attachment,
    feedback_page,
    feedback_send,
    feedback_sent,
]
