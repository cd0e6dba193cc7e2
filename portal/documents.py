"""The borrower's documents: the task of one application (upload what the institution
asked for, or send a saved file; take one back; then hand the application back, 提交资料)
and the library of saved files in the personal centre (我的资料, /me/documents).
Multipart forms that work without JavaScript."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.documents.queries import borrower_documents, library
from marketplace.documents.services import (
    MAX_FILE_BYTES,
    MAX_FILES_PER_REQUEST,
    attach_from_library,
    delete_from_library,
    delete_upload,
    download_from_library,
    download_own,
    return_documents,
    upload_documents,
    upload_to_library,
)
from marketplace.errors import ValidationFailed
from marketplace.i18n import _
from marketplace.parsing import FieldError, first, parse_int
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
        save = first(data.get("save")) == "1"
        n = await upload_documents(actor, reference, first(data.get("kind")), files, save=save)
        flash(
            request,
            _("已上传 {n} 个文件，并保存到“我的资料”", n=n)
            if save
            else _("已上传 {n} 个文件", n=n),
        )
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


@post(
    "/me/applications/{reference:str}/documents/attach",
    name="portal.documents.attach",
    opt=BORROWER,
)
async def documents_attach(request: Request, reference: FromPath[str]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        kind = first(data.get("kind"))
        await attach_from_library(actor, reference, kind, _library_id(data))
        flash(request, _("已使用保存的资料"))
        return redirect_to(request, "portal.documents.page", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, reference, errors, kind=first(data.get("kind")))

    return await submit_form(request, submit, rerender)


def _library_id(data: FormData) -> int:
    try:
        return parse_int(data.get("library_document"), label=_("保存的资料"), minimum=1)
    except FieldError as error:
        raise ValidationFailed({"files": error.message}) from None


@post(
    "/me/applications/{reference:str}/documents/{document_id:int}/delete",
    name="portal.documents.delete",
    opt=BORROWER,
)
async def documents_delete(
    request: Request, reference: FromPath[str], document_id: FromPath[int]
) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await delete_upload(actor, reference, document_id)
        flash(request, _("文件已删除"))
        return redirect_to(request, "portal.documents.page", reference=reference)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _page(request, reference, errors)

    return await submit_form(request, submit, rerender)


async def _library_page(
    request: Request, errors: dict[str, str] | None = None, kind: str = ""
) -> Response:
    actor = await require_actor(request)
    return await render(
        request,
        "portal/documents_library.html",
        {"page": await library(actor), "errors": errors or {}, "kind": kind},
        nav="me",
    )


@get("/me/documents", name="portal.library.page", opt=BORROWER)
async def library_page(request: Request) -> Response:
    return await _library_page(request)


@post(
    "/me/documents",
    name="portal.library.upload",
    opt=BORROWER,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def library_upload(request: Request) -> Response:
    actor = await require_actor(request)
    files = await uploaded_files(request, "files", max_bytes=MAX_FILE_BYTES)

    async def submit(data: FormData) -> Response:
        n = await upload_to_library(actor, first(data.get("kind")), files)
        flash(request, _("已保存 {n} 个文件", n=n))
        return redirect_to(request, "portal.library.page")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _library_page(request, errors, kind=first(data.get("kind")))

    return await submit_form(request, submit, rerender)


@get("/me/documents/{document_id:int}", name="portal.library.file", opt=BORROWER)
async def library_file(request: Request, document_id: FromPath[int]) -> Response:
    actor = await require_actor(request)
    return attachment(await download_from_library(actor, document_id))


@post("/me/documents/{document_id:int}/delete", name="portal.library.delete", opt=BORROWER)
async def library_delete(request: Request, document_id: FromPath[int]) -> Response:
    actor = await require_actor(request)

    async def submit(data: FormData) -> Response:
        await delete_from_library(actor, document_id)
        flash(request, _("文件已从“我的资料”删除"))
        return redirect_to(request, "portal.library.page")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _library_page(request, errors)

    return await submit_form(request, submit, rerender)


handlers = [
    documents_page,
    documents_upload,
    documents_return,
    documents_file,
    documents_attach,
    documents_delete,
    library_page,
    library_upload,
    library_file,
    library_delete,
]
