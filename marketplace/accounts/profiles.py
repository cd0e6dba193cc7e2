"""The borrower's saved profile: the only writer of borrower_profile. Every personal
field is stored encrypted, with a masked copy for display and a blind index for lookups.
The plaintext is read back only for the profile's owner (to prefill their own forms)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marketplace.accounts.tables import BorrowerProfile
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import Statement, by_column, transaction, write_before_commit
from marketplace.errors import PermissionDenied
from marketplace.i18n import N_
from marketplace.security import (
    birth_date_from_id,
    blind_index,
    decrypt_field,
    encrypt_field,
    mask_address,
    mask_id_number,
    mask_mobile,
    mask_name,
)

# Who the emergency contact is to the borrower: a fixed list, as institutions ask it.
CONTACT_RELATIONS: dict[str, str] = {
    "parent": N_("父母"),
    "spouse": N_("配偶"),
    "child": N_("子女"),
    "sibling": N_("兄弟姐妹"),
    "relative": N_("其他亲属"),
    "friend": N_("朋友"),
    "colleague": N_("同事"),
}
ADDRESS_MAX_LENGTH = 100
CONTACT_NAME_MAX_LENGTH = 30

_CONTEXTS = {
    "real_name": "borrower_profile.real_name",
    "id_number": "borrower_profile.id_number",
    "monthly_income": "borrower_profile.monthly_income",
    "address": "borrower_profile.address",
    "contact_name": "borrower_profile.contact_name",
    "contact_mobile": "borrower_profile.contact_mobile",
}


@dataclass(frozen=True)
class ProfileFacts:
    real_name: str
    id_number: str  # normalised and validated by the caller
    city: str
    monthly_income: Decimal
    employment_type: str
    # Optional contact details; the three contact fields are given together or not at all.
    address: str = ""
    contact_name: str = ""
    contact_relation: str = ""  # a code of CONTACT_RELATIONS
    contact_mobile: str = ""  # normalised


@dataclass(frozen=True)
class MaskedProfile:
    """What the profile page shows: masks and the fields that are not personal on their own."""

    real_name_masked: str
    id_number_masked: str
    birth_date: date
    city: str
    employment_type: str
    address_masked: str
    contact_name_masked: str
    contact_relation: str
    contact_mobile_masked: str
    updated_at: datetime


def _sealed(value: str, field: str) -> str:
    return encrypt_field(value, context=_CONTEXTS[field]) if value else ""


def _opened(token: str, field: str) -> str:
    return decrypt_field(token, context=_CONTEXTS[field]) if token else ""


# Whether or not the borrower had a profile, and for any number of borrowers: one
# statement of one array per column. Plain SQL: it runs on every application submitted,
# and building the ORM's upsert cost more CPU than running it.
_UPSERT_PROFILES_SQL = """
INSERT INTO borrower_profile ("user", real_name_encrypted, real_name_masked,
  id_number_encrypted, id_number_masked, id_number_index, birth_date, city,
  monthly_income_encrypted, employment_type, address_encrypted, address_masked,
  contact_name_encrypted, contact_name_masked, contact_relation, contact_mobile_encrypted,
  contact_mobile_masked, updated_at)
