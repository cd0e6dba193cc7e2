"""The ordering rules in force (read on every request, so a change needs no restart;
cached per process until the catalogue changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketplace.cache import catalogue_cached
from marketplace.i18n import _
from marketplace.ranking.rules import SORT_RULES
from marketplace.ranking.tables import OrderingRules


@dataclass(frozen=True)
class OfferedSort:
    code: str
    label: str
    explanation: str
    fixed: bool


@dataclass(frozen=True)
class RulesVersion:
    version: int  # 0: nothing saved yet, every sort offered in its declared order
    sorts: tuple[str, ...]
    note: str = ""
    created_at: datetime | None = None
    created_by_name: str = ""

    @property
    def offered(self) -> list[OfferedSort]:
        return [
            OfferedSort(code, _(rule.label), _(rule.explanation), rule.fixed)
            for code in self.sorts
            if (rule := SORT_RULES.get(code))
        ]


DEFAULT_RULES = RulesVersion(version=0, sorts=tuple(SORT_RULES))


def _version(row: dict) -> RulesVersion:
    return RulesVersion(
        version=row["version"],
        sorts=tuple(code for code in row["sorts"] if code in SORT_RULES),
        note=row["note"],
        created_at=row["created_at"],
        created_by_name=row.get("created_by_name") or "",
    )


@catalogue_cached
async def current_rules() -> RulesVersion:
    row = (
        await OrderingRules.select(*OrderingRules.all_columns())
        .order_by(OrderingRules.version, ascending=False)
        .output(load_json=True)
        .first()
    )
    return _version(row) if row else DEFAULT_RULES


async def rules_history(limit: int = 20) -> list[RulesVersion]:
    rows = (
        await OrderingRules.select(
            *OrderingRules.all_columns(),
            OrderingRules.created_by.display_name.as_alias("created_by_name"),
        )
        .order_by(OrderingRules.version, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    return [_version(row) for row in rows]
