from piccolo.columns import ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User


class InboxItem(Table, tablename="inbox_item"):
    """An in-site notification for one signed-in user: what happened and where to look.
    The title names no person and carries no ID or phone; the page it links to shows the
    rest to whoever may see it."""

    id: Serial  # created by Piccolo; declared for type checkers
    recipient = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=40)
    title = Varchar(length=200)
    # A path inside this site (checked when written), never a full URL.
    link = Varchar(length=300, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    read_at = Timestamptz(null=True, default=None)
