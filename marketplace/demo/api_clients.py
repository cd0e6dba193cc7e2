"""Demo Open API client: 华信银行's core system, with every scope, so the curl examples in
the README work against `make demo` as they are. Its secret is demo data."""

from __future__ import annotations

from marketplace.api_clients.scopes import SCOPES
from marketplace.api_clients.services import ClientForm, create_client
from marketplace.demo.decisions import _actor
from marketplace.i18n import _

DEMO_CLIENT_ID = "lmc_demo_huaxin"
DEMO_CLIENT_SECRET = "demo-huaxin-secret-change-me"  # noqa: S105 - demo data, shown in the README
DEMO_ADMIN = "admin@huaxin-bank.example"


async def seed_api_client() -> None:
    admin = await _actor(DEMO_ADMIN)
    if admin is None:
        return
    await create_client(
        admin,
        ClientForm(name="huaxin-core-banking", scopes=tuple(SCOPES)),
        credentials=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )


def demo_api_line(base: str) -> str:
    """The start-up line telling a developer how to try the Open API."""
    return _(
        "  开放接口     {base}/api/docs    client_id {client_id} / client_secret {secret}",
        base=base,
        client_id=DEMO_CLIENT_ID,
        secret=DEMO_CLIENT_SECRET,
    )
