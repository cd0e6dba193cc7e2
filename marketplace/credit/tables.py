from piccolo.columns import JSONB, Date, ForeignKey, Integer, OnDelete, Serial, Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User


class CreditSnapshot(Table, tablename="credit_snapshot"):
    """A borrower's credit-health score on one Asia/Shanghai date, with each factor's
    points ({factor: 0–100}); unique (borrower, taken_on), written by the daily job."""

    id: Serial  # created by Piccolo; declared for type checkers
    borrower = ForeignKey(references=User, on_delete=OnDelete.cascade)
    taken_on = Date()
    score = Integer()
    factors = JSONB(default="{}")
    created_at = Timestamptz(default=TimestamptzNow())


class CreditRun(Table, tablename="credit_run"):
    """One row per business date on which the daily snapshots were queued: the hourly cron
    queues them once."""

    id: Serial  # created by Piccolo; declared for type checkers
    business_date = Date(unique=True)
    borrowers = Integer(default=0)
    ran_at = Timestamptz(default=TimestamptzNow())
