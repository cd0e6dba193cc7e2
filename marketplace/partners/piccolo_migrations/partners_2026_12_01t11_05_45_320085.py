from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T11:05:45:320085"
VERSION = "1.38.0"
DESCRIPTION = "The first admin's password links move to the accounts' links"

# Raw statements run before the table is dropped, in the migration's transaction. Used
# links come too: they say the admin has set a password (no resend after that).
MOVE_LINKS = """
INSERT INTO account_password_link ("user", token_hash, expires_at, used_at, created_at)
SELECT "user", token_hash, expires_at, used_at, created_at
FROM partner_password_link
WHERE used_at IS NOT NULL OR expires_at > now()
ON CONFLICT (token_hash) DO NOTHING
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="partners", description=DESCRIPTION)

    async def move_links() -> None:
        from marketplace.db import engine

        await engine().run_ddl(MOVE_LINKS)

    manager.add_raw(move_links)
    manager.drop_table(class_name="PasswordLink", tablename="partner_password_link", schema=None)

    return manager
