"""No personal data reaches an institution without a standing consent for it (issue #10,
§6.2): applications (each granting a consent), deliveries, reveals, lead exports, Open API
reads and withdrawals in any order, against the real verbs and database."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from marketplace.actors import Actor
from marketplace.api_clients.queries import api_leads
from marketplace.applications.queries import LeadFilters, institution_lead, lead_rows_for_export
from marketplace.applications.services import (
    deliver,
    parse_application_input,
    reveal_lead_field,
    submit_application,
)
from marketplace.consents.notices import build_notice
from marketplace.errors import NotFound, PermissionDenied, Throttled, ValidationFailed
from marketplace.offers.services import withdraw_consents_to
from marketplace.parameters.tables import SystemParameter
from marketplace.products.tables import Product
from tests import factories

MOBILES = (f"137{n:08d}" for n in itertools.count(1))


async def test_no_personal_data_reaches_an_institution_without_consent(world):
    await SystemParameter.insert(SystemParameter(key="lead_reveals_per_hour", value="100000"))
    await SystemParameter.insert(SystemParameter(key="applications_per_day", value="1000"))
    institutions = {
        world.bank_id: (world.staff, await factories.listed_product(world.staff, world.operator)),
        world.other_bank_id: (
            world.other_staff,
            await factories.listed_product(world.other_staff, world.operator),
        ),
    }
    digests = {}
    for product_id in (product for _staff, product in institutions.values()):
        row = (
            await Product.select(
                Product.name,
                Product.institution.short_name.as_alias("institution_name"),
                Product.institution.service_phone.as_alias("phone"),
            )
            .where(Product.id == product_id)
            .first()
        )
        digests[product_id] = build_notice(
            row["institution_name"], row["phone"], row["name"]
        ).digest
    loop = asyncio.get_running_loop()

    def run(call: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(call, loop).result(timeout=60)

    class ConsentFlows(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.mobile = next(MOBILES)
            self.borrower: Actor = run(
                factories.user("borrower", self.mobile, "borrower", None, "张伟")
            )
            self.apps: dict[int, int] = {}  # application id -> institution
            self.alive: set[int] = set()  # applications whose consent stands (the model)
            self.delivered: set[int] = set()
            self.keys = itertools.count()

        @rule(institution=st.sampled_from(list(institutions)))
        def apply(self, institution: int) -> None:
            product_id = institutions[institution][1]
            form = factories.application_form(
                notice_digest=digests[product_id], submission_key=f"{next(self.keys):024d}"
            )
            try:
                reference = run(
                    submit_application(self.borrower, parse_application_input(product_id, form))
                )
            except (ValidationFailed, Throttled):
                return  # already applied to that product: nothing new is shared
            rows = run(
                Product.raw("SELECT id FROM application WHERE reference = {}", reference).run()
            )
            self.apps[rows[0]["id"]] = institution
            self.alive.add(rows[0]["id"])

        @rule()
        def deliver_all(self) -> None:
            for application_id in self.apps:
                if run(deliver(application_id)):
                    assert application_id in self.alive, "delivered without consent"
                    self.delivered.add(application_id)

        @rule(field=st.sampled_from(["mobile", "id_number"]))
        def reveal(self, field: str) -> None:
            for application_id, institution in self.apps.items():
                staff = institutions[institution][0]
                try:
                    shown = run(reveal_lead_field(staff, application_id, field, "核对身份信息"))
                except (PermissionDenied, NotFound):
                    shown = None
                expected = application_id in self.alive and application_id in self.delivered
                assert (shown is not None) == expected, (application_id, field)

        @rule()
        def export_and_api_read(self) -> None:
            for institution, (staff, _product) in institutions.items():
                mine = {a for a, i in self.apps.items() if i == institution} & self.delivered
                exported = {
                    lead.id: lead
                    for lead in run(lead_rows_for_export(staff, LeadFilters(), limit=100_000))
                }
                polled = {
                    row.id: row
                    for row in run(
                        api_leads(staff, status=None, updated_since=None, after=None, limit=1000)
                    )
                }
                for application_id in mine:
                    alive = application_id in self.alive
                    assert exported[application_id].applicant.startswith("张") == alive
                    assert (polled[application_id].city is not None) == alive
                    lead = run(institution_lead(staff, application_id))
                    assert (lead.applicant is not None) == alive

        @rule(institution=st.sampled_from(list(institutions)))
        def withdraw(self, institution: int) -> None:
            standing = {a for a, i in self.apps.items() if i == institution} & self.alive
            try:
                run(withdraw_consents_to(self.borrower, institution))
            except NotFound:
                assert not standing, "a standing consent could not be withdrawn"
                return
            assert standing, "withdrew a consent that did not stand"
            self.alive -= standing

    def check() -> None:
        run_state_machine_as_test(
            ConsentFlows,
            settings=settings(
                max_examples=30,
                stateful_step_count=15,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )

    # Hypothesis is synchronous: it runs in a thread while this loop runs the verbs.
    await asyncio.to_thread(check)