SELECT * FROM unnest({}::integer[], {}::text[], {}::text[], {}::text[], {}::text[],
  {}::text[], {}::date[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[],
  {}::text[], {}::text[], {}::text[], {}::text[], {}::text[], {}::timestamptz[])
ON CONFLICT ("user") DO UPDATE SET
  real_name_encrypted = EXCLUDED.real_name_encrypted,
  real_name_masked = EXCLUDED.real_name_masked,
  id_number_encrypted = EXCLUDED.id_number_encrypted,
  id_number_masked = EXCLUDED.id_number_masked,
  id_number_index = EXCLUDED.id_number_index,
  birth_date = EXCLUDED.birth_date,
  city = EXCLUDED.city,
  monthly_income_encrypted = EXCLUDED.monthly_income_encrypted,
  employment_type = EXCLUDED.employment_type,
  address_encrypted = EXCLUDED.address_encrypted,
  address_masked = EXCLUDED.address_masked,
  contact_name_encrypted = EXCLUDED.contact_name_encrypted,
  contact_name_masked = EXCLUDED.contact_name_masked,
  contact_relation = EXCLUDED.contact_relation,
  contact_mobile_encrypted = EXCLUDED.contact_mobile_encrypted,
  contact_mobile_masked = EXCLUDED.contact_mobile_masked,
  updated_at = EXCLUDED.updated_at
"""


async def save_borrower_profile(user_id: int, facts: ProfileFacts) -> None:
    """Create or replace the profile, inside the caller's transaction: written just before
    it commits, with its other last writes (nothing in it reads the profile back)."""
    row = (
        user_id,
        _sealed(facts.real_name, "real_name"),
        mask_name(facts.real_name),
        _sealed(facts.id_number, "id_number"),
        mask_id_number(facts.id_number),
        blind_index(facts.id_number, purpose="id_number"),
        birth_date_from_id(facts.id_number),
        facts.city,
        _sealed(str(facts.monthly_income), "monthly_income"),
        facts.employment_type,
        _sealed(facts.address, "address"),
        mask_address(facts.address),
        _sealed(facts.contact_name, "contact_name"),
        mask_name(facts.contact_name),
        facts.contact_relation,
        _sealed(facts.contact_mobile, "contact_mobile"),
        mask_mobile(facts.contact_mobile),
        datetime.now(UTC),
    )
    await write_before_commit(_upsert_profiles, row)


def _upsert_profiles(rows: list[tuple[Any, ...]]) -> Statement:
    latest = {row[0]: row for row in rows}  # a borrower saved twice: the last one
    return _UPSERT_PROFILES_SQL, by_column(latest.values())


async def update_profile(actor: Actor, facts: ProfileFacts) -> None:
    """The borrower edits their own saved profile (validated by the apply forms' parser)."""
    if actor.kind != "borrower" or actor.user_id is None:
        raise PermissionDenied()
    async with transaction():
        await save_borrower_profile(actor.user_id, facts)
        # Which fields exist, never their values.
        await audit(
            actor,
            "profile.update",
            "borrower_profile",
            actor.user_id,
            contact=bool(facts.contact_name),
            address=bool(facts.address),
        )


async def own_profile(actor: Actor) -> ProfileFacts | None:
    """The actor's own profile in clear, to prefill their forms; nobody else's."""
    if actor.kind != "borrower" or actor.user_id is None:
        return None
    row = await BorrowerProfile.select().where(BorrowerProfile.user == actor.user_id).first()
    if row is None:
        return None
    return ProfileFacts(
        real_name=_opened(row["real_name_encrypted"], "real_name"),
        id_number=_opened(row["id_number_encrypted"], "id_number"),
        city=row["city"],
        monthly_income=Decimal(_opened(row["monthly_income_encrypted"], "monthly_income") or 0),
        employment_type=row["employment_type"],
        address=_opened(row["address_encrypted"], "address"),
        contact_name=_opened(row["contact_name_encrypted"], "contact_name"),
        contact_relation=row["contact_relation"],
        contact_mobile=_opened(row["contact_mobile_encrypted"], "contact_mobile"),
    )


async def masked_profile(user_id: int) -> MaskedProfile | None:
    row = (
        await BorrowerProfile.select(
            BorrowerProfile.real_name_masked,
            BorrowerProfile.id_number_masked,
            BorrowerProfile.birth_date,
            BorrowerProfile.city,
            BorrowerProfile.employment_type,
            BorrowerProfile.address_masked,
            BorrowerProfile.contact_name_masked,
            BorrowerProfile.contact_relation,
            BorrowerProfile.contact_mobile_masked,
            BorrowerProfile.updated_at,
        )
        .where(BorrowerProfile.user == user_id)
        .first()
    )
    return MaskedProfile(**row) if row else None
