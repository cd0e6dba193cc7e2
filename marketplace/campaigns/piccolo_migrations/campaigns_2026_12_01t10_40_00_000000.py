"""Campaign indexes: the home page's one query for the banners live now reads
(placement, status, start_at, end_at) and the list pages order by time."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T10:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign indexes"

STATEMENTS = [
    "CREATE INDEX campaign_banner_live ON campaign_banner (placement, status, start_at, end_at)",
    "CREATE INDEX campaign_live ON campaign (status, start_at, end_at)",
]


async def forwards():
    return raw_sql_migration(ID, "campaigns", DESCRIPTION, STATEMENTS)
