from piccolo.columns import JSONB, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User


class OrderingRules(Table, tablename="ordering_rules"):
    """One version of the ordering rules of the product list: the sorts offered, in the
    order they are offered. Never updated: a change is a new version."""

    id: Serial  # created by Piccolo; declared for type checkers
    version = Integer(unique=True)
    sorts = JSONB()
    note = Varchar(length=200, default="")
    created_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
