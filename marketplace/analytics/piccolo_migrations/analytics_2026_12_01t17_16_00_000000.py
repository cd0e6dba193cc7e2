"""The band rollups' keys (one institution, a range of days or of previous days: what the
reports read, and what the refresh's deltas update), covering the counts so the report
reads them with index-only scans, and the returning borrowers' band
rows: a partial covering index holding only the rows with a previous day in some band,
with the bands and previous days, so the report counts those that came back after a
period with an index-only scan."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T17:16:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "analytics band rollup keys, returning band rows index"

STATEMENTS = [
    "CREATE UNIQUE INDEX analytics_band_daily_key ON analytics_band_daily"
    " (institution, day, dimension, band) INCLUDE (borrowers, applications, approved, disbursed)",
    "CREATE UNIQUE INDEX analytics_band_return_key ON analytics_band_return"
    " (institution, previous, dimension, band) INCLUDE (returns)",
    "CREATE INDEX analytics_band_member_returning ON analytics_band_member (institution, day)"
    " INCLUDE (age, city_tier, income, employment, age_previous, city_tier_previous,"
    " income_previous, employment_previous)"
    " WHERE least(age_previous, city_tier_previous, income_previous, employment_previous)"
    " IS NOT NULL",
]


async def forwards():
    return raw_sql_migration(ID, "analytics", DESCRIPTION, STATEMENTS)
