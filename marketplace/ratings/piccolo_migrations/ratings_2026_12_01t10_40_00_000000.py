"""Ratings keys held by the database: one rating per borrower and product, one "有用" vote
per user and rating (parallel double submits count once), and the product page's order."""

from marketplace.appconfig import raw_sql_migration

ID = "2026-12-01T10:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ratings unique keys and indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX product_rating_one_per_borrower ON product_rating (product, borrower)",
    "CREATE UNIQUE INDEX product_rating_vote_once ON product_rating_vote (rating, voter)",
    "CREATE INDEX product_rating_listing ON product_rating (product, status, published_at)",
]


async def forwards():
    return raw_sql_migration(ID, "ratings", DESCRIPTION, STATEMENTS)
