from litestar import Router

from portal import (
    account,
    applications,
    articles,
    calculator,
    consents,
    credit,
    documents,
    home,
    loans,
    me,
    messages,
    notice_settings,
    offers,
    partners,
    policy,
    products,
    profile,
    recommend,
)
from server.inbox import inbox_handlers
from server.login import login_handlers

portal_router = Router(
    path="/",
    route_handlers=[
        *home.handlers,
        *products.handlers,
        *recommend.handlers,
        *calculator.handlers,
        *articles.handlers,
        *account.handlers,
        *me.handlers,
        *credit.handlers,
        *applications.handlers,
        *documents.handlers,
        *loans.handlers,
        *messages.handlers,
        *notice_settings.handlers,
        *offers.handlers,
        *partners.handlers,
        *policy.handlers,
        *consents.handlers,
        *profile.handlers,
        *inbox_handlers("portal", "borrower", "portal.home", "/me/notifications"),
        *login_handlers("portal", "borrower", "", "/"),
    ],
)
