"""The coarse day × institution rollups' keys: (day, institution) for the operators'
dashboard (a date range over every institution) and (institution, day) for one
institution's reports."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T12:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics coarse rollup keys"

STATEMENTS = [
    "CREATE UNIQUE INDEX analytics_funnel_institution_daily_key"
    " ON analytics_funnel_institution_daily (day, institution)",
    "CREATE UNIQUE INDEX analytics_loan_institution_daily_key"
    " ON analytics_loan_institution_daily (day, institution)",
    "CREATE INDEX analytics_funnel_institution_daily_institution"
    " ON analytics_funnel_institution_daily (institution, day)",
    "CREATE INDEX analytics_loan_institution_daily_institution"
    " ON analytics_loan_institution_daily (institution, day)",
]


async def forwards():
    return raw_sql_migration(ID, "analytics", DESCRIPTION, STATEMENTS)
