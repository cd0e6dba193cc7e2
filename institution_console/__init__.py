from litestar import Router

from institution_console import (
    account,
    agreement,
    api_clients,
    cases,
    collections,
    consents,
    decisions,
    delivery,
    home,
    leads,
    loans,
    messages,
    offers,
    prescreen,
    products,
    promotions,
    reconciliation,
    reports,
    settlement,
    staff,
    webhooks,
)
from server.inbox import inbox_handlers
from server.login import login_handlers
from server.password_links import password_link_handlers

console_router = Router(
    path="/console",
    route_handlers=[
        *home.handlers,
        *products.handlers,
        *promotions.handlers,
        *leads.handlers,
        *decisions.handlers,
        *offers.handlers,
        *consents.handlers,
        *loans.handlers,
        *messages.handlers,
        *collections.handlers,
        *api_clients.handlers,
        *agreement.handlers,
        *delivery.handlers,
        *prescreen.handlers,
        *webhooks.handlers,
        *account.handlers,
        *settlement.handlers,
        *reconciliation.handlers,
        *staff.handlers,
        *password_link_handlers("console", "staff"),
        *cases.handlers,
        *reports.handlers,
        *inbox_handlers("console", "staff", "console.home"),
        *login_handlers("console", "staff", "/console", "/console/"),
    ],
)
