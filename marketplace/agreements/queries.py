"""Agreement read models: the terms in force (settlement, the delivery gate), the operators'
list and detail, and the institution's agreement page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketplace.actors import Actor
from marketplace.agreements.statuses import AGREEMENT_MACHINE, EVER_SIGNED, AgreementStatus
from marketplace.agreements.tables import Agreement, AgreementSignature
from marketplace.agreements.terms import AgreementTerms, Party, PricingModel, agreement_text
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.institutions.tables import Institution
from marketplace.loancalc import SHANGHAI
from marketplace.signing import digest
from marketplace.statemachine import Actions

_TERM_COLUMNS = (
    Agreement.id,
    Agreement.institution,
    Agreement.version,
    Agreement.pricing_model,
    Agreement.rate,
    Agreement.monthly_unit_cap,
    Agreement.monthly_fee_cap,
    Agreement.valid_from,
    Agreement.valid_to,
)

# The version that governed an institution at a moment (also a past one: a version
# superseded or expired since still answers for the time it was in force), as a subquery
# other read models join laterally (the delivery gate reads it with the institution and
# its settings in one round trip). Parameters: `terms_in_force_args`.
# Its columns are named `terms_*` so that they do not clash with the joining query's.
TERMS_IN_FORCE_SQL = """
SELECT id AS terms_id, institution AS terms_institution, version AS terms_version,
  pricing_model AS terms_pricing_model, rate AS terms_rate,
  monthly_unit_cap AS terms_monthly_unit_cap, monthly_fee_cap AS terms_monthly_fee_cap,
  valid_from AS terms_valid_from, valid_to AS terms_valid_to
FROM agreement
WHERE institution = {} AND status = ANY({}::text[])
  AND signed_at <= {} AND valid_from <= {} AND valid_to >= {}
  AND (ended_at IS NULL OR ended_at > {})
ORDER BY signed_at DESC LIMIT 1
"""


def terms_in_force_args(institution_id: int, at: datetime) -> tuple[Any, ...]:
    """TERMS_IN_FORCE_SQL's parameters, in order."""
    day = at.astimezone(SHANGHAI).date()
    return (institution_id, [status.value for status in EVER_SIGNED], at, day, day, at)


