from piccolo.columns import JSONB, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class LegalVersion(Table, tablename="legal_version"):
    """One published version of a legal text, exactly as it was shown (sections as JSON),
    so a replaced version stays readable word for word. `number` counts per document."""

    id: Serial  # created by Piccolo; declared for type checkers
    document = Varchar(length=30)
    number = Integer()
    title = Varchar(length=60)
    content = JSONB()
    digest = Varchar(length=64)
    effective_at = Timestamptz(default=TimestamptzNow())
