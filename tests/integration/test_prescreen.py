"""Pre-screen rules (issue 8, I4): an institution's published rules score every delivered
lead, auto-reject with a reason code as the system, explain themselves per rule; drafts are
versioned and previewed; another institution's rules are a 404."""

from __future__ import annotations

import asyncio
import json

from marketplace import jobs
from marketplace.applications.services import deliver, move_lead
from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.consents.services import withdraw_consent
from marketplace.db import transaction
from marketplace.errors import ValidationFailed
from marketplace.inbox.tables import InboxItem
from marketplace.outbox.tables import OutboxMessage
from marketplace.prescreen.rules import MAX_FILTERS
from marketplace.prescreen.services import (
    add_hard_filter,
    add_score_rule,
    publish,
    set_threshold,
    start_draft,
)
from marketplace.prescreen.tables import RuleSet, Screening
from tests import factories
from tests.fixtures import Client, apply_form_secrets, login, soup

ONLY_BEIJING = {
    "filter_field": "city",
    "filter_operator": "not_in",
    "filter_values": "北京",
    "reason": "not_eligible",
}
MID_INCOME = {
    "score_field": "monthly_income",
    "score_operator": "between",
    "score_low": "8000",
    "score_high": "15000",
    "points": "20",
}
HIGH_INCOME = {**MID_INCOME, "score_low": "15000", "score_high": "100000", "points": "40"}


async def _published(world: factories.World, *forms: dict[str, str], threshold: str = "") -> int:
    """The bank's rules in force: a draft with `forms` (filters or score rules), published."""
    draft = await start_draft(world.staff)
    for form in forms:
        add = add_hard_filter if "filter_field" in form else add_score_rule
        await add(world.staff, draft, form)
    if threshold:
        await set_threshold(
            world.staff, draft, {"threshold": threshold, "threshold_reason": "income"}
        )
    await publish(world.staff, draft)
    return draft


async def _apply(
    client: Client, world: factories.World, *, run: bool = True, **form: str
) -> Application:
    """The borrower applies through the site for a new product of the bank; with `run`, the
    worker delivers (and screens) it. The client ends signed out."""
    product_id = await factories.listed_product(world.staff, world.operator)
    await login(client, "/login", world.borrower_mobile)
    hidden = await apply_form_secrets(client, product_id)
    response = await client.submit(
        f"/products/{product_id}/apply", factories.application_form(**hidden, **form)
    )
    assert response.status_code == 303, response.text[:300]
    await client.submit("/logout")
    if run:
        await jobs.run_until_idle()
    return await Application.objects().order_by(Application.id, ascending=False).first()


async def test_published_rules_score_each_lead_and_reject_with_the_reason(client, world):
    await _published(world, ONLY_BEIJING, MID_INCOME, HIGH_INCOME)
    passed = await _apply(client, world, city="北京", monthly_income="12000")
    turned_down = await _apply(client, world, city="上海", monthly_income="20000")

    assert (passed.status, passed.prescreen_score) == ("delivered", 20)
    assert (turned_down.status, turned_down.rejection_reason) == ("rejected", "not_eligible")
    assert turned_down.prescreen_score == 40
    screening = await Screening.objects().get(Screening.application == turned_down.id)
    assert (screening.version, screening.outcome, screening.auto_rejected) == (1, "reject", True)
    # Rejected as the system, audited with the reason; the borrower is told as with any rejection.
    rejection = await AuditEntry.objects().get(
        (AuditEntry.action == "lead.rejected") & (AuditEntry.object_id == str(turned_down.id))
    )
    assert rejection.actor_kind == "system" and "not_eligible" in str(rejection.detail)
    assert await AuditEntry.exists().where(AuditEntry.action == "prescreen.screen")
    told = await InboxItem.objects().where(
        (InboxItem.recipient == world.borrower.user_id) & (InboxItem.kind == "application.rejected")
    )
    assert len(told) == 1 and "资质不符" in told[0].title
    job_rows = await OutboxMessage.select(OutboxMessage.payload).where(
        OutboxMessage.job == "prescreen.screen"
    )
    assert job_rows and all(
        set(json.loads(row["payload"])) == {"application_id"} for row in job_rows
    ), "ids only"

    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get(f"/console/leads/{turned_down.id}"))
    lines = [li.text.strip() for li in page.select("[data-explanation] li")]
    assert lines == [
        "城市不属于北京市：拒绝（原因：资质不符）",
        "月收入 8,000–15,000：不符合（0 分）",
        "月收入 15,000–100,000：+40 分",
    ]
    assert "已自动拒绝" in page.select_one("#screening-title").find_parent("section").text
    desk = soup(await client.get("/console/leads?sort=score_desc&assignee=all"))
    assert "按评分（从高到低）" in desk.text
    order = [row["data-lead"] for row in desk.select("tr[data-lead]")]
    assert order == [str(turned_down.id), str(passed.id)]
    assert [cell.text.strip() for cell in desk.select("td[data-score]")] == ["40", "20"]


