"""Read models of the consent ledger (PRODUCT.md P7, §6.2): the borrower's ledger, the
institution's deletions to confirm, the operators' overview, the borrower's data exports.

Applications are read in SQL: importing the applications context from here would be an
import cycle (it imports this one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marketplace.actors import Actor
from marketplace.consents.notices import DATA_ITEMS, build_notice
from marketplace.consents.tables import Consent, ConsentWithdrawal, DataExport
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.institutions.tables import Institution
from marketplace.loancalc import SHANGHAI


@dataclass(frozen=True)
class UsedBy:
    reference: str
    product_name: str


@dataclass(frozen=True)
class NoticeGrant:
    consent_id: int
    notice_version: str
    granted_at: datetime
    withdrawn_at: datetime | None
    applications: tuple[UsedBy, ...]


@dataclass(frozen=True)
class LedgerEntry:
    """One institution that holds or may receive the borrower's data."""

    institution_id: int
    institution_name: str
    data_items: tuple[str, ...]  # labels, translated
    purpose: str
    since: datetime
    active: bool
    withdrawn_at: datetime | None  # the latest withdrawal, when none stands any more
    grants: tuple[NoticeGrant, ...]
    delete_by: datetime | None  # the institution's deadline to confirm deletion
    deletion_confirmed_at: datetime | None

    @property
    def status_label(self) -> str:
        if self.active:
            return _("有效")
        when = self.withdrawn_at.astimezone(SHANGHAI) if self.withdrawn_at else None
        return _("已撤回（{date}）", date=when.strftime("%Y-%m-%d") if when else "")


async def _used_by(borrower_id: int | None) -> dict[int, list[UsedBy]]:
    rows = await Consent.raw(
        "SELECT a.consent, a.reference, p.name FROM application a "
        "JOIN product p ON p.id = a.product WHERE a.borrower = {} ORDER BY a.id",
        borrower_id,
    )
    used: dict[int, list[UsedBy]] = {}
    for row in rows:
        used.setdefault(row["consent"], []).append(UsedBy(row["reference"], row["name"]))
    return used


async def ledger(actor: Actor) -> list[LedgerEntry]:
    """The borrower's consents grouped by institution, the standing ones first."""
    rows = (
        await Consent.select(
            *Consent.all_columns(), Consent.institution.short_name.as_alias("institution_name")
        )
        .where(Consent.borrower == actor.user_id)
        .order_by(Consent.id)
    )
    used = await _used_by(actor.user_id)
    withdrawals = {
        row["institution"]: row
        for row in await ConsentWithdrawal.select(
            ConsentWithdrawal.institution,
            ConsentWithdrawal.delete_by,
            ConsentWithdrawal.confirmed_at,
        )
        .where(ConsentWithdrawal.borrower == actor.user_id)
        .order_by(ConsentWithdrawal.id)
    }
    by_institution: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_institution.setdefault(row["institution"], []).append(row)
    entries = []
    for institution_id, grants in by_institution.items():
        active = [g for g in grants if g["withdrawn_at"] is None]
        items = dict.fromkeys(item for g in grants for item in g["data_items"])
        withdrawal = withdrawals.get(institution_id)
        entries.append(
            LedgerEntry(
                institution_id=institution_id,
                institution_name=grants[0]["institution_name"],
                data_items=tuple(_(DATA_ITEMS.get(item, item)) for item in items),
                purpose=grants[-1]["purpose"],  # stored as shown
                since=grants[0]["granted_at"],
                active=bool(active),
                withdrawn_at=None if active else max(g["withdrawn_at"] for g in grants),
                grants=tuple(
                    NoticeGrant(
                        consent_id=g["id"],
                        notice_version=g["notice_version"],
                        granted_at=g["granted_at"],
                        withdrawn_at=g["withdrawn_at"],
                        applications=tuple(used.get(g["id"], ())),
                    )
                    for g in grants
                ),
                delete_by=withdrawal["delete_by"] if withdrawal and not active else None,
                deletion_confirmed_at=(
                    withdrawal["confirmed_at"] if withdrawal and not active else None
                ),
            )
        )
    entries.sort(key=lambda entry: (not entry.active, entry.institution_name))
    return entries


async def ledger_entry(actor: Actor, institution_id: int) -> LedgerEntry:
    """One institution of the borrower's ledger; one they never consented to is NotFound."""
    for entry in await ledger(actor):
        if entry.institution_id == institution_id:
            return entry
    raise NotFound(_("找不到该授权"))


@dataclass(frozen=True)
class NoticeText:
    version: str
    institution_name: str
    text: str
    matches: bool  # the rebuilt text hashes to the digest stored with the consent
    granted_at: datetime


