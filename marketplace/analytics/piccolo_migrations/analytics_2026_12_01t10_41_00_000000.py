"""The rollups' keys (what `INSERT … ON CONFLICT DO UPDATE` updates), and the indexes the
pages and the event purge read by."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T10:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics rollup keys"

STATEMENTS = [
    "CREATE UNIQUE INDEX analytics_funnel_daily_key ON analytics_funnel_daily"
    " (day, institution, product, city, channel)",
    "CREATE UNIQUE INDEX analytics_loan_daily_key ON analytics_loan_daily"
    " (day, institution, product, city)",
    "CREATE UNIQUE INDEX analytics_revenue_daily_key ON analytics_revenue_daily"
    " (day, institution, kind)",
    "CREATE UNIQUE INDEX analytics_behaviour_daily_key ON analytics_behaviour_daily (day, product)",
    "CREATE UNIQUE INDEX analytics_query_daily_key ON analytics_query_daily (day, query)",
    "CREATE UNIQUE INDEX analytics_filter_daily_key ON analytics_filter_daily (day, filter)",
    "CREATE UNIQUE INDEX analytics_band_daily_key ON analytics_band_daily"
    " (day, institution, dimension, band)",
    "CREATE INDEX analytics_funnel_daily_institution ON analytics_funnel_daily (institution, day)",
    "CREATE INDEX analytics_loan_daily_institution ON analytics_loan_daily (institution, day)",
    "CREATE INDEX analytics_band_daily_institution ON analytics_band_daily (institution, day)",
]


async def forwards():
    return raw_sql_migration(ID, "analytics", DESCRIPTION, STATEMENTS)
