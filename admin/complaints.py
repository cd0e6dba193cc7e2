"""The complaint desk (A10): complaints and feedback in one dense filterable table with
CSV/xlsx export (audited); a complaint with its full thread (internal notes included) and
the steps this operator may take now — assign, reply, internal note, forward to the
institution, escalate, resolve, close. State changes carry the version the page showed."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from marketplace.complaints.queries import (
    DeskFilters,
    attachment,
    complaint_for_operator,
    desk,
    desk_institutions,
    export_desk,
)
from marketplace.complaints.queries import (
    handlers as complaint_handlers,
)
from marketplace.complaints.services import (
    MAX_FILE_BYTES,
    MAX_FILES,
    SMS_ANSWER_MAX_LENGTH,
    add_note,
    assign,
    close,
    escalate,
    forward,
    reply,
    resolve,
)
from marketplace.complaints.statuses import (
    CATEGORIES,
    CATEGORY_LABELS,
    COMPLAINT_MACHINE,
    KIND_LABELS,
    ComplaintKind,
    ComplaintStatus,
)
from marketplace.i18n import N_, _
from marketplace.parsing import first, lenient, parse_date, parse_int
from marketplace.spreadsheets import FORMATS
from server.attachments import attachment as as_attachment
from server.attachments import download
from server.auth import require_actor
from server.forms import FormData, query_choice, query_int, query_page, submit_form, uploaded_files
from server.pagination import pagination
from server.rendering import flash, redirect_to, render

VIEW = {"access": "operator", "permission": "complaint.view"}
HANDLE = {"access": "operator", "permission": "complaint.handle"}
PER_PAGE = 50
UPLOAD_BODY_LIMIT = MAX_FILES * (MAX_FILE_BYTES + 1) + 64 * 1024
STEP_VERBS = {"forward": forward, "resolve": resolve, "escalate": escalate}
DONE = {
    "forward": N_("已转机构处理，机构已收到通知"),
    "resolve": N_("已办结，借款人已收到通知"),
    "escalate": N_("已升级"),
    "close": N_("已关闭"),
}


def _filters(request: Request) -> DeskFilters:
    params = request.query_params
    institution = params.get("institution", "")
    return DeskFilters(
        status=query_choice(request, "status", [str(s) for s in ComplaintStatus]),
        kind=query_choice(request, "kind", [str(k) for k in ComplaintKind]),
        institution_id=0
        if institution == "platform"
        else (query_int(request, "institution", 0, minimum=1) or None),
        category=query_choice(
            request, "category", [str(c) for kind in CATEGORIES.values() for c in kind]
        ),
        assignee_id=query_int(request, "assignee", 0, minimum=1) or None,
        overdue=params.get("overdue") == "1",
        since=lenient(parse_date, params.get("since"), None),
        until=lenient(parse_date, params.get("until"), None),
    )


@get("/complaints", name="admin.complaints.desk", opt=VIEW)
async def complaint_desk(request: Request) -> Response:
    actor = await require_actor(request)
    filters = _filters(request)
    page = query_page(request)
    rows, total = await desk(actor, filters, page=page, per_page=PER_PAGE)
    query = filters.as_query()
    if filters.institution_id == 0:
        query["institution"] = "platform"
    return await render(
        request,
        "admin/complaints.html",
        {
            "rows": rows,
            "total": total,
            "filters": filters,
            "query": query,
            "statuses": [(str(s), COMPLAINT_MACHINE.label(s)) for s in ComplaintStatus],
            "kinds": [(str(k), _(label)) for k, label in KIND_LABELS.items()],
            "categories": [(str(c), _(CATEGORY_LABELS[c])) for c in CATEGORY_LABELS],
            "institutions": await desk_institutions(),
            "assignees": await complaint_handlers(),
            **pagination(request.url.path, query, page, total, PER_PAGE),
        },
        nav="complaints",
    )


@get("/complaints/export/{file_format:str}", name="admin.complaints.export", opt=VIEW)
async def complaint_export(request: Request, file_format: FromPath[str]) -> Response:
    if file_format not in FORMATS:
        raise NotFoundException()
    actor = await require_actor(request)
    export = await export_desk(actor, _filters(request), file_format)
    return download(export.content, export.media_type, export.filename)


async def _page(
    request: Request, complaint_id: int, errors: dict, values: dict[str, str] | None = None
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "admin/complaint.html",
        {
            "complaint": await complaint_for_operator(actor, complaint_id),
            "assignees": await complaint_handlers(),
            "errors": errors,
            "values": values or {},
            "max_files": MAX_FILES,
            "max_file_mb": MAX_FILE_BYTES // 2**20,
            "sms_answer_max": SMS_ANSWER_MAX_LENGTH,
        },
        nav="complaints",
    )


@get("/complaints/{complaint_id:int}", name="admin.complaints.detail", opt=VIEW)
async def complaint_page(request: Request, complaint_id: FromPath[int]) -> Response:
    return await _page(request, complaint_id, {})


def _version(data: FormData) -> int:
    return lenient(parse_int, data.get("version"), 0, minimum=0)


async def _form(request: Request, complaint_id: int, act, fields: tuple[str, ...]) -> Response:
    async def submit(data: FormData) -> Response:
        flash(request, await act(data))
        return redirect_to(request, "admin.complaints.detail", complaint_id=complaint_id)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, complaint_id, errors, {k: first(data.get(k)) for k in fields})

    return await submit_form(request, submit, rerender)


@post("/complaints/{complaint_id:int}/assign", name="admin.complaints.assign", opt=HANDLE)
async def complaint_assign(request: Request, complaint_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        assignee = lenient(parse_int, data.get("assignee"), 0, minimum=1) or None
        await assign(actor, complaint_id, assignee, version=_version(data))
        return _("已指派")

    return await _form(request, complaint_id, act, ("assignee",))


@post("/complaints/{complaint_id:int}/step", name="admin.complaints.step", opt=HANDLE)
async def complaint_step(request: Request, complaint_id: FromPath[int]) -> Response:
    """Forward, resolve or escalate (each with its text), or close."""
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        action = first(data.get("action"))
        if action == "close":
            await close(actor, complaint_id, version=_version(data))
        elif action in STEP_VERBS:
            await STEP_VERBS[action](actor, complaint_id, data.get("body"), version=_version(data))
        else:
            raise NotFoundException()
        return _(DONE[action])

    return await _form(request, complaint_id, act, ("body",))


@post(
    "/complaints/{complaint_id:int}/reply",
    name="admin.complaints.reply",
    opt=HANDLE,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def complaint_reply(request: Request, complaint_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    files = await uploaded_files(request, "files", max_bytes=MAX_FILE_BYTES)

    async def act(data: FormData) -> str:
        await reply(actor, complaint_id, data.get("reply"), files)
        return _("回复已发送，借款人已收到通知")

    return await _form(request, complaint_id, act, ("reply",))


@post("/complaints/{complaint_id:int}/note", name="admin.complaints.note", opt=HANDLE)
async def complaint_note(request: Request, complaint_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def act(data: FormData) -> str:
        await add_note(actor, complaint_id, data.get("note"))
        return _("备注已保存（仅平台内部可见）")

    return await _form(request, complaint_id, act, ("note",))


@get(
    "/complaints/{complaint_id:int}/files/{attachment_id:int}",
    name="admin.complaints.file",
    opt=VIEW,
)
async def complaint_file(
    request: Request, complaint_id: FromPath[int], attachment_id: FromPath[int]
) -> Response:
    actor = await require_actor(request)
    return as_attachment(await attachment(actor, complaint_id, attachment_id))


handlers = [
    complaint_desk,
    complaint_export,
    complaint_page,
    complaint_assign,
    complaint_step,
    complaint_reply,
    complaint_note,
    complaint_file,
]
