"""The operators' dashboard (A12) and the institutions' reports (I8), read ONLY from the
daily rollups (analytics_*_daily) and the small dimension tables (institution, product).

Totals, trends, funnels and the institution table read the coarse day × institution
rollups (analytics_funnel_institution_daily, analytics_loan_institution_daily: a few rows
a day); the product / city / channel breakdowns of one institution read
analytics_breakdown_daily (tens of rows a day) by its (institution, dimension, day) key;
the customer bands read analytics_band_daily and analytics_band_return (tens of rows a
day, see _BANDS), so a band's borrowers are counted once over the period without
reading a row per borrower (except returns after a period that ends before today).

Every page section is a `Figure`: a server-built ECharts option and the same numbers as a
`DataTable`, which the page shows as the accessible table and the exports write out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.analytics import bands
from marketplace.analytics.period import Period, bucket_of
from marketplace.analytics.tables import FunnelDaily, RefreshRun
from marketplace.applications.reporting import CHANNEL_LABELS
from marketplace.complaints.stats import complaints_between
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.parameters.services import get_parameters

TOP_QUERIES = 10
INSTITUTION_SORTS = (
    "name",
    "applications",
    "approved",
    "approval_rate",
    "decision_hours",
    "disbursed_amount",
    "overdue_rate",
    "complaints",
)


def ratio(part: object, whole: object) -> Decimal | None:
    whole_d = Decimal(str(whole or 0))
    return Decimal(str(part or 0)) / whole_d if whole_d else None


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text | int | money | rate | hours


@dataclass(frozen=True)
class DataTable:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    # Per row: a link for the first cell (e.g. the institution's monitoring page).
    links: list[str | None] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    table: DataTable
    chart: dict[str, Any] | None = None
    description: str = ""  # the chart's accessible label


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    current: Any
    previous: Any
    kind: str = "int"  # int | money | rate

    @property
    def change(self) -> Decimal | None:
        """Relative change for counts and amounts; for rates, the difference in points."""
        if self.current is None or self.previous is None:
            return None
        if self.kind == "rate":
            return Decimal(str(self.current)) - Decimal(str(self.previous))
        return ratio(Decimal(str(self.current)) - Decimal(str(self.previous)), self.previous)

    @property
    def trend(self) -> str:
        change = self.change
        if change is None or change == 0:
            return ""
        return "up" if change > 0 else "down"


# --- SQL over the rollups --------------------------------------------------------------

_FUNNEL_SUMS = (
    "coalesce(sum(submitted), 0) AS submitted, coalesce(sum(delivered), 0) AS delivered,"
    " coalesce(sum(approved), 0) AS approved, coalesce(sum(rejected), 0) AS rejected,"
    " coalesce(sum(signed), 0) AS signed, coalesce(sum(disbursed), 0) AS disbursed,"
    " coalesce(sum(disbursed_amount), 0) AS disbursed_amount,"
    " coalesce(sum(decision_hours_sum), 0) AS decision_hours,"
    " coalesce(sum(decision_count), 0) AS decisions"
)
_LOAN_SUMS = (
    "coalesce(sum(loans), 0) AS loans, coalesce(sum(in_force), 0) AS in_force,"
    " coalesce(sum(overdue), 0) AS overdue"
)
_BUCKET = {
    "day": "day",
    "week": "date_trunc('week', day)::date",
    "month": "date_trunc('month', day)::date",
}


async def _rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    return await FunnelDaily.raw(sql, *args)


def _scope(institution_id: int | None, args: list[Any]) -> str:
    if institution_id is None:
        return ""
    args.append(institution_id)
    return " AND institution = {}"


async def _funnel_totals(
    start: date, end: date, institution_id: int | None = None
) -> dict[str, Any]:
    args: list[Any] = [start, end]
    scope = _scope(institution_id, args)
    rows = await _rows(
        f"SELECT {_FUNNEL_SUMS} FROM analytics_funnel_institution_daily"  # noqa: S608
        f" WHERE day BETWEEN {{}} AND {{}}{scope}",
        *args,
    )
    return rows[0]


async def _loan_totals(start: date, end: date, institution_id: int | None = None) -> dict:
    args: list[Any] = [start, end]
    scope = _scope(institution_id, args)
    rows = await _rows(
        f"SELECT {_LOAN_SUMS} FROM analytics_loan_institution_daily"  # noqa: S608
        f" WHERE day BETWEEN {{}} AND {{}}{scope}",
        *args,
    )
    return rows[0]


async def _revenue(start: date, end: date) -> Decimal:
    rows = await _rows(
        "SELECT coalesce(sum(charges - credits), 0) AS net FROM analytics_revenue_daily"
        " WHERE day BETWEEN {} AND {}",
        start,
        end,
    )
    return Decimal(rows[0]["net"])


async def _trend(period: Period, institution_id: int | None = None) -> list[dict[str, Any]]:
    """Per bucket of the granularity, every bucket present (zeros where nothing happened)."""
    args: list[Any] = [period.start, period.end]
    scope = _scope(institution_id, args)
    bucket = _BUCKET[period.grain]
    funnel = await _rows(
        f"SELECT {bucket} AS bucket, {_FUNNEL_SUMS} FROM analytics_funnel_institution_daily"  # noqa: S608
        f" WHERE day BETWEEN {{}} AND {{}}{scope} GROUP BY 1",
        *args,
    )
    loans = await _rows(
        f"SELECT {bucket} AS bucket, {_LOAN_SUMS} FROM analytics_loan_institution_daily"  # noqa: S608
        f" WHERE day BETWEEN {{}} AND {{}}{scope} GROUP BY 1",
        *args,
    )
    by_bucket = {row["bucket"]: row for row in funnel}
    loans_by_bucket = {row["bucket"]: row for row in loans}
    empty = {key: 0 for key in funnel[0]} if funnel else {}
    out = []
    for first in period.buckets():
        row = dict(by_bucket.get(first) or empty)
        book = loans_by_bucket.get(first) or {}
        row.update(
            bucket=first,
            in_force=book.get("in_force", 0),
            overdue=book.get("overdue", 0),
        )
        out.append(row)
    return out


def _bucket_label(first: date, period: Period) -> str:
    if period.grain == "month":
        return first.strftime("%Y-%m")
    if period.grain == "week":
        return _("{day} 当周", day=max(first, bucket_of(period.start, "day")).isoformat())
    return first.isoformat()


def _funnel_figure(key: str, title: str, steps: list[tuple[str, int]]) -> Figure:
    top = steps[0][1] if steps else 0
    table = DataTable(
        key,
        title,
        [Column(_("环节")), Column(_("数量"), "int"), Column(_("占首环节"), "rate")],
        [[label, value, ratio(value, top)] for label, value in steps],
    )
    chart = {
        "tooltip": {"trigger": "item"},
        "series": [
            {
                "type": "funnel",
                "sort": "none",
                "left": "10%",
                "width": "80%",
                "label": {"show": True, "position": "inside"},
                "data": [{"name": label, "value": value} for label, value in steps],
            }
        ],
    }
    return Figure(key, title, table, chart, _("漏斗图：{title}，数据见下表", title=title))


def _line_chart(categories: list[str], series: list[tuple[str, list[Any], str]]) -> dict:
    """series: (name, values, "bar" | "line" | "rate")."""
    has_rate = any(kind == "rate" for _name, _values, kind in series)
    y_axis: list[dict[str, Any]] = [{"type": "value"}]
    if has_rate:
        y_axis.append({"type": "value", "axisLabel": {"formatter": "{value}%"}})
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [name for name, _values, _kind in series]},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": y_axis,
        "series": [
            {
                "name": name,
                "type": "line" if kind in ("line", "rate") else "bar",
                "yAxisIndex": 1 if kind == "rate" else 0,
                "data": [
                    (None if v is None else float(round(Decimal(str(v)) * 100, 2)))
                    if kind == "rate"
                    else (None if v is None else float(v))
                    for v in values
                ],
            }
            for name, values, kind in series
        ],
    }


def _bar_chart(categories: list[str], name: str, values: list[Any], horizontal=False) -> dict:
    category_axis = {"type": "category", "data": categories}
    value_axis = {"type": "value"}
    return {
        "tooltip": {"trigger": "axis"},
        "xAxis": value_axis if horizontal else category_axis,
        "yAxis": {**category_axis, "inverse": True} if horizontal else value_axis,
        "series": [{"name": name, "type": "bar", "data": [float(v or 0) for v in values]}],
    }


async def last_refresh() -> Any:
    row = (
        await RefreshRun.select(RefreshRun.finished_at)
        .order_by(RefreshRun.id, ascending=False)
        .first()
    )
    return row["finished_at"] if row else None


# --- The operators' dashboard -----------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    period: Period
    kpis: list[Kpi]
    figures: list[Figure]
    institutions: Figure
    sort: str
    descending: bool
    refreshed_at: Any

    def figure(self, key: str) -> Figure | None:
        for figure in (*self.figures, self.institutions):
            if figure.key == key:
                return figure
        return None


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


async def _kpis(period: Period) -> tuple[list[Kpi], dict[str, Any]]:
    """The tiles, and the period's funnel totals (the funnel figure's too)."""
    now, before, book, book_before, revenue, revenue_before = await asyncio.gather(
        _funnel_totals(period.start, period.end),
        _funnel_totals(period.previous_start, period.previous_end),
        _loan_totals(period.start, period.end),
        _loan_totals(period.previous_start, period.previous_end),
        _revenue(period.start, period.end),
        _revenue(period.previous_start, period.previous_end),
    )
    kpis = [
        Kpi("applications", _("申请数"), now["submitted"], before["submitted"]),
        Kpi("delivered", _("送达线索"), now["delivered"], before["delivered"]),
        Kpi("approved", _("审批通过"), now["approved"], before["approved"]),
        Kpi("signed", _("签约"), now["signed"], before["signed"]),
        Kpi(
            "disbursed_amount",
            _("放款金额"),
            Decimal(now["disbursed_amount"]),
            Decimal(before["disbursed_amount"]),
            "money",
        ),
        Kpi(
            "overdue_rate",
            _("逾期率"),
            ratio(book["overdue"], book["in_force"]),
            ratio(book_before["overdue"], book_before["in_force"]),
            "rate",
        ),
        Kpi(
            "revenue",
            _("平台收入"),
            revenue,
            revenue_before,
            "money",
        ),
    ]
    return kpis, now


def _kpi_figure(kpis: list[Kpi], period: Period) -> Figure:
    table = DataTable(
        "kpis",
        _("核心指标"),
        [
            Column(_("指标")),
            Column(_("本期（{s} 至 {e}）", s=period.start, e=period.end), "text"),
            Column(_("上期（{s} 至 {e}）", s=period.previous_start, e=period.previous_end), "text"),
        ],
        [[k.label, _cell(k.current, k.kind), _cell(k.previous, k.kind)] for k in kpis],
    )
    return Figure("kpis", _("核心指标"), table)


def _cell(value: Any, kind: str) -> str:
    from marketplace.analytics.formatting import full

    return full(value, kind)


async def _behaviour(period: Period) -> dict[str, Any]:
    rows = await _rows(
        "SELECT coalesce(sum(views), 0) AS views, coalesce(sum(searches), 0) AS searches,"
        " coalesce(sum(zero_result_searches), 0) AS zero_searches,"
        " coalesce(sum(filter_uses), 0) AS filter_uses,"
        " coalesce(sum(calculator_uses), 0) AS calculator_uses,"
        " coalesce(sum(apply_opened), 0) AS apply_opened,"
        " coalesce(sum(apply_submitted), 0) AS apply_submitted,"
        " coalesce(sum(consents), 0) AS consents,"
        " coalesce(sum(calculator_visitors), 0) AS calculator_visitors,"
        " coalesce(sum(calculator_apply_visitors), 0) AS calculator_apply_visitors"
        " FROM analytics_behaviour_daily WHERE day BETWEEN {} AND {}",
        period.start,
        period.end,
    )
    return rows[0]


async def _queries(period: Period, zero_only: bool) -> list[dict[str, Any]]:
    having = " HAVING sum(zero_results) > 0" if zero_only else ""
    order = "zero_results DESC, searches DESC" if zero_only else "searches DESC, zero_results DESC"
    return await _rows(
        "SELECT query, sum(searches) AS searches, sum(zero_results) AS zero_results"  # noqa: S608
        f" FROM analytics_query_daily WHERE day BETWEEN {{}} AND {{}} GROUP BY query{having}"
        f" ORDER BY {order}, query LIMIT {TOP_QUERIES}",
        period.start,
        period.end,
    )


async def _filters(period: Period) -> list[dict[str, Any]]:
    return await _rows(
        "SELECT filter, sum(uses) AS uses FROM analytics_filter_daily"
        " WHERE day BETWEEN {} AND {} GROUP BY filter ORDER BY uses DESC, filter",
        period.start,
        period.end,
    )


FILTER_LABELS = {
    "q": N_("关键词"),
    "category": N_("类别"),
    "institution": N_("机构"),
    "method": N_("还款方式"),
    "city": N_("城市"),
    "employment": N_("职业"),
    "amount": N_("金额"),
    "term": N_("期限"),
    "apr_max": N_("年化上限"),
    "sort": N_("排序"),
}


def _filter_label(code: str) -> str:
    return _(FILTER_LABELS[code]) if code in FILTER_LABELS else code


async def _institution_rows(period: Period) -> list[dict[str, Any]]:
    return await _rows(
        f"""
