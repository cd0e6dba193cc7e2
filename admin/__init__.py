from litestar import Router

from admin import (
    agreements,
    audit,
    categories,
    collections,
    consents,
    home,
    institutions,
    jobs,
    monitoring,
    ordering,
    promotions,
    reconciliation,
    reviews,
    settlement,
)
from server.inbox import inbox_handlers
from server.login import login_handlers

admin_router = Router(
    path="/admin",
    route_handlers=[
        *home.handlers,
        *reviews.handlers,
        *institutions.handlers,
        *promotions.handlers,
        *ordering.handlers,
        *categories.handlers,
        *audit.handlers,
        *jobs.handlers,
        *collections.handlers,
        *agreements.handlers,
        *consents.handlers,
        *settlement.handlers,
        *reconciliation.handlers,
        *monitoring.handlers,
        *inbox_handlers("admin", "operator", "admin.home"),
        *login_handlers("admin", "operator", "/admin", "/admin/"),
    ],
)
