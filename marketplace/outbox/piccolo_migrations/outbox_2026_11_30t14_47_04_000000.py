"""Due and dead rows: SQL that Piccolo's column API cannot express."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T14:47:04:000000"
VERSION = "1.38.0"
DESCRIPTION = "due and dead outbox rows"

STATEMENTS = [
    "DROP INDEX IF EXISTS outbox_pending",
    # The old column counted hand-overs to the queue, not runs.
    "UPDATE outbox_message SET attempts = 0",
    "ALTER TABLE outbox_message ADD CONSTRAINT outbox_status_known "
    "CHECK (status IN ('pending', 'done', 'dead'))",
    # The sweeper's scan and the lag metric.
    "CREATE INDEX outbox_due ON outbox_message (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX outbox_dead ON outbox_message (id) WHERE status = 'dead'",
]


async def forwards():
    return raw_sql_migration(ID, "outbox", DESCRIPTION, STATEMENTS)
