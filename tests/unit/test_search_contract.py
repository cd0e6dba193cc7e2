"""One contract, every search adapter.

The embedded engine always runs (index in tmp_path); Meilisearch runs only when
MEILISEARCH_URL is set (MEILISEARCH_KEY optional), each test on a throwaway index.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import textwrap
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from marketplace.products.search_port import FACETS, TERM_CHOICES
from search import ProductDocument, SearchBackend, SearchQuery, SearchResult
from search.embedded import EmbeddedSearch

MEILISEARCH_URL = os.environ.get("MEILISEARCH_URL")
MEILISEARCH_KEY = os.environ.get("MEILISEARCH_KEY")
PROJECT_ROOT = Path(__file__).resolve().parents[2]

ENGINES = [
    "embedded",
    pytest.param(
        "meili",
        marks=pytest.mark.skipif(not MEILISEARCH_URL, reason="MEILISEARCH_URL not set"),
    ),
]


def product(
    id: int,
    name: str,
    institution_id: int,
    institution_name: str,
    category: str,
    summary: str,
    *,
    methods: list[str],
    cities: list[str],
    employment: list[str],
    amount: tuple[int, int],
    term: tuple[int, int],
    apr: tuple[float, float],
    approval: float,
    popularity: int,
    listed_at: int,
    tags: list[str] | None = None,
) -> ProductDocument:
    labels = {
        "consumer": "消费贷",
        "business": "经营贷",
        "car": "车贷",
        "mortgage": "房贷",
        "credit_card": "信用卡",
    }
    return ProductDocument(
        id=id,
        name=name,
        institution_id=institution_id,
        institution_name=institution_name,
        category=category,
        category_label=labels[category],
        summary=summary,
        tags=tags or [],
        repayment_methods=methods,
        cities=cities,
        employment_types=employment,
        amount_min=amount[0],
        amount_max=amount[1],
        term_min=term[0],
        term_max=term[1],
        term_options=sorted({term[0], term[1]}),
        apr_min=apr[0],
        apr_max=apr[1],
        approval_rate=approval,
        popularity=popularity,
        listed_at=listed_at,
        promoted=id % 3 == 0,
    )


CATALOGUE: list[ProductDocument] = [
    product(1, "闪电贷", 1, "招商银行", "consumer", "招商银行线上信用贷款，最快1分钟放款",
            tags=["低息", "秒批"], methods=["等额本息", "先息后本"], cities=[],
            employment=["salaried", "civil_servant"], amount=(1_000, 300_000), term=(3, 36),
            apr=(0.0336, 0.18), approval=0.62, popularity=9_800, listed_at=1_700_000_000),
    product(2, "e招贷", 1, "招商银行", "consumer", "储蓄卡客户专享，额度灵活",
            methods=["等额本息"], cities=["深圳", "上海"], employment=["salaried"],
            amount=(5_000, 200_000), term=(6, 24), apr=(0.0435, 0.15), approval=0.55,
            popularity=5_200, listed_at=1_690_000_000),
    product(3, "融e借", 2, "工商银行", "consumer", "工行网银客户线上信用消费贷款",
            methods=["等额本息", "先息后本"], cities=[], employment=["salaried", "civil_servant"],
            amount=(1_000, 200_000), term=(6, 60), apr=(0.0365, 0.12), approval=0.58,
            popularity=8_700, listed_at=1_680_000_000),
    product(4, "车主贷", 3, "平安普惠", "car", "有车就能贷，车辆不押，最高50万",
            methods=["等额本息"], cities=["北京", "上海", "广州", "深圳"],
            employment=["salaried", "self_employed", "business_owner"],
            amount=(10_000, 500_000), term=(12, 36), apr=(0.12, 0.24), approval=0.48,
            popularity=6_100, listed_at=1_695_000_000),
    product(5, "微粒贷", 4, "微众银行", "consumer", "微信和QQ里的小额信用贷款，随借随还",
            methods=["随借随还", "等额本息"], cities=[],
            employment=["salaried", "self_employed", "freelancer"], amount=(500, 200_000),
            term=(5, 20), apr=(0.073, 0.1825), approval=0.71, popularity=12_000,
            listed_at=1_650_000_000),
    product(6, "家装分期", 5, "建设银行", "consumer", "家庭住房装修专用贷款，按装修进度支付",
            tags=["分期"], methods=["等额本金"], cities=["北京", "杭州"],
            employment=["salaried", "civil_servant"], amount=(20_000, 500_000), term=(12, 60),
            apr=(0.035, 0.06), approval=0.45, popularity=3_000, listed_at=1_705_000_000),
    product(7, "网商贷", 6, "网商银行", "business", "面向小微企业主和个体工商户的经营性贷款",
            methods=["先息后本", "随借随还"], cities=[],
            employment=["business_owner", "self_employed"], amount=(1_000, 1_000_000),
            term=(3, 24), apr=(0.065, 0.18), approval=0.52, popularity=7_600,
            listed_at=1_660_000_000),
    product(8, "生意贷", 1, "招商银行", "business", "小微企业经营周转，抵押可选",
            methods=["先息后本"], cities=["深圳", "广州"], employment=["business_owner"],
            amount=(50_000, 3_000_000), term=(12, 36), apr=(0.0385, 0.08), approval=0.40,
            popularity=2_100, listed_at=1_710_000_000),
    product(9, "房抵贷", 7, "中国银行", "mortgage", "以住房抵押申请，额度高、期限长",
            methods=["等额本息", "等额本金"], cities=["北京", "上海"],
            employment=["salaried", "business_owner"], amount=(100_000, 10_000_000),
            term=(12, 360), apr=(0.0395, 0.055), approval=0.35, popularity=1_500,
            listed_at=1_670_000_000),
    product(10, "梦卡", 8, "浦发银行", "credit_card", "新户首年免年费，分期手续费优惠",
            methods=["分期还款"], cities=[], employment=["salaried", "freelancer"],
            amount=(1_000, 50_000), term=(1, 24), apr=(0.1, 0.18), approval=0.6,
            popularity=4_300, listed_at=1_700_500_000),
    product(11, "<script>alert(1)</script>极速贷", 9, "测试金融", "consumer",
            "名称里有 <b>标签</b> & 特殊字符", methods=["等额本息"], cities=["成都"],
            employment=["salaried"], amount=(1_000, 10_000), term=(3, 12), apr=(0.2, 0.24),
            approval=0.3, popularity=10, listed_at=1_600_000_000),
    # Same apr_min as 微粒贷 (id 5): ties break by id ascending.
    product(12, "新一贷", 10, "平安银行", "consumer", "工薪族信用贷款，无需抵押担保",
            methods=["等额本息"], cities=[], employment=["salaried", "civil_servant"],
            amount=(30_000, 500_000), term=(12, 36), apr=(0.073, 0.2), approval=0.5,
            popularity=6_900, listed_at=1_685_000_000),
]  # fmt: skip
BY_ID = {doc.id: doc for doc in CATALOGUE}
ZHAOSHANG = {1, 2, 8}

SORT_KEYS: dict[str, Callable[[ProductDocument], tuple]] = {
    "apr": lambda d: (d.apr_min, d.id),
    "amount": lambda d: (-d.amount_max, d.id),
    "approval": lambda d: (-d.approval_rate, d.id),
    "newest": lambda d: (-d.listed_at, d.id),
    "popularity": lambda d: (-d.popularity, d.id),
}


def reference_filter(q: SearchQuery) -> list[ProductDocument]:
    """What the filters of `q` mean, spelled out in Python."""
    out = []
    for d in CATALOGUE:
        if q.category is not None and d.category != q.category:
            continue
        if q.institution_id is not None and d.institution_id != q.institution_id:
            continue
        if q.repayment_method is not None and q.repayment_method not in d.repayment_methods:
            continue
        if q.city is not None and d.cities and q.city not in d.cities:
            continue
        if q.employment_type is not None and q.employment_type not in d.employment_types:
            continue
        if q.amount is not None and not d.amount_min <= q.amount <= d.amount_max:
            continue
        if q.term is not None and not d.term_min <= q.term <= d.term_max:
            continue
        if q.apr_max is not None and d.apr_min > q.apr_max:
            continue
        if q.apr_min is not None and d.apr_max < q.apr_min:
            continue
        out.append(d)
    return out


def reference_facets(docs: list[ProductDocument]) -> dict[str, dict[str, int]]:
    return {
        "category": dict(Counter(d.category for d in docs)),
        "institution_id": dict(Counter(str(d.institution_id) for d in docs)),
        "repayment_methods": dict(Counter(m for d in docs for m in d.repayment_methods)),
        "cities": {
            city: sum(1 for d in docs if not d.cities or city in d.cities)
            for city in {c for d in docs for c in d.cities}
        },
        "employment_types": dict(Counter(e for d in docs for e in d.employment_types)),
        "term": dict(
            Counter(str(t) for d in docs for t in TERM_CHOICES if d.term_min <= t <= d.term_max)
        ),
    }


# -- fixtures ----------------------------------------------------------------------------


async def _open(engine: str, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    if engine == "embedded":
        backend: SearchBackend = EmbeddedSearch(tmp_path / "search")
        yield backend
        await backend.close()
        return
    import meilisearch

    from search.meili import MeiliSearch

    assert MEILISEARCH_URL
    name = f"test_products_{uuid.uuid4().hex[:12]}"
    backend = MeiliSearch(MEILISEARCH_URL, MEILISEARCH_KEY, index_name=name)
    yield backend
    await backend.close()
    client = meilisearch.Client(MEILISEARCH_URL, MEILISEARCH_KEY)
    client.wait_for_task(client.delete_index(name).task_uid)


@pytest.fixture(params=ENGINES, scope="module")
async def catalogue(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SearchBackend]:
    """A populated index shared by the read-only tests of one engine."""
    async for backend in _open(request.param, tmp_path_factory.mktemp("catalogue")):
        await backend.upsert(CATALOGUE)
        yield backend


@pytest.fixture(params=ENGINES)
async def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    """A populated index of its own, for tests that write."""
    async for backend in _open(request.param, tmp_path):
        await backend.upsert(CATALOGUE)
        yield backend


async def find(backend: SearchBackend, **kwargs: object) -> SearchResult:
    kwargs.setdefault("per_page", 100)
    return await backend.search(SearchQuery(**kwargs))  # type: ignore[arg-type]


async def ids(backend: SearchBackend, **kwargs: object) -> list[int]:
    return [hit.id for hit in (await find(backend, **kwargs)).hits]


# -- text ---------------------------------------------------------------------------------


async def test_empty_text_returns_everything(catalogue: SearchBackend) -> None:
    result = await find(catalogue)
    assert result.total == len(CATALOGUE)
    assert sorted(hit.id for hit in result.hits) == sorted(BY_ID)
    assert await catalogue.count() == len(CATALOGUE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("装修", {6}),
        ("招商银行", ZHAOSHANG),
        ("招商", ZHAOSHANG),
        ("闪电贷", {1}),
        ("经营", {7, 8}),
        ("融e借", {3}),
        ("平安", {4, 12}),
        ("ＱＱ", {5}),  # full-width is normalised
    ],
)
async def test_chinese_text(catalogue: SearchBackend, text: str, expected: set[int]) -> None:
    result = await find(catalogue, text=text)
    assert set(hit.id for hit in result.hits) == expected
    assert result.total == len(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zsyh", ZHAOSHANG),  # initials
        ("ZSYH", ZHAOSHANG),
        ("zhaoshang", ZHAOSHANG),  # full pinyin of a word
        ("zhaoshangyinhang", ZHAOSHANG),
        ("zhaoshnag", ZHAOSHANG),  # transposition typo
        ("weilidai", {5}),
        ("wld", {5}),
        ("pingan", {4, 12}),
        ("zhāoshāng", ZHAOSHANG),  # tone marks and accents are folded
        ("SCRÍPT", {11}),
    ],
)
async def test_pinyin_initials_and_typos(
    catalogue: SearchBackend, text: str, expected: set[int]
) -> None:
    assert set(await ids(catalogue, text=text)) == expected


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("招商银行 闪电贷", [{1}, {2, 8}]),
        ("zhaoshang shandian", [{1}, {2, 8}]),
        ("zhao shang", [ZHAOSHANG]),  # syllables: both match only there
        ("想借钱装修房子", [{6}, {9}]),  # stop words dropped; 房子 ≈ 住房
    ],
)
@pytest.mark.parametrize("sort", ["apr", "relevance"])
async def test_more_matched_terms_rank_first(
    catalogue: SearchBackend, text: str, groups: list[set[int]], sort: str
) -> None:
    """Any term is enough to be found; products matching more terms come first, the sort
    orders within each group."""
    found = await ids(catalogue, text=text, sort=sort)
    start = 0
    for group in groups:
        assert set(found[start : start + len(group)]) == group
        if sort == "apr":
            chunk = found[start : start + len(group)]
            assert chunk == sorted(chunk, key=lambda i: (BY_ID[i].apr_min, i))
        start += len(group)


async def test_groups_page_across_their_boundary(catalogue: SearchBackend) -> None:
    everything = await ids(catalogue, text="招商银行 闪电贷")
    pages = []
    for page in (1, 2, 3):
        result = await find(catalogue, text="招商银行 闪电贷", page=page, per_page=1)
        assert result.total == len(everything) == 3
        pages += [hit.id for hit in result.hits]
    assert pages == everything


async def test_synonyms_apply_at_query_time(catalogue: SearchBackend) -> None:
    assert set(await ids(catalogue, text="家装")) == {6}  # 家装 ≈ 装修 (summary)
    assert set(await ids(catalogue, text="汽车贷款")) == {4}  # ≈ 车贷 (category label)
    assert set(await ids(catalogue, text="卡贷")) == {10}  # ≈ 信用卡


async def test_pinyin_on_every_field(catalogue: SearchBackend) -> None:
    assert set(await ids(catalogue, text="zhuangxiu")) == {6}  # summary only
    assert set(await ids(catalogue, text="suijiesuihuan")) == {5}  # summary
    assert set(await ids(catalogue, text="dixi")) == {1}  # tag 低息
    assert set(await ids(catalogue, text="chedai")) == {4}  # category label 车贷


async def test_latin_typo_only_from_four_letters(catalogue: SearchBackend) -> None:
    assert await ids(catalogue, text="scirpt") == [11]
    assert await ids(catalogue, text="qqq") == []  # 3 letters: no typo allowed


async def test_unmatched_text_finds_nothing(catalogue: SearchBackend) -> None:
    result = await find(catalogue, text="房车游艇")
    assert result.total == 0 and result.hits == []
    assert result.facets == {name: {} for name in FACETS}


@pytest.mark.parametrize(
    "text",
    [
        '"',
        ":",
        "(",
        ")",
        "AND",
        "-",
        "*",
        "*:*",
        "name:招商",
        '"招商',
        "(zsyh",
        "招商 AND 工商",
        "招商 OR 工商",
        "-招商",
        "zsyh~2",
        "zsyh^3",
        "[1 TO 5]",
        "{}",
        "/.*/",
        "\\",
        "'",
        "+-&&||!",
        "  ",
    ],
)
async def test_query_syntax_characters_never_raise(catalogue: SearchBackend, text: str) -> None:
    result = await find(catalogue, text=text)
    assert isinstance(result, SearchResult)


async def test_syntax_characters_are_plain_punctuation(catalogue: SearchBackend) -> None:
    assert set(await ids(catalogue, text="-招商")) == ZHAOSHANG  # no negation
    assert set(await ids(catalogue, text='"zsyh"')) == ZHAOSHANG
    assert set(await ids(catalogue, text="(招商)")) == ZHAOSHANG
    assert await ids(catalogue, text="*") == await ids(catalogue)  # nothing left: all


# -- filters ------------------------------------------------------------------------------


FILTER_CASES: list[tuple[dict[str, object], set[int]]] = [
    ({"category": "car"}, {4}),
    ({"category": "business"}, {7, 8}),
    ({"institution_id": 1}, ZHAOSHANG),
    ({"repayment_method": "随借随还"}, {5, 7}),
    ({"city": "杭州"}, {1, 3, 5, 6, 7, 10, 12}),  # listed there or nationwide
    ({"city": "深圳"}, {1, 2, 3, 4, 5, 7, 8, 10, 12}),
    ({"employment_type": "freelancer"}, {5, 10}),
    ({"amount": 600_000}, {7, 8, 9}),
    ({"amount": 500}, {5}),
    ({"term": 48}, {3, 6, 9}),
    ({"term": 1}, {10}),
    ({"apr_max": 0.04}, {1, 3, 6, 8, 9}),
    ({"apr_max": 0.0336}, {1}),  # bound included
    ({"apr_min": 0.2}, {4, 11, 12}),  # the APR range reaches 20 %
    ({"apr_min": 0.05, "apr_max": 0.06}, {1, 2, 3, 6, 8, 9}),  # APR range overlaps 5–6 %
    ({"category": "consumer", "city": "北京", "amount": 100_000}, {1, 3, 5, 6, 12}),
    ({"category": "mortgage", "city": "成都"}, set()),
]


@pytest.mark.parametrize(("filters", "expected"), FILTER_CASES)
async def test_each_filter_narrows(
    catalogue: SearchBackend, filters: dict[str, object], expected: set[int]
) -> None:
    assert {d.id for d in reference_filter(SearchQuery(**filters))} == expected  # type: ignore[arg-type]
    result = await find(catalogue, **filters)
    assert set(hit.id for hit in result.hits) == expected
    assert result.total == len(expected)


async def test_text_and_filters_combine(catalogue: SearchBackend) -> None:
    assert set(await ids(catalogue, text="zsyh", category="business")) == {8}
    assert set(await ids(catalogue, text="招商银行", city="上海")) == {1, 2}
    assert set(await ids(catalogue, text="信用", apr_max=0.05)) == {1, 3}


# -- sorts --------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", list(SORT_KEYS))
async def test_each_sort_orders(catalogue: SearchBackend, sort: str) -> None:
    expected = [d.id for d in sorted(CATALOGUE, key=SORT_KEYS[sort])]
    assert await ids(catalogue, sort=sort) == expected


async def test_apr_is_the_default_and_ties_break_by_id(catalogue: SearchBackend) -> None:
    ordered = await ids(catalogue)
    assert ordered == [d.id for d in sorted(CATALOGUE, key=SORT_KEYS["apr"])]
    assert ordered.index(5) == ordered.index(12) - 1  # equal apr_min


async def test_relevance_without_text_falls_back_to_apr(catalogue: SearchBackend) -> None:
    assert await ids(catalogue, sort="relevance") == await ids(catalogue, sort="apr")


async def test_sort_applies_to_text_matches(catalogue: SearchBackend) -> None:
    assert await ids(catalogue, text="zsyh", sort="apr") == [1, 8, 2]
    assert await ids(catalogue, text="zsyh", sort="amount") == [8, 1, 2]
    assert await ids(catalogue, text="zsyh", sort="newest") == [8, 1, 2]
    assert sorted(await ids(catalogue, text="zsyh", sort="relevance")) == [1, 2, 8]


async def test_relevance_ranks_better_fields_first(catalogue: SearchBackend) -> None:
    # 梦卡 is labelled 信用卡; the others only mention 信用 in their summary. By APR it is last.
    by_relevance = await ids(catalogue, text="信用", sort="relevance")
    assert set(by_relevance) == {1, 3, 5, 10, 12}
    assert by_relevance[0] == 10
    assert (await ids(catalogue, text="信用"))[-1] == 10


# -- facets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [{}, {"category": "consumer"}, {"city": "北京"}, {"amount": 100_000, "term": 24}],
)
async def test_facets_count_the_filtered_set(
    catalogue: SearchBackend, filters: dict[str, object]
) -> None:
    result = await find(catalogue, per_page=1, **filters)
    expected_docs = reference_filter(SearchQuery(**filters))  # type: ignore[arg-type]
    assert result.total == len(expected_docs)
    assert result.facets == reference_facets(expected_docs)


async def test_facets_count_text_matches(catalogue: SearchBackend) -> None:
    result = await find(catalogue, text="招商银行")
    assert result.facets == {
        "category": {"consumer": 2, "business": 1},
        "institution_id": {"1": 3},
        "repayment_methods": {"等额本息": 2, "先息后本": 2},
        # 闪电贷 is nationwide: available in every city the others list.
        "cities": {"深圳": 3, "上海": 2, "广州": 2},
        "employment_types": {"salaried": 2, "civil_servant": 1, "business_owner": 1},
        "term": {"3": 1, "6": 2, "12": 3, "18": 3, "24": 3, "36": 2},
    }


async def test_the_institution_facet_ignores_only_the_institution_filter(
    catalogue: SearchBackend,
) -> None:
    """The picker offers every institution with its count once one is picked; the other
    facets count the picked institution's products only."""
    picked = await find(catalogue, per_page=1, category="consumer", institution_id=1)
    consumer = reference_filter(SearchQuery(category="consumer"))
    chosen = reference_filter(SearchQuery(category="consumer", institution_id=1))
    assert picked.total == len(chosen) < len(consumer)
    assert picked.facets == {
        **reference_facets(chosen),
        "institution_id": reference_facets(consumer)["institution_id"],
    }


