from piccolo.columns import (
    JSONB,
    Bytea,
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
from marketplace.applications.tables import Application


class DocumentRequest(Table, tablename="document_request"):
    """An institution asks the borrower of one of its leads for documents: which kinds
    (codes of the `document_kinds` parameter) and why. Open until the borrower submits."""

    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=Application, on_delete=OnDelete.restrict, index=True)
    kinds = JSONB(default="[]")
    reason = Text(default="")
    status = Varchar(length=20, default="open")
    requested_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    requested_at = Timestamptz(default=TimestamptzNow())
    fulfilled_at = Timestamptz(null=True, default=None)


class Document(Table, tablename="document"):
    """One uploaded file, encrypted at rest (marketplace.security.encrypt_bytes, bound to
    its request). The name is the sanitised original, shown and used for downloads only."""

    id: Serial  # created by Piccolo; declared for type checkers
    document_request = ForeignKey(
        references=DocumentRequest, on_delete=OnDelete.restrict, index=True
    )
    kind = Varchar(length=40)
    original_name = Varchar(length=100)
    content_type = Varchar(length=40)
    size = Integer()
    sha256 = Varchar(length=64)
    content_encrypted = Bytea()
    uploaded_at = Timestamptz(default=TimestamptzNow())
