"""A borrower's SMS choices belong to an existing account: a real foreign key on
sms_preference.user_id (a column, not a Piccolo ForeignKey: this context must not import
the accounts tables). Choices of accounts that no longer exist are dropped first."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T11:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "sms_preference.user_id references app_user (orphans removed)"

STATEMENTS = [
    "DELETE FROM sms_preference s WHERE NOT EXISTS "
    "(SELECT 1 FROM app_user u WHERE u.id = s.user_id)",
    "ALTER TABLE sms_preference ADD CONSTRAINT sms_preference_user_fk "
    "FOREIGN KEY (user_id) REFERENCES app_user (id) ON DELETE CASCADE",
]


async def forwards():
    return raw_sql_migration(ID, "notifications", DESCRIPTION, STATEMENTS)
