"""Borrowers' ratings of products (P11), the "有用" votes on them and the institution's one
reply. One rating per borrower and product, one vote per user and rating: unique indexes in
the hand-written migration, so a double click or two tabs count once."""

from piccolo.columns import (
    JSONB,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    SmallInt,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.applications.tables import Application
from marketplace.institutions.tables import Institution
from marketplace.products.tables import Product

TEXT_MAX = 500
REASON_MAX = 200


class ProductRating(Table, tablename="product_rating"):
    id: Serial  # created by Piccolo; declared for type checkers
    product = ForeignKey(references=Product, on_delete=OnDelete.restrict, index=True)
    borrower = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    # The application that makes the rating verified (one with a disbursed loan if any).
    application = ForeignKey(references=Application, on_delete=OnDelete.restrict)
    rating = SmallInt()
    # Public once published, so kept as typed; personal data is caught before publishing.
    text = Varchar(length=TEXT_MAX, default="")
    status = Varchar(length=20, default="pending", index=True)
    # Why it waits for an operator: codes of statuses.HoldReason (banned phrases by code).
    hold_reasons = JSONB(default="[]")
    # The institution's report (it cannot delete a rating, only send it to the queue).
    report_reason = Varchar(length=REASON_MAX, default="")
    # The operator's reason for rejecting or hiding it (the author reads it).
    decision_reason = Varchar(length=REASON_MAX, default="")
    moderator = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    helpful_count = Integer(default=0)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None)
    moderated_at = Timestamptz(null=True, default=None)


class RatingVote(Table, tablename="product_rating_vote"):
    id: Serial
    rating = ForeignKey(references=ProductRating, on_delete=OnDelete.cascade, index=True)
    voter = ForeignKey(references=User, on_delete=OnDelete.cascade)
    created_at = Timestamptz(default=TimestamptzNow())


class RatingReply(Table, tablename="product_rating_reply"):
    id: Serial
    rating = ForeignKey(references=ProductRating, on_delete=OnDelete.cascade, unique=True)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    author = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    text = Varchar(length=TEXT_MAX)
    created_at = Timestamptz(default=TimestamptzNow())
