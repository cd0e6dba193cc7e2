from piccolo.columns import (
    JSONB,
    Boolean,
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
from marketplace.applications.tables import Application
from marketplace.institutions.tables import Institution


class RuleSet(Table, tablename="prescreen_rule_set"):
    """One version of an institution's pre-screen rules: a draft being edited, the one
    published (in force), or an earlier one kept read-only (retired)."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, index=True)
    version = Integer()
    status = Varchar(length=20, default="draft")
    # marketplace.prescreen.rules.Rules as JSON: filters, scores, threshold.
    rules = JSONB(default="{}")
    created_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None)


class Screening(Table, tablename="prescreen_screening"):
    """What a published rule set made of one lead: kept with the version that scored it."""

    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=Application, on_delete=OnDelete.restrict, unique=True)
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, index=True)
    rule_set = ForeignKey(references=RuleSet, on_delete=OnDelete.restrict)
    version = Integer()
    score = Integer()
    outcome = Varchar(length=20)  # marketplace.prescreen.rules.Outcome
    reason = Varchar(length=40, default="")  # the rejection's code when the outcome rejects
    # Whether the rejection was applied (only a lead nobody had taken up yet is rejected).
    auto_rejected = Boolean(default=False)
    # marketplace.prescreen.rules.Line as JSON, one per rule, labels rendered when read.
    explanation = JSONB(default="[]")
    screened_at = Timestamptz(default=TimestamptzNow())