WITH f AS (
  SELECT institution, {_FUNNEL_SUMS} FROM analytics_funnel_institution_daily
  WHERE day BETWEEN {{}} AND {{}} GROUP BY institution),
l AS (
  SELECT institution, {_LOAN_SUMS} FROM analytics_loan_institution_daily
  WHERE day BETWEEN {{}} AND {{}} GROUP BY institution)
SELECT i.id, i.short_name AS name, f.*, l.in_force, l.overdue
FROM f FULL JOIN l ON l.institution = f.institution
JOIN institution i ON i.id = coalesce(f.institution, l.institution)
ORDER BY i.id""",  # noqa: S608
        period.start,
        period.end,
        period.start,
        period.end,
    )


async def dashboard(
    actor: Actor, period: Period, sort: str = "applications", descending: bool = True
) -> Dashboard:
    _require(actor, "dashboard.view")
    # The sections' queries are independent: run at once, not one after the other, they
    # use both cores (a page holds up to the pool's connections for a few milliseconds).
    # So never call this inside a transaction (one connection runs one query at a time).
    (
        (kpis, totals),
        behaviour,
        trend,
        top,
        zero,
        used,
        institutions,
        refreshed_at,
    ) = await asyncio.gather(
        _kpis(period),
        _behaviour(period),
        _trend(period),
        _queries(period, zero_only=False),
        _queries(period, zero_only=True),
        _filters(period),
        _institutions_figure(period, sort, descending),
        last_refresh(),
    )
    figures = [_kpi_figure(kpis, period)]
    figures.append(
        _funnel_figure(
            "funnel",
            _("从浏览到放款"),
            [
                (_("产品浏览"), behaviour["views"]),
                (_("打开申请表"), behaviour["apply_opened"]),
                (_("提交申请"), totals["submitted"]),
                (_("送达机构"), totals["delivered"]),
                (_("审批通过"), totals["approved"]),
                (_("签约"), totals["signed"]),
                (_("放款"), totals["disbursed"]),
            ],
        )
    )
    figures.append(_trend_figure(trend, period))
    figures.append(
        Figure(
            "queries",
            _("热门搜索词"),
            DataTable(
                "queries",
                _("热门搜索词"),
                [Column(_("搜索词")), Column(_("搜索次数"), "int"), Column(_("无结果次数"), "int")],
                [[r["query"], r["searches"], r["zero_results"]] for r in top],
            ),
            _bar_chart([r["query"] for r in top], _("搜索次数"), [r["searches"] for r in top], True)
            if top
            else None,
            _("条形图：热门搜索词的搜索次数，数据见下表"),
        )
    )
    figures.append(
        Figure(
            "zero_queries",
            _("无结果搜索词"),
            DataTable(
                "zero_queries",
                _("无结果搜索词"),
                [Column(_("搜索词")), Column(_("无结果次数"), "int"), Column(_("搜索次数"), "int")],
                [[r["query"], r["zero_results"], r["searches"]] for r in zero],
                note=_("用户搜了却没有找到产品的词：可能缺少对应产品，或需要补充同义词。"),
            ),
            _bar_chart(
                [r["query"] for r in zero], _("无结果次数"), [r["zero_results"] for r in zero], True
            )
            if zero
            else None,
            _("条形图：无结果搜索词的次数，数据见下表"),
        )
    )
    figures.append(
        Figure(
            "filters",
            _("筛选条件使用"),
            DataTable(
                "filters",
                _("筛选条件使用"),
                [Column(_("筛选条件")), Column(_("使用次数"), "int")],
                [[_filter_label(r["filter"]), r["uses"]] for r in used],
            ),
            _bar_chart(
                [_filter_label(r["filter"]) for r in used], _("使用次数"), [r["uses"] for r in used]
            )
            if used
            else None,
            _("柱状图：各筛选条件的使用次数，数据见下表"),
        )
    )
    figures.append(
        Figure(
            "behaviour",
            _("行为概况"),
            DataTable(
                "behaviour",
                _("行为概况"),
                [Column(_("指标")), Column(_("数值"), "text")],
                [
                    [_("产品浏览"), _cell(behaviour["views"], "int")],
                    [_("搜索次数"), _cell(behaviour["searches"], "int")],
                    [_("无结果搜索"), _cell(behaviour["zero_searches"], "int")],
                    [
                        _("无结果搜索占比"),
                        _cell(ratio(behaviour["zero_searches"], behaviour["searches"]), "rate"),
                    ],
                    [_("使用筛选"), _cell(behaviour["filter_uses"], "int")],
                    [_("使用计算器"), _cell(behaviour["calculator_uses"], "int")],
                    [_("使用计算器的访客"), _cell(behaviour["calculator_visitors"], "int")],
                    [
                        _("其中当天打开申请表"),
                        _cell(behaviour["calculator_apply_visitors"], "int"),
                    ],
                    [
                        _("计算器→申请转化率"),
                        _cell(
                            ratio(
                                behaviour["calculator_apply_visitors"],
                                behaviour["calculator_visitors"],
                            ),
                            "rate",
                        ),
                    ],
                    [_("提交申请（行为记录）"), _cell(behaviour["apply_submitted"], "int")],
                    [_("同意授权"), _cell(behaviour["consents"], "int")],
                ],
            ),
        )
    )
    return Dashboard(
        period=period,
        kpis=kpis,
        figures=figures,
        institutions=institutions,
        sort=sort,
        descending=descending,
        refreshed_at=refreshed_at,
    )


def _trend_figure(rows: list[dict[str, Any]], period: Period, leads: bool = False) -> Figure:
    labels = [_bucket_label(row["bucket"], period) for row in rows]
    first_key, first_label = ("delivered", _("线索")) if leads else ("submitted", _("申请"))
    table = DataTable(
        "trend",
        _("趋势"),
        [
            Column(_("期间")),
            Column(first_label, "int"),
            Column(_("审批通过"), "int"),
            Column(_("审批通过率"), "rate"),
            Column(_("签约"), "int"),
            Column(_("放款笔数"), "int"),
            Column(_("放款金额（元）"), "money"),
            Column(_("逾期率（当期放款）"), "rate"),
        ],
        [
            [
                label,
                row.get(first_key, 0),
                row.get("approved", 0),
                ratio(
                    row.get("approved", 0),
                    (row.get("approved", 0) or 0) + (row.get("rejected", 0) or 0),
                ),
                row.get("signed", 0),
                row.get("disbursed", 0),
                Decimal(str(row.get("disbursed_amount", 0) or 0)),
                ratio(row["overdue"], row["in_force"]),
            ]
            for label, row in zip(labels, rows, strict=True)
        ],
    )
    chart = _line_chart(
        labels,
        [
            (first_label, [r[1] for r in table.rows], "bar"),
            (_("审批通过"), [r[2] for r in table.rows], "bar"),
            (_("放款笔数"), [r[5] for r in table.rows], "bar"),
            (_("审批通过率"), [r[3] for r in table.rows], "rate"),
        ],
    )
    return Figure(
        "trend", _("趋势"), table, chart, _("柱线图：各期间的申请、通过、放款与通过率，数据见下表")
    )


def _sorted(rows: list[dict[str, Any]], sort: str, descending: bool) -> list[dict[str, Any]]:
    """Missing values (no decisions, no loans) last whichever the direction."""
    if sort == "name":
        return sorted(rows, key=lambda r: r["name"], reverse=descending)
    present = [r for r in rows if r.get(sort) is not None]
    absent = [r for r in rows if r.get(sort) is None]
    present.sort(key=lambda r: (r[sort], -r["id"]), reverse=descending)
    return present + absent


async def _institutions_figure(period: Period, sort: str, descending: bool) -> Figure:
    raw = await _institution_rows(period)
    complaints = await complaints_between(period.start, period.end)
    rows = []
    for r in raw:
        decided = (r["approved"] or 0) + (r["rejected"] or 0)
        rows.append(
            {
                "id": r["id"],
                "name": r["name"],
                "applications": r["submitted"] or 0,
                "approved": r["approved"] or 0,
                "approval_rate": ratio(r["approved"], decided),
                "decision_hours": ratio(r["decision_hours"], r["decisions"]),
                "disbursed_amount": Decimal(str(r["disbursed_amount"] or 0)),
                "overdue_rate": ratio(r["overdue"], r["in_force"]),
                "complaints": complaints.get(r["id"], 0),
            }
        )
    rows = _sorted(rows, sort, descending)
    table = DataTable(
        "institutions",
        _("机构表现"),
        [
            Column(_("机构")),
            Column(_("申请数"), "int"),
            Column(_("审批通过"), "int"),
            Column(_("审批通过率"), "rate"),
            Column(_("平均决定用时（小时）"), "hours"),
            Column(_("放款金额（元）"), "money"),
            Column(_("逾期率"), "rate"),
            Column(_("投诉"), "int"),
        ],
        [
            [
                r["name"],
                r["applications"],
                r["approved"],
                r["approval_rate"],
                r["decision_hours"],
                r["disbursed_amount"],
                r["overdue_rate"],
                r["complaints"],
            ]
            for r in rows
        ],
        links=[f"/admin/monitoring?level=institution&institution={r['id']}" for r in rows],
    )
    chart = _bar_chart(
        [r["name"] for r in rows],
        _("审批通过率"),
        [float((r["approval_rate"] or 0) * 100) for r in rows],
    )
    return Figure(
        "institutions",
        _("机构表现"),
        table,
        chart if rows else None,
        _("柱状图：各机构审批通过率（%），数据见下表"),
    )


# --- The institutions' reports -------------------------------------------------------------


@dataclass(frozen=True)
class BandGroup:
    dimension: str
    label: str
    rows: list[list[Any]]
    hidden: int  # bands too small even merged
    merged: int  # bands merged into "其他"


@dataclass(frozen=True)
class Report:
    period: Period
    institution_id: int
    kpis: list[Kpi]
    figures: list[Figure]
    min_band_size: int
    refreshed_at: Any

    def figure(self, key: str) -> Figure | None:
        for figure in self.figures:
            if figure.key == key:
                return figure
        return None


async def _breakdown(period: Period, institution_id: int, dimension: str) -> list[dict[str, Any]]:
    """Funnel and loan sums of the institution by product, city or channel."""
    if dimension not in ("product", "city", "channel"):
        raise ValueError(dimension)
    rows = await _rows(
        f"SELECT group_key AS key, {_FUNNEL_SUMS},"  # noqa: S608
        " coalesce(sum(in_force), 0) AS in_force, coalesce(sum(overdue), 0) AS overdue"
        " FROM analytics_breakdown_daily"
        " WHERE institution = {} AND dimension = {} AND day BETWEEN {} AND {}"
        " GROUP BY group_key ORDER BY group_key",
        institution_id,
        dimension,
        period.start,
        period.end,
    )
    if dimension == "product":
        names = {
            row["id"]: row["name"]
            for row in await _rows(
                "SELECT id, name FROM product WHERE institution = {}", institution_id
            )
        }
        for row in rows:
            row["label"] = names.get(int(row["key"]), _("产品 #{id}", id=row["key"]))
    elif dimension == "channel":
        for row in rows:
            label = CHANNEL_LABELS.get(row["key"])
            row["label"] = _(label) if label else row["key"]
    else:
        for row in rows:
            row["label"] = row["key"] or _("未填写")
    return rows


def _breakdown_figure(key: str, title: str, rows: list[dict[str, Any]]) -> Figure:
    table_rows = []
    for r in rows:
        decided = (r["approved"] or 0) + (r["rejected"] or 0)
        table_rows.append(
            [
                r["label"],
                r["delivered"] or 0,
                r["approved"] or 0,
                r["rejected"] or 0,
                ratio(r["approved"], decided),
                r["disbursed"] or 0,
                Decimal(str(r["disbursed_amount"] or 0)),
                ratio(r["overdue"], r["in_force"]),
            ]
        )
    table = DataTable(
        key,
        title,
        [
            Column(title.split("：")[-1] if "：" in title else _("分组")),
            Column(_("线索"), "int"),
            Column(_("审批通过"), "int"),
            Column(_("拒绝"), "int"),
            Column(_("审批通过率"), "rate"),
            Column(_("放款笔数"), "int"),
            Column(_("放款金额（元）"), "money"),
            Column(_("逾期率"), "rate"),
        ],
        table_rows,
    )
    chart = (
        _line_chart(
            [r[0] for r in table_rows],
            [
                (_("线索"), [r[1] for r in table_rows], "bar"),
                (_("审批通过"), [r[2] for r in table_rows], "bar"),
                (_("审批通过率"), [r[4] for r in table_rows], "rate"),
                (_("逾期率"), [r[7] for r in table_rows], "rate"),
            ],
        )
        if table_rows
        else None
    )
    return Figure(key, title, table, chart, _("柱线图：{title}，数据见下表", title=title))


async def _distinct_borrowers(
    period: Period, institution_id: int, dimension: str, band_codes: list[str]
) -> int:
    if dimension not in bands.DIMENSIONS:  # a column name below: codes from bands.py only
        raise ValueError(dimension)
    rows = await _rows(
        "SELECT count(DISTINCT borrower) AS n FROM analytics_band_member"  # noqa: S608
        f" WHERE institution = {{}} AND day BETWEEN {{}} AND {{}} AND {dimension} = any({{}})",
        institution_id,
        period.start,
        period.end,
        band_codes,
    )
    return int(rows[0]["n"])


# A band row with a previous day in some band: the rows the partial index
# analytics_band_member_returning holds (same expression, so the planner uses it).
_RETURNING = "least(" + ", ".join(f"m.{d}_previous" for d in bands.DIMENSIONS) + ")"
# Per dimension and band (see BandReturn): the period's borrower-days, less the rows
# whose previous day is in the period too (not a borrower's first in it), plus those of
# them dated after the period (not in it at all; none when the period ends today).
_BANDS = f"""
WITH days AS (
  SELECT dimension, band, sum(borrowers) AS borrowers, sum(applications) AS applications,
         sum(approved) AS approved, sum(disbursed) AS disbursed
  FROM analytics_band_daily WHERE institution = {{}} AND day BETWEEN {{}} AND {{}}
  GROUP BY dimension, band),
