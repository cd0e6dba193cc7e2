from decimal import Decimal

from piccolo.columns import (
    JSONB,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.applications.tables import Application
from marketplace.institutions.tables import Institution

_ZERO = Decimal("0.00")


class Offer(Table, tablename="offer"):
    """The terms an institution approves an application with. The borrower compares offers
    across institutions and signs one; a signed offer's terms are the loan's terms."""

    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=Application, on_delete=OnDelete.restrict, index=True)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, index=True)
    borrower = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    amount = Numeric(digits=(14, 2))
    term_months = Integer()
    repayment_method = Varchar(length=30)
    rate = Numeric(digits=(12, 8))
    rate_period = Varchar(length=10)
    day_count = Integer(default=360)
    fees = JSONB(default="[]")
    # From the loan cost engine when the offer was made (what the borrower compares).
    apr = Numeric(digits=(10, 6))
    first_payment = Numeric(digits=(14, 2))
    largest_payment = Numeric(digits=(14, 2))
    total_cost = Numeric(digits=(14, 2))  # interest + fees over the whole term
    expires_at = Timestamptz()
    status = Varchar(length=20, default="open", index=True)
    made_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class OfferSignature(Table, tablename="offer_signature"):
    """The evidence of a signature: the exact contract text signed (encrypted: it names the
    borrower), its SHA-256, when, from which address and browser."""

    id: Serial  # created by Piccolo; declared for type checkers
    offer = ForeignKey(references=Offer, on_delete=OnDelete.restrict, unique=True)
    contract_encrypted = Text()
    contract_sha256 = Varchar(length=64)
    signed_at = Timestamptz(default=TimestamptzNow())
    client_address = Varchar(length=64)
    user_agent = Varchar(length=400)
