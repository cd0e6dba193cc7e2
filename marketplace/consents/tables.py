from piccolo.columns import Array, Bytea, ForeignKey, Serial, Timestamptz, Varchar
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


class ConsentWithdrawal(Table, tablename="consent_withdrawal"):
    """A borrower withdrew every consent naming one institution: that institution must
    confirm it deleted what it holds by `delete_by` (parameter consent_deletion_days)."""

    id: Serial
    borrower = ForeignKey(references=User)
    institution = ForeignKey(references=Institution)
    withdrawn_at = Timestamptz(default=TimestamptzNow())
    delete_by = Timestamptz()
    confirmed_at = Timestamptz(null=True, default=None)
    confirmed_by = ForeignKey(references=User, null=True, default=None)


class DataExport(Table, tablename="data_export"):
    """Everything the platform holds on one borrower (PIPL art. 45), built by a job,
    stored encrypted, handed over once through a link whose token is kept only hashed."""

    id: Serial
    borrower = ForeignKey(references=User)
    status = Varchar(length=12, default="pending")  # pending, ready, downloaded, expired
    requested_at = Timestamptz(default=TimestamptzNow())
    ready_at = Timestamptz(null=True, default=None)
    content_encrypted = Bytea(null=True, default=None)
    token_hash = Varchar(length=64, null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)
    downloaded_at = Timestamptz(null=True, default=None)