# -- pagination ---------------------------------------------------------------------------


async def test_pagination(catalogue: SearchBackend) -> None:
    everything = await ids(catalogue, sort="popularity")
    pages = []
    for page in (1, 2, 3):
        result = await find(catalogue, sort="popularity", page=page, per_page=5)
        assert result.total == len(CATALOGUE)
        pages.append([hit.id for hit in result.hits])
    assert [len(p) for p in pages] == [5, 5, 2]
    assert sum(pages, []) == everything
    beyond = await find(catalogue, sort="popularity", page=4, per_page=5)
    assert beyond.hits == [] and beyond.total == len(CATALOGUE)


def test_query_validation() -> None:
    with pytest.raises(ValueError):
        SearchQuery(sort="cheapest")
    with pytest.raises(ValueError):
        SearchQuery(page=0)
    with pytest.raises(ValueError):
        SearchQuery(per_page=0)
    assert SearchQuery(page=3, per_page=10).offset == 20


# -- highlights ---------------------------------------------------------------------------


async def _hit(backend: SearchBackend, text: str, doc_id: int) -> dict[str, str]:
    result = await find(backend, text=text)
    return next(hit.highlights for hit in result.hits if hit.id == doc_id)


async def test_highlights_mark_matches(catalogue: SearchBackend) -> None:
    assert (await _hit(catalogue, "装修", 6)) == {
        "name": "<mark>家装</mark>分期",  # a synonym
        "summary": "家庭住房<mark>装修</mark>专用贷款，按<mark>装修</mark>进度支付",
    }
    marks = await _hit(catalogue, "招商银行", 1)
    assert marks["institution_name"] == "<mark>招商银行</mark>"
    assert marks["summary"].startswith("<mark>招商银行</mark>")
    assert "name" not in marks


