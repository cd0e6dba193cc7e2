"""The institution lifecycle: activation by a signed agreement, and an operator's
suspension taking the institution off the portal and out of lead delivery."""

from __future__ import annotations

import asyncio
import json

import pytest

from marketplace import jobs
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.audit.tables import AuditEntry
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.inbox.tables import InboxItem
from marketplace.institutions.services import activate_after_agreement, change_status
from marketplace.institutions.tables import Institution
from marketplace.products.queries import featured_products, listed_product
from marketplace.products.search_port import SearchQuery, backend
from tests import factories
from tests.fixtures import apply_form_secrets, login


async def _status(institution_id: int) -> str:
    row = await Institution.select(Institution.status).where(Institution.id == institution_id)
    return row[0]["status"]


async def _reviewer():
    return await factories.user(
        "operator", "inst-reviewer@loanmart.example", "institution_reviewer", None, "机构审核员"
    )


async def test_activation_after_agreement_is_idempotent_and_audited(world):
    await Institution.update({Institution.status: "approved"}).where(
        Institution.id == world.bank_id
    )
    async with transaction():
        assert await activate_after_agreement(world.bank_id) is True
    async with transaction():
        assert await activate_after_agreement(world.bank_id) is False
    assert await _status(world.bank_id) == "active"
    entries = await AuditEntry.select().where(AuditEntry.action == "institution.activate")
    assert len(entries) == 1 and entries[0]["actor_kind"] == "system"


async def test_activation_needs_the_callers_transaction_and_an_approved_institution(world):
    with pytest.raises(RuntimeError):
        await activate_after_agreement(world.bank_id)
    await Institution.update({Institution.status: "suspended"}).where(
        Institution.id == world.bank_id
    )
    with pytest.raises(InvalidTransition):
        async with transaction():
            await activate_after_agreement(world.bank_id)
    with pytest.raises(NotFound):
        async with transaction():
            await activate_after_agreement(999_999)


