"""Complaints the platform forwarded to the institution (A10): awaiting an answer first,
with their deadlines; the answer resolves the complaint (the borrower then rates it or,
not satisfied, reopens it with the platform). Another institution's complaint is a 404."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.complaints.queries import (
    attachment,
    complaint_for_institution,
    institution_complaints,
)
from marketplace.complaints.services import MAX_FILE_BYTES, MAX_FILES, answer, reply
from marketplace.i18n import _
from marketplace.parsing import first, lenient, parse_int
from server.attachments import attachment as as_attachment
from server.auth import require_actor
from server.forms import FormData, submit_form, uploaded_files
from server.rendering import flash, redirect_to, render

ANSWER = {"access": "staff", "permission": "complaint.answer"}
UPLOAD_BODY_LIMIT = MAX_FILES * (MAX_FILE_BYTES + 1) + 64 * 1024


@get("/complaints", name="console.complaints.list", opt=ANSWER)
async def complaint_list(request: Request) -> Response:
    rows = await institution_complaints(await require_actor(request))
    return await render(
        request, "institution_console/complaints.html", {"rows": rows}, nav="complaints"
    )


async def _page(
    request: Request, complaint_id: int, errors: dict, values: dict[str, str] | None = None
) -> Response:
    complaint = await complaint_for_institution(await require_actor(request), complaint_id)
    return await render(
        request,
        "institution_console/complaint.html",
        {
            "complaint": complaint,
            "errors": errors,
            "values": values or {},
            "max_files": MAX_FILES,
            "max_file_mb": MAX_FILE_BYTES // 2**20,
        },
        nav="complaints",
    )


@get("/complaints/{complaint_id:int}", name="console.complaints.detail", opt=ANSWER)
async def complaint_page(request: Request, complaint_id: FromPath[int]) -> Response:
    return await _page(request, complaint_id, {})


@post(
    "/complaints/{complaint_id:int}",
    name="console.complaints.answer",
    opt=ANSWER,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def complaint_answer(request: Request, complaint_id: FromPath[int]) -> Response:
    """`answer` resolves it; `reply` only adds to the thread (e.g. asking for details)."""
    actor = await require_actor(request)
    files = await uploaded_files(request, "files", max_bytes=MAX_FILE_BYTES)

    async def submit(data: FormData) -> Response:
        if first(data.get("action")) == "reply":
            await reply(actor, complaint_id, data.get("body"), files)
            flash(request, _("回复已发送"))
        else:
            version = lenient(parse_int, data.get("version"), 0, minimum=0)
            await answer(actor, complaint_id, data.get("body"), files, version=version)
            flash(request, _("答复已提交，投诉已办结，借款人将收到通知"))
        return redirect_to(request, "console.complaints.detail", complaint_id=complaint_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        if "reply" in errors:
            errors = {**errors, "body": errors.pop("reply")}
        return await _page(request, complaint_id, errors, {"body": first(data.get("body"))})

    return await submit_form(request, submit, rerender)


@get(
    "/complaints/{complaint_id:int}/files/{attachment_id:int}",
    name="console.complaints.file",
    opt=ANSWER,
)
async def complaint_file(
    request: Request, complaint_id: FromPath[int], attachment_id: FromPath[int]
) -> Response:
    actor = await require_actor(request)
    return as_attachment(await attachment(actor, complaint_id, attachment_id))


handlers = [complaint_list, complaint_page, complaint_answer, complaint_file]
