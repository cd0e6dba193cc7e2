"""Read models: the documents asked for on a lead, with what the borrower has sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.decisions import rejection_reasons
from marketplace.applications.statuses import ApplicationStatus, received_leads
from marketplace.applications.tables import Application
from marketplace.documents.services import (
    MAX_FILE_BYTES,
    MAX_FILES_PER_REQUEST,
    OPEN,
    answered_by,
    document_kinds,
    library_quota,
    library_usage,
    stored_kinds,
)
from marketplace.documents.tables import Document, DocumentRequest, LibraryDocument
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _


@dataclass(frozen=True, kw_only=True)
class DocumentRow:
    id: int
    kind: str
    kind_label: str
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    library_document: int | None = None  # the saved file this is a copy of


@dataclass(frozen=True, kw_only=True)
class DocumentRequestView:
    id: int
    kinds: dict[str, str]  # code → label, as asked
    reason: str
    open: bool
    requested_at: datetime
    fulfilled_at: datetime | None
    requested_by_name: str
    documents: tuple[DocumentRow, ...]


@dataclass(frozen=True, kw_only=True)
class LibraryRow:
    id: int
    kind: str
    kind_label: str
    name: str
    content_type: str
    size: int
    uploaded_at: datetime
    shared_with: tuple[str, ...]  # institutions that were handed a copy

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def _file_fields(row: Mapping[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """What a request's file and a saved file show alike."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "kind_label": labels.get(row["kind"], row["kind"]),
        "name": row["original_name"],
        "content_type": row["content_type"],
        "size": row["size"],
        "uploaded_at": row["uploaded_at"],
    }


async def _library_rows(user_id: int) -> list[LibraryRow]:
    labels = await document_kinds()
    rows = (
        await LibraryDocument.select(
            LibraryDocument.id,
            LibraryDocument.kind,
            LibraryDocument.original_name,
            LibraryDocument.content_type,
            LibraryDocument.size,
            LibraryDocument.uploaded_at,
        )
        .where(LibraryDocument.owner == user_id)
        .order_by(LibraryDocument.id, ascending=False)
    )
    copies = await Document.select(
        Document.library_document,
        Document.document_request.application.as_alias("application"),
    ).where(Document.library_document.is_in([r["id"] for r in rows] or [0]))
    institutions = {
        a["id"]: a["institution"]
        for a in await Application.select(
            Application.id, Application.institution.short_name.as_alias("institution")
        ).where(Application.id.is_in([c["application"] for c in copies] or [0]))
    }
    shared: dict[int, list[str]] = {}
    for copy in copies:
        names = shared.setdefault(copy["library_document"], [])
        if institutions[copy["application"]] not in names:
            names.append(institutions[copy["application"]])
    return [
        LibraryRow(**_file_fields(r, labels), shared_with=tuple(shared.get(r["id"], ())))
        for r in rows
    ]


@dataclass(frozen=True, kw_only=True)
class Library:
    """The borrower's saved documents (我的资料) and what room is left."""

    documents: tuple[LibraryRow, ...]
    kinds: dict[str, str]  # code → label, what may be saved
    used_files: int
    used_bytes: int
    max_files: int
    max_bytes: int
    max_file_mb: int
    files_per_upload: int

    @property
    def files_left(self) -> int:
        return max(0, self.max_files - self.used_files)


async def library(actor: Actor) -> Library:
    if not actor.can("application.documents"):
        raise PermissionDenied()
    user_id = actor.user_id or 0
    quota = await library_quota()
    used_files, used_bytes = await library_usage(user_id)
    return Library(
        documents=tuple(await _library_rows(user_id)),
        kinds=await document_kinds(),
        used_files=used_files,
        used_bytes=used_bytes,
        max_files=quota.max_files,
        max_bytes=quota.max_bytes,
        max_file_mb=MAX_FILE_BYTES // (1024 * 1024),
        files_per_upload=MAX_FILES_PER_REQUEST,
    )


@dataclass(frozen=True, kw_only=True)
class BorrowerDocuments:
    """The borrower's upload page: the latest request of one of their applications."""

    application_id: int
    reference: str
    product_name: str
    institution_name: str
    request: DocumentRequestView | None
    may_upload: bool  # the request is open and the application waits on the borrower
    slots_left: int
    max_file_mb: int
    # Asked kind → the borrower's saved files that may answer it, not sent yet.
    saved: dict[str, tuple[LibraryRow, ...]]


