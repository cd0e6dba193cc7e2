"""Operators create categories, and rename, reorder and hide them; codes never change."""

from __future__ import annotations

from datetime import UTC, datetime

from asyncpg.exceptions import UniqueViolationError

from marketplace import outbox
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.categories.defaults import CODE_MAX_LENGTH, CODE_PATTERN
from marketplace.categories.queries import all_categories
from marketplace.categories.tables import ProductCategory
from marketplace.db import transaction
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import _


def _checked(actor: Actor, name: str) -> str:
    if not actor.can("catalogue.manage"):
        raise PermissionDenied()
    name = name.strip()
    if not name:
        raise DomainError(_("请填写类别名称"), field="name")
    return name


async def _lock_and_read() -> dict[str, str]:
    """Inside the caller's transaction: edits and creations one at a time, so two
    categories can never end with one name or one code. Every code -> its name."""
    await ProductCategory.raw("SELECT pg_advisory_xact_lock(hashtext('product_category'))")
    return {row.code: row.name for row in await all_categories()}


def _refuse_taken_name(names: dict[str, str], code: str, name: str) -> None:
    if any(other != code and other_name == name for other, other_name in names.items()):
        raise DomainError(_("已有同名类别"), field="name")


async def create_category(
    actor: Actor, code: str, *, name: str, position: int, active: bool
) -> None:
    """A new category; products can be given it at once (unless hidden)."""
    name = _checked(actor, name)
    code = code.strip()
    if not CODE_PATTERN.fullmatch(code):
        raise DomainError(
            _(
                "类别代码须为2到{maximum}个小写英文字母、数字或下划线，以字母开头",
                maximum=CODE_MAX_LENGTH,
            ),
            field="code",
        )
    taken = DomainError(_("类别代码已存在，代码创建后不能修改，请换一个"), field="code")
    try:
        async with transaction():
            names = await _lock_and_read()
            if code in names:
                raise taken
            _refuse_taken_name(names, code, name)
            await ProductCategory.insert(
                ProductCategory(code=code, name=name, position=position, active=active)
            )
            await audit(
                actor,
                "category.create",
                "product_category",
                code,
                name=name,
                position=position,
                active=active,
            )
    except UniqueViolationError:
        # Only reachable if something bypassed the lock; the constraint still holds.
        raise taken from None


async def update_category(
    actor: Actor, code: str, *, name: str, position: int, active: bool
) -> None:
    name = _checked(actor, name)
    async with transaction():
        previous = await _lock_and_read()
        if code not in previous:
            raise NotFound(_("找不到该类别"))
        _refuse_taken_name(previous, code, name)
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
