"""Backfill of `application.income_band` (added with its default 'unknown' just before):
the band of the monthly income in the copy the borrower shared with the institution, i.e.
as it was at submission. Decrypted here once, in batches by id, so the reports' refresh
never decrypts again. Existing rows keep the channel 'web' (the column's default): every
application so far came from the portal and the device was not recorded."""

import json
from decimal import Decimal, InvalidOperation

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T13:58:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "backfill application income bands"
BATCH = 5000


def _band(token: str) -> str:
    from marketplace.applications.reporting import UNKNOWN_INCOME, income_band
    from marketplace.applications.services import SHARED_DATA_CONTEXT
    from marketplace.security import decrypt_field
    from marketplace.security.fields import DecryptionError

    try:
        shared = json.loads(decrypt_field(token, context=SHARED_DATA_CONTEXT))
        return income_band(Decimal(str(shared.get("monthly_income"))))
    except (DecryptionError, ValueError, InvalidOperation, AttributeError, TypeError):
        return UNKNOWN_INCOME


async def backfill() -> None:
    from marketplace.db import engine

    db = engine()
    last = 0
    while True:
        async with db.transaction() as tx:
            rows = await tx.connection.fetch(
                "SELECT id, shared_data_encrypted AS shared FROM application"
                " WHERE id > $1 ORDER BY id LIMIT $2",
                last,
                BATCH,
            )
            if not rows:
                return
            last = rows[-1]["id"]
            await tx.connection.executemany(
                "UPDATE application SET income_band = $2 WHERE id = $1",
                [(row["id"], _band(row["shared"])) for row in rows],
            )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="applications", description=DESCRIPTION)
    manager.add_raw(backfill)
    return manager
