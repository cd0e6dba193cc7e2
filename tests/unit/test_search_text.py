"""Shared text analysis (search/text.py) and the pure parts of the adapters."""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.settings import load_settings
from search import ProductDocument, SearchQuery, make_backend
from search import text as tx
from search.embedded import EmbeddedSearch
from search.meili import SETTINGS, MeiliSearch, filter_expressions, search_params, to_meili


def _doc(id: int, name: str, institution: str, summary: str, cities: list[str]) -> ProductDocument:
    return ProductDocument(
        id=id,
        name=name,
        institution_id=id,
        institution_name=institution,
        category="consumer",
        category_label="消费贷",
        summary=summary,
        tags=["低息"],
        repayment_methods=["等额本息"],
        cities=cities,
        employment_types=["salaried"],
        amount_min=1_000,
        amount_max=200_000,
        term_min=3,
        term_max=36,
        term_options=[3, 12, 36],
        apr_min=0.0336,
        apr_max=0.18,
        approval_rate=0.6,
        popularity=100,
        listed_at=1_700_000_000,
        promoted=False,
    )


SHANDIAN = _doc(1, "闪电贷", "招商银行", "招商银行线上信用贷款，最快1分钟放款", [])
CATALOGUE = [
    SHANDIAN,
    _doc(2, "<b>融e借</b>", "工商银行", '工行网银客户 "线上" 贷款 & more', ["北京"]),
    _doc(3, "Flash Loan", "Zhāo Bank", "ASCII only: zhaoshang (x:y) AND -z", ["上海"]),
]


def test_segment_is_search_mode_and_drops_punctuation() -> None:
    assert tx.segment("招商银行闪电贷") == ["招商", "商银", "银行", "招商银行", "闪电", "贷"]
    assert tx.segment("<script>ＡＢ 3.6%") == ["script", "ab", "3", "6"]


def test_query_terms_drop_syntax_and_are_bounded() -> None:
    assert tx.query_terms('name:"zsyh" AND (x) -y *') == ["name", "zsyh", "and", "x", "y"]
    assert len(tx.query_terms("贷款 " * 500)) <= tx.MAX_QUERY_TERMS
    assert len(tx.query_terms("a b c d e f g h i j k l m n o p q r s t")) == tx.MAX_QUERY_TERMS


def test_char_tokens() -> None:
    assert tx.char_tokens("工商银行融e借 ABC") == ["工", "商", "银", "行", "融", "e", "借", "abc"]


def test_product_terms_drop_stop_words_and_keep_synonym_words_whole() -> None:
    assert [t.word for t in tx.product_terms("我想借钱装修房子")] == ["装修", "房子"]
    assert tx.product_terms("装修")[0].alternatives == ("家装", "装潢")
    assert [t.word for t in tx.product_terms("汽车贷款")] == ["汽车贷款"]  # a synonym, whole
    assert [t.word for t in tx.product_terms("随借随还 融e借")] == ["随借随还", "融e借"]
    assert [t.word for t in tx.product_terms("贷款")] == ["贷款"]  # only stop words: kept
    assert tx.syllables("随借随还还款") == ("sui", "jie", "sui", "huan", "huan", "kuan")


def test_pinyin_keys() -> None:
    full, initials = tx.pinyin_keys("招商银行")
    assert {"zhao", "shang", "zhaoshang", "yinhang", "zhaoshangyinhang"} <= set(full)
    assert {"zs", "yh", "zsyh"} <= set(initials)
    assert "z" not in initials  # single letters would match far too much
    assert "chongqing" in tx.pinyin_keys("重庆银行")[0]  # heteronyms read in context
    assert tx.pinyin_keys("abc") == ([], [])


def _osa(a: str, b: str) -> int:
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@given(st.text("abcd", max_size=7), st.text("abcd", max_size=7))
def test_within_one_edit_matches_osa_distance(a: str, b: str) -> None:
    assert tx.within_one_edit(a, b) == (_osa(a, b) <= 1)


def test_highlight_marks_and_escapes() -> None:
    assert tx.highlight("招商银行闪电贷", ["zsyh"]) == "<mark>招商银行</mark>闪电贷"
    assert tx.highlight("招商银行闪电贷", ["zhaosh"]) == "<mark>招商</mark>银行闪电贷"  # prefix
    assert tx.highlight("招商银行闪电贷", ["zhaosh"], prefix_last=False) is None
    assert tx.highlight("a<b>&c", ["b"]) == "a&lt;<mark>b</mark>&gt;&amp;c"
    assert tx.highlight('say "hi"', ["hi"]) == "say &quot;<mark>hi</mark>&quot;"
    assert tx.highlight("装修贷款", ["房贷"]) is None
    assert tx.highlight("", ["x"]) is None


