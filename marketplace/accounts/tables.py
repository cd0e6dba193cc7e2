from piccolo.columns import Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.institutions.tables import Institution


class User(Table, tablename="app_user"):
    """Every principal: borrower, institution staff or operator (`kind`).

    `login_key` is the e-mail for staff/operators and the blind index of the mobile
    number for borrowers, so no plaintext phone number is stored or searched. Staff and
    operators bind a mobile for SMS codes (accounts/phone.py): its blind index is
    `mobile_key`, unique, so one number belongs to one such account.
    """

    id: Serial  # created by Piccolo; declared for type checkers
    kind = Varchar(length=20)
    login_key = Varchar(length=128)
    display_name = Varchar(length=60)
    mobile_encrypted = Varchar(length=255, null=True, default=None)
    mobile_masked = Varchar(length=20, default="")
    mobile_key = Varchar(length=64, null=True, default=None, unique=True)
    password_hash = Varchar(length=255)
    role = Varchar(length=40)
    institution = ForeignKey(references=Institution, null=True, default=None)
    status = Varchar(length=20, default="active")
    # Operators' second factor (PRODUCT.md §1), encrypted like any other secret.
    totp_secret_encrypted = Varchar(length=255, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)


class BorrowerProfile(Table, tablename="borrower_profile"):
    """The one application profile; sensitive fields are ciphertext + mask only."""

    id: Serial  # created by Piccolo; declared for type checkers
    user = ForeignKey(references=User, unique=True)
    real_name_encrypted = Varchar(length=255)
    real_name_masked = Varchar(length=40)
    id_number_encrypted = Varchar(length=255)
    id_number_masked = Varchar(length=24)
    id_number_index = Varchar(length=64)
    birth_date = Date()
    city = Varchar(length=30)
    monthly_income_encrypted = Varchar(length=255)
    employment_type = Varchar(length=30, default="employee")
    # Contact details (optional): the address and one emergency contact, encrypted and
    # masked like the identity above; the relation is a code of CONTACT_RELATIONS.
    address_encrypted = Text(default="")
    address_masked = Varchar(length=120, default="")
    contact_name_encrypted = Varchar(length=255, default="")
    contact_name_masked = Varchar(length=40, default="")
    contact_relation = Varchar(length=20, default="")
    contact_mobile_encrypted = Varchar(length=255, default="")
    contact_mobile_masked = Varchar(length=20, default="")
    updated_at = Timestamptz(default=TimestamptzNow())
    version = Integer(default=1)


class AccountStatusChange(Table, tablename="account_status_change"):
    """A freeze or unfreeze of an account (A1, and institution admins disabling their
    staff), with the reason given: the account's history of these decisions."""

    id: Serial  # created by Piccolo; declared for type checkers
    user = ForeignKey(references=User)
    status = Varchar(length=20)  # what the account was set to: active | frozen
    reason = Varchar(length=200)
    actor_kind = Varchar(length=20)
    actor_label = Varchar(length=60)
    created_at = Timestamptz(default=TimestamptzNow())


class AccountPasswordLink(Table, tablename="account_password_link"):
    """A one-time link for a staff member or operator to set a password (an invitation or
    a reset sent by an administrator): hashed token, expiry, single use."""

    id: Serial  # created by Piccolo; declared for type checkers
    user = ForeignKey(references=User)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
