from piccolo.columns import Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Notification(Table, tablename="notification"):
    """Every SMS and e-mail the platform sends, recorded before delivery."""

    id: Serial  # created by Piccolo; declared for type checkers
    channel = Varchar(length=10)
    recipient_index = Varchar(length=64)
    recipient_masked = Varchar(length=60)
    template = Varchar(length=60)
    body_encrypted = Text()
    status = Varchar(length=20, default="recorded")
    created_at = Timestamptz(default=TimestamptzNow())