def test_highlight_window_for_long_text() -> None:
    text = "甲" * 300 + "装修" + "乙" * 300
    out = tx.highlight(text, ["装修"], max_chars=60)
    assert out is not None and out.startswith("…") and out.endswith("…")
    assert "<mark>装修</mark>" in out
    assert len(out.replace("<mark>", "").replace("</mark>", "")) == 60 + 2


def test_highlights_of_a_document() -> None:
    doc = SHANDIAN.to_dict()
    assert tx.highlights(doc, ["闪电"]) == {"name": "<mark>闪电</mark>贷"}
    assert tx.highlights(doc, []) == {}


@settings(max_examples=300)
@given(st.text(max_size=40), st.lists(st.text(max_size=6), max_size=4))
def test_highlight_is_escaped_text_plus_marks(text: str, raw_terms: list[str]) -> None:
    terms = tx.query_terms(" ".join(raw_terms))
    out = tx.highlight(text, terms)
    if out is None:
        return
    assert "<mark>" in out
    bare = out.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in bare and ">" not in bare and '"' not in bare
    assert html.unescape(bare) == text


# -- embedded engine: arbitrary input never raises ----------------------------------------


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedSearch:
    engine = EmbeddedSearch(tmp_path_factory.mktemp("fuzz"))
    asyncio.run(engine.upsert(CATALOGUE))
    return engine


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=30), sort=st.sampled_from(["apr", "relevance", "newest"]))
def test_embedded_search_never_raises(embedded: EmbeddedSearch, text: str, sort: str) -> None:
    result = asyncio.run(embedded.search(SearchQuery(text=text, sort=sort)))
    assert result.total >= len(result.hits)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(city=st.text(max_size=10), method=st.text(max_size=10))
def test_embedded_filters_take_any_string(embedded: EmbeddedSearch, city: str, method: str) -> None:
    q = SearchQuery(city=city, repayment_method=method)
    assert asyncio.run(embedded.search(q)).total >= 0


# -- Meilisearch adapter: the parts that need no server -----------------------------------


def test_meili_filters_quote_user_values() -> None:
    q = SearchQuery(
        category="car",
        institution_id=3,
        repayment_method='a"b\\c',
        city="上海",
        employment_type="salaried",
        amount=1000,
        term=12,
        apr_max=0.05,
        apr_min=0.1,
    )
    assert filter_expressions(q) == [
        'category = "car"',
        "institution_id = 3",
        'repayment_methods = "a\\"b\\\\c"',
        '(cities = "上海" OR nationwide = true)',
        'employment_types = "salaried"',
        "amount_min <= 1000",
        "amount_max >= 1000",
        "term_min <= 12",
        "term_max >= 12",
        "apr_min <= 0.05",
        "apr_max >= 0.1",
    ]
    attributes = set(SETTINGS["filterableAttributes"])
    for expression in filter_expressions(q):
        for name in re.findall(r"([a-z_]+) (?:=|<=|>=)", expression):
            assert name in attributes


def test_meili_search_params() -> None:
    params = search_params(SearchQuery(sort="amount", page=2, per_page=5), has_terms=False)
    assert params["sort"] == ["amount_max:desc", "id:asc"]
    assert (params["page"], params["hitsPerPage"]) == (2, 5)
    assert params["matchingStrategy"] == "last"
    assert set(params["facets"]) <= set(SETTINGS["filterableAttributes"])
    assert "filter" not in params
    assert "sort" not in search_params(SearchQuery(text="贷", sort="relevance"), has_terms=True)
    fallback = search_params(SearchQuery(text="!!", sort="relevance"), has_terms=False)
    assert fallback["sort"] == ["apr_min:asc", "id:asc"]
    for sort in params["sort"]:
        assert sort.split(":")[0] in SETTINGS["sortableAttributes"]


def test_meili_documents_carry_pinyin() -> None:
    data = to_meili(SHANDIAN)
    assert "zsyh" in data["institution_initials"].split()
    assert "zhaoshang" in data["institution_pinyin"].split()
    assert data["nationwide"] is True and data["coverage"] == ["*"]
    assert data["term"] == ["3", "6", "12", "18", "24", "36"]
    assert "xianshang" in data["summary_pinyin"].split()  # 线上, in the summary
    assert SETTINGS["synonyms"]["装修"] == ["家装", "装潢"]
    searchable = set(SETTINGS["searchableAttributes"])
    assert {k for k in data if k.endswith(("_pinyin", "_initials"))} <= searchable


def test_make_backend_picks_by_settings(tmp_path: Path) -> None:
    embedded = make_backend(load_settings({"LOANMART_VAR_DIR": str(tmp_path)}))
    assert isinstance(embedded, EmbeddedSearch)
    meili = make_backend(
        load_settings({"MEILISEARCH_URL": "http://127.0.0.1:7700", "MEILISEARCH_KEY": "k"})
    )
    assert isinstance(meili, MeiliSearch)
