"""Articles (issue 12, P10 + A9): the review workflow and who may take each step (another
editor approves), scheduled publishing with moved time, the public pages and the search
index following publish / unpublish / edit, images, concurrent edits and hostile input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from marketplace import clock, jobs, storage
from marketplace.audit.tables import AuditEntry
from marketplace.content.search_port import ArticleQuery, article_backend
from marketplace.content.services import (
    EditConflict,
    change_status,
    create_article,
    publish_due,
    save_article,
    upload_image,
)
from marketplace.content.tables import Article, ArticleEvent, ArticleImage
from marketplace.errors import InvalidTransition, PermissionDenied
from marketplace.files import UploadedFile
from marketplace.loancalc import SHANGHAI
from marketplace.outbox.tables import OutboxMessage
from marketplace.settings import settings
from tests import factories
from tests.fixtures import login, soup

WRITER = "writer@loanmart.example"
REVIEWER = "editor2@loanmart.example"
BOSS = "super@loanmart.example"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BODY = (
    "## 什么是综合年化利率\n\n综合年化利率把**利息和全部费用**都算进去，按内部收益率（IRR）折算。"
)


def form(**overrides: str) -> dict[str, str]:
    return {
        "title": "年化利率是怎么算的",
        "category": "guide",
        "summary": "一篇讲清 IRR 和 APR",
        "body": BODY,
        "slug": "",
        "cover_image": "",
        "publish_at": "",
        **overrides,
    }


@pytest.fixture
async def editors(world):
    writer = await factories.user("operator", WRITER, "content_editor", None, "编辑小王")
    reviewer = await factories.user("operator", REVIEWER, "content_editor", None, "编辑小李")
    boss = await factories.user("operator", BOSS, "super_admin", None, "超管老陈")
    return writer, reviewer, boss


async def published(writer, reviewer, **overrides: str) -> int:
    article_id = await create_article(writer, form(**overrides))
    await change_status(writer, article_id, "submit")
    await change_status(reviewer, article_id, "approve")
    await settle()
    return article_id


async def settle() -> None:
    """Run the queued jobs; every index update must have been done (else say why)."""
    await jobs.run_until_idle()
    rows = await OutboxMessage.select(
        OutboxMessage.status, OutboxMessage.last_error, OutboxMessage.runs
    ).where(OutboxMessage.job == "content.index")
    assert all(row["status"] == "done" for row in rows), rows


async def found(text: str = "", category: str | None = None) -> list[int]:
    return (await article_backend().search(ArticleQuery(text=text, category=category))).ids


# -- workflow over HTTP -----------------------------------------------------------------


async def test_an_editor_writes_another_approves_and_the_public_reads_it(
    client, staff_client, editors
):
    await login(client, "/admin/login", WRITER)
    response = await client.submit("/admin/articles/new", form())
    assert response.status_code == 303
    article = await Article.objects().first()
    assert response.headers["location"] == f"/admin/articles/{article.id}"
    assert article.slug == "nian-hua-li-lv-shi-zen-me-suan-de"
    assert article.status == "draft"
    assert "<strong>利息和全部费用</strong>" in article.body_html
    # A draft is nobody's business outside the editors.
    assert (await staff_client.get(f"/articles/{article.slug}")).status_code == 404

    response = await client.submit(f"/admin/articles/{article.id}/status", {"action": "submit"})
    assert response.status_code == 303
    page = soup(await client.get(f"/admin/articles/{article.id}"))
    assert not page.select("button[name=action][value=approve]")
    assert "须由另一位编辑审核" in page.text
    response = await client.submit(f"/admin/articles/{article.id}/status", {"action": "approve"})
    assert response.status_code == 403
    assert (await Article.objects().first()).status == "in_review"

    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/admin/login", REVIEWER)
    page = soup(await client.get(f"/admin/articles/{article.id}"))
    assert page.select_one("button[name=action][value=approve]") is not None
    response = await client.submit(f"/admin/articles/{article.id}/status", {"action": "approve"})
    assert response.status_code == 303
    await settle()
    article = await Article.objects().first()
    assert (article.status, article.published_at is not None) == ("published", True)

    public = await staff_client.get(f"/articles/{article.slug}")
    assert public.status_code == 200
    body = soup(public).select_one(".article-body")
    assert body.select_one("h2").text == "什么是综合年化利率"
    listing = soup(await staff_client.get("/articles"))
    assert listing.select_one(f"a[href='/articles/{article.slug}']") is not None
    home = soup(await staff_client.get("/"))
    assert home.select_one("#articles-title") is not None
    assert home.select_one(f"a[href='/articles/{article.slug}']") is not None
    assert await found("年化利率") == [article.id]

    actions = [
        row.action
        for row in await AuditEntry.objects()
        .where(AuditEntry.object_type == "article")
        .order_by(AuditEntry.id)
    ]
    assert actions == [
        "content.article_create",
        "content.article_submit",
        "content.article_approve",
    ]


async def test_return_needs_a_comment_and_the_author_reads_it(client, editors):
    writer, reviewer, _boss = editors
    article_id = await create_article(writer, form())
    await change_status(writer, article_id, "submit")
    await login(client, "/admin/login", REVIEWER)
    response = await client.submit(
        f"/admin/articles/{article_id}/status", {"action": "return", "comment": "  "}
    )
    assert response.status_code == 400
    assert "请填写意见" in response.text
    response = await client.submit(
        f"/admin/articles/{article_id}/status",
        {"action": "return", "comment": "<b>请补充</b> 36% 的出处"},
    )
    assert response.status_code == 303
    assert (await Article.objects().first()).status == "draft"
    page = await client.get(f"/admin/articles/{article_id}")
    assert "&lt;b&gt;请补充&lt;/b&gt; 36% 的出处" in page.text


async def test_who_may_do_what(client, staff_client, world, editors):
    writer, reviewer, _boss = editors
    article_id = await create_article(writer, form())
    # The auditor reads, never writes.
    await login(client, "/admin/login", "auditor@loanmart.example")
    assert (await client.get("/admin/articles")).status_code == 200
    page = soup(await client.get(f"/admin/articles/{article_id}"))
    assert page.select_one("form textarea[name=body]") is None
    assert not page.select("button[name=action]")
    for url, data in (
        ("/admin/articles/new", form()),
        (f"/admin/articles/{article_id}", {**form(), "version": "1"}),
        (f"/admin/articles/{article_id}/status", {"action": "submit"}),
    ):
        assert (await client.submit(url, data)).status_code == 403
    # A reviewer of products has no business here at all.
    await client.post("/admin/logout", data={"_csrf_token": await client.csrf_token()})
    await login(client, "/admin/login", "reviewer@loanmart.example")
    assert (await client.get("/admin/articles")).status_code == 403
    # Institution staff and borrowers are not operators.
    await login(staff_client, "/console/login", "staff@test-bank.example")
    response = await staff_client.get(f"/admin/articles/{article_id}")
    assert response.status_code in (302, 303, 401) and "编辑小王" not in response.text
    with pytest.raises(PermissionDenied):
        await create_article(world.staff, form())
    with pytest.raises(PermissionDenied):
        await change_status(world.auditor, article_id, "submit")
    # The last editor may not approve either, even when someone else wrote it.
    await save_article(reviewer, article_id, {**form(body=BODY + "\n\n补充一句。"), "version": "1"})
    await change_status(reviewer, article_id, "submit")
    with pytest.raises(PermissionDenied):
        await change_status(reviewer, article_id, "approve")
    with pytest.raises(PermissionDenied):
        await change_status(writer, article_id, "approve")


async def test_wrong_state_actions_are_refused(editors):
    writer, reviewer, _boss = editors
    article_id = await create_article(writer, form())
    with pytest.raises(InvalidTransition):
        await change_status(reviewer, article_id, "approve")  # not submitted
    with pytest.raises(InvalidTransition):
        await change_status(writer, article_id, "unpublish")
    await change_status(writer, article_id, "submit")
    with pytest.raises(InvalidTransition):
        await save_article(writer, article_id, {**form(), "version": "1"})  # under review


# -- unpublish, edits and the index ------------------------------------------------------


async def test_unpublish_hides_everywhere_and_edits_of_a_published_article_are_reindexed(
    client, editors
):
    writer, reviewer, _boss = editors
    article_id = await published(writer, reviewer)
    slug = (await Article.objects().first()).slug
    await save_article(
        writer, article_id, {**form(title="LPR 是什么", body="贷款市场报价利率。"), "version": "1"}
    )
    await settle()
    assert await found("报价利率") == [article_id]
    assert await found("年化利率") == []
    page = await client.get(f"/articles/{slug}")
    assert page.status_code == 200 and "贷款市场报价利率" in page.text

    await change_status(writer, article_id, "unpublish")
    await settle()
    assert (await client.get(f"/articles/{slug}")).status_code == 404
    assert await found("报价利率") == []
    assert soup(await client.get("/articles")).select_one(f"a[href='/articles/{slug}']") is None
    await change_status(writer, article_id, "redraft")
    assert (await Article.objects().first()).status == "draft"


# -- scheduled publishing ----------------------------------------------------------------


async def test_a_scheduled_article_appears_only_once_due(client, editors, monkeypatch):
    writer, reviewer, _boss = editors
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: start)
    # 12:00 Beijing time = 04:00 UTC, two hours after "now".
    article_id = await create_article(writer, form(publish_at="2026-12-01T12:00"))
    await change_status(writer, article_id, "submit")
    assert await change_status(reviewer, article_id, "approve") == "scheduled"
    await settle()
    slug = (await Article.objects().first()).slug
    assert (await client.get(f"/articles/{slug}")).status_code == 404
    assert await found("年化利率") == []
    assert await publish_due(start + timedelta(hours=1, minutes=59)) == 0
    assert (await client.get(f"/articles/{slug}")).status_code == 404

    due = start + timedelta(hours=2)
    results = await asyncio.gather(*(publish_due(due) for _ in range(4)))
    assert sum(results) == 1  # parallel runs publish it once
    assert await publish_due(due + timedelta(minutes=1)) == 0  # and again is nothing
    await settle()
    article = await Article.objects().first()
    assert article.status == "published"
    assert article.published_at == datetime(2026, 12, 1, 12, 0, tzinfo=SHANGHAI)
    assert (await client.get(f"/articles/{slug}")).status_code == 200
    assert await found("年化利率") == [article_id]
    assert await ArticleEvent.count().where(ArticleEvent.kind == "published") == 1
    assert await AuditEntry.count().where(AuditEntry.action == "content.article_publish") == 1


async def test_a_past_publish_time_publishes_at_once(editors):
    writer, reviewer, _boss = editors
    past = (datetime.now(SHANGHAI) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    article_id = await create_article(writer, form(publish_at=past))
    await change_status(writer, article_id, "submit")
    assert await change_status(reviewer, article_id, "approve") == "published"


# -- concurrent edits --------------------------------------------------------------------


async def test_the_second_of_two_editors_saving_gets_a_conflict_and_keeps_its_text(
    client, staff_client, editors
):
    writer, _reviewer, _boss = editors
    article_id = await create_article(writer, form())
    await login(client, "/admin/login", WRITER)
    await login(staff_client, "/admin/login", REVIEWER)
    first = soup(await client.get(f"/admin/articles/{article_id}"))
    second = soup(await staff_client.get(f"/admin/articles/{article_id}"))
    assert first.select_one("input[name=version]")["value"] == "1"
    assert second.select_one("input[name=version]")["value"] == "1"
    response = await client.submit(
        f"/admin/articles/{article_id}", {**form(body="第一位编辑的版本"), "version": "1"}
    )
    assert response.status_code == 303
    mine = "第二位编辑辛苦写的长段落 <script>x</script>"
    response = await staff_client.submit(
        f"/admin/articles/{article_id}", {**form(body=mine), "version": "1"}
    )
    assert response.status_code == 409
    assert "编辑小王已在你打开后保存了这篇文章" in response.text
    textarea = soup(response).select_one("textarea[name=body]")
    assert textarea.text == mine
    article = await Article.objects().first()
    assert (article.body_markdown, article.version) == ("第一位编辑的版本", 2)


async def test_parallel_saves_of_one_version_let_exactly_one_through(editors):
    writer, reviewer, _boss = editors
    article_id = await create_article(writer, form())
    results = await asyncio.gather(
        *(
            save_article(editor, article_id, {**form(body=f"版本{i}"), "version": "1"})
            for i, editor in enumerate([writer, reviewer, writer, reviewer])
        ),
        return_exceptions=True,
    )
    assert results.count(2) == 1
    assert all(isinstance(r, EditConflict) for r in results if r != 2)
    assert (await Article.objects().first()).version == 2


# -- hostile input -----------------------------------------------------------------------


async def test_hostile_input_is_refused_with_the_typed_values_kept(client, editors):
    await login(client, "/admin/login", WRITER)
    huge = "长" * 50_001
    response = await client.submit("/admin/articles/new", form(body=huge, title="x" * 81))
    assert response.status_code == 400
    assert "正文最多" in response.text or "正文应为1到50000个字" in response.text
    assert "标题应为1到80个字" in response.text
    for slug in ("../etc/passwd", "a--b", "中文", "a/b", "x" * 81, "-a", "a_b"):
        response = await client.submit("/admin/articles/new", form(slug=slug))
        assert response.status_code == 400, slug
        assert "链接名只能用小写字母" in response.text
    response = await client.submit("/admin/articles/new", form(category="ads"))
    assert response.status_code == 400
    response = await client.submit("/admin/articles/new", form(publish_at="２０２６-01-01T09:00"))
    assert response.status_code == 400 and "定时发布时间" in response.text
    response = await client.submit("/admin/articles/new", form(cover_image="f" * 32))
    assert response.status_code == 400
    response = await client.submit("/admin/articles/new", form(title="<script>alert(1)</script>"))
    assert response.status_code == 303
    listing = await client.get("/admin/articles")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.text
    assert "<script>alert(1)</script>" not in listing.text
    assert await Article.count() == 1
    article_id = (await Article.objects().first()).id
    for version in ("１", "-1", "99999999999", ""):
        response = await client.submit(
            f"/admin/articles/{article_id}", {**form(), "version": version}
        )
        assert response.status_code == 409, version
    response = await client.submit(f"/admin/articles/{article_id}/status", {"action": "destroy"})
    assert response.status_code == 404
    for path in (
        "/admin/articles/１２",
        "/admin/articles/99999",
        "/admin/articles/99999999999999",
        "/articles/..%2F..%2Fetc%2Fpasswd",
        "/articles/%2E%2E",
        "/articles/NIAN",
        "/articles/" + "a" * 300,
        "/articles/images/..%2Fsecret",
        "/articles/images/" + "%25" * 16,
    ):
        assert (await client.get(path)).status_code == 404, path
    for query in ("?page=-1", "?page=１", "?category=<x>", "?q=" + "长" * 500, "?q=%00"):
        assert (await client.get("/articles" + query)).status_code == 200, query


async def test_a_taken_slug_is_refused_and_titles_alike_get_a_suffix(editors):
    writer, _reviewer, _boss = editors
    first = await create_article(writer, form())
    second = await create_article(writer, form())
    slugs = {a.id: a.slug for a in await Article.objects()}
    assert slugs[second] == slugs[first] + "-2"
    from marketplace.errors import DomainError

    with pytest.raises(DomainError) as refused:
        await create_article(writer, form(slug=slugs[first]))
    assert refused.value.field == "slug"


# -- images ------------------------------------------------------------------------------


async def test_images_are_checked_and_public_only_once_a_published_article_shows_them(
    client, staff_client, editors
):
    writer, reviewer, _boss = editors
    article_id = await create_article(writer, form())
    await login(client, "/admin/login", WRITER)
    token = await client.csrf_token()

    async def upload(name: str, content: bytes, kind: str = "image/png"):
        return await client.post(
            f"/admin/articles/{article_id}/images",
            data={"_csrf_token": token},
            files={"image": (name, content, kind)},
        )

    assert (await upload("a.pdf", b"%PDF-1.4 x", "application/pdf")).status_code == 400
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    assert (await upload("a.svg", svg, "image/svg+xml")).status_code == 400
    too_big = PNG + b"\x00" * (2 * 1024 * 1024)
    response = await upload("big.png", too_big)
    assert response.status_code == 400 and "2 MB" in response.text
    response = await upload("a.png", PNG)
    assert response.status_code == 303
    from marketplace.content.tables import ArticleImage

    image = await ArticleImage.objects().first()
    url = f"/articles/images/{image.name}"
    # Editors see it at once, uncached; the public not while no published article shows it.
    response = await client.get(url)
    assert response.status_code == 200 and response.content == PNG
    assert "no-store" in response.headers["cache-control"]
    assert "max-age" not in response.headers["cache-control"]
    assert (await staff_client.get(url)).status_code == 404

    body = f"图示：\n\n![利率示意]({url})\n\n![外链](https://evil.example/x.png)"
    await save_article(
        writer, article_id, {**form(body=body, cover_image=image.name), "version": "1"}
    )
    article = await Article.objects().first()
    assert f'src="{url}"' in article.body_html and "evil.example" not in article.body_html
    await change_status(writer, article_id, "submit")
    await change_status(reviewer, article_id, "approve")
    response = await staff_client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "max-age=31536000" in response.headers["cache-control"]
    page = soup(await staff_client.get(f"/articles/{article.slug}"))
    assert page.select_one(f".article-body img[src='{url}']") is not None


async def _stored(name: str) -> bytes | None:
    """The image's bytes, or None when neither its row nor its file is left."""
    row = await ArticleImage.select(ArticleImage.storage_key).where(ArticleImage.name == name)
    if not row:
        return None
    return await storage.get(row[0]["storage_key"])


