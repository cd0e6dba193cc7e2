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
        "products.reindex_category": "marketplace.products.indexing:reindex_category_job",
        # Re-prices floating rates and cost verdicts after a cost parameter changes.
        "products.reprice": "marketplace.products.services:reprice_products_job",
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
        "disclosures",
        "visibility",
    ),
)
APP_CONFIG = CONTEXT.app
