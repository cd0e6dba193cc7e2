"""One contract for the article index, every engine: Chinese words, pinyin, category
filter, relevance first with text and newest first without, pagination, deletes; the
product index beside it is untouched.

The embedded engine always runs; Meilisearch only when MEILISEARCH_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from marketplace.content.search_port import (
    ArticleDocument,
    ArticleQuery,
    ArticleSearchBackend,
)
from search.articles_embedded import EmbeddedArticleSearch

MEILISEARCH_URL = os.environ.get("MEILISEARCH_URL")
MEILISEARCH_KEY = os.environ.get("MEILISEARCH_KEY")
ENGINES = [
    "embedded",
    pytest.param(
        "meili",
        marks=pytest.mark.skipif(not MEILISEARCH_URL, reason="MEILISEARCH_URL not set"),
    ),
]
DAY = 86_400
T0 = 1_780_000_000


def article(doc_id: int, title: str, category: str, days: int, body: str = "", summary: str = ""):
    return ArticleDocument(
        id=doc_id,
        slug=f"a-{doc_id}",
        title=title,
        summary=summary,
        body=body,
        category=category,
        published_at=T0 + days * DAY,
    )


ARTICLES = [
    article(1, "年化利率是怎么算的", "guide", 1, "综合年化利率按内部收益率计算，包含全部费用。"),
    article(2, "如何识别非法放贷", "guide", 3, "警惕砍头息和套路贷，凡是先收费的都是诈骗。"),
    article(3, "贷款市场报价利率下调", "news", 2, "最新一期LPR公布，一年期和五年期均有变化。"),
    article(
        4,
        "民间借贷利率司法保护上限解读",
        "policy",
        5,
        "超过合同成立时一年期LPR四倍的部分不受保护。",
    ),
    article(
        5, "个人征信报告怎么看", "guide", 4, summary="查询记录、逾期记录和负债，一篇看懂征信。"
    ),
    # Same day as 4: the higher id comes first.
    article(6, "互联网贷款新规要点", "policy", 5, "出资比例与联合贷款的规定。"),
]


async def _open(engine: str, tmp_path: Path) -> AsyncIterator[ArticleSearchBackend]:
    if engine == "embedded":
        backend: ArticleSearchBackend = EmbeddedArticleSearch(tmp_path / "search")
        yield backend
        await backend.close()
        return
    import meilisearch

    from search.articles_meili import MeiliArticleSearch

    assert MEILISEARCH_URL
    name = f"test_articles_{uuid.uuid4().hex[:12]}"
    backend = MeiliArticleSearch(MEILISEARCH_URL, MEILISEARCH_KEY, index_name=name)
    yield backend
    await backend.close()
    client = meilisearch.Client(MEILISEARCH_URL, MEILISEARCH_KEY)
    client.wait_for_task(client.delete_index(name).task_uid)


@pytest.fixture(params=ENGINES)
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator:
    async for backend in _open(request.param, tmp_path):
        await backend.upsert(ARTICLES)
        yield backend


async def ids(backend: ArticleSearchBackend, **kwargs: object) -> list[int]:
    kwargs.setdefault("per_page", 100)
    return (await backend.search(ArticleQuery(**kwargs))).ids  # type: ignore[arg-type]


async def test_without_text_everything_newest_first_ties_by_higher_id(index) -> None:
    assert await ids(index) == [6, 4, 5, 2, 3, 1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("利率", [4, 3, 1]),  # a word in titles and bodies
        ("征信", [5]),
        ("套路贷", [2]),  # only in the body
        ("看懂征信", [5]),  # only in the summary
        ("LPR", [4, 3]),
        ("非法 放贷", [2]),  # every term must match
    ],
)
async def test_chinese_words(index, text: str, expected: list[int]) -> None:
    # Which articles match; their order is relevance's, pinned in the tests below.
    assert sorted(await ids(index, text=text)) == sorted(expected)


# Relevance with text: the term in the title beats the term only in the body, however new
# the latter; equally relevant articles (the same text) come newest first, higher id on
# the same day, on every page.
RELEVANCE = [
    article(21, "提前还款要不要付违约金", "guide", 1, "提前还款之前先看合同条款和违约金约定。"),
    article(22, "还款日前要准备什么", "guide", 9, "想提前还款的，先联系机构确认金额和到账时间。"),
    *(
        article(30 + n, "逾期会影响征信吗", "news", days, "逾期信息保留五年。")
        for n, days in enumerate((2, 7, 4, 7, 1))
    ),
]


async def test_with_text_the_most_relevant_first_ties_newest_first(index) -> None:
    await index.upsert(RELEVANCE)
    assert await ids(index, text="提前还款") == [21, 22]
    assert await ids(index, text="违约金") == [21]
    assert await ids(index, text="逾期信息") == [33, 31, 32, 30, 34]
    pages = [await ids(index, text="逾期信息", per_page=2, page=n) for n in (1, 2, 3)]
    assert pages == [[33, 31], [32, 30], [34]]
    result = await index.search(ArticleQuery(text="逾期信息", per_page=2, page=3))
    assert result.total == 5
    # Without text the order stays newest first.
    assert (await ids(index))[:2] == [22, 33]


async def test_pinyin_and_initials_of_the_title(index) -> None:
    assert await ids(index, text="zhengxin") == [5]
    assert await ids(index, text="grzxbg") == [5]


async def test_category_filter_alone_and_with_text(index) -> None:
    assert await ids(index, category="policy") == [6, 4]
    assert await ids(index, category="guide", text="利率") == [1]
    assert await ids(index, category="news", text="征信") == []


async def test_unmatched_and_syntax_text_find_nothing_without_raising(index) -> None:
    assert await ids(index, text="火星移民") == []
    for text in ('"', "title:x", "AND OR NOT", "*", "((", "<script>"):
        await index.search(ArticleQuery(text=text))


async def test_pagination_and_total(index) -> None:
    first = await index.search(ArticleQuery(per_page=4))
    second = await index.search(ArticleQuery(per_page=4, page=2))
    assert first.total == second.total == 6
    assert first.ids + second.ids == [6, 4, 5, 2, 3, 1]


async def test_upsert_replaces_and_delete_removes(index) -> None:
    await index.upsert([article(3, "贷款市场报价利率维持不变", "news", 9)])
    assert (await ids(index, text="维持不变")) == [3]
    assert (await ids(index))[0] == 3
    await index.delete([3, 999])
    assert await ids(index, text="报价") == []
    assert await index.count() == 5
    await index.clear()
    assert await index.count() == 0


async def test_article_index_leaves_the_product_index_alone(tmp_path: Path) -> None:
    from search.embedded import EmbeddedSearch

    products = EmbeddedSearch(tmp_path / "search")
    articles = EmbeddedArticleSearch(tmp_path / "search")
    await articles.upsert(ARTICLES)
    assert await products.count() == 0
    await articles.clear()
    await products.close()
    await articles.close()


def test_documents_and_queries_refuse_unknown_categories() -> None:
    with pytest.raises(ValueError):
        article(9, "x", "ads", 1)
    with pytest.raises(ValueError):
        ArticleQuery(category="ads")
    with pytest.raises(ValueError):
        ArticleQuery(per_page=0)
