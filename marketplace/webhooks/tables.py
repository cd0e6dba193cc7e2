from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Array,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.institutions.tables import Institution
from marketplace.outbox.tables import OutboxMessage


class DeliveryStatus(StrEnum):
    """Derived, not stored: from `delivered_at` and the status of the sending outbox row."""

    PENDING = "pending"  # waiting for its first or next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # every attempt failed (the outbox row is dead); may be redelivered


class WebhookEndpoint(Table, tablename="webhook_endpoint"):
    """An institution's receiver URL, the events it wants and its signing secrets."""

    id: Serial
    institution = ForeignKey(references=Institution, index=True)
    url = Varchar(length=500)
    description = Varchar(length=60, default="")
    events = Array(base_column=Varchar(length=40))
    enabled = Boolean(default=True)
    # HMAC needs the plaintext, so the secret is encrypted (never hashed).
    secret_encrypted = Text()
    # After a rotation the previous secret still signs until `previous_valid_until`.
    previous_secret_encrypted = Text(default="")
    previous_valid_until = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class WebhookDelivery(Table, tablename="webhook_delivery"):
    """One event for one endpoint. The body is built at each attempt from ids, so it
    carries only what the borrower's consent allows at that moment."""

    id: Serial
    endpoint = ForeignKey(references=WebhookEndpoint, on_delete=OnDelete.cascade)
    institution = ForeignKey(references=Institution, index=True)
    event = Varchar(length=40)
    subject = JSONB()  # ids only, e.g. {"application_id": 12}
    attempts = Integer(default=0)
    # The outbox row sending it now (a redelivery records a new one): its status is the
    # delivery's retry state, so the two never disagree.
    outbox_message = ForeignKey(
        references=OutboxMessage, null=True, default=None, on_delete=OnDelete.set_null
    )
    created_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)


class WebhookAttempt(Table, tablename="webhook_attempt"):
    """One HTTP try; the response excerpt is cut short and redacted."""

    id: Serial
    delivery = ForeignKey(references=WebhookDelivery, on_delete=OnDelete.cascade, index=True)
    attempted_at = Timestamptz(default=TimestamptzNow())
    status_code = Integer(null=True, default=None)
    duration_ms = Integer(default=0)
    error = Varchar(length=300, default="")
    response_excerpt = Varchar(length=300, default="")
