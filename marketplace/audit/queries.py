from __future__ import annotations

from typing import Any

from marketplace.audit.tables import AuditEntry


async def search_audit(text: str, *, page: int, per_page: int) -> tuple[list[dict], int]:
    """Newest first; `text` matches action, object, or actor label."""
    condition: Any = AuditEntry.id > 0
    if text:
        pattern = f"%{text}%"
        condition = (
            AuditEntry.action.ilike(pattern)
            | AuditEntry.actor_label.ilike(pattern)
            | AuditEntry.object_type.ilike(pattern)
            | (AuditEntry.object_id == text)
        )
    total = await AuditEntry.count().where(condition)
    rows = (
        await AuditEntry.select()
        .where(condition)
        .order_by(AuditEntry.id, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return rows, total
