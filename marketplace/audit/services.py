from __future__ import annotations

from typing import Any

from piccolo.utils.encoding import dump_json

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
    # Plain SQL: the submission path writes two of these per request, and building the
    # ORM's INSERT cost more CPU than running it.
    await AuditEntry.raw(
        "INSERT INTO audit_entry (at, actor_kind, actor_id, actor_label, institution_id,"
        " action, object_type, object_id, ip, request_id, detail)"
        " VALUES (clock_timestamp(), {}, {}, {}, {}, {}, {}, {}, {}, {}, {}::jsonb)",
        actor.kind,
        actor.user_id,
        actor.label,
        actor.institution_id,
        action,
        object_type,
        str(object_id),
        actor.ip,
        actor.request_id,
        dump_json(detail),
    )
    if freshness.affects_catalogue(action):
        on_commit(freshness.changed)
