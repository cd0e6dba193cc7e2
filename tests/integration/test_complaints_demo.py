"""The demo has a complaint in every state (one overdue), against several institutions and
the platform, one linked to a collection record, a signed-in and an anonymous feedback, and
a statistics snapshot so /complaints/stats shows figures."""

from __future__ import annotations

from marketplace.complaints.statuses import ComplaintStatus
from marketplace.complaints.tables import Complaint, ComplaintStatsSnapshot
from marketplace.demo.complaints import seed_complaints
from marketplace.demo.seed import seed_demo
from tests.fixtures import soup


async def test_the_demo_complaints_cover_every_state_and_publish_figures(client):
    await seed_demo()
    complaints = await Complaint.select().where(Complaint.kind == "complaint")
    assert {row["status"] for row in complaints} == set(ComplaintStatus)
    assert [row["status"] for row in complaints if row["overdue"]] == ["awaiting_institution"]
    assert len({row["institution"] for row in complaints if row["institution"]}) == 3
    assert any(row["institution"] is None for row in complaints)
    assert any(row["collection_contact"] is not None for row in complaints)
    assert any(row["rating"] is not None for row in complaints)
    assert any(row["resolved_within_sla"] is False for row in complaints)
    feedback = await Complaint.select().where(Complaint.kind == "feedback")
    assert sorted(row["borrower"] is None for row in feedback) == [False, True]
    # Seeding again adds nothing.
    assert await seed_complaints() == 0

    assert await ComplaintStatsSnapshot.count() >= 3
    page = soup(await client.get("/complaints/stats"))
    rates = [td.get_text(" ", strip=True) for td in page.select("td[data-figure=per_10k]")]
    assert any(text[0].isdigit() for text in rates)
    assert page.select_one("#complaint-rate-chart") is not None
