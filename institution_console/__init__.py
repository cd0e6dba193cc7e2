from litestar import Router

from institution_console import home, leads, messages, products
from server.login import login_handlers

console_router = Router(
    path="/console",
    route_handlers=[
        *home.handlers,
        *products.handlers,
        *leads.handlers,
        *messages.handlers,
        *login_handlers("console", "staff", "/console", "/console/"),
    ],
)
