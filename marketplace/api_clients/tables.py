from piccolo.columns import (
    JSONB,
    Array,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User
from marketplace.institutions.tables import Institution


class ApiClient(Table, tablename="api_client"):
    """An institution's machine credential for the Open API. The secret is kept only as a
    keyed hash: it is shown once, when the client is created."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution)
    name = Varchar(length=60)
    client_id = Varchar(length=40, unique=True)
    secret_hash = Varchar(length=64)
    scopes = Array(base_column=Varchar(length=20))
    created_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class ApiToken(Table, tablename="api_token"):
    """A short-lived opaque bearer token, kept as a keyed hash (revoking the client ends
    its tokens at once, which a self-contained JWT could not)."""

    id: Serial  # created by Piccolo; declared for type checkers
    client = ForeignKey(references=ApiClient, on_delete=OnDelete.cascade)
    token_hash = Varchar(length=64, unique=True)
    scopes = Array(base_column=Varchar(length=20))
    issued_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz(index=True)


class ApiIdempotentRequest(Table, tablename="api_idempotent_request"):
    """The answer given to one client's POST with an Idempotency-Key, replayed for a retry
    of the same request (unique on client + key, added by a hand-written migration)."""

    id: Serial  # created by Piccolo; declared for type checkers
    client = ForeignKey(references=ApiClient, on_delete=OnDelete.cascade)
    key = Varchar(length=200)
    request_hash = Varchar(length=64)
    status_code = Integer()
    response = JSONB(default="{}")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