def _files(article_id: int) -> set:
    return {
        p for p in (settings.files_dir / "articles" / str(article_id)).rglob("*") if p.is_file()
    }


async def test_replaced_images_are_deleted_unless_another_article_shows_them(editors, staff_client):
    writer, reviewer, _boss = editors
    article_id = await create_article(writer, form())
    other_id = await create_article(writer, form(title="另一篇"))
    pngs = {key: PNG + key.encode() for key in ("body", "cover", "shared", "spare", "new")}
    names = {
        key: await upload_image(writer, article_id, UploadedFile(f"{key}.png", content))
        for key, content in pngs.items()
    }

    def body(*keys: str) -> str:
        return BODY + "".join(f"\n\n![](/articles/images/{names[k]})" for k in keys)

    await save_article(
        writer,
        article_id,
        {**form(body=body("body", "shared"), cover_image=names["cover"]), "version": "1"},
    )
    # The other article shows "shared" too (a body may show any article's image).
    await save_article(
        writer, other_id, {**form(title="另一篇", body=body("shared")), "version": "1"}
    )
    # Published, then the body's picture and the cover are replaced by a new one.
    await change_status(writer, article_id, "submit")
    await change_status(reviewer, article_id, "approve")
    await save_article(
        writer, article_id, {**form(body=body("new"), cover_image=names["new"]), "version": "2"}
    )
    for key in ("body", "cover"):
        assert await _stored(names[key]) is None, key
    assert len(_files(article_id)) == 3
    for key in ("shared", "spare", "new"):  # shown elsewhere, never shown yet, shown now
        assert await _stored(names[key]) == pngs[key], key
    edits = (
        await AuditEntry.select(AuditEntry.detail)
        .where(AuditEntry.action == "content.article_edit")
        .output(load_json=True)
    )
    [last] = [e["detail"] for e in edits if e["detail"]["version"] == 3]
    assert sorted(last["images_removed"]) == sorted([names["body"], names["cover"]])
    # Gone for readers too, even when an old page still asks for it.
    response = await staff_client.get(f"/articles/images/{names['body']}")
    assert response.status_code == 404
    response = await staff_client.get(f"/articles/images/{names['new']}")
    assert response.status_code == 200