async def test_a_threshold_rejects_low_scores_and_no_rules_means_no_score(client, world):
    unscored = await _apply(client, world, monthly_income="12000")
    assert (unscored.status, unscored.prescreen_score) == ("delivered", None)
    assert not await Screening.exists()

    await _published(world, MID_INCOME, threshold="20")
    # A modest amount: the debt-to-income warning is not what this test is about.
    low = await _apply(client, world, monthly_income="6000", amount="20000")
    enough = await _apply(client, world, monthly_income="9000")
    assert (low.status, low.rejection_reason, low.prescreen_score) == ("rejected", "income", 0)
    assert (enough.status, enough.prescreen_score) == ("delivered", 20)
    await login(client, "/console/login", "staff@test-bank.example")
    lines = soup(await client.get(f"/console/leads/{low.id}")).select("[data-explanation] li")
    assert lines[-1].text.strip() == "总分 0 低于 20 分：拒绝（原因：收入不足）"


async def test_nothing_is_scored_once_consent_is_withdrawn(client, world):
    await _published(world, ONLY_BEIJING, MID_INCOME)
    lead = await _apply(client, world, run=False, city="上海")
    assert await deliver(lead.id)  # delivered; the screening job is queued behind it
    async with transaction():
        assert await withdraw_consent(world.borrower, lead.consent)
    await jobs.run_until_idle()
    after = await Application.objects().get(Application.id == lead.id)
    assert (after.status, after.prescreen_score) == ("delivered", None)
    assert not await Screening.exists()


async def test_a_lead_keeps_the_version_that_scored_it(client, world):
    await _published(world, MID_INCOME)
    first = await _apply(client, world, monthly_income="12000")
    draft = await start_draft(world.staff)
    # The draft starts as a copy of the rules in force.
    assert (await RuleSet.objects().get(RuleSet.id == draft)).version == 2
    await add_score_rule(world.staff, draft, {**MID_INCOME, "points": "5"})
    await publish(world.staff, draft)
    second = await _apply(client, world, monthly_income="12000")

    assert (first.prescreen_score, second.prescreen_score) == (20, 25)
    versions = {s.application: s.version for s in await Screening.objects()}
    assert versions == {first.id: 1, second.id: 2}
    statuses = {r.version: r.status for r in await RuleSet.objects()}
    assert statuses == {1: "retired", 2: "published"}

    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get(f"/console/leads/{first.id}"))
    assert "按预筛规则第 1 版评分" in page.text
    assert [li.text.strip() for li in page.select("[data-explanation] li")] == [
        "月收入 8,000–15,000：+20 分"
    ]
    # Older versions are read-only: no forms on their page, and edits are refused.
    v1 = await RuleSet.objects().get(RuleSet.version == 1)
    old = soup(await client.get(f"/console/prescreen/{v1.id}"))
    assert "此版本只读" in old.text and not old.select("form[action*='/remove']")
    refused = await client.submit(f"/console/prescreen/{v1.id}/scores", MID_INCOME)
    assert refused.status_code == 400 and "只有草稿可以修改" in refused.text
    again = await client.submit(f"/console/prescreen/{v1.id}/publish")
    assert again.status_code == 409


async def test_console_edits_a_draft_without_js_and_publishes_it(client, world):
    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get("/console/prescreen"))
    assert "还没有生效的规则" in page.text
    assert (await client.submit("/console/prescreen/drafts")).status_code == 303
    draft = await RuleSet.objects().first()
    base = f"/console/prescreen/{draft.id}"
    assert (await client.submit(f"{base}/filters", ONLY_BEIJING)).status_code == 303
    assert (await client.submit(f"{base}/scores", MID_INCOME)).status_code == 303
    page = soup(await client.get("/console/prescreen"))
    rows = [row.select("td")[1].text for row in page.select("tr[data-rule]")]
    assert rows == ["城市不属于北京市", "月收入 8,000–15,000"]
    remove = await client.submit(f"{base}/remove", {"kind": "score", "index": "0"})
    assert remove.status_code == 303
    assert len(soup(await client.get("/console/prescreen")).select("tr[data-rule]")) == 1
    stale = await client.submit(f"{base}/remove", {"kind": "score", "index": "0"})
    assert stale.status_code == 400 and "该规则已不存在" in stale.text
    assert (await client.submit(f"{base}/publish")).status_code == 303
    page = soup(await client.get("/console/prescreen"))
    assert "第 1 版，发布于" in page.text
    assert await AuditEntry.count().where(AuditEntry.action.like("prescreen.%")) == 5


