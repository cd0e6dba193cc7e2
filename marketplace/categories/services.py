"""Operators rename, reorder and hide categories; codes never change."""

from __future__ import annotations

from datetime import UTC, datetime

from marketplace import outbox
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.categories.defaults import CATEGORIES
from marketplace.categories.queries import all_categories
from marketplace.categories.tables import ProductCategory
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import _


async def update_category(
    actor: Actor, code: str, *, name: str, position: int, active: bool
) -> None:
    if not actor.can("catalogue.manage"):
        raise PermissionDenied()
    name = name.strip()
    if not name:
        raise DomainError(_("请填写类别名称"), field="name")
    if code not in CATEGORIES:
        raise NotFound(_("找不到该类别"))
    async with transaction():
        # Edits one at a time, so two categories can never be renamed to one name.
        await ProductCategory.raw("SELECT pg_advisory_xact_lock(hashtext('product_category'))")
        previous = {row.code: row.name for row in await all_categories()}
        taken = [
            other for other, other_name in previous.items() if other != code and other_name == name
        ]
        if taken:
            raise DomainError(_("已有同名类别"), field="name")
        await ProductCategory.insert(
            ProductCategory(code=code, name=name, position=position, active=active)
        ).on_conflict(
            target=ProductCategory.code,
            action="DO UPDATE",
            values=[
                ProductCategory.name,
                ProductCategory.position,
                ProductCategory.active,
                (ProductCategory.updated_at, datetime.now(UTC)),
            ],
        )
        await audit(
            actor,
            "category.update",
            "product_category",
            code,
            name=name,
            previous_name=previous[code],
            position=position,
            active=active,
        )
        if name != previous[code]:
            # Search documents carry the category's name (searching "车贷" finds car loans).
            await outbox.record("products.reindex_category", category=code)
