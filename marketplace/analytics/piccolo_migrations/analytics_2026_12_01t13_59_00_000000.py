"""The loan rollup's key gains the channel (loans are broken down by their application's
channel); the customer-band rows are keyed by institution, day and borrower, which is also
the index the reports read a period of one institution by."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T13:59:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics loan key with channel, band member key"

STATEMENTS = [
    "DROP INDEX IF EXISTS analytics_loan_daily_key",
    "CREATE UNIQUE INDEX analytics_loan_daily_key ON analytics_loan_daily"
    " (day, institution, product, city, channel)",
    "CREATE UNIQUE INDEX analytics_band_member_key ON analytics_band_member"
    " (institution, day, borrower)",
]


async def forwards():
    return raw_sql_migration(ID, "analytics", DESCRIPTION, STATEMENTS)
