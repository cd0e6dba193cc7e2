"""The borrower's documents task: upload what the institution asked for, then hand the
application back (提交资料). Multipart forms that work without JavaScript."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.documents.queries import borrower_documents
from marketplace.documents.services import (
    MAX_FILE_BYTES,
    MAX_FILES_PER_REQUEST,
    download_own,
    return_documents,
    upload_documents,
)
from marketplace.i18n import _
from marketplace.parsing import first
from server.attachments import attachment
from server.auth import require_actor
from server.forms import FormData, submit_form, uploaded_files
from server.rendering import flash, redirect_to, render

BORROWER = {"access": "borrower"}
# Room for a full request's files in one form, plus the form's other fields.
UPLOAD_BODY_LIMIT = MAX_FILES_PER_REQUEST * (MAX_FILE_BYTES + 1) + 64 * 1024


async def _page(
    request: Request, reference: str, errors: dict[str, str] | None = None, kind: str = ""
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/documents.html",
        {"page": await borrower_documents(actor, reference), "errors": errors or {}, "kind": kind},
        nav="applications",
    )


@get("/me/applications/{reference:str}/documents", name="portal.documents.page", opt=BORROWER)
async def documents_page(request: Request, reference: FromPath[str]) -> Response:
    return await _page(request, reference)


@post(
    "/me/applications/{reference:str}/documents",
    name="portal.documents.upload",
    opt=BORROWER,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def documents_upload(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)
    files = await uploaded_files(request, "files", max_bytes=MAX_FILE_BYTES)

    async def submit(data: FormData) -> Response:
        n = await upload_documents(actor, reference, first(data.get("kind")), files)
        flash(request, _("已上传 {n} 个文件", n=n))
        return redirect_to(request, "portal.documents.page", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, reference, errors, kind=first(data.get("kind")))

    return await submit_form(request, submit, rerender)


@post(
    "/me/applications/{reference:str}/documents/return",
    name="portal.documents.return",
    opt=BORROWER,
)
async def documents_return(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await return_documents(actor, reference)
        flash(request, _("资料已提交，机构将继续审核您的申请"))
        return redirect_to(request, "portal.applications.detail", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, reference, errors)

    return await submit_form(request, submit, rerender)


@get(
    "/me/applications/{reference:str}/documents/{document_id:int}",
    name="portal.documents.file",
    opt=BORROWER,
)
async def documents_file(
    request: Request, reference: FromPath[str], document_id: FromPath[int]
) -> Response:
    actor = await require_actor(request)
    return attachment(await download_own(actor, reference, document_id))


handlers = [documents_page, documents_upload, documents_return, documents_file]
