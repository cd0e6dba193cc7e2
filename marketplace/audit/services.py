from __future__ import annotations

from typing import Any

from marketplace import freshness
from marketplace.actors import Actor
from marketplace.audit.tables import AuditEntry
from marketplace.db import engine, on_commit


async def record(
    actor: Actor, action: str, object_type: str, object_id: object, **detail: Any
) -> None:
    """Append one audit row inside the transaction of the write it describes, so the row
    exists exactly when the write does."""
    if engine().current_transaction.get() is None:
        raise RuntimeError("audit.record() needs an open transaction()")
    await AuditEntry.insert(
        AuditEntry(
            actor_kind=actor.kind,
            actor_id=actor.user_id,
            actor_label=actor.label,
            institution_id=actor.institution_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            ip=actor.ip,
            request_id=actor.request_id,
            detail=detail,
        )
    )
    if freshness.affects_catalogue(action):
        on_commit(freshness.changed)