async def test_highlights_mark_pinyin_matches(catalogue: SearchBackend) -> None:
    assert (await _hit(catalogue, "zsyh", 1))["institution_name"] == "<mark>招商银行</mark>"
    assert (await _hit(catalogue, "zhaoshang", 2))["institution_name"] == "<mark>招商</mark>银行"
    assert (await _hit(catalogue, "zhaoshnag", 8))["institution_name"] == "<mark>招商</mark>银行"


async def test_highlights_are_html_escaped(catalogue: SearchBackend) -> None:
    marks = await _hit(catalogue, "script", 11)
    assert marks["name"] == (
        "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt;极速贷"
    )
    marks = await _hit(catalogue, "标签", 11)
    assert marks["summary"] == "名称里有 &lt;b&gt;<mark>标签</mark>&lt;/b&gt; &amp; 特殊字符"
    assert await _hit(catalogue, "", 11) == {}


# -- writes -------------------------------------------------------------------------------


async def test_upsert_replaces_without_duplicates(fresh: SearchBackend) -> None:
    changed = dataclasses.replace(BY_ID[1], name="闪电贷Plus", apr_min=0.5, apr_max=0.6)
    await fresh.upsert([changed])
    await fresh.upsert([changed])
    assert await fresh.count() == len(CATALOGUE)
    assert await ids(fresh, text="plus") == [1]
    assert (await find(fresh, text="闪电贷")).total == 1
    assert (await ids(fresh))[-1] == 1  # new apr_min sorts it last
    assert (await find(fresh)).total == len(CATALOGUE)


