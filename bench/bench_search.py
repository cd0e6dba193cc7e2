"""How does the embedded search engine scale with the catalogue?

Generates N believable synthetic products (fixed seed; Chinese names from a small
vocabulary, fictional institutions, categories, amounts, terms, APRs) into a temporary
directory with `search.embedded.EmbeddedSearch`, through its async API only:

* indexing throughput: `upsert()` in batches of 500, documents per second of wall time
  (analysis with jieba/pinyin, tantivy writer, commit and merge included);
* query latency: median, p95 and p99 of `search()` over a fixed query mix, the query types
  interleaved round-robin. Each is reported as a ratio against the baseline measured in
  the same run on the same index: the filter-only query with empty text (category +
  amount + term filters, sorted by APR, facets), i.e. a browse page with filters, no text;
* CPU time of each search (the process's, every thread): on a machine shared with other
  work, wall time mostly measures the wait for a core, CPU time what the search costs.

The N catalogues are prefixes of one generated sequence, so every query finds the same
kinds of products at every size. Prints a table per size and appends one row per size to
its section of bench/RESULTS.md. Bounded: at most --queries searches per query type and
--seconds of querying per size; the index directory is deleted at the end.

    .venv/bin/python bench/bench_search.py [--sizes 1000,10000,100000] [--queries 300]
                                           [--seconds 30] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _results import RESULTS, append_rows, now, pad, python_version

from marketplace.products.catalog import CATEGORIES
from marketplace.products.search_port import ProductDocument, SearchQuery
from search.embedded import EmbeddedSearch
from server.lifecycle import frozen_heap
from server.progress import progress

SEED = 20240601
BATCH = 500
WARMUP = 5

# Fictional institutions: brand × kind, e.g. 明川银行, 景和消费金融 (none is a real one).
BRANDS = (
    "明川", "景和", "岚山", "泓远", "嘉禾", "澄江", "鹭洲", "云岫", "松涛", "锦程",
    "望舒", "清源", "恒丰", "瑞霖", "翠微", "青峦", "宏图", "昭阳", "临川", "星野",
    "长庚", "钧天", "汇川", "安澜", "逸舟", "宁远", "德馨", "沐风", "天衡", "启泰",
    "映雪", "拓海", "嵩岳", "潇湘", "楚天", "梧桐", "川谷", "晴川", "润土", "丰谷",
)  # fmt: skip
KINDS = ("银行", "农商银行", "消费金融", "小贷", "汽车金融")
# category -> product type words, e.g. 装修贷, 新能源车贷.
TYPES = {
    "consumer": ("消费贷", "装修贷", "信用贷", "教育分期", "旅游分期", "婚庆贷", "家电分期"),
    "business": ("经营贷", "税易贷", "小微快贷", "个体工商户贷", "供应链贷", "科创贷"),
    "car": ("车贷", "新能源车贷", "二手车贷", "购车分期"),
    "mortgage": ("房抵贷", "宅抵贷", "房抵经营贷", "安居贷"),
    "credit_card": ("信用卡账单分期", "信用卡现金分期", "信用卡大额分期"),
}
FEATURES = (
    "安家", "薪享", "随心", "闪电", "惠民", "乐享", "速达", "易借", "公积金",
    "优选", "尊享", "普惠", "乡村振兴", "家用", "青年", "白领", "e",
)  # fmt: skip
PURPOSES = ("装修", "购车", "教育", "旅游", "婚庆", "经营周转", "家电", "进货", "医疗")
TAGS = (
    "线上申请", "随借随还", "当天放款", "无需抵押", "公积金客户", "代发工资",
    "纳税企业", "新能源", "按日计息", "提前还款免违约金",
)  # fmt: skip
CITIES = ("北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安")
EMPLOYMENT = ("employee", "civil_servant", "business_owner", "self_employed", "freelancer")
METHODS = ("equal_installment", "equal_principal", "interest_first", "bullet", "flat")
TERMS = (3, 6, 9, 12, 18, 24, 36, 48, 60, 120, 240, 360)
# category -> (amount range in yuan, term range in months, APR range)
SHAPES = {
    "consumer": ((1_000, 300_000), (3, 60), (0.032, 0.239)),
    "business": ((10_000, 3_000_000), (6, 60), (0.035, 0.18)),
    "car": ((30_000, 800_000), (12, 60), (0.04, 0.16)),
    "mortgage": ((100_000, 10_000_000), (12, 360), (0.031, 0.09)),
    "credit_card": ((1_000, 200_000), (3, 36), (0.07, 0.18)),
}

INSTITUTIONS = list(enumerate((brand + kind for brand in BRANDS for kind in KINDS), start=1))
INSTITUTION_QUERY = "明川银行"


def _round_amount(value: float) -> int:
    step = 1_000 if value < 100_000 else 10_000
    return max(step, int(value // step) * step)


def synthetic_products(
    n: int, seed: int = SEED, on_product: Callable[[int], None] = lambda count: None
) -> list[ProductDocument]:
    rng = random.Random(seed)
    listed_from = 1_700_000_000
    docs = []
    for i in range(n):
        institution_id, institution = rng.choice(INSTITUTIONS)
        category = rng.choices(tuple(TYPES), weights=(5, 3, 2, 2, 2))[0]
        kind = rng.choice(TYPES[category])
        feature = rng.choice(FEATURES)
        brand = institution[:2]
        name = f"{brand}{feature}{kind}"
        (amin, amax), (tmin, tmax), (rmin, rmax) = SHAPES[category]
        low = _round_amount(rng.uniform(amin, amin * 5))
        high = max(low, _round_amount(rng.uniform(amax / 10, amax)))
        terms = sorted(rng.sample([t for t in TERMS if tmin <= t <= tmax], k=3))
        apr_min = round(rng.uniform(rmin, (rmin + rmax) / 2), 4)
        apr_max = round(rng.uniform(apr_min, rmax), 4)
        cities = [] if rng.random() < 0.6 else sorted(rng.sample(CITIES, k=rng.randint(1, 4)))
        employment = sorted(rng.sample(EMPLOYMENT, k=rng.randint(1, 5)))
        purposes = "、".join(rng.sample(PURPOSES, k=2))
        where = "、".join(cities) if cities else "全国"
        summary = (
            f"{institution}面向{where}客户推出的{CATEGORIES[category]}产品，"
            f"额度{low // 10_000 or 1}万至{high // 10_000}万元，期限最长{terms[-1]}个月，"
            f"年化利率（单利）{apr_min:.2%}起，可用于{purposes}等合理用途。"
        )
        docs.append(
            ProductDocument(
                id=i + 1,
                name=name,
                institution_id=institution_id,
                institution_name=institution,
                category=category,
                category_label=CATEGORIES[category],
                summary=summary,
                tags=rng.sample(TAGS, k=rng.randint(1, 3)),
                repayment_methods=[rng.choice(METHODS)],
                cities=cities,
                employment_types=employment,
                amount_min=low,
                amount_max=high,
                term_min=terms[0],
                term_max=terms[-1],
                term_options=terms,
                apr_min=apr_min,
                apr_max=apr_max,
                approval_rate=round(rng.uniform(0.2, 0.95), 3),
                popularity=int(rng.paretovariate(1.2) * 10),
                listed_at=listed_from + rng.randrange(0, 3 * 365 * 86_400),
                promoted=rng.random() < 0.05,
            )
        )
        on_product(1)
    return docs


BASELINE = "filter only, no text"
# name -> query. The baseline comes first; the others are compared against it.
QUERIES: dict[str, SearchQuery] = {
    BASELINE: SearchQuery(category="consumer", amount=50_000, term=12),
    "word 装修": SearchQuery(text="装修", sort="relevance"),
    f"institution {INSTITUTION_QUERY}": SearchQuery(text=INSTITUTION_QUERY, sort="relevance"),
    "initials zxd": SearchQuery(text="zxd", sort="relevance"),
    "typo pinyin zhaungxiu": SearchQuery(text="zhaungxiu", sort="relevance"),
    "natural 想借钱装修房子": SearchQuery(text="想借钱装修房子"),
    "filtered+sorted 消费 (facets)": SearchQuery(
        text="消费",
        category="consumer",
        city="上海",
        employment_type="employee",
        amount=50_000,
        term=12,
        apr_max=0.18,
        sort="popularity",
    ),
}
SHORT = ("word", "institution", "initials", "typo", "natural", "filtered")


@dataclass
class QueryStats:
    median_ms: float
    p95_ms: float
    p99_ms: float
    total: int
    runs: int
    cpu_median_ms: float
    cpu_p99_ms: float


@dataclass
class SizeResult:
    docs: int
    index_seconds: float
    queries: dict[str, QueryStats]
    cache: str  # "cold": every search computed; "warm": repeated searches answered from the cache
    load_at_start: float  # 1-minute load average when the cold queries started

    @property
    def docs_per_second(self) -> float:
        return self.docs / self.index_seconds

    def ratio(self, name: str) -> tuple[float, float]:
        base, this = self.queries[BASELINE], self.queries[name]
        return this.median_ms / base.median_ms, this.p95_ms / base.p95_ms


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1]


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[-1]


async def index_catalogue(engine: EmbeddedSearch, docs: list[ProductDocument]) -> float:
    started = time.perf_counter()
    with progress(f"index {len(docs):,} products") as (step,):
        step.set_total(len(docs))
        for i in range(0, len(docs), BATCH):
            await engine.upsert(docs[i : i + BATCH])
            step.advance(len(docs[i : i + BATCH]))
    elapsed = time.perf_counter() - started
    assert await engine.count() == len(docs)
    return elapsed


async def time_queries(
    engine: EmbeddedSearch, runs: int, budget_seconds: float
) -> dict[str, QueryStats]:
    totals = {}
    for name, query in QUERIES.items():
        for _ in range(WARMUP):
            result = await engine.search(query)
        totals[name] = result.total
        assert result.total > 0, f"{name!r} finds nothing: the generator lost its vocabulary"
    samples: dict[str, list[float]] = {name: [] for name in QUERIES}
    cpu: dict[str, list[float]] = {name: [] for name in QUERIES}
    deadline = time.monotonic() + budget_seconds
    for _ in range(runs):
        for name, query in QUERIES.items():
            t0, c0 = time.perf_counter(), time.process_time()
            await engine.search(query)
            samples[name].append((time.perf_counter() - t0) * 1000)
            cpu[name].append((time.process_time() - c0) * 1000)
        if time.monotonic() > deadline:
            break
    return {
        name: QueryStats(
            statistics.median(s),
            p95(s),
            p99(s),
            totals[name],
            len(s),
            statistics.median(cpu[name]),
            p99(cpu[name]),
        )
        for name, s in samples.items()
    }


async def run_size(
    docs: list[ProductDocument], root: Path, runs: int, budget: float
) -> list[SizeResult]:
    """Cold (an engine without a results cache: what every new search or the first one
    after a commit costs) and warm (the same index, the cache on: repeated searches)."""
    engine = EmbeddedSearch(root / f"n{len(docs)}", result_cache_size=0)
    warm = EmbeddedSearch(root / f"n{len(docs)}")
    try:
        index_seconds = await index_catalogue(engine, docs)
        load = os.getloadavg()[0]
        # Searched as a web worker searches: its start-up heap (here also the generated
        # catalogue) frozen out of the cyclic collector, whose full passes over it would
        # otherwise land in the tail of the timings.
        with frozen_heap():
            cold_queries = await time_queries(engine, runs, budget)
            warm_queries = await time_queries(warm, runs, budget)
    finally:
        await engine.close()
        await warm.close()
    return [
        SizeResult(len(docs), index_seconds, cold_queries, "cold", load),
        SizeResult(len(docs), index_seconds, warm_queries, "warm", load),
    ]


def print_result(r: SizeResult) -> None:
    print(
        f"\n{r.docs:,} products, results cache {r.cache}: indexed in {r.index_seconds:.1f} s "
        f"= {r.docs_per_second:,.0f} docs/s (batches of {BATCH})"
    )
    print(
        f"{'query':<34} {'hits':>7} {'runs':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'p50 ÷ base':>10} {'p95 ÷ base':>10} {'cpu p50':>8} {'cpu p99':>8}"
    )
    for name, s in r.queries.items():
        median_ratio, p95_ratio = r.ratio(name)
        print(
            f"{pad(name, 34)} {s.total:>7} {s.runs:>5} {s.median_ms:>8.2f} {s.p95_ms:>8.2f} "
            f"{s.p99_ms:>8.2f} {median_ratio:>10.2f} {p95_ratio:>10.2f} "
            f"{s.cpu_median_ms:>8.2f} {s.cpu_p99_ms:>8.2f}"
        )


HEADING = "## Embedded search at scale, p99 (`bench/bench_search.py`, index schema v2)"
SECTION = f"""{HEADING}

