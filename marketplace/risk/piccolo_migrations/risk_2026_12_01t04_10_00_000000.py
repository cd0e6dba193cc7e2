"""Risk: the index the velocity counts read by, one live blacklist entry per value (so
two operators adding the same number at once make one entry), the network index that finds
the barred range holding an address, and the queue's indexes."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T04:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "risk velocity index, live blacklist unique key, queue indexes"

STATEMENTS = [
    "CREATE INDEX risk_observation_key ON risk_observation (stage, key_kind, key_ref, at)",
    "CREATE INDEX risk_event_application ON risk_event (application_id)",
    "CREATE INDEX risk_event_at ON risk_event (at)",
    "CREATE INDEX risk_hold_status ON risk_hold (status, held_at)",
    "CREATE UNIQUE INDEX risk_blacklist_live ON risk_blacklist (kind, value_ref)"
    " WHERE removed_at IS NULL",
    "CREATE INDEX risk_blacklist_network ON risk_blacklist"
    " USING gist ((CASE WHEN kind = 'address' THEN value_ref::cidr END) inet_ops)"
    " WHERE kind = 'address' AND removed_at IS NULL",
]


async def forwards():
    return raw_sql_migration(ID, "risk", DESCRIPTION, STATEMENTS)
