"""The customer bands of the institution reports (I8): age, city tier, monthly income and
employment type. Codes are stored in the rollup; labels are shown. The income bands are
the application's (applications/reporting.py), set at submission."""

from __future__ import annotations

from marketplace.applications.reporting import UNKNOWN_INCOME
from marketplace.i18n import N_
from marketplace.products.catalog import EMPLOYMENT_TYPES

DIMENSIONS: dict[str, str] = {
    "age": N_("年龄"),
    "city_tier": N_("城市等级"),
    "income": N_("月收入"),
    "employment": N_("职业类型"),
}

# Age at submission: (code, lowest age in the band).
AGE_BANDS: tuple[tuple[str, int], ...] = (
    ("18_24", 18),
    ("25_34", 25),
    ("35_44", 35),
    ("45_54", 45),
    ("55_plus", 55),
)
TIER_1 = ("北京市", "上海市", "广州市", "深圳市")
# 新一线 (2024 list of the 第一财经 ranking), canonical city names.
NEW_TIER_1 = (
    "成都市",
    "杭州市",
    "重庆市",
    "苏州市",
    "武汉市",
    "西安市",
    "南京市",
    "长沙市",
    "天津市",
    "郑州市",
    "东莞市",
    "无锡市",
    "宁波市",
    "青岛市",
    "合肥市",
)
OTHER = "other"

LABELS: dict[str, dict[str, str]] = {
    "age": {
        "under_18": N_("18 岁以下"),
        "18_24": N_("18–24 岁"),
        "25_34": N_("25–34 岁"),
        "35_44": N_("35–44 岁"),
        "45_54": N_("45–54 岁"),
        "55_plus": N_("55 岁及以上"),
    },
    "city_tier": {"tier1": N_("一线城市"), "new_tier1": N_("新一线城市"), OTHER: N_("其他城市")},
    "income": {
        "lt_5k": N_("5000 元以下"),
        "5k_10k": N_("5000–1 万元"),
        "10k_20k": N_("1 万–2 万元"),
        "20k_plus": N_("2 万元及以上"),
        UNKNOWN_INCOME: N_("未知"),
    },
    "employment": dict(EMPLOYMENT_TYPES),
}


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def age_sql(age: str) -> str:
    """A SQL CASE giving the age band of the integer expression `age`."""
    cases = " ".join(
        f"WHEN {age} >= {lowest} THEN '{code}'" for code, lowest in reversed(AGE_BANDS)
    )
    return f"CASE {cases} ELSE 'under_18' END"


def city_tier_sql(city: str) -> str:
    return (
        f"CASE WHEN {city} IN ({_quoted(TIER_1)}) THEN 'tier1'"
        f" WHEN {city} IN ({_quoted(NEW_TIER_1)}) THEN 'new_tier1' ELSE '{OTHER}' END"
    )


def unpivot_sql(row: str) -> str:
    """A LATERAL VALUES list turning one band row (alias `row`) into one
    (dimension, band, previous) row per dimension."""
    values = ", ".join(f"('{d}', {row}.{d}, {row}.{d}_previous)" for d in DIMENSIONS)
    return f"(VALUES {values}) AS d(dimension, band, previous)"


def label(dimension: str, band: str) -> str:
    from marketplace.i18n import _

    text = LABELS.get(dimension, {}).get(band)
    return _(text) if text else band