async def _requests(application_id: int) -> list[DocumentRequestView]:
    labels = await document_kinds()
    requests = (
        await DocumentRequest.select(
            DocumentRequest.id,
            DocumentRequest.kinds,
            DocumentRequest.reason,
            DocumentRequest.status,
            DocumentRequest.requested_at,
            DocumentRequest.fulfilled_at,
            DocumentRequest.requested_by.display_name.as_alias("requested_by_name"),
        )
        .where(DocumentRequest.application == application_id)
        .order_by(DocumentRequest.id, ascending=False)
    )
    files = await Document.select(
        Document.id,
        Document.document_request,
        Document.kind,
        Document.original_name,
        Document.content_type,
        Document.size,
        Document.sha256,
        Document.uploaded_at,
        Document.library_document,
    ).where(Document.document_request.is_in([r["id"] for r in requests] or [0]))
    return [
        DocumentRequestView(
            id=r["id"],
            kinds={code: labels.get(code, code) for code in stored_kinds(r["kinds"])},
            reason=r["reason"],
            open=r["status"] == OPEN,
            requested_at=r["requested_at"],
            fulfilled_at=r["fulfilled_at"],
            requested_by_name=r["requested_by_name"] or "",
            documents=tuple(
                DocumentRow(
                    **_file_fields(f, labels),
                    sha256=f["sha256"],
                    library_document=f["library_document"],
                )
                for f in sorted(files, key=lambda f: f["id"])
                if f["document_request"] == r["id"]
            ),
        )
        for r in requests
    ]


async def borrower_documents(actor: Actor, reference: str) -> BorrowerDocuments:
    row = (
        await Application.select(
            Application.id,
            Application.reference,
            Application.status,
            Application.product.name.as_alias("product_name"),
            Application.institution.short_name.as_alias("institution_name"),
        )
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    requests = await _requests(row["id"])
    latest = requests[0] if requests else None
    may_upload = (
        latest is not None
        and latest.open
        and row["status"] == ApplicationStatus.DOCUMENTS_REQUESTED
        and actor.can("application.documents")
    )
    saved: dict[str, tuple[LibraryRow, ...]] = {}
    if may_upload and latest is not None:
        sent = {d.library_document for d in latest.documents}
        mine = [d for d in await _library_rows(actor.user_id or 0) if d.id not in sent]
        saved = {
            code: tuple(d for d in mine if d.kind in answered_by(code)) for code in latest.kinds
        }
    return BorrowerDocuments(
        saved=saved,
        application_id=row["id"],
        reference=row["reference"],
        product_name=row["product_name"],
        institution_name=row["institution_name"],
        request=latest,
        may_upload=may_upload,
        slots_left=MAX_FILES_PER_REQUEST - len(latest.documents) if latest else 0,
        max_file_mb=MAX_FILE_BYTES // (1024 * 1024),
    )


async def open_documents_task(actor: Actor, application_id: int) -> DocumentRequestView | None:
    """What the borrower's application page shows as their task, while there is one."""
    status = (
        await Application.select(Application.status)
        .where((Application.id == application_id) & (Application.borrower == actor.user_id))
        .first()
    )
    if status is None or status["status"] != ApplicationStatus.DOCUMENTS_REQUESTED:
        return None
    requests = await _requests(application_id)
    return requests[0] if requests and requests[0].open else None


@dataclass(frozen=True, kw_only=True)
class LeadDecisions:
    """What the lead page's decision forms need, and the decisions already taken."""

    rejection_reasons: dict[str, str]  # code → label, the current list
    document_kinds: dict[str, str]
    rejection_reason_label: str  # "" unless rejected with a reason
    rejection_note: str  # internal: staff only
    document_requests: list[DocumentRequestView]
    # Consent withdrawn: the borrower's files are no longer listed (nor downloadable).
    documents_withdrawn: bool = False


async def lead_decisions(actor: Actor, application_id: int) -> LeadDecisions:
    row = (
        await Application.select(
            Application.rejection_reason,
            Application.rejection_note,
            Application.consent.withdrawn_at.as_alias("consent_withdrawn_at"),
        )
        .where((Application.id == application_id) & received_leads(actor))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    reasons = await rejection_reasons()
    code: str = row["rejection_reason"]
    withdrawn = row["consent_withdrawn_at"] is not None
    return LeadDecisions(
        rejection_reasons=reasons,
        document_kinds=await document_kinds(),
        rejection_reason_label=reasons.get(code, code),
        rejection_note=row["rejection_note"],
        document_requests=[
            replace(r, documents=()) if withdrawn else r for r in await _requests(application_id)
        ],
        documents_withdrawn=withdrawn,
    )
