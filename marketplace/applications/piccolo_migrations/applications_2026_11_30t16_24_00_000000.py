"""Lead desk: delivery times of leads delivered before the column existed, and the
indexes its filters use. (City is inside the encrypted document, so older leads keep ""
until re-seeded; SQL cannot read it.)"""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T16:24:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "lead desk: backfill delivery times, assignee and delivery indexes"

STATEMENTS = [
    "UPDATE application a SET delivered_at = e.at FROM ("
    " SELECT application, min(at) AS at FROM application_event"
    " WHERE status = 'delivered' GROUP BY application) e"
    " WHERE e.application = a.id AND a.delivered_at IS NULL",
    "CREATE INDEX application_desk ON application (institution, delivered_at)",
    "CREATE INDEX application_assignee ON application (institution, assignee)",
]


async def forwards():
    return raw_sql_migration(ID, "applications", DESCRIPTION, STATEMENTS)
