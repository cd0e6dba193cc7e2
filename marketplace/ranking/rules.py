"""The sorts the product list can offer and how each one orders, in plain words: the
ranking-policy page is generated from these, so the page and the engine cannot drift.

Both search engines break ties by product number (the earlier listed first); no sort
reads anything about the visitor, and none reads whether a product is promoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.i18n import N_


@dataclass(frozen=True)
class SortRule:
    label: str  # N_() marked
    explanation: str  # N_() marked; how the list is ordered
    fixed: bool = False  # always offered, cannot be switched off


DEFAULT_SORT = "apr"

SORT_RULES: dict[str, SortRule] = {
    "apr": SortRule(
        N_("综合年化最低"),
        N_(
            "按综合年化利率（IRR，含利息和全部费用）的最低值从低到高排列；"
            "相同时先上架的产品在前。这是默认排序，始终可选，不能关闭。"
        ),
        fixed=True,
    ),
    "amount": SortRule(N_("额度最高"), N_("按最高可借额度从高到低排列；相同时先上架的产品在前。")),
    "approval": SortRule(
        N_("通过率最高"),
        N_("按机构申报、平台核对的历史审批通过率从高到低排列；相同时先上架的产品在前。"),
    ),
    "newest": SortRule(N_("最新上架"), N_("按上架时间从新到旧排列。")),
    "popularity": SortRule(
        N_("最受欢迎"),
        N_("按平台统计的申请热度（申请次数）从高到低排列；相同时先上架的产品在前。"),
    ),
    "relevance": SortRule(
        N_("相关度"),
        N_(
            "仅在输入搜索词时可用：按产品名称、机构和简介与搜索词的匹配程度排列；"
            "没有搜索词时按综合年化最低排列。"
        ),
    ),
}
