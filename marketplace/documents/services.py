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

from marketplace import storage
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
from marketplace.documents.tables import Document, DocumentRequest, LibraryDocument
from marketplace.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from marketplace.files import UploadedFile, clean_name, safe_name, sniff
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower, notify_institution
from marketplace.parameters.services import get_parameters
from marketplace.parsing import FormReader, column_length, parse_text
from marketplace.security import decrypt_bytes, encrypt_bytes

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES_PER_REQUEST = 10
OPEN = "open"
FULFILLED = "fulfilled"
NOTICE_KIND = "documents"
# A saved file answers an ask for its own kind; an ask for both sides of the ID card is
# also answered by the saved 人像面 or 国徽面.
ANSWERED_BY = {"id_card": ("id_card", "id_card_front", "id_card_back")}
# Serialises one borrower's library writes: the quota holds under parallel uploads.
_LIBRARY_LOCK = "SELECT pg_advisory_xact_lock(hashtext('documents.library'), {})"


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
        await Application.select(
            Application.id,
            Application.status,
            Application.consent.withdrawn_at.as_alias("consent_withdrawn_at"),
        )
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if application is None:
        raise NotFound(_("找不到该申请"))
    if application["consent_withdrawn_at"] is not None:
        raise InvalidTransition(_("您已撤回对该机构的授权，不会再向其提供任何资料"))
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


def _checked_files(
    files: list[UploadedFile], errors: dict[str, str], *, most: int
) -> list[tuple[UploadedFile, str]]:
    """The files the borrower chose, each with the type its bytes say it is; the first
    problem goes to errors["files"]. At most `most` files at once."""
    files = [f for f in files if f.filename or f.content]
    if not files:
        errors["files"] = _("请选择要上传的文件")
    elif len(files) > most:
        errors["files"] = _("一次最多上传{n}个文件", n=most)
        return []
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
    return checked


async def upload_documents(
    actor: Actor, reference: str, kind: str, files: list[UploadedFile], *, save: bool = False
) -> int:
    """All the files or none: each must be a JPEG, PNG or PDF of at most 5 MB, of a kind
    the institution asked for, and a request holds at most 10. With `save`, each is also
    kept in the borrower's library (within its quota). Returns how many were kept."""
    async with transaction():
        request = await _open_request(actor, reference)
        errors: dict[str, str] = {}
        if kind not in request["kinds"]:
            errors["kind"] = _("请选择机构要求的资料类型")
        count = await Document.count().where(Document.document_request == request["id"])
        checked = _checked_files(files, errors, most=MAX_FILES_PER_REQUEST)
        if count + len(checked) > MAX_FILES_PER_REQUEST:
            errors["files"] = _(
                "每次补充最多上传{n}个文件，已上传{count}个", n=MAX_FILES_PER_REQUEST, count=count
            )
        if errors:
            raise ValidationFailed(errors)
        saved: list[int | None] = [None] * len(checked)
        if save:
            # Saved under the kind asked for (e.g. 身份证正反面), to answer the same ask again.
            saved = list(await _save_to_library(actor, kind, checked))
        for (upload, media_type), library_id in zip(checked, saved, strict=True):
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
                    library_document=library_id,
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
            saved_to_library=[i for i in saved if i is not None],
        )
    return len(checked)


async def delete_upload(actor: Actor, reference: str, document_id: int) -> None:
    """The borrower takes back a file sent for an open request, before handing it back
    (another's file, or one of another request, is NotFound)."""
    async with transaction():
        request = await _open_request(actor, reference)
        deleted = (
            await Document.delete()
            .where((Document.id == document_id) & (Document.document_request == request["id"]))
            .returning(Document.kind)
        )
        if not deleted:
            raise NotFound(_("找不到该文件"))
        await audit(
            actor,
            "document.delete",
            "application",
            request["application_id"],
            request_id=request["id"],
            document_id=document_id,
            kind=deleted[0]["kind"],
        )


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
        # Theirs alone again: to the institution the files no longer exist.
        raise NotFound(_("找不到该文件"))
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


def answered_by(asked: str) -> tuple[str, ...]:
    """The kinds of saved file that may answer an ask for `asked`."""
    return ANSWERED_BY.get(asked, (asked,))


@dataclass(frozen=True)
class LibraryQuota:
    max_files: int
    max_bytes: int


async def library_quota() -> LibraryQuota:
    p = await get_parameters("document_library_max_files", "document_library_max_mb")
    return LibraryQuota(
        max_files=max(0, int(p["document_library_max_files"])),
        max_bytes=max(0, int(p["document_library_max_mb"])) * 1024 * 1024,
    )


async def library_usage(user_id: int) -> tuple[int, int]:
    """How many files the borrower keeps, and their bytes."""
    row = (
        await LibraryDocument.raw(
            "SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes "
            "FROM library_document WHERE owner = {}",
            user_id,
        )
    )[0]
    return int(row["files"]), int(row["bytes"])


def _library_key(user_id: int) -> str:
    # Impersonal: the owner's id and random hex, never a name.
    return storage.new_key(f"documents/library/{user_id}")


