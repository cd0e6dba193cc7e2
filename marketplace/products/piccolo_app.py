from marketplace.appconfig import app_config
from marketplace.products.tables import Product, ProductRevision

APP_CONFIG = app_config(
    "products", __file__, [Product, ProductRevision], depends_on=("institutions",)
)
