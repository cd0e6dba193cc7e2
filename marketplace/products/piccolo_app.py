from marketplace.contexts import declare_context
from marketplace.products.tables import Product, ProductRevision

CONTEXT = declare_context(
    "products",
    __file__,
    [Product, ProductRevision],
    depends_on=("institutions",),
    # Keeps the search index in step with listings (through the search port).
    jobs={
        "products.index": "marketplace.products.indexing:index_product_job",
        "products.index_institution": "marketplace.products.indexing:index_institution_job",
    },
    public=(
        "services",
        "queries",
        "catalog",
        "statuses",
        "search_port",
        "indexing",
        "validation",
        "visibility",
    ),
)
APP_CONFIG = CONTEXT.app