async def test_upsert_same_id_twice_in_one_batch_keeps_the_last(fresh: SearchBackend) -> None:
    first = dataclasses.replace(BY_ID[2], name="旧名字")
    second = dataclasses.replace(BY_ID[2], name="新名字")
    await fresh.upsert([first, second])
    assert await ids(fresh, text="新名字") == [2]
    assert await ids(fresh, text="旧名字") == []
    assert await fresh.count() == len(CATALOGUE)


async def test_delete_removes(fresh: SearchBackend) -> None:
    await fresh.delete([4, 999])
    assert await fresh.count() == len(CATALOGUE) - 1
    assert await ids(fresh, category="car") == []
    assert 4 not in await ids(fresh)
    await fresh.delete([])
    assert await fresh.count() == len(CATALOGUE) - 1


async def test_clear_empties_and_index_refills(fresh: SearchBackend) -> None:
    await fresh.clear()
    assert await fresh.count() == 0
    assert (await find(fresh)).total == 0
    await fresh.upsert(CATALOGUE[:3])
    assert sorted(await ids(fresh)) == [1, 2, 3]


async def test_concurrent_upserts(fresh: SearchBackend) -> None:
    await fresh.clear()
    await asyncio.gather(*(fresh.upsert([doc]) for doc in CATALOGUE))
    assert await fresh.count() == len(CATALOGUE)


