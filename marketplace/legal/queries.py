"""Published legal texts: the latest version, any earlier one, and the list of versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketplace.legal.tables import LegalVersion
from marketplace.legal.texts import LegalDocument, LegalText

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class PublishedVersion:
    document: LegalDocument
    number: int
    text: LegalText
    digest: str
    effective_at: datetime


@dataclass(frozen=True)
class VersionEntry:
    number: int
    effective_at: datetime


def _published(row: dict) -> PublishedVersion:
    return PublishedVersion(
        LegalDocument(row["document"]),
        row["number"],
        LegalText.from_json(row["content"]),
        row["digest"],
        row["effective_at"],
    )


async def latest_version(document: LegalDocument) -> PublishedVersion | None:
    row = (
        await LegalVersion.select(*LegalVersion.all_columns())
        .where(LegalVersion.document == document.value)
        .order_by(LegalVersion.number, ascending=False)
        .output(load_json=True)
        .first()
    )
    return _published(row) if row else None


async def version(document: LegalDocument, number: int) -> PublishedVersion | None:
    row = (
        await LegalVersion.select(*LegalVersion.all_columns())
        .where((LegalVersion.document == document.value) & (LegalVersion.number == number))
        .output(load_json=True)
        .first()
    )
    return _published(row) if row else None


async def history(document: LegalDocument) -> list[VersionEntry]:
    rows = (
        await LegalVersion.select(LegalVersion.number, LegalVersion.effective_at)
        .where(LegalVersion.document == document.value)
        .order_by(LegalVersion.number, ascending=False)
        .limit(HISTORY_LIMIT)
    )
    return [VersionEntry(r["number"], r["effective_at"]) for r in rows]
