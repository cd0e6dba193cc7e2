from piccolo.columns import ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.applications.tables import Application

# Characters of plaintext a message may hold (the encrypted column is unbounded text).
BODY_MAX_LENGTH = 1000


class Message(Table, tablename="message"):
    """One message in an application's thread between the borrower and the institution.

    The body is stored encrypted (borrowers write personal things), so the column cannot
    carry its limit: `BODY_MAX_LENGTH` (characters of plaintext) is that limit."""

    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=Application, index=True)
    side = Varchar(length=10)  # MessageSide: who wrote it
    sender = ForeignKey(references=User)
    body_encrypted = Text()
    created_at = Timestamptz(default=TimestamptzNow())
    # When the other side first opened the thread after it arrived; None is unread.
    read_at = Timestamptz(null=True, default=None)