async def _save_to_library(
    actor: Actor, kind: str, checked: list[tuple[UploadedFile, str]]
) -> list[int]:
    """Store checked files in the borrower's library, inside the caller's transaction:
    the borrower's lock is taken first, so parallel uploads cannot pass the quota
    together. A rollback leaves stray ciphertext at most, which no row points to."""
    user_id = actor.user_id or 0
    await LibraryDocument.raw(_LIBRARY_LOCK, user_id)
    quota = await library_quota()
    files, used = await library_usage(user_id)
    adding = sum(len(upload.content) for upload, _type in checked)
    if files + len(checked) > quota.max_files:
        raise ValidationFailed(
            {
                "files": _(
                    "“我的资料”最多保存{n}个文件，已保存{count}个，请先删除不再需要的文件",
                    n=quota.max_files,
                    count=files,
                )
            }
        )
    if used + adding > quota.max_bytes:
        raise ValidationFailed(
            {
                "files": _(
                    "“我的资料”总大小不能超过{mb}MB，请先删除不再需要的文件",
                    mb=quota.max_bytes // (1024 * 1024),
                )
            }
        )
    ids = []
    for upload, media_type in checked:
        key = _library_key(user_id)
        await storage.put(key, upload.content, content_type=media_type)
        rows = await LibraryDocument.insert(
            LibraryDocument(
                owner=user_id,
                kind=kind,
                original_name=sanitise_name(upload.filename, media_type),
                content_type=media_type,
                size=len(upload.content),
                sha256=hashlib.sha256(upload.content).hexdigest(),
                storage_key=key,
            )
        ).returning(LibraryDocument.id)
        ids.append(rows[0]["id"])
    return ids


async def upload_to_library(actor: Actor, kind: str, files: list[UploadedFile]) -> int:
    """Keep files in the borrower's library (我的资料): all or none, each a JPEG, PNG or
    PDF of at most 5 MB, of a current document kind, within the library's quota."""
    if not actor.can("application.documents"):
        raise PermissionDenied()
    errors: dict[str, str] = {}
    if kind not in await document_kinds():
        errors["kind"] = _("请选择资料类型")
    checked = _checked_files(files, errors, most=MAX_FILES_PER_REQUEST)
    if errors:
        raise ValidationFailed(errors)
    async with transaction():
        ids = await _save_to_library(actor, kind, checked)
        await audit(
            actor, "document.library_upload", "user", actor.user_id, kind=kind, documents=ids
        )
    return len(ids)


async def _own_library_row(actor: Actor, document_id: int) -> Mapping[str, Any]:
    if not actor.can("application.documents"):
        raise PermissionDenied()
    row = (
        await LibraryDocument.select()
        .where((LibraryDocument.id == document_id) & (LibraryDocument.owner == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该文件"))
    return row


async def download_from_library(actor: Actor, document_id: int) -> DocumentFile:
    """One of the borrower's own saved files (anyone else's is NotFound); audited."""
    row = await _own_library_row(actor, document_id)
    content = await storage.get(row["storage_key"])
    async with transaction():
        await audit(actor, "document.library_download", "library_document", document_id)
    return DocumentFile(row["original_name"], row["content_type"], content)


async def delete_from_library(actor: Actor, document_id: int) -> None:
    """The borrower deletes a saved file: the row and the stored file go. Copies already
    handed to an institution stay with it (it deletes them when consent is withdrawn)."""
    async with transaction():
        await LibraryDocument.raw(_LIBRARY_LOCK, actor.user_id or 0)
        row = await _own_library_row(actor, document_id)
        await LibraryDocument.delete().where(LibraryDocument.id == document_id)
        await audit(
            actor, "document.library_delete", "library_document", document_id, kind=row["kind"]
        )
    await storage.delete(row["storage_key"])


async def attach_from_library(
    actor: Actor, reference: str, kind: str, library_document_id: int
) -> None:
    """Answer an open request with a copy of a saved file: only the institution that asked,
    for a kind it asked, while the borrower's consent to it stands. The same saved file is
    sent once per request."""
    async with transaction():
        request = await _open_request(actor, reference)
        # The library's lock too: a file being deleted meanwhile is either sent or gone.
        await LibraryDocument.raw(_LIBRARY_LOCK, actor.user_id or 0)
        saved = await _own_library_row(actor, library_document_id)
        if kind not in request["kinds"] or saved["kind"] not in answered_by(kind):
            raise ValidationFailed({"files": _("该文件不是机构要求的资料类型")})
        sent = await Document.select(Document.library_document).where(
            Document.document_request == request["id"]
        )
        if len(sent) >= MAX_FILES_PER_REQUEST:
            raise ValidationFailed(
                {"files": _("每次补充最多上传{n}个文件", n=MAX_FILES_PER_REQUEST)}
            )
        if any(row["library_document"] == library_document_id for row in sent):
            raise ValidationFailed({"files": _("该文件已提供给机构，无需重复提交")})
        content = await storage.get(saved["storage_key"])
        rows = await Document.insert(
            Document(
                document_request=request["id"],
                kind=kind,
                original_name=saved["original_name"],
                content_type=saved["content_type"],
                size=saved["size"],
                sha256=saved["sha256"],
                content_encrypted=encrypt_bytes(content, context=_content_context(request["id"])),
                library_document=library_document_id,
            )
        ).returning(Document.id)
        await audit(
            actor,
            "document.attach",
            "application",
            request["application_id"],
            request_id=request["id"],
            kind=kind,
            library_document=library_document_id,
            document_id=rows[0]["id"],
        )


async def forget_library(user_id: int) -> int:
    """Account deletion (PIPL art. 47): the borrower's saved files go, rows and stored
    files. Copies already handed to institutions stay with the applications they answered.
    Call inside the caller's (audited) transaction; returns how many were deleted."""
    rows = (
        await LibraryDocument.delete()
        .where(LibraryDocument.owner == user_id)
        .returning(LibraryDocument.storage_key)
    )
    for row in rows:
        await storage.delete(row["storage_key"])
    return len(rows)
