from piccolo.columns import Array, ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.institutions.tables import Institution


class Consent(Table, tablename="consent"):
    """A borrower's separate consent naming one institution (PIPL art. 23)."""

    id: Serial  # created by Piccolo; declared for type checkers
    borrower = ForeignKey(references=User)
    institution = ForeignKey(references=Institution)
    notice_version = Varchar(length=20)
    notice_hash = Varchar(length=64)
    purpose = Varchar(length=200)
    data_items = Array(base_column=Varchar(length=40))
    retention = Varchar(length=60)
    granted_at = Timestamptz(default=TimestamptzNow())
    withdrawn_at = Timestamptz(null=True, default=None)
