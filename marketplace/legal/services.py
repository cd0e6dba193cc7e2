"""Publishing the legal texts: the text in force is rebuilt from what it describes; when it
differs from the last published version, it becomes the next version, effective now."""

from __future__ import annotations

from datetime import datetime

from marketplace.actors import SYSTEM
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import NotFound
from marketplace.i18n import _
from marketplace.legal.queries import PublishedVersion, latest_version
from marketplace.legal.tables import LegalVersion
from marketplace.legal.texts import (
    LegalDocument,
    LegalText,
    consent_template_text,
    privacy_text,
    ranking_text,
    terms_text,
)
from marketplace.parameters.services import get_parameters
from marketplace.promotions.placements import PLACEMENT_LABELS, SLOT_PARAMETERS
from marketplace.ranking.queries import current_rules


def document_named(name: str) -> LegalDocument:
    try:
        return LegalDocument(name)
    except ValueError:
        raise NotFound(_("没有这份文件")) from None


async def current_text(document: LegalDocument) -> LegalText:
    if document is LegalDocument.TERMS:
        return terms_text()
    if document is LegalDocument.PRIVACY:
        return privacy_text()
    if document is LegalDocument.CONSENT:
        return consent_template_text()
    rules = await current_rules()
    slots = await get_parameters(*SLOT_PARAMETERS.values())
    return ranking_text(
        [(sort.label, sort.explanation, sort.fixed) for sort in rules.offered],
        rules.version,
        [
            (_(label), int(slots[SLOT_PARAMETERS[placement]]))
            for placement, label in PLACEMENT_LABELS.items()
        ],
    )


async def publish(document: LegalDocument) -> PublishedVersion:
    """The version in force, publishing the current text first if it changed. Safe to call
    from many requests at once: one of them numbers the new version, the rest read it."""
    text = await current_text(document)
    latest = await latest_version(document)
    if latest is not None and latest.digest == text.digest:
        return latest
    async with transaction():
        await LegalVersion.raw(
            "SELECT pg_advisory_xact_lock(hashtext('legal'), hashtext({}))", document.value
        )
        latest = await latest_version(document)
        if latest is not None and latest.digest == text.digest:
            return latest
        number = (latest.number if latest else 0) + 1
        rows = await LegalVersion.insert(
            LegalVersion(
                document=document.value,
                number=number,
                title=text.title,
                content=text.as_json(),
                digest=text.digest,
            )
        ).returning(LegalVersion.effective_at)
        await audit(SYSTEM, "legal.published", "legal_version", f"{document.value}/{number}")
    effective_at: datetime = rows[0]["effective_at"]
    return PublishedVersion(document, number, text, text.digest, effective_at)


async def publish_all() -> int:
    """Cron: publish every document whose text changed; returns how many did."""
    changed = 0
    for document in LegalDocument:
        before = await latest_version(document)
        after = await publish(document)
        changed += before is None or before.number != after.number
    return changed