again AS (
  SELECT dimension, band, sum(returns) AS n FROM analytics_band_return
  WHERE institution = {{}} AND previous BETWEEN {{}} AND {{}}
  GROUP BY dimension, band),
after AS (
  SELECT d.dimension, d.band, count(*) AS n
  FROM analytics_band_member m CROSS JOIN LATERAL {bands.unpivot_sql("m")}
  WHERE m.institution = {{}} AND m.day > {{}} AND {_RETURNING} <= {{}}
    AND d.previous BETWEEN {{}} AND {{}}
  GROUP BY d.dimension, d.band)
SELECT days.dimension, days.band, days.applications, days.approved, days.disbursed,
       days.borrowers - coalesce(again.n, 0) + coalesce(after.n, 0) AS borrowers
FROM days LEFT JOIN again USING (dimension, band) LEFT JOIN after USING (dimension, band)
"""  # noqa: S608 - dimension names from bands.py


async def _band_groups(period: Period, institution_id: int, minimum: int) -> list[BandGroup]:
    """Per dimension and band: the distinct borrowers over the whole period (the
    small-group threshold counts people, not borrower-days) and their applications.
    Read from the day × band rollups; per-borrower rows only for returns after the
    period's end (none for a period ending today)."""
    scope = (institution_id, period.start, period.end)
    after = (institution_id, period.end, period.end, period.start, period.end)
    rows = await _rows(_BANDS, *scope, *scope, *after)
    groups = []
    for dimension, label in bands.DIMENSIONS.items():
        mine = [r for r in rows if r["dimension"] == dimension]
        shown = [r for r in mine if r["borrowers"] >= minimum]
        small = [r for r in mine if r["borrowers"] < minimum]
        order = list(bands.LABELS.get(dimension, {}))
        shown.sort(key=lambda r: order.index(r["band"]) if r["band"] in order else len(order))
        out = [
            [
                bands.label(dimension, r["band"]),
                r["borrowers"],
                r["applications"],
                r["approved"],
                ratio(r["approved"], r["applications"]),
                r["disbursed"],
            ]
            for r in shown
        ]
        merged = hidden = 0
        if small:
            total = {
                k: sum(r[k] for r in small)
                for k in ("borrowers", "applications", "approved", "disbursed")
            }
            if total["borrowers"] >= minimum:
                # A borrower can sit in two small bands (a birthday, a move): count people.
                total["borrowers"] = await _distinct_borrowers(
                    period, institution_id, dimension, [r["band"] for r in small]
                )
            if total["borrowers"] >= minimum:
                merged = len(small)
                out.append(
                    [
                        _("其他（{n} 个人数不足的分段合并）", n=len(small)),
                        total["borrowers"],
                        total["applications"],
                        total["approved"],
                        ratio(total["approved"], total["applications"]),
                        total["disbursed"],
                    ]
                )
            else:
                hidden = len(small)
        groups.append(BandGroup(dimension, _(label), out, hidden, merged))
    return groups


