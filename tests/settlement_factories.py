"""Settlement test data: agreements signed in the past, leads delivered at a chosen moment
and borrowers with an ID number's blind index, so billing can be driven month by month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.accounts.profiles import ProfileFacts, save_borrower_profile
from marketplace.actors import Actor
from marketplace.agreements.tables import Agreement
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.db import transaction
from marketplace.settlement import billing
from tests.factories import World, application_in, user, valid_id_number

LONG_AGO = datetime(2024, 1, 1, tzinfo=UTC)


async def terms(
    institution_id: int,
    pricing_model: str = "cpl",
    rate: str = "30",
    *,
    signed_at: datetime = LONG_AGO,
    replace: bool = True,
    **caps: object,
) -> int:
    """A signed agreement from `signed_at` for years; `replace` drops the institution's
    earlier versions (none has billed anything yet), otherwise it supersedes them."""
    if replace:
        await Agreement.delete().where(Agreement.institution == institution_id)
    else:
        await Agreement.update(
            {Agreement.status: "superseded", Agreement.ended_at: signed_at}
        ).where((Agreement.institution == institution_id) & (Agreement.status == "signed"))
    day = signed_at.date()
    rows = await Agreement.insert(
        Agreement(
            institution=institution_id,
            version=1 + await Agreement.count().where(Agreement.institution == institution_id),
            pricing_model=pricing_model,
            rate=Decimal(rate),
            valid_from=day - timedelta(days=1),
            valid_to=day + timedelta(days=3650),
            status="signed",
            signed_at=signed_at,
            **caps,
        )
    ).returning(Agreement.id)
    return rows[0]["id"]


async def borrower(number: int) -> Actor:
    """A borrower with a profile (the blind index of their ID number)."""
    actor = await user("borrower", f"1370000{number:04d}", "borrower", None, "借款人")
    await with_profile(actor, number)
    return actor


async def with_profile(actor: Actor, number: int) -> None:
    async with transaction():
        await save_borrower_profile(
            actor.user_id or 0,
            ProfileFacts(
                real_name="张伟",
                id_number=valid_id_number(sequence=f"{number % 1000:03d}"),
                city="北京",
                monthly_income=Decimal("12000"),
                employment_type="employee",
            ),
        )


async def lead(
    world: World,
    delivered_at: datetime,
    *,
    borrower_actor: Actor | None = None,
    status: str = "delivered",
) -> int:
    """An application delivered to `world.bank_id` at `delivered_at` (written directly)."""
    application_id = await application_in(world, "submitted")
    changes: dict = {Application.status: status, Application.delivered_at: delivered_at}
    if borrower_actor is not None:
        changes[Application.borrower] = borrower_actor.user_id
    await Application.update(changes).where(Application.id == application_id)
    await ApplicationEvent.insert(
        ApplicationEvent(
            application=application_id, status="delivered", actor_kind="system", at=delivered_at
        )
    )
    return application_id


async def status_event(application_id: int, status: str, at: datetime) -> None:
    await Application.update({Application.status: status}).where(Application.id == application_id)
    await ApplicationEvent.insert(
        ApplicationEvent(application=application_id, status=status, actor_kind="system", at=at)
    )


async def billed_lead(world: World, delivered_at: datetime, **options: object) -> int:
    """A delivered lead and its CPL billing event; returns the event id."""
    application_id = await lead(world, delivered_at, **options)  # type: ignore[arg-type]
    event_id = await billing.bill("cpl", application_id)
    assert event_id is not None
    return event_id
