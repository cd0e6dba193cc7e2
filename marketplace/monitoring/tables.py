"""Monitoring cases and their events.

A case is about one subject (a product or an institution) and one rule; at most one case
per subject and rule is unresolved (open or suspended) at a time — a partial unique index
in the migration, so a flag evaluated twice, even at once, opens one case."""

from piccolo.columns import (
    JSONB,
    Boolean,
    ForeignKey,
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
from marketplace.products.tables import Product


class MonitoringCase(Table, tablename="monitoring_case"):
    id: Serial  # created by Piccolo; declared for type checkers
    # "product:12" or "institution:3": the key the one-unresolved-case index uses.
    subject_key = Varchar(length=40)
    product = ForeignKey(references=Product, on_delete=OnDelete.restrict, null=True, default=None)
    # The institution the case concerns (a product case: the product's institution).
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, index=True)
    rule = Varchar(length=30)
    status = Varchar(length=20, default="open", index=True)
    # The figures that raised the flag (rates as decimal strings, counts, the threshold).
    figures = JSONB(default="{}")
    assignee = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    opened_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    responded_at = Timestamptz(null=True, default=None)


class CaseEvent(Table, tablename="monitoring_case_event"):
    """What happened on a case: opened, assigned, a note, a decision with its reason, the
    institution's response. Operators' notes stay inside the platform."""

    id: Serial
    case = ForeignKey(references=MonitoringCase, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20)
    actor_kind = Varchar(length=20)
    actor = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    actor_label = Varchar(length=100, default="")
    text = Text(default="")
    shared = Boolean(default=True)
    at = Timestamptz(default=TimestamptzNow())
