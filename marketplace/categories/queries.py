"""The catalogue's categories as pages and filters show them (read on every request, so a
change needs no restart; cached per process until the catalogue changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marketplace.cache import catalogue_cached
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
    shipped: bool  # declared in defaults.py (False: created by an operator)


@catalogue_cached
async def all_categories() -> list[CategoryRow]:
    """Every code, shipped or created by operators, with the operators' settings where
    they made any, in display order (ties: shipped order, then the code)."""
    rows = {row["code"]: row for row in await ProductCategory.select()}
    shipped = [
        CategoryRow(
            code=code,
            name=rows[code]["name"] if code in rows else _(label),
            position=rows[code]["position"] if code in rows else index,
            active=rows[code]["active"] if code in rows else True,
            updated_at=rows[code]["updated_at"] if code in rows else None,
            shipped=True,
        )
        for index, (code, label) in enumerate(CATEGORIES.items(), 1)
    ]
    created = [
        CategoryRow(
            code=row["code"],
            name=row["name"],
            position=row["position"],
            active=row["active"],
            updated_at=row["updated_at"],
            shipped=False,
        )
        for row in rows.values()
        if row["code"] not in CATEGORIES
    ]
    declared = list(CATEGORIES)
    return sorted(
        [*shipped, *created],
        key=lambda c: (
            c.position,
            declared.index(c.code) if c.shipped else len(declared),
            c.code,
        ),
    )


async def category_labels(*, active_only: bool) -> dict[str, str]:
    """code -> name in display order; with `active_only`, what borrowers may browse by
    (a hidden category still names the products that have it)."""
    return {row.code: row.name for row in await all_categories() if row.active or not active_only}


async def product_category_choices(current: str | None = None) -> dict[str, str]:
    """code -> label a product may be given: the categories shown to borrowers, plus
    `current` (the product's own category when it is edited) even if operators hid it
    since, labelled as hidden, so saving the form never loses what the institution chose."""
    choices: dict[str, str] = {}
    for row in await all_categories():
        if row.active:
            choices[row.code] = row.name
        elif row.code == current:
            choices[row.code] = _("{name}（已隐藏）", name=row.name)
    return choices
