"""Changing the ordering rules: each change is a new, audited version."""

from __future__ import annotations

from collections.abc import Sequence

from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, PermissionDenied
from marketplace.i18n import _
from marketplace.ranking.rules import DEFAULT_SORT, SORT_RULES
from marketplace.ranking.tables import OrderingRules


async def save_ordering_rules(actor: Actor, sorts: Sequence[str], note: str) -> int:
    """`sorts`: the codes to offer, in the order to offer them. The default cost-first
    sort is always offered, first, whatever was sent."""
    if not actor.can("catalogue.manage"):
        raise PermissionDenied()
    unknown = [code for code in sorts if code not in SORT_RULES]
    if unknown:
        raise DomainError(_("不支持的排序方式"), field="sorts")
    offered = [DEFAULT_SORT, *dict.fromkeys(code for code in sorts if code != DEFAULT_SORT)]
    async with transaction():
        # One writer at a time, so versions have no gaps and no duplicates.
        await OrderingRules.raw("LOCK TABLE ordering_rules IN EXCLUSIVE MODE")
        latest = (
            await OrderingRules.select(OrderingRules.version)
            .order_by(OrderingRules.version, ascending=False)
            .first()
        )
        version = (latest["version"] if latest else 0) + 1
        await OrderingRules.insert(
            OrderingRules(version=version, sorts=offered, note=note, created_by=actor.user_id)
        )
        await audit(actor, "ranking.rules", "ordering_rules", version, sorts=offered, note=note)
    return version