async def consented_notice(actor: Actor, consent_id: int) -> NoticeText:
    """The exact notice text the borrower agreed to, rebuilt from its version and inputs and
    checked against the digest stored with the consent."""
    row = (
        await Consent.select(
            Consent.notice_version,
            Consent.notice_hash,
            Consent.granted_at,
            Consent.institution.short_name.as_alias("institution_name"),
            Consent.institution.service_phone.as_alias("service_phone"),
        )
        .where((Consent.id == consent_id) & (Consent.borrower == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该授权"))
    # One consent covers every product of a batch at that institution, named in order.
    products = await Consent.raw(
        "SELECT p.name FROM application a JOIN product p ON p.id = a.product "
        "WHERE a.consent = {} ORDER BY a.id",
        consent_id,
    )
    notice = build_notice(
        row["institution_name"],
        row["service_phone"],
        # Translators: separator between the items of a list.
        _("、").join(product["name"] for product in products),
        version=row["notice_version"],
    )
    return NoticeText(
        version=row["notice_version"],
        institution_name=row["institution_name"],
        text=notice.text,
        matches=notice.version == row["notice_version"] and notice.digest == row["notice_hash"],
        granted_at=row["granted_at"],
    )


@dataclass(frozen=True)
class Deletion:
    id: int
    institution_id: int
    institution_name: str
    withdrawn_at: datetime
    delete_by: datetime
    confirmed_at: datetime | None
    confirmed_by: str
    references: tuple[str, ...]  # the institution's applications of that borrower

    @property
    def overdue(self) -> bool:
        return self.confirmed_at is None and self.delete_by < datetime.now(UTC)

    @property
    def state_label(self) -> str:
        if self.confirmed_at is not None:
            return _("已确认删除")
        return _("已逾期") if self.overdue else _("待确认")


DELETION_STATES = ("open", "overdue", "confirmed")
MAX_DELETION_ROWS = 500


async def _deletions(condition: Any) -> list[Deletion]:
    rows = (
        await ConsentWithdrawal.select(
            *ConsentWithdrawal.all_columns(),
            ConsentWithdrawal.institution.short_name.as_alias("institution_name"),
            ConsentWithdrawal.confirmed_by.display_name.as_alias("confirmed_by_name"),
        )
        .where(condition)
        .order_by(ConsentWithdrawal.delete_by)
        .limit(MAX_DELETION_ROWS)
    )
    references: dict[tuple[int, int], list[str]] = {}
    if rows:
        pairs = await Consent.raw(
            "SELECT borrower, institution, reference FROM application "
            "WHERE institution = ANY({}) AND borrower = ANY({}) ORDER BY id",
            list({row["institution"] for row in rows}),
            list({row["borrower"] for row in rows}),
        )
        for pair in pairs:
            key = (pair["borrower"], pair["institution"])
            references.setdefault(key, []).append(pair["reference"])
    return [
        Deletion(
            id=row["id"],
            institution_id=row["institution"],
            institution_name=row["institution_name"],
            withdrawn_at=row["withdrawn_at"],
            delete_by=row["delete_by"],
            confirmed_at=row["confirmed_at"],
            confirmed_by=row["confirmed_by_name"] or "",
            references=tuple(references.get((row["borrower"], row["institution"]), ())),
        )
        for row in rows
    ]


def _state_condition(state: str) -> Any:
    now = datetime.now(UTC)
    if state == "confirmed":
        return ConsentWithdrawal.confirmed_at.is_not_null()
    if state == "overdue":
        return ConsentWithdrawal.confirmed_at.is_null() & (ConsentWithdrawal.delete_by < now)
    if state == "open":
        return ConsentWithdrawal.confirmed_at.is_null()
    return ConsentWithdrawal.id > 0


async def institution_deletions(actor: Actor) -> list[Deletion]:
    """The actor's institution's withdrawals: those to confirm first, by deadline."""
    if not actor.can("consent.confirm_deletion"):
        raise PermissionDenied()
    rows = await _deletions(ConsentWithdrawal.institution == actor.institution_id)
    return sorted(rows, key=lambda d: (d.confirmed_at is not None, d.delete_by))


@dataclass(frozen=True)
class DeletionOverview:
    rows: list[Deletion]
    open_count: int
    overdue_count: int
    institution_options: list[tuple[int, str]]
    institution_id: int | None
    state: str


async def deletion_overview(
    actor: Actor, institution_id: int | None, state: str
) -> DeletionOverview:
    """Operators: every institution's deletion confirmations, filtered; default the open ones."""
    if not actor.can("consent.oversee"):
        raise PermissionDenied()
    condition = _state_condition(state)
    if institution_id:
        condition &= ConsentWithdrawal.institution == institution_id
    now = datetime.now(UTC)
    open_count = await ConsentWithdrawal.count().where(ConsentWithdrawal.confirmed_at.is_null())
    overdue_count = await ConsentWithdrawal.count().where(
        ConsentWithdrawal.confirmed_at.is_null() & (ConsentWithdrawal.delete_by < now)
    )
    options = [
        (row["id"], row["short_name"])
        for row in await Institution.select(Institution.id, Institution.short_name).order_by(
            Institution.short_name
        )
    ]
    return DeletionOverview(
        rows=await _deletions(condition),
        open_count=open_count,
        overdue_count=overdue_count,
        institution_options=options,
        institution_id=institution_id,
        state=state,
    )


@dataclass(frozen=True)
class ExportItem:
    id: int
    status: str
    status_label: str
    requested_at: datetime
    ready_at: datetime | None
    downloaded_at: datetime | None


EXPORT_LABELS = {
    "pending": N_("正在生成"),
    "ready": N_("可下载"),
    "downloaded": N_("已下载"),
    "expired": N_("已过期删除"),
}


async def borrower_exports(actor: Actor) -> list[ExportItem]:
    """The borrower's data exports, newest first."""
    rows = (
        await DataExport.select(
            DataExport.id,
            DataExport.status,
            DataExport.requested_at,
            DataExport.ready_at,
            DataExport.downloaded_at,
        )
        .where(DataExport.borrower == actor.user_id)
        .order_by(DataExport.id, ascending=False)
        .limit(10)
    )
    return [
        ExportItem(
            id=row["id"],
            status=row["status"],
            status_label=_(EXPORT_LABELS[row["status"]]),
            requested_at=row["requested_at"],
            ready_at=row["ready_at"],
            downloaded_at=row["downloaded_at"],
        )
        for row in rows
    ]
