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


class LibraryDocument(Table, tablename="library_document"):
    """A file the borrower keeps in their personal centre (我的资料) to reuse when an
    institution asks for documents. Never reaches an institution by itself: answering a
    request copies it into a Document. Stored through the storage interface (encrypted,
    an impersonal key); the name is the sanitised original, shown to the borrower only."""

    id: Serial  # created by Piccolo; declared for type checkers
    owner = ForeignKey(references=User, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=40)
    original_name = Varchar(length=100)
    content_type = Varchar(length=40)
    size = Integer()
    sha256 = Varchar(length=64)
    storage_key = Varchar(length=200)
    uploaded_at = Timestamptz(default=TimestamptzNow())


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
    # The library file this is a copy of (None: uploaded for this request only). Deleting
    # the library file keeps the copy the institution already holds.
    library_document = ForeignKey(
        references=LibraryDocument, on_delete=OnDelete.set_null, null=True, default=None
    )
