from piccolo.columns import JSONB, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AuditEntry(Table, tablename="audit_entry"):
    """Append-only (a trigger refuses UPDATE and DELETE)."""

    id: Serial  # created by Piccolo; declared for type checkers
    at = Timestamptz(default=TimestamptzNow())
    actor_kind = Varchar(length=20)
    actor_id = Integer(null=True, default=None)
    actor_label = Varchar(length=120)
    institution_id = Integer(null=True, default=None)
    action = Varchar(length=60)
    object_type = Varchar(length=40)
    object_id = Varchar(length=40)
    ip = Varchar(length=64, default="")
    request_id = Varchar(length=64, default="")
    detail = JSONB(default="{}")
