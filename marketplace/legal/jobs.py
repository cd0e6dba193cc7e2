from __future__ import annotations

from marketplace.legal.services import publish_all


async def publish_texts() -> int:
    """Cron: publish the legal texts whose content changed (a deploy, new ordering rules,
    new promotion slots); the pages also publish on first view, so this only keeps the
    effective dates close to the change."""
    return await publish_all()
