from piccolo.columns import Date, ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.institutions.tables import Institution
from marketplace.products.tables import Product


class Promotion(Table, tablename="promotion"):
    """A paid placement an institution asked for: one product, one placement, a run of
    Asia/Shanghai calendar days (both ends included)."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution)
    product = ForeignKey(references=Product)
    placement = Varchar(length=20)
    title = Varchar(length=40, default="")  # a campaign's headline; shown only after review
    starts_on = Date()
    ends_on = Date()
    status = Varchar(length=20, default="requested")
    review_note = Varchar(length=500, default="")
    requested_by = ForeignKey(references=User, null=True)
    reviewed_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
