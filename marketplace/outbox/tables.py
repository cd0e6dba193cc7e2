from piccolo.columns import JSONB, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OutboxMessage(Table, tablename="outbox_message"):
    """A job recorded in the same transaction as the change that causes it."""

    id: Serial  # created by Piccolo; declared for type checkers
    job = Varchar(length=80)
    payload = JSONB()
    created_at = Timestamptz(default=TimestamptzNow())
    dispatched_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    last_error = Text(default="")