def _band_figure(group: BandGroup, minimum: int) -> Figure:
    note = ""
    if group.hidden:
        note = _("{n} 个分段（合计不足 {m} 人）已隐藏，以免识别到个人。", n=group.hidden, m=minimum)
    table = DataTable(
        f"band_{group.dimension}",
        _("客群：{label}", label=group.label),
        [
            Column(group.label),
            Column(_("借款人（期间内去重）"), "int"),
            Column(_("申请"), "int"),
            Column(_("审批通过"), "int"),
            Column(_("通过率"), "rate"),
            Column(_("放款"), "int"),
        ],
        group.rows,
        note=note,
    )
    chart = (
        {
            "tooltip": {"trigger": "item"},
            "series": [
                {
                    "type": "pie",
                    "radius": ["40%", "70%"],
                    "data": [{"name": r[0], "value": r[1]} for r in group.rows],
                }
            ],
        }
        if group.rows
        else None
    )
    return Figure(
        table.key,
        table.title,
        table,
        chart,
        _("环形图：{label}分布，数据见下表", label=group.label),
    )


async def report(actor: Actor, period: Period) -> Report:
    """The institution's own figures (tenant-scoped by the actor's institution)."""
    _require(actor, "report.view")
    institution_id = actor.institution_id
    if institution_id is None:
        raise NotFound()
    minimum = int((await get_parameters("analytics_min_band_size"))["analytics_min_band_size"])
    # Independent queries, at once (as the dashboard's).
    (
        now,
        before,
        book,
        book_before,
        trend,
        products,
        cities,
        channels,
        groups,
        refreshed_at,
    ) = await asyncio.gather(
        _funnel_totals(period.start, period.end, institution_id),
        _funnel_totals(period.previous_start, period.previous_end, institution_id),
        _loan_totals(period.start, period.end, institution_id),
        _loan_totals(period.previous_start, period.previous_end, institution_id),
        _trend(period, institution_id),
        _breakdown(period, institution_id, "product"),
        _breakdown(period, institution_id, "city"),
        _breakdown(period, institution_id, "channel"),
        _band_groups(period, institution_id, minimum),
        last_refresh(),
    )
    decided = now["approved"] + now["rejected"]
    decided_before = before["approved"] + before["rejected"]
    kpis = [
        Kpi("leads", _("线索"), now["delivered"], before["delivered"]),
        Kpi("approved", _("审批通过"), now["approved"], before["approved"]),
        Kpi(
            "approval_rate",
            _("审批通过率"),
            ratio(now["approved"], decided),
            ratio(before["approved"], decided_before),
            "rate",
        ),
        Kpi("signed", _("签约"), now["signed"], before["signed"]),
        Kpi(
            "disbursed_amount",
            _("放款金额"),
            Decimal(now["disbursed_amount"]),
            Decimal(before["disbursed_amount"]),
            "money",
        ),
        Kpi(
            "overdue_rate",
            _("逾期率"),
            ratio(book["overdue"], book["in_force"]),
            ratio(book_before["overdue"], book_before["in_force"]),
            "rate",
        ),
    ]
    figures = [
        _funnel_figure(
            "funnel",
            _("线索漏斗"),
            [
                (_("线索"), now["delivered"]),
                (_("审批通过"), now["approved"]),
                (_("签约"), now["signed"]),
                (_("放款"), now["disbursed"]),
            ],
        ),
        _trend_figure(trend, period, leads=True),
        _breakdown_figure("products", _("按产品"), products),
        _breakdown_figure("cities", _("按城市"), cities),
        _breakdown_figure("channels", _("按渠道"), channels),
    ]
    for group in groups:
        figures.append(_band_figure(group, minimum))
    return Report(
        period=period,
        institution_id=institution_id,
        kpis=kpis,
        figures=figures,
        min_band_size=minimum,
        refreshed_at=refreshed_at,
    )


def export_cells(table: DataTable) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows for a file: full digits, rates as percentages, None empty."""
    from marketplace.money import format_rate

    def cell(value: Any, kind: str) -> Any:
        if value is None:
            return ""
        if kind == "rate":
            return format_rate(value)
        if kind == "money":
            return Decimal(str(value)).quantize(Decimal("0.01"))
        if kind == "hours":
            return Decimal(str(value)).quantize(Decimal("0.1"))
        return value

    headers = [c.label for c in table.columns]
    rows = [
        [cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)] for row in table.rows
    ]
    return headers, rows