Synthetic catalogue (fixed seed) of N products indexed with `EmbeddedSearch.upsert` in
batches of {BATCH}; indexing in documents per second of wall time. Query latency is that of
`await EmbeddedSearch.search()` (reload, query, every facet, payloads, highlights). Baseline
of each row, measured in the same run on the same index: the filter-only query with empty
text (category + amount + term, sorted by APR, with facets). Each query cell is
"p50 ms · p99 ms (p99 ÷ baseline p99)"; the goal is p99 ≤ 5 ms at 100,000 products.
Queries: 装修 (Chinese word), {INSTITUTION_QUERY} (institution), zxd (pinyin initials),
zhaungxiu (pinyin with a transposition), 想借钱装修房子 (natural query: stop words,
synonyms, more matched terms first), 消费 + 6 filters sorted by popularity (facets).
"cold": an engine without its results cache, so every search is computed (a new search,
or any search after a commit); "warm": the same index with the cache on, the same searches
repeated (answered from the cache until the next commit). The earlier section (schema v1,
no cache) has p50/p95 ratios only.

| when (Asia/Shanghai) | python | machine | products | results cache | index docs/s | baseline p50 (ms) | baseline p99 (ms) | 装修 | {INSTITUTION_QUERY} | zxd | zhaungxiu | 想借钱装修房子 | filtered+sorted |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""


