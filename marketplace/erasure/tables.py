from piccolo.columns import ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User


class DeletionRequest(Table, tablename="account_deletion_request"):
    """A borrower's request to delete their account (PIPL art. 47), carried out by a job
    once the cooling period has passed unless they cancel first."""

    id: Serial  # created by Piccolo; declared for type checkers
    user = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=20, default="pending", index=True)
    requested_at = Timestamptz(default=TimestamptzNow())
    due_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
