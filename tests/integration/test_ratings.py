"""Verified ratings with moderation (issue 12, P11): who may rate (an application to the
product, withdrawn ones too), the automatic check (personal data after normalisation,
banned phrases), operators' decisions, one reply, unique votes under parallel clicks,
the product page's summary, sorting and masking, tenant isolation and hostile input."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.consents.tables import Consent
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied, Refused
from marketplace.inbox.tables import InboxItem
from marketplace.loans.tables import Loan
from marketplace.parameters.services import change_parameter
from marketplace.ratings.queries import QueueFilters, moderation_queue, product_ratings
from marketplace.ratings.services import (
    forget_ratings,
    moderate,
    reply,
    report,
    submit_rating,
    vote_helpful,
)
from marketplace.ratings.statuses import RatingStatus
from marketplace.ratings.tables import ProductRating, RatingReply, RatingVote
from tests import factories
from tests.factories import valid_id_number
from tests.fixtures import login, soup

MODERATOR = "cs@loanmart.example"
AUDITOR = "auditor@loanmart.example"
STAFF = "staff@test-bank.example"
OTHER_STAFF = "staff@other-bank.example"
SECOND_MOBILE = "13900000002"


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


async def _apply(borrower_id: int, product_id: int, institution_id: int, status: str) -> int:
    consent = await Consent.insert(
        Consent(
            borrower=borrower_id,
            institution=institution_id,
            notice_version="1",
            notice_hash="0" * 64,
            purpose="loan",
            data_items=["name"],
            retention="1y",
        )
    ).returning(Consent.id)
    rows = await Application.insert(
        Application(
            reference=f"LMT{secrets.token_hex(6).upper()}",
            borrower=borrower_id,
            product=product_id,
            product_version=1,
            institution=institution_id,
            consent=consent[0]["id"],
            amount=Decimal("50000"),
            term_months=12,
            repayment_method="equal_installment",
            status=status,
            shared_data_encrypted="x",
            submission_key=secrets.token_hex(16),
        )
    ).returning(Application.id)
    return rows[0]["id"]


async def _disburse(application_id: int, borrower_id: int, product_id: int, institution_id: int):
    await Loan.insert(
        Loan(
            application=application_id,
            institution=institution_id,
            borrower=borrower_id,
            product=product_id,
            principal=Decimal("50000"),
            rate=Decimal("0.07"),
            rate_period="year",
            term_months=12,
            repayment_method="equal_installment",
            disbursed_on=date.today() - timedelta(days=10),
            receiving_account_masked="6222 **** 6789",
        )
    )


class Scene:
    def __init__(self, world) -> None:
        self.world = world

    async def build(self) -> Scene:
        w = self.world
        self.product = await factories.listed_product(w.staff, w.operator)
        self.other_product = await factories.listed_product(w.staff, w.operator, name="别的产品")
        self.moderator = await factories.user(
            "operator", MODERATOR, "customer_service", None, "客服小李"
        )
        self.second = await factories.user("borrower", SECOND_MOBILE, "borrower", None, "李四")
        await _apply(w.borrower.user_id, self.product, w.bank_id, "withdrawn")
        await _apply(self.second.user_id, self.product, w.bank_id, "accepted")
        return self


@pytest.fixture
async def scene(world) -> Scene:
    return await Scene(world).build()


async def _rating(product_id: int, borrower_id: int) -> dict:
    row = (
        await ProductRating.select()
        .where((ProductRating.product == product_id) & (ProductRating.borrower == borrower_id))
        .first()
    )
    assert row is not None
    return row


# Eligibility -------------------------------------------------------------------------


async def test_only_borrowers_who_applied_to_the_product_may_rate(scene):
    w = scene.world
    stranger = await factories.user("borrower", "13900000003", "borrower", None, "王五")
    with pytest.raises(Refused):
        await submit_rating(stranger, scene.product, "5", "")
    # An application to another product of the same institution does not count.
    await _apply(stranger.user_id, scene.other_product, w.bank_id, "approved")
    with pytest.raises(Refused):
        await submit_rating(stranger, scene.product, "5", "")
    # Withdrawn still counts: they went through the product's process.
    assert await submit_rating(w.borrower, scene.product, "4", "流程清楚") is RatingStatus.PUBLISHED
    # Staff and operators have no rating permission at all.
    with pytest.raises(PermissionDenied):
        await submit_rating(w.staff, scene.product, "5", "")
    assert await ProductRating.count() == 1


async def test_the_form_and_the_post_refuse_a_borrower_who_never_applied(client, scene):
    await factories.user("borrower", "13900000003", "borrower", None, "王五")
    await login(client, "/login", "13900000003")
    page = await client.get(f"/products/{scene.product}")
    assert page.status_code == 200
    assert soup(page).find("a", string="写评价") is None
    form = await client.get(f"/products/{scene.product}/ratings/new")
    assert form.status_code == 403
    assert "只有申请过该产品的借款人才能评价" in form.text
    posted = await client.submit(f"/products/{scene.product}/ratings", {"rating": "5"})
    assert posted.status_code == 403
    assert "只有申请过该产品的借款人才能评价" in posted.text
    assert await ProductRating.count() == 0


async def test_verified_label_says_disbursed_only_with_a_loan(client, scene):
    w = scene.world
    application = (
        await Application.select(Application.id)
        .where(Application.borrower == scene.second.user_id)
        .first()
    )
    await _disburse(application["id"], scene.second.user_id, scene.product, w.bank_id)
    await submit_rating(w.borrower, scene.product, "4", "撤回了，但客服很耐心")
    await submit_rating(scene.second, scene.product, "5", "放款很快")
    page = soup(await client.get(f"/products/{scene.product}"))
    labels = {
        item.select_one(".rating-item__text").text: item.select_one(".badge").text
        for item in page.select(".rating-item")
    }
    assert labels == {"撤回了，但客服很耐心": "已验证申请", "放款很快": "已放款"}


# The automatic check ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("有问题打我电话 138 1234-5678", "mobile"),
        ("我的身份证" + _full_width(valid_id_number()), "id_number"),
        ("这个产品包 下款", "banned:guaranteed"),
        ("卡号 6222-0212-3456-7890-123", "bank_card"),
        ("联系 zhang.san＠qq.com", "email"),
    ],
)
async def test_caught_text_is_held_with_its_reason_and_not_shown(client, scene, text, reason):
    w = scene.world
    assert await submit_rating(w.borrower, scene.product, "5", text) is RatingStatus.HELD
    row = await _rating(scene.product, w.borrower.user_id)
    assert reason in row["hold_reasons"]
    assert row["published_at"] is None
    page = await client.get(f"/products/{scene.product}")
    assert text not in page.text
    assert soup(page).select(".rating-item") == []
    # The institution hears only of published ratings.
    assert await InboxItem.count().where(InboxItem.kind == "rating.published") == 0


async def test_clean_text_publishes_at_once_and_the_institution_is_told(client, scene):
    w = scene.world
    text = "2024-12-01 申请，借了 5000 元 12 期，年化 7.2%，第二天到账"
    assert await submit_rating(w.borrower, scene.product, "5", text) is RatingStatus.PUBLISHED
    page = soup(await client.get(f"/products/{scene.product}"))
    assert page.select_one(".rating-item__text").text == text
    notices = await InboxItem.select(InboxItem.recipient).where(
        InboxItem.kind == "rating.published"
    )
    assert [n["recipient"] for n in notices] == [w.staff.user_id]


async def test_operators_change_the_banned_phrases(scene):
    w = scene.world
    boss = await factories.user("operator", "super@loanmart.example", "super_admin", None, "超管")
    await change_parameter(
        boss, "rating_banned_phrases", [{"code": "rebate", "label": "返现"}], reason="新增违禁词"
    )
    assert await submit_rating(w.borrower, scene.product, "3", "申请就返 现") is RatingStatus.HELD
    assert await submit_rating(scene.second, scene.product, "3", "包下款") is RatingStatus.PUBLISHED


# Operators --------------------------------------------------------------------------


async def test_operator_approves_or_rejects_a_held_rating_and_the_author_may_edit(scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "2", "加我 13812345678")
    await submit_rating(scene.second, scene.product, "4", "微信 13812345679 可以咨询")
    first = await _rating(scene.product, w.borrower.user_id)
    second = await _rating(scene.product, scene.second.user_id)

    with pytest.raises(DomainError) as missing:
        await moderate(scene.moderator, first["id"], "reject", "")
    assert missing.value.field == "reason"
    await moderate(scene.moderator, first["id"], "reject", "含手机号，请删去后再提交")
    await moderate(scene.moderator, second["id"], "approve", "")
    with pytest.raises(InvalidTransition):
        await moderate(scene.moderator, second["id"], "approve", "")

    rejected = await _rating(scene.product, w.borrower.user_id)
    assert rejected["status"] == RatingStatus.REJECTED
    assert rejected["moderator"] == scene.moderator.user_id
    notice = await InboxItem.select().where(InboxItem.recipient == w.borrower.user_id).first()
    assert notice["kind"] == "rating.rejected" and "含手机号" in notice["title"]
    assert (await _rating(scene.product, scene.second.user_id))["status"] == "published"

    # The author edits the rejected rating; clean now, it publishes (version counts edits).
    assert await submit_rating(w.borrower, scene.product, "3", "一般") is RatingStatus.PUBLISHED
    edited = await _rating(scene.product, w.borrower.user_id)
    assert (edited["text"], edited["rating"], edited["version"]) == ("一般", 3, 2)
    # Published: no more edits.
    with pytest.raises(DomainError):
        await submit_rating(w.borrower, scene.product, "1", "改主意了")
    await moderate(scene.moderator, edited["id"], "hide", "与产品无关")
    assert (await _rating(scene.product, w.borrower.user_id))["status"] == "hidden"
    actions = {
        row["action"]
        for row in await AuditEntry.select(AuditEntry.action).where(
            AuditEntry.object_type == "product_rating"
        )
    }
    assert {"rating.submit", "rating.reject", "rating.approve", "rating.hide"} <= actions


async def test_the_queue_highlights_caught_text_and_only_moderators_decide(client, scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "1", "骗子，电话 138 1234 5678")
    rating = await _rating(scene.product, w.borrower.user_id)
    rows, total = await moderation_queue(scene.moderator, QueueFilters(), page=1, per_page=10)
    assert total == 1
    assert ("138 1234 5678", True) in rows[0].pieces
    assert "approve" in rows[0].actions and "reject" in rows[0].actions

    await login(client, "/admin/login", AUDITOR)
    page = soup(await client.get("/admin/moderation"))
    assert page.select_one("mark.caught").text == "138 1234 5678"
    assert page.select("button[name=decision]") == []
    denied = await client.submit(f"/admin/moderation/{rating['id']}", {"decision": "approve"})
    assert denied.status_code == 403
    export = await client.get("/admin/moderation/export/csv?status=all")
    assert export.status_code == 200
    lines = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert any("含手机号" in cell for cell in lines[1])
    assert await AuditEntry.count().where(AuditEntry.action == "rating.export") == 1


async def test_a_rejection_without_a_reason_re_renders_with_a_zh_error(client, scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "1", "邮箱 a@b.cn")
    rating = await _rating(scene.product, w.borrower.user_id)
    await login(client, "/admin/login", MODERATOR)
    response = await client.submit(
        f"/admin/moderation/{rating['id']}?status=held", {"decision": "reject", "reason": ""}
    )
    assert response.status_code == 400
    assert "请填写原因" in response.text
    done = await client.submit(
        f"/admin/moderation/{rating['id']}?status=held",
        {"decision": "reject", "reason": "含邮箱"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/moderation?status=held"
    bogus = await client.submit(f"/admin/moderation/{rating['id']}", {"decision": "delete"})
    assert bogus.status_code == 404


# Institutions -------------------------------------------------------------------------


async def test_one_reply_only_even_when_sent_twice_at_once(scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "3", "审批慢")
    rating = await _rating(scene.product, w.borrower.user_id)
    results = await asyncio.gather(
        reply(w.staff, rating["id"], "抱歉，我们已优化流程"),
        reply(w.staff, rating["id"], "抱歉，我们已优化流程"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["DomainError", "NoneType"]
    assert await RatingReply.count() == 1
    notice = await InboxItem.select().where(InboxItem.kind == "rating.reply").first()
    assert notice["recipient"] == w.borrower.user_id
    with pytest.raises(DomainError) as leak:
        await reply(w.staff, rating["id"], "请联系 138-1234-5678")
    assert leak.value.field == "reply"


async def test_another_institution_sees_nothing_and_touches_nothing(client, scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "2", "一般般")
    rating = await _rating(scene.product, w.borrower.user_id)
    with pytest.raises(NotFound):
        await reply(w.other_staff, rating["id"], "不是我们的")
    with pytest.raises(NotFound):
        await report(w.other_staff, rating["id"], "不是我们的")
    await login(client, "/console/login", OTHER_STAFF)
    listing = soup(await client.get("/console/ratings"))
    assert listing.select("[data-rating]") == []
    assert (
        await client.submit(f"/console/ratings/{rating['id']}/reply", {"reply": "x"})
    ).status_code == 404
    assert (
        await client.submit(f"/console/ratings/{rating['id']}/report", {"reason": "x"})
    ).status_code == 404
    assert await RatingReply.count() == 0
    assert (await _rating(scene.product, w.borrower.user_id))["status"] == "published"


async def test_the_institution_replies_and_reports_from_its_console(client, scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "1", "乱收费")
    await submit_rating(scene.second, scene.product, "5", "不错")
    bad = await _rating(scene.product, w.borrower.user_id)
    good = await _rating(scene.product, scene.second.user_id)
    await login(client, "/console/login", STAFF)
    listing = soup(await client.get("/console/ratings?stars=1"))
    assert [int(li["data-rating"]) for li in listing.select("[data-rating]")] == [bad["id"]]
    response = await client.submit(f"/console/ratings/{good['id']}/reply", {"reply": "感谢支持！"})
    assert response.status_code == 303
    again = await client.submit(f"/console/ratings/{good['id']}/reply", {"reply": "再谢"})
    assert again.status_code == 400 and "只能回复一次" in again.text
    empty = await client.submit(f"/console/ratings/{bad['id']}/report", {"reason": " "})
    assert empty.status_code == 400 and "请填写举报原因" in empty.text
    reported = await client.submit(
        f"/console/ratings/{bad['id']}/report", {"reason": "未收取任何费用，评价不实"}
    )
    assert reported.status_code == 303
    held = await _rating(scene.product, w.borrower.user_id)
    assert held["status"] == "held" and "reported" in held["hold_reasons"]
    assert held["report_reason"] == "未收取任何费用，评价不实"
    page = soup(await client.get(f"/products/{scene.product}"))
    assert [item.select_one(".rating-item__text").text for item in page.select(".rating-item")] == [
        "不错"
    ]
    assert page.select_one("[data-reply]").text.strip().endswith("感谢支持！")
    rows, _total = await moderation_queue(
        scene.moderator, QueueFilters(reason="reported"), page=1, per_page=10
    )
    assert [row.id for row in rows] == [bad["id"]]


# Votes --------------------------------------------------------------------------------


async def test_votes_count_once_and_never_on_ones_own_rating(scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "5", "好")
    rating = await _rating(scene.product, w.borrower.user_id)
    with pytest.raises(DomainError):
        await vote_helpful(w.borrower, rating["id"])
    await asyncio.gather(*(vote_helpful(scene.second, rating["id"]) for _ in range(5)))
    assert (await _rating(scene.product, w.borrower.user_id))["helpful_count"] == 1
    assert await RatingVote.count() == 1
    with pytest.raises(PermissionDenied):
        await vote_helpful(w.staff, rating["id"])


async def test_the_vote_button_works_without_javascript(client, scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "5", "好")
    rating = await _rating(scene.product, w.borrower.user_id)
    await login(client, "/login", SECOND_MOBILE)
    page = soup(await client.get(f"/products/{scene.product}"))
    form = page.select_one(f"#rating-{rating['id']} form")
    assert form["action"] == f"/ratings/{rating['id']}/helpful"
    response = await client.submit(form["action"])
    assert response.status_code == 303
    assert response.headers["location"] == f"/products/{scene.product}#rating-{rating['id']}"
    page = soup(await client.get(f"/products/{scene.product}"))
    assert "有用 (1)" in page.select_one("[data-helpful]").text
    assert page.select_one(f"#rating-{rating['id']} form") is None


# The product page ----------------------------------------------------------------------


async def test_average_count_distribution_sorting_and_masked_authors(client, scene):
    w = scene.world
    raters = [w.borrower, scene.second]
    for n in range(3):
        extra = await factories.user("borrower", f"1390000010{n}", "borrower", None, "赵六")
        await _apply(extra.user_id, scene.product, w.bank_id, "rejected")
        raters.append(extra)
    for actor, stars in zip(raters, [5, 4, 4, 1, 5], strict=True):
        await submit_rating(actor, scene.product, str(stars), f"{stars}星体验")
    # The oldest gets the votes; newest first by default.
    oldest = await _rating(scene.product, w.borrower.user_id)
    await ProductRating.update(
        {ProductRating.published_at: datetime.now(UTC) - timedelta(days=3)}
    ).where(ProductRating.id == oldest["id"])
    for voter in raters[1:3]:
        await vote_helpful(voter, oldest["id"])

    page = soup(await client.get(f"/products/{scene.product}"))
    assert page.select_one("[data-rating-average]").text == "3.8"
    assert page.select_one("[data-rating-count]")["data-rating-count"] == "5"
    bars = [row.find_all("span")[-1].text for row in page.select(".rating-bars__row")]
    assert bars == ["2", "2", "0", "0", "1"]
    newest = [int(li["data-rating"]) for li in page.select(".rating-item")]
    assert newest[-1] == oldest["id"]
    useful = soup(await client.get(f"/products/{scene.product}?sort=useful"))
    assert int(useful.select(".rating-item")[0]["data-rating"]) == oldest["id"]
    authors = {span.text for span in page.select("[data-author]")}
    assert authors == {
        "用户****5678",
        "用户****0002",
        "用户****0100",
        "用户****0101",
        "用户****0102",
    }
    assert "13912345678" not in page.text

    paged = await product_ratings(scene.product, None, sort="newest", page=2, per_page=2)
    assert [item.id for item in paged.items] == newest[2:4]
    assert paged.pages == 3


async def test_hostile_ratings_are_refused_with_the_values_kept(client, scene):
    await login(client, "/login", factories.World.borrower_mobile)
    url = f"/products/{scene.product}/ratings"
    for bad in ["0", "6", "５", "-1", "9" * 40, "", "3.5", "<b>"]:
        response = await client.submit(url, {"rating": bad, "text": "保留我"})
        assert response.status_code == 400, bad
        assert "请选择 1 到 5 星" in response.text
        assert "保留我" in soup(response).select_one("textarea[name=text]").text
    too_long = await client.submit(url, {"rating": "3", "text": "长" * 501})
    assert too_long.status_code == 400 and "最多500个字" in too_long.text
    assert await ProductRating.count() == 0

    script = "<script>alert(1)</script>很好"
    done = await client.submit(url, {"rating": "4", "text": script})
    assert done.status_code == 303
    page = await client.get(f"/products/{scene.product}")
    assert "<script>alert(1)</script>" not in page.text
    assert soup(page).select_one(".rating-item__text").text == script
    for path in ("/products/999999/ratings/new", "/products/2147483648/ratings/new"):
        assert (await client.get(path)).status_code == 404
    assert (await client.submit("/ratings/999999/helpful")).status_code == 404


async def test_parallel_first_submissions_make_one_rating(scene):
    w = scene.world
    results = await asyncio.gather(
        *(submit_rating(w.borrower, scene.product, "4", f"第{n}次") for n in range(4)),
        return_exceptions=True,
    )
    assert all(r is RatingStatus.PUBLISHED or isinstance(r, DomainError) for r in results)
    assert await ProductRating.count() == 1


async def test_the_eligible_borrower_sees_the_link_and_a_prefilled_form(client, scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "2", "电话 13812345678")
    await login(client, "/login", w.borrower_mobile)
    page = soup(await client.get(f"/products/{scene.product}"))
    assert page.find("a", string="写评价")["href"] == f"/products/{scene.product}/ratings/new"
    form = soup(await client.get(f"/products/{scene.product}/ratings/new"))
    assert form.select_one("input[name=rating][value='2']").has_attr("checked")
    assert form.select_one("textarea[name=text]").text == "电话 13812345678"
    assert "含手机号" in form.text


async def test_an_erased_account_takes_its_ratings_and_votes_along(scene):
    w = scene.world
    await submit_rating(w.borrower, scene.product, "5", "好")
    await submit_rating(scene.second, scene.product, "4", "还行")
    mine = await _rating(scene.product, w.borrower.user_id)
    theirs = await _rating(scene.product, scene.second.user_id)
    await vote_helpful(w.borrower, theirs["id"])
    await vote_helpful(scene.second, mine["id"])
    await reply(w.staff, mine["id"], "谢谢")
    async with transaction():
        await forget_ratings(w.borrower.user_id)
    assert [row["id"] for row in await ProductRating.select(ProductRating.id)] == [theirs["id"]]
    assert (await _rating(scene.product, scene.second.user_id))["helpful_count"] == 0
    assert await RatingVote.count() == 0 and await RatingReply.count() == 0