def _terms(row: Mapping[str, Any]) -> AgreementTerms:
    return AgreementTerms(
        id=row["id"],
        institution_id=row["institution"],
        version=row["version"],
        pricing_model=PricingModel(row["pricing_model"]),
        rate=row["rate"],
        monthly_unit_cap=row["monthly_unit_cap"],
        monthly_fee_cap=row["monthly_fee_cap"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
    )


def terms_from(row: Mapping[str, Any]) -> AgreementTerms | None:
    """The terms out of a row holding TERMS_IN_FORCE_SQL's columns (None: no agreement)."""
    if row["terms_id"] is None:
        return None
    return _terms({key: row[f"terms_{key}"] for key in _TERM_NAMES})


_TERM_NAMES = tuple(column._meta.name for column in _TERM_COLUMNS)


async def agreement_in_force(institution_id: int, at: datetime) -> AgreementTerms | None:
    """The agreement that governed the institution at `at` (also for past moments: a
    version superseded or expired since still answers for the time it was in force)."""
    rows = await Agreement.raw(TERMS_IN_FORCE_SQL, *terms_in_force_args(institution_id, at))
    return terms_from(rows[0]) if rows else None


async def terms_by_id(ids: Iterable[int]) -> dict[int, AgreementTerms]:
    """The terms of these agreement versions, whatever their status (settlement prices and
    caps past months by the version that billed them)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await Agreement.select(*_TERM_COLUMNS).where(Agreement.id.is_in(wanted))
    return {row["id"]: _terms(row) for row in rows}


async def agreement_text_of(agreement_id: int) -> str:
    row = (
        await Agreement.select(
            *_TERM_COLUMNS,
            Agreement.institution.name.as_alias("institution_name"),
            Agreement.institution.licence_no.as_alias("licence_no"),
        )
        .where(Agreement.id == agreement_id)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该协议"))
    return agreement_text(Party(row["institution_name"], row["licence_no"]), _terms(row))


@dataclass(frozen=True)
class AgreementRow:
    terms: AgreementTerms
    institution_name: str
    status: str
    status_label: str
    created_at: datetime
    signed_at: datetime | None
    actions: Actions


_ROW_COLUMNS = (
    *_TERM_COLUMNS,
    Agreement.status,
    Agreement.created_at,
    Agreement.signed_at,
    Agreement.institution.short_name.as_alias("institution_name"),
)


def _row(row: Mapping[str, Any], actor: Actor) -> AgreementRow:
    return AgreementRow(
        terms=_terms(row),
        institution_name=row["institution_name"],
        status=row["status"],
        status_label=AGREEMENT_MACHINE.label(row["status"]),
        created_at=row["created_at"],
        signed_at=row["signed_at"],
        actions=AGREEMENT_MACHINE.actions(row["status"], actor),
    )


@dataclass(frozen=True)
class AgreementFilters:
    institution_id: int | None = None
    status: str = ""
    pricing_model: str = ""


@dataclass(frozen=True)
class AgreementList:
    rows: tuple[AgreementRow, ...]
    total: int
    institution_options: tuple[tuple[int, str], ...]


def status_choices() -> tuple[tuple[str, str], ...]:
    return tuple((str(s), AGREEMENT_MACHINE.label(s)) for s in AgreementStatus)


def pricing_choices() -> tuple[tuple[str, str], ...]:
    return tuple((str(m), m.label) for m in PricingModel)


async def institution_options() -> tuple[tuple[int, str], ...]:
    rows = await Institution.select(Institution.id, Institution.short_name).order_by(
        Institution.short_name
    )
    return tuple((r["id"], r["short_name"]) for r in rows)


async def agreement_list(
    actor: Actor, filters: AgreementFilters, *, page: int, per_page: int
) -> AgreementList:
    """Every institution's agreement versions, newest first (operators)."""
    if not actor.can("agreement.manage"):
        raise PermissionDenied()
    where: Any = Agreement.id > 0
    if filters.institution_id:
        where &= Agreement.institution == filters.institution_id
    if filters.status:
        where &= Agreement.status == filters.status
    if filters.pricing_model:
        where &= Agreement.pricing_model == filters.pricing_model
    rows = (
        await Agreement.select(*_ROW_COLUMNS)
        .where(where)
        .order_by(Agreement.created_at, ascending=False)
        .order_by(Agreement.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return AgreementList(
        rows=tuple(_row(r, actor) for r in rows),
        total=await Agreement.count().where(where),
        institution_options=await institution_options(),
    )


@dataclass(frozen=True)
class SignatureFacts:
    signer_name: str
    signed_at: datetime
    client_address: str
    user_agent: str
    text_sha256: str


@dataclass(frozen=True)
class AgreementDetail:
    row: AgreementRow
    text: str
    sha256: str
    signature: SignatureFacts | None


async def _signature(agreement_id: int) -> SignatureFacts | None:
    row = (
        await AgreementSignature.select(
            AgreementSignature.signer.display_name.as_alias("signer_name"),
            AgreementSignature.signed_at,
            AgreementSignature.client_address,
            AgreementSignature.user_agent,
            AgreementSignature.text_sha256,
        )
        .where(AgreementSignature.agreement == agreement_id)
        .first()
    )
    return SignatureFacts(**row) if row else None


async def _detail(actor: Actor, where: Any) -> AgreementDetail:
    row = await Agreement.select(*_ROW_COLUMNS).where(where).first()
    if row is None:
        raise NotFound(_("找不到该协议"))
    text = await agreement_text_of(row["id"])
    return AgreementDetail(_row(row, actor), text, digest(text), await _signature(row["id"]))


async def agreement_detail(actor: Actor, agreement_id: int) -> AgreementDetail:
    """One version with its text and signature evidence (operators)."""
    if not actor.can("agreement.manage"):
        raise PermissionDenied()
    return await _detail(actor, Agreement.id == agreement_id)


@dataclass(frozen=True)
class InstitutionAgreements:
    in_force: AgreementTerms | None
    pending: AgreementDetail | None  # the version offered for signing, with its text
    history: tuple[AgreementRow, ...]


async def institution_agreements(actor: Actor, now: datetime) -> InstitutionAgreements:
    """The institution's own agreements: the one in force, the one to sign, every version."""
    if not actor.can("agreement.sign"):
        raise PermissionDenied()
    mine = Agreement.institution == actor.institution_id
    rows = (
        await Agreement.select(*_ROW_COLUMNS)
        .where(mine)
        .order_by(Agreement.version, ascending=False)
    )
    offered = next((r for r in rows if r["status"] == AgreementStatus.OFFERED), None)
    pending = await _detail(actor, Agreement.id == offered["id"]) if offered else None
    return InstitutionAgreements(
        in_force=await agreement_in_force(actor.institution_id or 0, now),
        pending=pending,
        history=tuple(_row(r, actor) for r in rows),
    )