CPU_HEADING = "## Embedded search at scale, CPU time per computed search (`bench/bench_search.py`)"
CPU_SECTION = f"""{CPU_HEADING}

The "cold" runs of the section above (every search computed), timed in CPU instead of
wall time: the process's CPU time (every thread) spent in each `await
EmbeddedSearch.search()`. On a machine shared with other work, wall time mostly measures
the wait for a core; CPU time is what a search costs, so it compares across runs on a
busy machine (other processes still share the caches and memory bandwidth). Load is the
1-minute load average when querying started → ended (2 cores). Each query cell is
"CPU p50 ms · CPU p99 ms (p99 ÷ baseline p99)".

| when (Asia/Shanghai) | python | machine | products | load | baseline CPU p50 (ms) | baseline CPU p99 (ms) | 装修 | {INSTITUTION_QUERY} | zxd | zhaungxiu | 想借钱装修房子 | filtered+sorted |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
"""


def cpu_row(r: SizeResult, load: str) -> str:
    base = r.queries[BASELINE]
    cells = [
        f"{q.cpu_median_ms:.2f} · {q.cpu_p99_ms:.2f} ({q.cpu_p99_ms / base.cpu_p99_ms:.2f})"
        for name, q in r.queries.items()
        if name != BASELINE
    ]
    return (
        f"| {now()} | {python_version()} | {platform.machine()} | {r.docs:,} | {load} "
        f"| {base.cpu_median_ms:.2f} | {base.cpu_p99_ms:.2f} | " + " | ".join(cells) + " |"
    )


