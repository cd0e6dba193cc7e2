from enum import StrEnum

from piccolo.columns import JSONB, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class OutboxMessage(Table, tablename="outbox_message"):
    """A job recorded in the same transaction as the change that causes it. The row, not
    Redis, is the source of truth: it is done only once its handler has committed."""

    id: Serial  # created by Piccolo; declared for type checkers
    job = Varchar(length=80)
    payload = JSONB()
    status = Varchar(length=10, default=OutboxStatus.PENDING.value)
    # Runs in the current series: drives the backoff and the dead threshold; an
    # operator's retry starts a new series.
    attempts = Integer(default=0)
    # Every run ever (never reset): the metrics, and stale-delivery detection.
    runs = Integer(default=0)
    # When the next delivery is due; while a delivery is in flight, the end of its lease.
    next_attempt_at = Timestamptz(default=TimestamptzNow())
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    done_at = Timestamptz(null=True, default=None)