async def test_an_upload_that_fails_to_save_leaves_no_file(editors, monkeypatch):
    writer, _reviewer, _boss = editors
    article_id = await create_article(writer, form())
    await upload_image(writer, article_id, UploadedFile("a.png", PNG))
    kept = _files(article_id)

    async def refused(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("marketplace.content.services.audit", refused)
    with pytest.raises(RuntimeError):
        await upload_image(writer, article_id, UploadedFile("b.png", PNG + b"b"))
    assert _files(article_id) == kept and await ArticleImage.count() == 1


# -- portal search -----------------------------------------------------------------------


async def test_portal_search_by_word_pinyin_and_category(client, editors):
    writer, reviewer, _boss = editors
    credit = await published(
        writer, reviewer, title="个人征信报告怎么看", body="逾期记录和查询次数。", category="guide"
    )
    policy = await published(
        writer, reviewer, title="民间借贷利率上限解读", body="LPR 四倍。", category="policy"
    )

    def slugs_on(page) -> set[str]:
        return {a["href"] for a in page.select(".article-card__title a")}

    credit_slug = (await Article.objects().get(Article.id == credit)).slug
    policy_slug = (await Article.objects().get(Article.id == policy)).slug
    assert slugs_on(soup(await client.get("/articles?q=征信"))) == {f"/articles/{credit_slug}"}
    assert slugs_on(soup(await client.get("/articles?q=zhengxin"))) == {f"/articles/{credit_slug}"}
    assert slugs_on(soup(await client.get("/articles?category=policy"))) == {
        f"/articles/{policy_slug}"
    }
    assert slugs_on(soup(await client.get("/articles?category=guide&q=利率"))) == set()
    page = soup(await client.get(f"/articles/{policy_slug}"))
    assert page.select_one("#related-title") is None  # nothing else in 政策解读
    empty = soup(await client.get("/articles?q=火星"))
    assert "没有找到相关资讯" in empty.text


# -- demo --------------------------------------------------------------------------------


async def test_the_demo_articles_cover_every_state_and_category(client, editors):
    from marketplace.demo.articles import seed_articles

    assert await seed_articles() == 12
    assert await seed_articles() == 0  # once
    await settle()
    rows = await Article.select(Article.category, Article.status, Article.author, Article.reviewer)
    published_per_category = {
        c: sum(1 for r in rows if r["category"] == c and r["status"] == "published")
        for c in ("news", "guide", "policy")
    }
    assert min(published_per_category.values()) >= 3
    for status in ("in_review", "draft", "scheduled"):
        assert sum(1 for r in rows if r["status"] == status) == 1
    assert all(r["author"] != r["reviewer"] for r in rows if r["reviewer"])
    page = soup(await client.get("/articles"))
    assert len(page.select(".article-card")) == 9
    assert await found("征信")