HOSTILE_BY_KEY = {
    # Any short text may name a city; these may not.
    "filter_values": ("", " ", "城" * 31, "a\x00b", ",".join(str(i) for i in range(51))),
    # Points may be negative, within ±1000.
    "points": ("", "1001", "-1001", "--1", "+1", "１２", "٣", "1.5", "9" * 400, "a\x00b"),
}
HOSTILE = ("", " ", "-1", "１２", "٣", "1e9", "NaN", "9" * 400, "x" * 5000, "a\x00b", "💸")


async def test_hostile_values_in_every_rule_field_are_refused_with_the_form_kept(client, world):
    draft = await start_draft(world.staff)
    base = f"/console/prescreen/{draft}"
    await login(client, "/console/login", "staff@test-bank.example")
    fields = {
        "filters": (ONLY_BEIJING, ("filter_field", "filter_operator", "filter_values", "reason")),
        "scores": (
            MID_INCOME,
            ("score_field", "score_operator", "score_low", "score_high", "points"),
        ),
    }
    for path, (valid, keys) in fields.items():
        for key in keys:
            for value in HOSTILE_BY_KEY.get(key, HOSTILE):
                sent = {**valid, key: value}
                response = await client.submit(f"{base}/{path}", sent)
                assert response.status_code == 400, (path, key, value, response.status_code)
                if value and "\x00" not in value and len(value) < 100:
                    typed = soup(response).select_one(f"[name={key}]")
                    shown = (
                        typed.get("value")
                        or (typed.select_one("option[selected]") or {"value": ""})["value"]
                    )
                    assert shown == value or typed.name == "select", (key, value)
    # (Blank removes the threshold; a negative one is allowed.)
    for value in (*HOSTILE[3:], "99999999", "--5"):
        response = await client.submit(
            f"{base}/threshold", {"threshold": value, "threshold_reason": "income"}
        )
        assert response.status_code == 400, value
    for index in ("-1", "99999999999", "x", "0"):
        response = await client.submit(f"{base}/remove", {"kind": "filter", "index": index})
        assert response.status_code == 400, index
    assert (
        await client.submit(f"{base}/remove", {"kind": "other", "index": "0"})
    ).status_code == 400
    stored = json.loads((await RuleSet.objects().get(RuleSet.id == draft)).rules)
    assert stored["filters"] == [] and stored["scores"] == []
    # No CSRF token: refused before anything runs.
    bare = await client.post(f"{base}/filters", data=ONLY_BEIJING)
    assert bare.status_code == 403
    # Nothing to publish yet.
    empty = await client.submit(f"{base}/publish")
    assert empty.status_code == 400 and "还没有任何规则" in empty.text


async def test_another_institutions_rules_are_a_404(client, world):
    draft = await start_draft(world.staff)
    await login(client, "/console/login", "staff@other-bank.example")
    for path in (f"/console/prescreen/{draft}", f"/console/prescreen/{draft}/preview"):
        assert (await client.get(path)).status_code == 404
    for path, form in (
        ("filters", ONLY_BEIJING),
        ("scores", MID_INCOME),
        ("threshold", {"threshold": "1", "threshold_reason": "income"}),
        ("remove", {"kind": "filter", "index": "0"}),
        ("publish", {}),
        ("retire", {}),
    ):
        response = await client.submit(f"/console/prescreen/{draft}/{path}", form)
        assert response.status_code == 404, path
    assert "第 1 版" not in (await client.get("/console/prescreen")).text
    stored = json.loads((await RuleSet.objects().get(RuleSet.id == draft)).rules)
    assert stored["filters"] == [] and stored["scores"] == [], "nothing written"


async def test_only_admins_and_risk_officers_manage_rules(client, world):
    for role in ("loan_officer", "product_manager", "finance"):
        login_key = f"{role}@test-bank.example"
        await factories.user("staff", login_key, role, world.bank_id)
        await login(client, "/console/login", login_key)
        assert (await client.get("/console/prescreen")).status_code == 403, role
        assert (await client.submit("/console/prescreen/drafts")).status_code == 403, role
        await client.submit("/console/logout")
    await factories.user("staff", "risk@test-bank.example", "risk_officer", world.bank_id)
    await login(client, "/console/login", "risk@test-bank.example")
    assert (await client.get("/console/prescreen")).status_code == 200


