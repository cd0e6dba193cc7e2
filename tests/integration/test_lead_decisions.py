"""Rejecting a lead takes a reason code from the system parameter's list (issue 7, I3):
one lead or in bulk; the borrower sees the reason's label, never the internal note; a
rejection without a valid code changes nothing and gives the form back as typed."""

from __future__ import annotations

from marketplace import jobs
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.audit.tables import AuditEntry
from tests import factories
from tests.fixtures import Client, apply_form_secrets, login, soup

HOSTILE_REASONS = ("", "   ", "no_such_code", "x" * 10_000, "income\x00", "income;DROP", "💸")


async def _lead(client: Client, world: factories.World) -> Application:
    """A new delivered lead of the bank, applied for through the site (each on a new product,
    so several can be open at once). The client ends signed out."""
    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    form = factories.application_form(**hidden)
    assert (await client.submit(f"/products/{product_id}/apply", form)).status_code == 303
    await jobs.run_until_idle()
    await client.submit("/logout")
    lead = await Application.objects().order_by(Application.id, ascending=False).first()
    assert lead.status == "delivered"
    return lead


async def test_a_lead_is_rejected_only_with_a_current_reason_code(client, world):
    lead = await _lead(client, world)
    url = f"/console/leads/{lead.id}"
    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get(url))
    form = page.select_one(f"form[action='{url}/reject']")
    options = [o["value"] for o in form.select("select[name=reason] option") if o["value"]]
    assert options == [
        "not_eligible",
        "credit_history",
        "income",
        "debt",
        "false_information",
        "unreachable",
        "other",
    ]
    assert "内部备注（仅本机构可见）" in form.text
    # The old button that rejected without a reason is gone, and so is its way in.
    assert not page.select("button[name=action][value=reject]")
    refused = await client.submit(f"{url}/status", {"action": "reject"})
    assert refused.status_code == 400 and "请在该操作的表单中填写所需信息" in refused.text

    note = "客户自述有多笔网贷，待核实。"
    for reason in HOSTILE_REASONS:
        response = await client.submit(f"{url}/reject", {"reason": reason, "internal_note": note})
        assert response.status_code == 400, reason
        assert "请选择拒绝原因" in response.text
        again = soup(response).select_one(f"form[action='{url}/reject']")
        assert again.select_one("textarea[name=internal_note]").text == note, "nothing lost"
    too_long = await client.submit(
        f"{url}/reject", {"reason": "income", "internal_note": "备" * 501}
    )
    assert too_long.status_code == 400 and "内部备注" in too_long.text
    nul = await client.submit(f"{url}/reject", {"reason": "income", "internal_note": "a\x00b"})
    assert nul.status_code == 400
    assert (await Application.objects().get(Application.id == lead.id)).status == "delivered"

    done = await client.submit(f"{url}/reject", {"reason": "income", "internal_note": note})
    assert done.status_code == 303
    rejected = await Application.objects().get(Application.id == lead.id)
    assert (rejected.status, rejected.rejection_reason, rejected.rejection_note) == (
        "rejected",
        "income",
        note,
    )
    entry = await AuditEntry.objects().where(AuditEntry.action == "lead.rejected").first()
    assert entry.object_id == str(lead.id) and "income" in str(entry.detail)
    staff_page = await client.get(url)
    assert "收入不足" in staff_page.text and note in staff_page.text
    # Rejected is final: a second rejection is refused as a stale move.
    assert (await client.submit(f"{url}/reject", {"reason": "debt"})).status_code == 409
    await client.submit("/console/logout")

    await login(client, "/login", world.borrower_mobile)
    mine = await client.get(f"/me/applications/{lead.reference}")
    assert "已拒绝" in mine.text and "收入不足" in mine.text
    assert note not in mine.text, "the internal note stays with the institution"


async def test_a_changed_reason_list_is_what_the_form_offers_and_accepts(client, world):
    from marketplace.parameters.tables import SystemParameter

    await SystemParameter.insert(
        SystemParameter(
            key="rejection_reasons", value='[{"code": "policy", "label": "不符合本机构政策"}]'
        )
    )
    lead = await _lead(client, world)
    url = f"/console/leads/{lead.id}"
    await login(client, "/console/login", "staff@test-bank.example")
    assert (await client.submit(f"{url}/reject", {"reason": "income"})).status_code == 400
    assert (await client.submit(f"{url}/reject", {"reason": "policy"})).status_code == 303
    events = await ApplicationEvent.select(ApplicationEvent.note).where(
        (ApplicationEvent.application == lead.id) & (ApplicationEvent.status == "rejected")
    )
    assert events == [{"note": "不符合本机构政策"}]


async def test_bulk_reject_needs_a_reason_and_applies_it_to_each_lead(client, world):
    first, second = await _lead(client, world), await _lead(client, world)
    await login(client, "/console/login", "staff@test-bank.example")
    listing = soup(await client.get("/console/leads?assignee=all"))
    assert listing.select_one("form#lead-bulk select[name=reason]") is not None
    leads = [str(first.id), str(second.id)]
    for reason in ("", "no_such_code", "x" * 10_000):
        response = await client.submit(
            "/console/leads/bulk-status", {"lead": leads, "action": "reject", "reason": reason}
        )
        assert response.status_code == 400 and "请选择拒绝原因" in response.text
    assert {a.status for a in await Application.objects()} == {"delivered"}

    response = await client.submit(
        "/console/leads/bulk-status", {"lead": leads, "action": "reject", "reason": "debt"}
    )
    assert response.status_code == 303
    rows = await Application.select(Application.status, Application.rejection_reason)
    assert rows == [{"status": "rejected", "rejection_reason": "debt"}] * 2


async def test_another_institution_cannot_reject_the_lead(client, world):
    lead = await _lead(client, world)
    await login(client, "/console/login", "staff@other-bank.example")
    response = await client.submit(f"/console/leads/{lead.id}/reject", {"reason": "income"})
    assert response.status_code == 404
    bulk = await client.submit(
        "/console/leads/bulk-status",
        {"lead": [str(lead.id)], "action": "reject", "reason": "income"},
    )
    assert bulk.status_code == 303
    assert (await Application.objects().get(Application.id == lead.id)).status == "delivered"


async def test_demo_seeds_a_rejected_lead_and_one_waiting_for_documents(client):
    from marketplace.accounts.services import mobile_login_key
    from marketplace.demo.catalogue import DEMO_PASSWORD
    from marketplace.demo.decisions import seed_decisions
    from marketplace.demo.seed import seed_demo

    assert await seed_demo()
    rows = await Application.select(
        Application.reference, Application.status, Application.rejection_reason
    ).where(
        Application.status.is_in(["rejected", "documents_requested"])
        # The demo borrower's own (the odds demo adds decided applications of others).
        & (Application.borrower.login_key == mobile_login_key("13800138000"))
    )
    assert sorted((r["status"], r["rejection_reason"]) for r in rows) == [
        ("documents_requested", ""),
        ("rejected", "debt"),
    ]
    assert await seed_decisions() == 0, "seeded once"
    waiting = next(r["reference"] for r in rows if r["status"] == "documents_requested")
    await login(client, "/login", "13800138000", DEMO_PASSWORD)
    page = await client.get(f"/me/applications/{waiting}")
    assert "请补充资料" in page.text and "银行流水" in page.text
