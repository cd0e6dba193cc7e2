"""Demo webhook: 华信银行's admin has one endpoint, subscribed to every event, pointing at
the receiver the demo web process hosts (/demo/webhook-receiver), so the leads, offers
and loans the demo seeds next produce real signed deliveries to look at under
/console/webhooks/deliveries."""

from __future__ import annotations

from marketplace.demo.decisions import _actor
from marketplace.settings import settings
from marketplace.webhooks.events import EVENTS
from marketplace.webhooks.services import create_endpoint

HUAXIN = "admin@huaxin-bank.example"


async def seed_webhooks() -> None:
    admin = await _actor(HUAXIN)
    if admin is None:
        return
    await create_endpoint(
        admin,
        {
            "url": f"http://127.0.0.1:{settings.port}/demo/webhook-receiver",
            "description": "演示接收端（验证签名）",
            "events": list(EVENTS),
            "enabled": "1",
        },
    )
