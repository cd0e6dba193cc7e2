from piccolo.columns import JSONB, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class SystemParameter(Table, tablename="system_parameter"):
    """Operator-tunable values (APR lines, LPR, limits). Defaults live in code; a row with
    version 0 holds the code default (seeded at startup) and follows it when it changes."""

    id: Serial  # created by Piccolo; declared for type checkers
    key = Varchar(length=80, unique=True)
    value = JSONB()
    updated_at = Timestamptz(default=TimestamptzNow())
    updated_by = Varchar(length=120, default="")
    # Changes made on the admin page; an edit names the version it saw (no lost update).
    version = Integer(default=0)


class ParameterChange(Table, tablename="parameter_change"):
    """Every change of a parameter: who, when, old → new and why. (key, version) is unique."""

    id: Serial
    key = Varchar(length=80, index=True)
    version = Integer()
    old_value = JSONB()
    new_value = JSONB()
    reason = Text(default="")
    actor_id = Integer(null=True, default=None)
    actor_label = Varchar(length=120, default="")
    at = Timestamptz(default=TimestamptzNow())
