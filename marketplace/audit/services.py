from __future__ import annotations

from typing import Any

from piccolo.utils.encoding import dump_json

from marketplace import freshness
from marketplace.actors import Actor
from marketplace.db import Statement, by_column, engine, on_commit, write_before_commit


async def record(
    actor: Actor, action: str, object_type: str, object_id: object, **detail: Any
) -> None:
    """Append one audit row inside the transaction of the write it describes, so the row
    exists exactly when the write does. The rows of a transaction are written together,
    just before it commits (one statement for them all, with its other such writes)."""
    if engine().current_transaction.get() is None:
        raise RuntimeError("audit.record() needs an open transaction()")
    row = (
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
    await write_before_commit(_insert_rows, row)
    if freshness.affects_catalogue(action):
        on_commit(freshness.changed)


# Plain SQL, one array per column (`by_column`).
_INSERT_ROWS_SQL = """
INSERT INTO audit_entry (at, actor_kind, actor_id, actor_label, institution_id, action,
  object_type, object_id, ip, request_id, detail)
SELECT clock_timestamp(), kind, actor_id, label, institution_id, action, object_type,
  object_id, ip, request_id, detail::jsonb
FROM unnest({}::text[], {}::integer[], {}::text[], {}::integer[], {}::text[], {}::text[],
  {}::text[], {}::text[], {}::text[], {}::text[]) WITH ORDINALITY
  AS audit_row (kind, actor_id, label, institution_id, action, object_type, object_id, ip,
    request_id, detail, position)
ORDER BY position
"""


def _insert_rows(rows: list[tuple[Any, ...]]) -> Statement:
    return _INSERT_ROWS_SQL, by_column(rows)