async def test_parallel_activations_move_once(world):
    await Institution.update({Institution.status: "approved"}).where(
        Institution.id == world.bank_id
    )

    async def sign() -> bool:
        async with transaction():
            return await activate_after_agreement(world.bank_id)

    results = await asyncio.gather(*(sign() for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]


async def test_suspension_takes_products_off_the_portal_and_resume_brings_them_back(world):
    reviewer = await _reviewer()
    product_id = await factories.listed_product(world.staff, world.operator)
    await jobs.run_until_idle()
    assert [card.id for card in await featured_products()] == [product_id]

    await change_status(reviewer, world.bank_id, "suspend", "资质复核中")
    await jobs.run_until_idle()
    assert await _status(world.bank_id) == "suspended"
    assert await featured_products() == []
    with pytest.raises(NotFound):
        await listed_product(product_id)
    assert (await backend().search(SearchQuery())).hits == []

    await change_status(reviewer, world.bank_id, "resume", "复核通过")
    await jobs.run_until_idle()
    assert [card.id for card in await featured_products()] == [product_id]
    assert [hit.id for hit in (await backend().search(SearchQuery())).hits] == [product_id]


async def test_status_changes_need_a_reason_and_the_permission(world):
    reviewer = await _reviewer()
    with pytest.raises(DomainError):
        await change_status(reviewer, world.bank_id, "suspend", "   ")
    with pytest.raises(DomainError):
        await change_status(reviewer, world.bank_id, "suspend", "长" * 501)
    with pytest.raises(PermissionDenied):
        await change_status(world.operator, world.bank_id, "suspend", "原因")
    with pytest.raises(NotFound):
        await change_status(reviewer, world.bank_id, "activate", "原因")
    with pytest.raises(InvalidTransition):
        await change_status(reviewer, world.bank_id, "resume", "原因")


async def test_a_lead_for_a_suspended_institution_is_not_delivered(client, world):
    reviewer = await _reviewer()
    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    response = await client.submit(
        f"/products/{product_id}/apply", factories.application_form(**hidden)
    )
    assert response.status_code == 303
    # Suspended after the borrower applied, before the worker delivers.
    await change_status(reviewer, world.bank_id, "suspend", "资质复核中")
    await jobs.run_until_idle()
    # One path: the delivery gate refuses it with its reason, audited as any refusal.
    application = await Application.objects().first()
    assert application.status == "not_delivered"
    events = await ApplicationEvent.select().where(ApplicationEvent.status == "not_delivered")
    assert events[0]["note"] == "该机构已暂停合作"
    refused = await AuditEntry.select().where(AuditEntry.action == "application.not_delivered")
    assert [entry["object_id"] for entry in refused] == [str(application.id)]
    assert json.loads(refused[0]["detail"])["reason"] == "inactive"
    lead_notices = await InboxItem.count().where(
        (InboxItem.recipient == world.staff.user_id) & (InboxItem.kind == "lead.new")
    )
    assert lead_notices == 0
    borrower_notices = await InboxItem.select(InboxItem.title).where(
        InboxItem.recipient == world.borrower.user_id
    )
    assert any(
        "未能送达机构：该机构已暂停合作，您的信息未发送给该机构" in n["title"]
        for n in borrower_notices
    )
    # The borrower's application page says so too.
    page = await client.get(f"/me/applications/{application.reference}")
    assert "未送达" in page.text and "该机构已暂停合作" in page.text
    # And the product page no longer takes applications.
    assert (await client.get(f"/products/{product_id}/apply")).status_code == 404


async def test_operators_suspend_through_the_institution_page_with_a_reason(client, world):
    await _reviewer()
    await login(client, "/admin/login", "inst-reviewer@loanmart.example")
    listing = await client.get("/admin/institutions?status=active&q=测试")
    assert (
        listing.status_code == 200 and "测试银行" in listing.text and "别家银行" not in listing.text
    )
    assert (await client.get("/admin/institutions?status=nonsense&page=-1")).status_code == 200
    page = await client.get(f"/admin/institutions/{world.bank_id}")
    assert 'value="suspend"' in page.text and 'value="resume"' not in page.text
    response = await client.submit(
        f"/admin/institutions/{world.bank_id}", {"action": "suspend", "reason": ""}
    )
    assert response.status_code == 400 and "请填写原因" in response.text
    response = await client.submit(
        f"/admin/institutions/{world.bank_id}", {"action": "suspend", "reason": "资质复核中"}
    )
    assert response.status_code == 303
    assert await _status(world.bank_id) == "suspended"
    page = await client.get(f"/admin/institutions/{world.bank_id}")
    assert "资质复核中" in page.text and 'value="resume"' in page.text
    # Again from a stale page: a clear conflict, not a 500.
    response = await client.submit(
        f"/admin/institutions/{world.bank_id}", {"action": "suspend", "reason": "再次"}
    )
    assert response.status_code == 409
    assert (await client.get("/admin/institutions/999999")).status_code == 404


async def test_the_institutions_admins_are_told_once_per_change(world):
    from marketplace.partners.notices import tell_status

    reviewer = await _reviewer()
    await change_status(reviewer, world.bank_id, "suspend", "资质复核中")
    await jobs.run_until_idle()
    row = await Institution.select().where(Institution.id == world.bank_id).first()
    # The job may run again (a retry): nothing more is sent.
    assert await tell_status(world.bank_id, row["status_changed_at"].isoformat()) == 0
    titles = [
        r["title"]
        for r in await InboxItem.select(InboxItem.title).where(
            InboxItem.recipient == world.staff.user_id
        )
    ]
    assert titles == ["合作状态：已暂停（资质复核中）"]
    await change_status(reviewer, world.bank_id, "resume", "复核通过")
    await jobs.run_until_idle()
    assert await InboxItem.count().where(InboxItem.recipient == world.staff.user_id) == 2
    # Another institution's staff hear nothing.
    assert await InboxItem.count().where(InboxItem.recipient == world.other_staff.user_id) == 0
