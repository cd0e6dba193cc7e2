"""Complaints, their threads and attachments, and published statistics snapshots.

Free text (descriptions, replies, rating comments, an anonymous sender's contact) may carry
personal data, so it is stored encrypted; the columns cannot carry the plaintext limits,
the constants below are those limits. Borrowers' URLs name a complaint by `reference`."""

from piccolo.columns import (
    Boolean,
    Date,
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
from marketplace.collections.tables import CollectionContact
from marketplace.institutions.tables import Institution
from marketplace.loans.tables import Loan

# Characters of plaintext (the encrypted columns are unbounded text).
DESCRIPTION_MAX_LENGTH = 2000
BODY_MAX_LENGTH = 2000
RATING_COMMENT_MAX_LENGTH = 500
CONTACT_MAX_LENGTH = 100


class Complaint(Table, tablename="complaint"):
    id: Serial  # created by Piccolo; declared for type checkers
    # "TS20261201-000123": shown to everyone and the only name in borrowers' URLs.
    reference = Varchar(length=24, unique=True)
    kind = Varchar(length=10)  # ComplaintKind
    # None: feedback sent without signing in.
    borrower = ForeignKey(references=User, on_delete=OnDelete.restrict, null=True, default=None)
    # None: against the platform itself (and all feedback).
    institution = ForeignKey(
        references=Institution, on_delete=OnDelete.restrict, null=True, default=None, index=True
    )
    application = ForeignKey(
        references=Application, on_delete=OnDelete.restrict, null=True, default=None
    )
    loan = ForeignKey(references=Loan, on_delete=OnDelete.restrict, null=True, default=None)
    # A complaint about collection: the loan's latest collection contact when filed.
    collection_contact = ForeignKey(
        references=CollectionContact, on_delete=OnDelete.restrict, null=True, default=None
    )
    category = Varchar(length=30)  # Category
    description_encrypted = Text()
    # An anonymous sender's mobile or e-mail, if they left one.
    contact_encrypted = Text(default="")
    status = Varchar(length=24, default="open", index=True)  # ComplaintStatus
    assignee = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    # The current stage's deadline, its one reminder and its overdue mark (reset per stage).
    due_at = Timestamptz(null=True, default=None)
    reminded_at = Timestamptz(null=True, default=None)
    overdue = Boolean(default=False)
    overdue_at = Timestamptz(null=True, default=None)
    # Resolution is due this long after filing (complaint_resolve_hours when filed).
    resolve_due_at = Timestamptz()
    created_at = Timestamptz(default=TimestamptzNow())
    assigned_at = Timestamptz(null=True, default=None)
    forwarded_at = Timestamptz(null=True, default=None)
    answered_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    escalated_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    # Set at (the first) resolution: resolved before `resolve_due_at`.
    resolved_within_sla = Boolean(null=True, default=None)
    rating = Integer(null=True, default=None)  # 1–5
    rating_comment_encrypted = Text(default="")
    rated_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    updated_at = Timestamptz(default=TimestamptzNow())


class ComplaintMessage(Table, tablename="complaint_message"):
    """One step or reply on a complaint's timeline. `internal` notes are the operators'
    only; `event` names the step (a transition, or "reply" / "note")."""

    id: Serial
    complaint = ForeignKey(references=Complaint, on_delete=OnDelete.cascade, index=True)
    side = Varchar(length=12)  # Side
    author = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    event = Varchar(length=20)
    body_encrypted = Text(default="")
    internal = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class ComplaintAttachment(Table, tablename="complaint_attachment"):
    """A file on a message, through the storage interface (encrypted, impersonal key);
    the type is sniffed from its bytes, the name is the sanitised original."""

    id: Serial
    complaint = ForeignKey(references=Complaint, on_delete=OnDelete.cascade, index=True)
    message = ForeignKey(references=ComplaintMessage, on_delete=OnDelete.cascade, index=True)
    storage_key = Varchar(length=200)
    content_type = Varchar(length=40)
    original_name = Varchar(length=100)
    size = Integer()
    sha256 = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())


class ComplaintStatsSnapshot(Table, tablename="complaint_stats_snapshot"):
    """Complaint figures of one institution over one window, as published (§6.5).
    Unique (institution, window_end)."""

    id: Serial
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, index=True)
    window_start = Date()
    window_end = Date()
    computed_at = Timestamptz(default=TimestamptzNow())
    applications = Integer(default=0)
    complaints = Integer(default=0)
    per_10k = Numeric(digits=(12, 2), null=True, default=None)
    resolved = Integer(default=0)
    resolved_within_sla = Integer(default=0)
    within_sla_share = Numeric(digits=(5, 4), null=True, default=None)
    median_hours_to_resolve = Numeric(digits=(10, 2), null=True, default=None)
    ratings = Integer(default=0)
    satisfaction_avg = Numeric(digits=(3, 2), null=True, default=None)
