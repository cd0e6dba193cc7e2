from piccolo.columns import (
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
from marketplace.consents.tables import Consent
from marketplace.institutions.tables import Institution
from marketplace.products.tables import Product


class Application(Table, tablename="application"):
    id: Serial  # created by Piccolo; declared for type checkers
    reference = Varchar(length=24, unique=True)
    borrower = ForeignKey(references=User)
    product = ForeignKey(references=Product)
    product_version = Integer()
    institution = ForeignKey(references=Institution)
    consent = ForeignKey(references=Consent)
    amount = Numeric(digits=(14, 2))
    term_months = Integer()
    # The repayment method the borrower chose among the product's (the offer form's default).
    repayment_method = Varchar(length=30, default="")
    status = Varchar(length=20, default="submitted")
    # The consented data items, encrypted as one JSON document for this institution.
    shared_data_encrypted = Text()
    submission_key = Varchar(length=64)
    submitted_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    # In clear beside the encrypted document: the lead desk filters and sorts on them.
    city = Varchar(length=30, default="")
    delivered_at = Timestamptz(null=True, default=None)
    # The loan officer of the institution working this lead; None while unassigned.
    assignee = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    # Why the institution rejected it: a code of the `rejection_reasons` parameter (the
    # borrower is shown its label) and the officer's internal note (staff only).
    rejection_reason = Varchar(length=40, default="")
    rejection_note = Text(default="")
    # The institution's pre-screen score (prescreen context), in clear so the lead desk can
    # sort on it; None until a published rule set has scored the lead.
    prescreen_score = Integer(null=True, default=None)
    # What the money is for: a code of the `loan_purposes` parameter ("" before it was asked).
    purpose = Varchar(length=40, default="")
    # For the reports (applications/reporting.py): how it arrived (web | h5) and the
    # borrower's monthly income band at submission (never the income itself).
    channel = Varchar(length=10, default="web")
    income_band = Varchar(length=10, default="unknown")


class ApplicationEvent(Table, tablename="application_event"):
    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=Application)
    status = Varchar(length=20)
    actor_kind = Varchar(length=20)
    actor_id = Integer(null=True, default=None)
    note = Text(default="")
    at = Timestamptz(default=TimestamptzNow())
