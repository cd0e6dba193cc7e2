"""One version number per institution, and at most one draft and one version in force."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T20:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pre-screen rule sets: unique versions, one draft, one in force"

STATEMENTS = [
    "CREATE UNIQUE INDEX prescreen_rule_set_version ON prescreen_rule_set (institution, version)",
    "CREATE UNIQUE INDEX prescreen_rule_set_one_draft ON prescreen_rule_set (institution)"
    " WHERE status = 'draft'",
    "CREATE UNIQUE INDEX prescreen_rule_set_one_published ON prescreen_rule_set (institution)"
    " WHERE status = 'published'",
]


async def forwards():
    return raw_sql_migration(ID, "prescreen", DESCRIPTION, STATEMENTS)
