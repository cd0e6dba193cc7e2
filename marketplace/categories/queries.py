"""The catalogue's categories as pages and filters show them (read on every request, so a
change needs no restart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketplace.categories.defaults import CATEGORIES
from marketplace.categories.tables import ProductCategory
from marketplace.i18n import _


@dataclass(frozen=True)
class CategoryRow:
    code: str
    name: str
    position: int
    active: bool
    updated_at: datetime | None  # None: never changed by an operator


async def all_categories() -> list[CategoryRow]:
    """Every code, with the operators' settings where they made any, in display order."""
    rows = {
        row["code"]: row
        for row in await ProductCategory.select().where(
            ProductCategory.code.is_in(list(CATEGORIES))
        )
    }
    categories = [
        CategoryRow(
            code=code,
            name=rows[code]["name"] if code in rows else _(label),
            position=rows[code]["position"] if code in rows else index,
            active=rows[code]["active"] if code in rows else True,
            updated_at=rows[code]["updated_at"] if code in rows else None,
        )
        for index, (code, label) in enumerate(CATEGORIES.items(), 1)
    ]
    return sorted(categories, key=lambda c: (c.position, list(CATEGORIES).index(c.code)))


async def category_labels(*, active_only: bool) -> dict[str, str]:
    """code -> name in display order; with `active_only`, what borrowers may browse by
    (a hidden category still names the products that have it)."""
    return {row.code: row.name for row in await all_categories() if row.active or not active_only}
