from piccolo.columns import JSONB, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class SystemParameter(Table, tablename="system_parameter"):
    """Operator-tunable values (APR lines, LPR, limits). Defaults live in code."""

    id: Serial  # created by Piccolo; declared for type checkers
    key = Varchar(length=80, unique=True)
    value = JSONB()
    updated_at = Timestamptz(default=TimestamptzNow())
    updated_by = Varchar(length=120, default="")
