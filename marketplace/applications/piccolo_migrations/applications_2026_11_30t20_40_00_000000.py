"""Applications made before a product offered several repayment methods were made under
its one method."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-11-30T20:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the repayment method of earlier applications"

STATEMENTS = [
    "UPDATE application SET repayment_method = product.repayment_methods[1] "
    "FROM product WHERE application.product = product.id AND application.repayment_method = ''",
]


async def forwards():
    return raw_sql_migration(ID, "applications", DESCRIPTION, STATEMENTS)
