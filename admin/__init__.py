from litestar import Router

from admin import (
    agreements,
    audit,
    categories,
    collections,
    consents,
    dashboard,
    home,
    institutions,
    jobs,
    monitoring,
    ordering,
    parameters,
    promotions,
    reconciliation,
    reviews,
    risk,
    roles,
    settlement,
    users,
)
from server.inbox import inbox_handlers
from server.login import login_handlers
from server.password_links import password_link_handlers

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
        *risk.handlers,
        *users.handlers,
        *password_link_handlers("admin", "operator"),
        *roles.handlers,
        *parameters.handlers,
        *monitoring.handlers,
        *dashboard.handlers,
        *inbox_handlers("admin", "operator", "admin.home"),
        *login_handlers("admin", "operator", "/admin", "/admin/"),
    ],
)