async def test_parallel_edits_keep_one_draft_and_the_rule_limit(world):
    drafts = await asyncio.gather(*(start_draft(world.staff) for _ in range(6)))
    assert len(set(drafts)) == 1 and await RuleSet.count() == 1
    results = await asyncio.gather(
        *(add_hard_filter(world.staff, drafts[0], ONLY_BEIJING) for _ in range(MAX_FILTERS + 5)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, ValidationFailed)]
    assert len(refused) == 5 and all("最多" in str(r) for r in refused)
    rules = (await RuleSet.objects().get(RuleSet.id == drafts[0])).rules
    assert rules.count('"reason"') == MAX_FILTERS
    published = await asyncio.gather(
        *(publish(world.staff, drafts[0]) for _ in range(3)), return_exceptions=True
    )
    assert published.count(1) == 1
    assert await RuleSet.count().where(RuleSet.status == "published") == 1


async def test_preview_replays_a_draft_over_recent_leads_without_changing_them(client, world):
    await _published(world, MID_INCOME)
    beijing = await _apply(client, world, city="北京", monthly_income="12000")
    shanghai = await _apply(client, world, city="上海", monthly_income="9000")
    withdrawn = await _apply(client, world, city="上海", monthly_income="9000")
    async with transaction():
        await withdraw_consent(world.borrower, withdrawn.consent)
    draft = await start_draft(world.staff)
    await add_hard_filter(world.staff, draft, ONLY_BEIJING)
    before = [(a.id, a.status, a.prescreen_score) for a in await Application.objects()]

    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get(f"/console/prescreen/{draft}/preview"))
    rows = {row["data-lead"]: row for row in page.select("tr[data-lead]")}
    assert set(rows) == {str(beijing.id), str(shanghai.id), str(withdrawn.id)}
    cells = [td.text.strip() for td in rows[str(shanghai.id)].select("td")]
    assert cells[2:4] == ["20", "拒绝：资质不符"] and cells[5].startswith("20")
    assert [td.text.strip() for td in rows[str(beijing.id)].select("td")][2:4] == ["20", "通过"]
    assert "已撤回授权，不评分" in rows[str(withdrawn.id)].text
    stats = [s.text.strip() for s in page.select(".stat__value")]
    assert stats == ["2", "1", "0"]
    after = [(a.id, a.status, a.prescreen_score) for a in await Application.objects()]
    assert after == before and await Screening.count() == 3  # as screened at delivery


async def test_preview_marks_where_the_rules_and_the_institution_disagreed(client, world):
    lead = await _apply(client, world, city="上海")
    await login(client, "/console/login", "staff@test-bank.example")
    await client.submit(f"/console/leads/{lead.id}/status", {"action": "review"})
    await client.submit(f"/console/leads/{lead.id}/reject", {"reason": "debt"})
    draft = await start_draft(world.staff)
    await add_score_rule(world.staff, draft, MID_INCOME)
    row = soup(await client.get(f"/console/prescreen/{draft}/preview")).select_one("tr[data-lead]")
    assert row.has_attr("data-differs") and "已拒绝（负债过高）" in row.text


async def test_retiring_the_rules_stops_scoring_and_unscored_leads_sort_last(client, world):
    version = await _published(world, MID_INCOME)
    scored = await _apply(client, world, monthly_income="12000")
    await login(client, "/console/login", "staff@test-bank.example")
    assert (await client.submit(f"/console/prescreen/{version}/retire")).status_code == 303
    await client.submit("/console/logout")
    unscored = await _apply(client, world, monthly_income="12000")
    assert (scored.prescreen_score, unscored.prescreen_score) == (20, None)
    assert (await RuleSet.objects().get(RuleSet.id == version)).status == "retired"
    await login(client, "/console/login", "staff@test-bank.example")
    page = soup(await client.get("/console/prescreen"))
    assert "还没有生效的规则" in page.text
    desk = soup(await client.get("/console/leads?sort=score_desc&assignee=all"))
    assert [row["data-lead"] for row in desk.select("tr[data-lead]")] == [
        str(scored.id),
        str(unscored.id),
    ]
    assert await AuditEntry.exists().where(AuditEntry.action == "prescreen.retire")


async def test_a_lead_already_taken_up_is_scored_but_left_to_the_officer(client, world):
    await _published(world, ONLY_BEIJING)
    lead = await _apply(client, world, run=False, city="上海")
    assert await deliver(lead.id)
    await move_lead(world.staff, lead.id, "review")  # before the screening job runs
    await jobs.run_until_idle()
    after = await Application.objects().get(Application.id == lead.id)
    assert (after.status, after.prescreen_score) == ("reviewing", 0)
    screening = await Screening.objects().get(Screening.application == lead.id)
    assert (screening.outcome, screening.reason, screening.auto_rejected) == (
        "reject",
        "not_eligible",
        False,
    )
    await login(client, "/console/login", "staff@test-bank.example")
    page = await client.get(f"/console/leads/{lead.id}")
    assert "规则建议拒绝（原因：资质不符），评分时线索已在处理中，未自动拒绝" in page.text
