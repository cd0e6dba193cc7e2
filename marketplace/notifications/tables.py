from piccolo.columns import JSONB, Integer, Serial, Text, Timestamptz, Varchar
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


class SmsPreference(Table, tablename="sms_preference"):
    """A borrower's choice of which switchable kinds of notice also come by SMS:
    {category: bool}; a category missing means its default. By user id: the foreign key
    to app_user is a migration's SQL (the accounts context calls this one, so this one
    must not import it)."""

    id: Serial  # created by Piccolo; declared for type checkers
    user_id = Integer(unique=True)
    choices = JSONB(default="{}")
    updated_at = Timestamptz(default=TimestamptzNow())
