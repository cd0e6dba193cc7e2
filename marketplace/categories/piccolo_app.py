from marketplace.categories.tables import ProductCategory
from marketplace.contexts import declare_context

CONTEXT = declare_context(
    "categories",
    __file__,
    [ProductCategory],
    public=("services", "queries", "defaults"),
)
APP_CONFIG = CONTEXT.app
