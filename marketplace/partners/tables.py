from piccolo.columns import (
    Date,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.institutions.tables import Institution


class PartnerApplication(Table, tablename="partner_application"):
    """An institution's application to join (I1). The contact's mobile and e-mail are
    ciphertext + mask; the applicant follows it through a link whose token is kept only
    as a hash."""

    id: Serial  # created by Piccolo; declared for type checkers
    reference = Varchar(length=20, unique=True)
    company_name = Varchar(length=120)
    short_name = Varchar(length=60)
    credit_code = Varchar(length=18, index=True)
    kind = Varchar(length=30)
    city = Varchar(length=30)
    business_licence_no = Varchar(length=80)
    business_licence_expires_on = Date(null=True, default=None)  # None: 长期
    licence_type = Varchar(length=60)
    licence_no = Varchar(length=80)
    licence_issuer = Varchar(length=120)
    licence_expires_on = Date()
    contact_name = Varchar(length=60)
    contact_mobile_encrypted = Varchar(length=255)
    contact_mobile_masked = Varchar(length=20)
    contact_email_encrypted = Varchar(length=255)
    contact_email_masked = Varchar(length=60)
    status = Varchar(length=20, default="submitted")
    status_token_hash = Varchar(length=64, unique=True)
    institution = ForeignKey(references=Institution, null=True, default=None)
    submitted_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class PartnerDocument(Table, tablename="partner_document"):
    """A file of an application, kept in the storage (encrypted) under `storage_key`."""

    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=PartnerApplication)
    kind = Varchar(length=30)
    original_name = Varchar(length=120)
    media_type = Varchar(length=40)
    size_bytes = Integer()
    storage_key = Varchar(length=200, unique=True)
    uploaded_at = Timestamptz(default=TimestamptzNow())


class PartnerMessage(Table, tablename="partner_message"):
    """The conversation of a review: operators' requests and notes, applicants' answers."""

    id: Serial  # created by Piccolo; declared for type checkers
    application = ForeignKey(references=PartnerApplication)
    author_kind = Varchar(length=20)  # operator | applicant
    status = Varchar(length=20)  # the status the message came with
    body = Text()
    created_at = Timestamptz(default=TimestamptzNow())


class LicenceReminder(Table, tablename="licence_reminder"):
    """A licence-expiry reminder sent: `key` (institution, licence, expiry date, days
    before) is unique, so each reminder goes out once however often the check runs."""

    id: Serial  # created by Piccolo; declared for type checkers
    key = Varchar(length=80, unique=True)
    institution = ForeignKey(references=Institution)
    licence = Varchar(length=20)  # business | financial
    expires_on = Date()
    days_before = Integer()
    sent_at = Timestamptz(default=TimestamptzNow())
