"""Read models: the documents asked for on a lead, with what the borrower has sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketplace.actors import Actor
from marketplace.applications.decisions import rejection_reasons
from marketplace.applications.statuses import ApplicationStatus, received_leads
from marketplace.applications.tables import Application
from marketplace.documents.services import (
    MAX_FILE_BYTES,
    MAX_FILES_PER_REQUEST,
    OPEN,
    document_kinds,
    stored_kinds,
)
from marketplace.documents.tables import Document, DocumentRequest
from marketplace.errors import NotFound
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
                    id=f["id"],
                    kind=f["kind"],
                    kind_label=labels.get(f["kind"], f["kind"]),
                    name=f["original_name"],
                    content_type=f["content_type"],
                    size=f["size"],
                    sha256=f["sha256"],
                    uploaded_at=f["uploaded_at"],
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
    return BorrowerDocuments(
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


async def lead_decisions(actor: Actor, application_id: int) -> LeadDecisions:
    row = (
        await Application.select(Application.rejection_reason, Application.rejection_note)
        .where((Application.id == application_id) & received_leads(actor))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    reasons = await rejection_reasons()
    code: str = row["rejection_reason"]
    return LeadDecisions(
        rejection_reasons=reasons,
        document_kinds=await document_kinds(),
        rejection_reason_label=reasons.get(code, code),
        rejection_note=row["rejection_note"],
        document_requests=await _requests(application_id),
    )
