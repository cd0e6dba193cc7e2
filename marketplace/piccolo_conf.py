from piccolo.conf.apps import AppRegistry

from marketplace.db import DB as _DB
from marketplace.db import make_engine

# The piccolo CLI needs an engine object even when only generating migrations.
DB = _DB if _DB is not None else make_engine("postgresql://postgres@127.0.0.1:5432/postgres")

APP_REGISTRY = AppRegistry(
    apps=[
        "marketplace.parameters.piccolo_app",
        "marketplace.institutions.piccolo_app",
        "marketplace.accounts.piccolo_app",
        "marketplace.products.piccolo_app",
        "marketplace.consents.piccolo_app",
        "marketplace.applications.piccolo_app",
        "marketplace.outbox.piccolo_app",
        "marketplace.audit.piccolo_app",
        "marketplace.notifications.piccolo_app",
    ]
)
