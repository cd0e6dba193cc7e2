"""A product offers several repayment methods: the one it had becomes its list."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T20:34:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "repayment_method becomes repayment_methods"

STATEMENTS = [
    "UPDATE product SET repayment_methods = ARRAY[repayment_method]",
]


async def forwards():
    return raw_sql_migration(ID, "products", DESCRIPTION, STATEMENTS)