def results_row(r: SizeResult) -> str:
    base = r.queries[BASELINE]
    cells = []
    for name, q in r.queries.items():
        if name == BASELINE:
            continue
        cells.append(f"{q.median_ms:.2f} · {q.p99_ms:.2f} ({q.p99_ms / base.p99_ms:.2f})")
    return (
        f"| {now()} | {python_version()} | {platform.machine()} | {r.docs:,} | {r.cache} "
        f"| {r.docs_per_second:,.0f} | {base.median_ms:.2f} | {base.p99_ms:.2f} | "
        + " | ".join(cells)
        + " |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated catalogue sizes (default: 1000,10000,100000)",
    )
    parser.add_argument("--queries", type=int, default=300, help="searches per query type")
    parser.add_argument(
        "--seconds", type=float, default=30, help="time budget for querying, per size"
    )
    parser.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 1:
        parser.error("--sizes needs positive integers")
    if args.queries < 100 or args.seconds <= 0:
        parser.error("--queries must be at least 100 (for a p99), --seconds positive")

    started = time.perf_counter()
    with progress("generate products") as (step,):
        step.set_total(sizes[-1])
        catalogue = synthetic_products(sizes[-1], on_product=step.advance)
    print(f"generated {len(catalogue):,} products in {time.perf_counter() - started:.1f} s")
    results = []
    loads = {}
    with tempfile.TemporaryDirectory(prefix="loanmart-bench-search-") as tmp:
        for n in sizes:
            for result in asyncio.run(
                run_size(catalogue[:n], Path(tmp), args.queries, args.seconds)
            ):
                print_result(result)
                results.append(result)
            loads[n] = f"{result.load_at_start:.1f} → {os.getloadavg()[0]:.1f}"
            print(f"load average while querying: {loads[n]}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")

    if not args.no_write:
        append_rows(HEADING, SECTION, [results_row(r) for r in results])
        cold = [r for r in results if r.cache == "cold"]
        append_rows(CPU_HEADING, CPU_SECTION, [cpu_row(r, loads[r.docs]) for r in cold])
        print(f"appended {len(results) + len(cold)} rows to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
