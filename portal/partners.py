"""机构入驻 (I1): the public application form, the status link, and the first admin's
one-time password link. No sign-in; CSRF on every form; the application form is
rate-limited per address in the verb."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath

from marketplace.accounts.services import visitor
from marketplace.files import UploadedFile
from marketplace.i18n import _
from marketplace.parsing import first
from marketplace.partners.queries import application_for_applicant
from marketplace.partners.services import (
    DOCUMENT_KINDS,
    INSTITUTION_KINDS,
    MAX_FILE_BYTES,
    MAX_OTHER_FILES,
    applicant,
    check_password_link,
    parse_partner_form,
    reply_to_request,
    set_password_with_link,
    submit_partner_application,
)
from server.auth import client_address, request_id
from server.forms import FormData, query_text, submit_form, uploaded_files
from server.rendering import flash, redirect, redirect_to, render

PUBLIC = {"access": "public"}
# Room for every file input of the form, each one byte past its limit, plus the fields.
UPLOAD_BODY_LIMIT = (len(DOCUMENT_KINDS) - 1 + MAX_OTHER_FILES) * (MAX_FILE_BYTES + 1) + 64 * 1024
TYPED_FIELDS = (
    "company_name",
    "short_name",
    "credit_code",
    "kind",
    "city",
    "business_licence_no",
    "business_licence_expires_on",
    "licence_type",
    "licence_no",
    "licence_issuer",
    "licence_expires_on",
    "contact_name",
    "contact_mobile",
    "contact_email",
)


def _origin(request: Request):
    return visitor(client_address(request), request_id(request))


async def _files(request: Request) -> dict[str, list[UploadedFile]]:
    return {
        kind: await uploaded_files(request, kind, max_bytes=MAX_FILE_BYTES)
        for kind in DOCUMENT_KINDS
    }


async def _apply_page(request: Request, values: dict, errors: dict) -> Response:
    return await render(
        request,
        "portal/partners_apply.html",
        {
            "values": values,
            "errors": errors,
            "kinds": [(code, _(label)) for code, label in INSTITUTION_KINDS.items()],
            "max_file_mb": MAX_FILE_BYTES // 2**20,
            "max_other_files": MAX_OTHER_FILES,
        },
    )


@get("/partners/apply", name="portal.partners.apply", opt=PUBLIC)
async def apply_page(request: Request) -> Response:
    return await _apply_page(request, {}, {})


@post(
    "/partners/apply",
    name="portal.partners.apply_submit",
    opt=PUBLIC,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def apply_submit(request: Request) -> Response:
    files = await _files(request)

    async def submit(data: FormData) -> Response:
        reference = await submit_partner_application(
            _origin(request), parse_partner_form(data), files
        )
        return redirect(request, f"/partners/apply/sent?ref={reference}")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        values = {key: first(data.get(key)) for key in TYPED_FIELDS}
        return await _apply_page(request, values, errors)

    return await submit_form(request, submit, rerender)


@get("/partners/apply/sent", name="portal.partners.sent", opt=PUBLIC)
async def apply_sent(request: Request) -> Response:
    return await render(
        request,
        "portal/partners_sent.html",
        {"reference": query_text(request, "ref", max_length=20)},
    )


async def _status_page(request: Request, token: str, errors: dict, message: str = "") -> Response:
    detail = await application_for_applicant(applicant(_origin(request)), token)
    return await render(
        request,
        "portal/partners_status.html",
        {
            "application": detail,
            "token": token,
            "errors": errors,
            "message": message,
            "max_file_mb": MAX_FILE_BYTES // 2**20,
            "kinds": [(code, _(label)) for code, label in DOCUMENT_KINDS.items()],
        },
    )


@get("/partners/status/{token:str}", name="portal.partners.status", opt=PUBLIC)
async def status_page(request: Request, token: FromPath[str]) -> Response:
    return await _status_page(request, token, {})


@post(
    "/partners/status/{token:str}",
    name="portal.partners.reply",
    opt=PUBLIC,
    request_max_body_size=UPLOAD_BODY_LIMIT,
)
async def status_reply(request: Request, token: FromPath[str]) -> Response:
    files = await _files(request)

    async def submit(data: FormData) -> Response:
        await reply_to_request(_origin(request), token, first(data.get("message")), files)
        flash(request, _("已提交补充材料，平台将继续审核"))
        return redirect_to(request, "portal.partners.status", token=token)

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _status_page(request, token, errors, first(data.get("message")))

    return await submit_form(request, submit, rerender)


async def _password_page(request: Request, token: str, errors: dict) -> Response:
    await check_password_link(token)
    return await render(
        request,
        "auth/set_password.html",
        {
            "errors": errors,
            "action": request.app.route_reverse("portal.partners.set_password_submit", token=token),
            "title": _("设置机构管理员密码"),
            "subtitle": _("登录账号为入驻申请时填写的联系邮箱。此链接只能使用一次。"),
        },
    )


@get("/partners/set-password/{token:str}", name="portal.partners.set_password", opt=PUBLIC)
async def password_page(request: Request, token: FromPath[str]) -> Response:
    return await _password_page(request, token, {})


@post("/partners/set-password/{token:str}", name="portal.partners.set_password_submit", opt=PUBLIC)
async def password_submit(request: Request, token: FromPath[str]) -> Response:
    async def submit(data: FormData) -> Response:
        await set_password_with_link(
            _origin(request), token, str(data.get("password", "")), str(data.get("confirm", ""))
        )
        flash(request, _("密码已设置，请使用联系邮箱登录机构后台"))
        return redirect(request, "/console/login")

    async def rerender(data: FormData, errors: dict[str, str]) -> Response:
        return await _password_page(request, token, errors)

    return await submit_form(request, submit, rerender)


handlers = [
    apply_page,
    apply_submit,
    apply_sent,
    status_page,
    status_reply,
    password_page,
    password_submit,
]
