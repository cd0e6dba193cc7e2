from piccolo.columns import (
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.institutions.tables import Institution
from marketplace.loans.tables import Loan

# Characters of plaintext a contact note may hold (the encrypted column is unbounded text).
NOTE_MAX_LENGTH = 500


class CollectionContact(Table, tablename="collection_contact"):
    """One contact an institution made with a borrower about an overdue loan. The note may
    hold personal things (what the borrower said), so it is stored encrypted."""

    id: Serial  # created by Piccolo; declared for type checkers
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, index=True)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    staff = ForeignKey(references=User, on_delete=OnDelete.restrict)
    contacted_at = Timestamptz()
    # The Asia/Shanghai date of `contacted_at`: the day the per-loan cap counts against.
    business_date = Date()
    channel = Varchar(length=20)
    result = Varchar(length=20)
    note_encrypted = Text(default="")
    dpd = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class CollectionDay(Table, tablename="collection_day"):
    """Contacts recorded per loan and business date, raised by one conditional upsert, so
    parallel requests cannot all read "below the cap" (unique (loan, business_date))."""

    id: Serial  # created by Piccolo; declared for type checkers
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict)
    business_date = Date()
    contacts = Integer(default=0)


class CollectionRefusal(Table, tablename="collection_refusal"):
    """A contact the platform refused (outside the permitted hours, or over the per-loan
    daily cap): kept so operators see who tried what, when."""

    id: Serial  # created by Piccolo; declared for type checkers
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, index=True)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict)
    staff = ForeignKey(references=User, on_delete=OnDelete.restrict)
    reason = Varchar(length=20)
    # The contact time the staff member gave (the refused contact's own time).
    contact_time = Timestamptz()
    business_date = Date()
    attempted_at = Timestamptz(default=TimestamptzNow())


class LoanNotice(Table, tablename="loan_notice"):
    """A repayment reminder or overdue notice sent to a loan's borrower. Unique
    (loan, kind, business_date) is the proof of "at most once per loan per day", whatever
    how often, or how concurrently, the cron and its job run."""

    id: Serial  # created by Piccolo; declared for type checkers
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict)
    kind = Varchar(length=20)
    business_date = Date()
    # The instalment due date a reminder is about; an overdue notice keeps the loan's DPD.
    due_on = Date(null=True, default=None)
    dpd = Integer(default=0)
    sent_at = Timestamptz(default=TimestamptzNow())
