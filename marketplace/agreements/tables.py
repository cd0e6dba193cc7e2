from piccolo.columns import (
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
from marketplace.institutions.tables import Institution


class Agreement(Table, tablename="agreement"):
    """One version of an institution's cooperation agreement (PRODUCT.md A5). Versions
    count up per institution; a signed version is in force within its dates until a newer
    one is signed (superseded) or its last day passes (expired)."""

    id: Serial  # created by Piccolo; declared for type checkers
    institution = ForeignKey(references=Institution, on_delete=OnDelete.restrict, index=True)
    version = Integer()
    pricing_model = Varchar(length=10)  # cpl | cpa | cps (agreements.terms.PricingModel)
    # CPL and CPA: yuan per delivered lead / per approval; CPS: a fraction of the amount
    # disbursed (0.015 = 1.5 %).
    rate = Numeric(digits=(14, 6))
    # Billing caps per calendar month (Asia/Shanghai); None: no cap.
    monthly_unit_cap = Integer(null=True, default=None)
    monthly_fee_cap = Numeric(digits=(14, 2), null=True, default=None)
    valid_from = Date()  # Asia/Shanghai calendar dates, both inclusive
    valid_to = Date()
    status = Varchar(length=20, default="offered", index=True)
    offered_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    signed_at = Timestamptz(null=True, default=None)
    # When it stopped being in force or signable (superseded, withdrawn, expired).
    ended_at = Timestamptz(null=True, default=None)


class AgreementSignature(Table, tablename="agreement_signature"):
    """The evidence of a signature: the exact agreement text signed (encrypted), its
    SHA-256, who signed, when, from which address and browser."""

    id: Serial  # created by Piccolo; declared for type checkers
    agreement = ForeignKey(references=Agreement, on_delete=OnDelete.restrict, unique=True)
    signer = ForeignKey(references=User, on_delete=OnDelete.restrict)
    text_encrypted = Text()
    text_sha256 = Varchar(length=64)
    signed_at = Timestamptz(default=TimestamptzNow())
    client_address = Varchar(length=64)
    user_agent = Varchar(length=400)
