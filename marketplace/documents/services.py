"""Asking a borrower for documents, their uploads, handing the lead back, and downloads.

Files are checked by what they are (magic bytes), never by their name or the type the
browser claims; stored encrypted (marketplace.security, bound to their request); served
to the institution that asked, each download audited, and to the borrower who sent them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.decisions import (
    NOTE_MAX_LENGTH,
    coded_list,
    mark_documents_requested,
    mark_documents_returned,
)
from marketplace.applications.statuses import ApplicationStatus, received_leads
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.documents.tables import Document, DocumentRequest
from marketplace.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from marketplace.files import UploadedFile, clean_name, safe_name, sniff
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower, notify_institution
from marketplace.parsing import FormReader, column_length, parse_text
from marketplace.security import decrypt_bytes, encrypt_bytes

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES_PER_REQUEST = 10
OPEN = "open"
FULFILLED = "fulfilled"
NOTICE_KIND = "documents"


def sanitise_name(name: str, media_type: str) -> str:
    return safe_name(
        name, media_type, max_length=column_length(Document.original_name), fallback=_("资料")
    )


async def document_kinds() -> dict[str, str]:
    return await coded_list("document_kinds")


@dataclass(frozen=True)
class DocumentsAsked:
    kinds: list[str]
    reason: str


async def parse_documents_asked(data: Mapping[str, Any]) -> DocumentsAsked:
    """At least one kind, each a current code of `document_kinds`; a reason is required."""
    offered = await document_kinds()
    form = FormReader(data)
    raw = data.get("kinds")
    chosen = [str(k).strip() for k in (raw if isinstance(raw, list | tuple) else [raw or ""])]
    kinds = [code for code in offered if code in chosen]
    if not kinds or len(kinds) != len({k for k in chosen if k}):
        form.fail("kinds", _("请勾选需要借款人补充的资料"))
    reason = form.field(
        "documents_reason",
        parse_text,
        "",
        label=_("补充原因"),
        min_length=1,
        max_length=NOTE_MAX_LENGTH,
        multiline=True,
    )
    form.raise_errors()
    return DocumentsAsked(kinds=kinds, reason=reason)


async def request_documents(actor: Actor, application_id: int, asked: DocumentsAsked) -> int:
    """The lead waits on the borrower, who is told in-site and by SMS (no personal data)."""
    if not actor.can("lead.work"):
        raise PermissionDenied()
    async with transaction():
        lead = await mark_documents_requested(actor, application_id, asked.reason)
        rows = await DocumentRequest.insert(
            DocumentRequest(
                application=application_id,
                kinds=asked.kinds,
                reason=asked.reason,
                status=OPEN,
                requested_by=actor.user_id,
            )
        ).returning(DocumentRequest.id)
        request_id: int = rows[0]["id"]
        await audit(
            actor,
            "lead.documents_requested",
            "application",
            application_id,
            request_id=request_id,
            kinds=asked.kinds,
        )
        await notify_borrower(
            lead.borrower_id,
            NOTICE_KIND,
            _("机构请您补充资料（申请编号 {ref}）", ref=lead.reference),
            f"/me/applications/{lead.reference}/documents",
            sms=_("【LoanMart】您的借款申请需要补充资料，请登录查看。"),
        )
    return request_id


async def _open_request(actor: Actor, reference: str) -> Mapping[str, Any]:
    """The borrower's own application's open request, locked (serialises uploads and the
    hand-back). Another borrower's application is NotFound."""
    if not actor.can("application.documents"):
        raise PermissionDenied()
    application = (
        await Application.select(Application.id, Application.status)
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if application is None:
        raise NotFound(_("找不到该申请"))
    request = (
        await DocumentRequest.select(
            DocumentRequest.id, DocumentRequest.kinds, DocumentRequest.status
        )
        .where(DocumentRequest.application == application["id"])
        .order_by(DocumentRequest.id, ascending=False)
        .lock_rows()
        .first()
    )
    if (
        request is None
        or request["status"] != OPEN
        or application["status"] != ApplicationStatus.DOCUMENTS_REQUESTED
    ):
        raise InvalidTransition(_("当前没有需要补充的资料，请刷新页面查看最新进度"))
    return {**request, "kinds": stored_kinds(request["kinds"]), "application_id": application["id"]}


def stored_kinds(raw: Any) -> list[str]:
    """A request's kinds as read from its JSONB column (text, or a list once loaded)."""
    return json.loads(raw) if isinstance(raw, str) else list(raw or [])


async def upload_documents(
    actor: Actor, reference: str, kind: str, files: list[UploadedFile]
) -> int:
    """All the files or none: each must be a JPEG, PNG or PDF of at most 5 MB, of a kind
    the institution asked for, and a request holds at most 10. Returns how many were kept."""
    async with transaction():
        request = await _open_request(actor, reference)
        errors: dict[str, str] = {}
        if kind not in request["kinds"]:
            errors["kind"] = _("请选择机构要求的资料类型")
        files = [f for f in files if f.filename or f.content]
        if not files:
            errors["files"] = _("请选择要上传的文件")
        count = await Document.count().where(Document.document_request == request["id"])
        if count + len(files) > MAX_FILES_PER_REQUEST:
            errors["files"] = _(
                "每次补充最多上传{n}个文件，已上传{count}个", n=MAX_FILES_PER_REQUEST, count=count
            )
        checked = []
        for upload in files:
            media_type = sniff(upload.filename, upload.content)
            if len(upload.content) > MAX_FILE_BYTES:
                errors.setdefault("files", _("文件不能超过5MB：{name}", name=_shown(upload)))
            elif not upload.content:
                errors.setdefault("files", _("文件是空的：{name}", name=_shown(upload)))
            elif media_type is None:
                errors.setdefault(
                    "files",
                    _(
                        "仅支持JPG、PNG图片或PDF文件，且文件内容须与文件名相符：{name}",
                        name=_shown(upload),
                    ),
                )
            else:
                checked.append((upload, media_type))
        if errors:
            raise ValidationFailed(errors)
        for upload, media_type in checked:
            await Document.insert(
                Document(
                    document_request=request["id"],
                    kind=kind,
                    original_name=sanitise_name(upload.filename, media_type),
                    content_type=media_type,
                    size=len(upload.content),
                    sha256=hashlib.sha256(upload.content).hexdigest(),
                    content_encrypted=encrypt_bytes(
                        upload.content, context=_content_context(request["id"])
                    ),
                )
            )
        await audit(
            actor,
            "document.upload",
            "application",
            request["application_id"],
            request_id=request["id"],
            kind=kind,
            files=len(checked),
        )
    return len(checked)


def _shown(upload: UploadedFile) -> str:
    """The file's name as the borrower typed it, made safe to show in an error."""
    return clean_name(upload.filename)[: column_length(Document.original_name)] or _("资料")


def _content_context(request_id: int) -> str:
    # Bound to its request: a ciphertext moved to another request's row fails to open.
    return f"document.content.{request_id}"


async def return_documents(actor: Actor, reference: str) -> None:
    """The borrower hands the lead back: each kind asked has at least one file. Twice
    (a double click, two tabs) moves it once; the second is told it is done already."""
    kinds = await document_kinds()
    async with transaction():
        request = await _open_request(actor, reference)
        sent = {
            row["kind"]
            for row in await Document.select(Document.kind).where(
                Document.document_request == request["id"]
            )
        }
        missing = [kinds.get(code, code) for code in request["kinds"] if code not in sent]
        if missing:
            raise ValidationFailed({"files": _("请先上传：{kinds}", kinds=_("、").join(missing))})
        lead = await mark_documents_returned(actor, request["application_id"])
        await DocumentRequest.update(
            {DocumentRequest.status: FULFILLED, DocumentRequest.fulfilled_at: datetime.now(UTC)}
        ).where(DocumentRequest.id == request["id"])
        await audit(
            actor,
            "document.return",
            "application",
            lead.id,
            request_id=request["id"],
        )
        await notify_institution(
            lead.institution_id,
            NOTICE_KIND,
            _("借款人已补充资料（申请编号 {ref}）", ref=lead.reference),
            f"/console/leads/{lead.id}",
            permission="lead.work",
            assignee_id=lead.assignee_id,
        )


@dataclass(frozen=True)
class DocumentFile:
    name: str
    content_type: str
    content: bytes


async def _file(where: Any) -> DocumentFile:
    row = (
        await Document.select(
            Document.document_request,
            Document.original_name,
            Document.content_type,
            Document.content_encrypted,
        )
        .where(where)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该文件"))
    content = decrypt_bytes(
        row["content_encrypted"], context=_content_context(row["document_request"])
    )
    return DocumentFile(row["original_name"], row["content_type"], content)


async def download_for_lead(actor: Actor, application_id: int, document_id: int) -> DocumentFile:
    """A file of one of the institution's own leads (another's is NotFound); audited.
    Once the borrower has withdrawn consent, their files are theirs alone again."""
    if not actor.can("lead.view"):
        raise PermissionDenied()
    lead = (
        await Application.select(Application.consent.withdrawn_at.as_alias("withdrawn_at"))
        .where((Application.id == application_id) & received_leads(actor))
        .first()
    )
    if lead is None:
        raise NotFound(_("找不到该文件"))
    if lead["withdrawn_at"] is not None:
        raise PermissionDenied(_("借款人已撤回授权，不能查看其资料"))
    file = await _file(
        (Document.id == document_id) & (Document.document_request.application == application_id)
    )
    async with transaction():
        await audit(
            actor, "document.download", "application", application_id, document_id=document_id
        )
    return file


async def download_own(actor: Actor, reference: str, document_id: int) -> DocumentFile:
    """A file the borrower sent for their own application (anyone else's is NotFound)."""
    if not actor.can("application.view_own"):
        raise PermissionDenied()
    application = (
        await Application.select(Application.id)
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if application is None:
        raise NotFound(_("找不到该文件"))
    return await _file(
        (Document.id == document_id) & (Document.document_request.application == application["id"])
    )
