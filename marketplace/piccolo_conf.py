from piccolo.conf.apps import AppRegistry

from marketplace.contexts import CONTEXTS, app_module
from marketplace.db import DB as _DB
from marketplace.db import make_engine

# The piccolo CLI needs an engine object even when only generating migrations.
DB = _DB if _DB is not None else make_engine("postgresql://postgres@127.0.0.1:5432/postgres")

APP_REGISTRY = AppRegistry(apps=[app_module(name) for name in CONTEXTS])
