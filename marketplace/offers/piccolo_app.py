from marketplace.contexts import declare_context
from marketplace.offers.tables import Offer, OfferSignature

CONTEXT = declare_context(
    "offers",
    __file__,
    [Offer, OfferSignature],
    depends_on=("accounts", "institutions", "applications"),
    public=("services", "queries", "statuses"),
)
APP_CONFIG = CONTEXT.app
