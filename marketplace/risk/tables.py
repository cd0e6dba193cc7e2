"""Anti-fraud (A8): what the rules saw, what they flagged, what was held, what is barred.

No clear personal data is stored here: phones, ID numbers, devices and addresses are kept
as blind indexes (HMAC, `marketplace.security.blind_index`), with at most a masked hint for
the operator. Application, borrower and institution are plain ids (this context is listed
before none of them may import it back)."""

from piccolo.columns import JSONB, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class RiskObservation(Table, tablename="risk_observation"):
    """One registration or application seen under one key (phone, ID number, device,
    address): the velocity rules count these within their window."""

    id: Serial
    at = Timestamptz(default=TimestamptzNow())
    stage = Varchar(length=20)  # registration | application
    key_kind = Varchar(length=20)  # phone | id_number | device | address
    key_ref = Varchar(length=64)  # blind index of the value
    user_id = Integer(null=True, default=None)
    application_id = Integer(null=True, default=None)


class RiskEvent(Table, tablename="risk_event"):
    """One rule hit: the rule, its score and what it was about (refs, never values)."""

    id: Serial
    at = Timestamptz(default=TimestamptzNow())
    stage = Varchar(length=20)
    rule = Varchar(length=40)
    score = Integer()
    subject_kind = Varchar(length=20)
    subject_ref = Varchar(length=64, default="")
    subject_hint = Varchar(length=40, default="")  # masked, for the operator's eye
    user_id = Integer(null=True, default=None)
    application_id = Integer(null=True, default=None)
    # Counts, limits and windows of a velocity hit; the blacklist entry id of a match.
    detail = JSONB(default="{}")


class RiskHold(Table, tablename="risk_hold"):
    """An application kept from delivery until an operator releases or rejects it."""

    id: Serial
    application_id = Integer(unique=True)
    reference = Varchar(length=20)
    institution_id = Integer()
    borrower_id = Integer(null=True, default=None)
    mobile_masked = Varchar(length=20, default="")
    score = Integer()
    status = Varchar(length=20, default="held")  # held | released | rejected
    held_at = Timestamptz(default=TimestamptzNow())
    decided_at = Timestamptz(null=True, default=None)
    decided_by_id = Integer(null=True, default=None)
    decided_by = Varchar(length=120, default="")
    reason_code = Varchar(length=40, default="")
    note = Varchar(length=500, default="")


class BlacklistEntry(Table, tablename="risk_blacklist"):
    """A barred phone or ID number (blind index) or client address (an IP network)."""

    id: Serial
    kind = Varchar(length=20)  # phone | id_number | address
    value_ref = Varchar(length=64)  # blind index, or the network ("203.0.113.0/24")
    display = Varchar(length=64)  # masked phone / ID number, or the network
    reason = Varchar(length=200)
    added_at = Timestamptz(default=TimestamptzNow())
    added_by_id = Integer(null=True, default=None)
    added_by = Varchar(length=120, default="")
    removed_at = Timestamptz(null=True, default=None)
    removed_by = Varchar(length=120, default="")
    removal_reason = Varchar(length=200, default="")
