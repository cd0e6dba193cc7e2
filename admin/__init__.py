from litestar import Router

from admin import audit, collections, consents, home, jobs, reviews
from server.inbox import inbox_handlers
from server.login import login_handlers

admin_router = Router(
    path="/admin",
    route_handlers=[
        *home.handlers,
        *reviews.handlers,
        *audit.handlers,
        *jobs.handlers,
        *collections.handlers,
        *consents.handlers,
        *inbox_handlers("admin", "operator", "admin.home"),
        *login_handlers("admin", "operator", "/admin", "/admin/"),
    ],
)