# -- embedded engine: several processes on one directory ----------------------------------


async def test_second_instance_sees_first_instances_writes(tmp_path: Path) -> None:
    writer = EmbeddedSearch(tmp_path / "idx")
    reader = EmbeddedSearch(tmp_path / "idx")
    assert await reader.count() == 0  # opened before any write
    await writer.upsert(CATALOGUE)
    assert await reader.count() == len(CATALOGUE)
    assert set(await ids(reader, text="zsyh")) == ZHAOSHANG
    await reader.delete([1])  # and the other way round
    assert set(await ids(writer, text="zsyh")) == {2, 8}
    # Both write concurrently: serialised by the directory lock.
    await asyncio.gather(writer.upsert(CATALOGUE[:6]), reader.upsert(CATALOGUE[6:]))
    assert await writer.count() == await reader.count() == len(CATALOGUE)
    await writer.close()
    await reader.close()


async def test_another_process_writes_are_visible(tmp_path: Path) -> None:
    reader = EmbeddedSearch(tmp_path / "idx")
    await reader.upsert(CATALOGUE[:2])
    assert await reader.count() == 2
    doc = json.dumps(BY_ID[6].to_dict(), ensure_ascii=False)
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from pathlib import Path
        from search import ProductDocument
        from search.embedded import EmbeddedSearch

        async def main():
            engine = EmbeddedSearch(Path(sys.argv[1]))
            await engine.upsert([ProductDocument.from_dict(json.loads({doc!r}))])
            await engine.delete([1])
            await engine.close()

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, str(tmp_path / "idx"), cwd=PROJECT_ROOT
    )
    assert await asyncio.wait_for(proc.wait(), timeout=60) == 0
    assert sorted(await ids(reader)) == [2, 6]
    assert await ids(reader, text="装修") == [6]
    await reader.close()


def test_documents_round_trip() -> None:
    for doc in CATALOGUE:
        assert ProductDocument.from_dict(doc.to_dict()) == doc
    extra = {**BY_ID[1].to_dict(), "name_pinyin": "shandiandai"}
    assert ProductDocument.from_dict(extra) == BY_ID[1]
    # Operators create categories, so any well-formed code is one; a malformed one is not.
    assert dataclasses.replace(BY_ID[1], category="yacht").category == "yacht"
    for malformed in ("Yacht", "游艇", "", "yacht loans"):
        with pytest.raises(ValueError):
            dataclasses.replace(BY_ID[1], category=malformed)
