from marketplace.contexts import Cron, declare_context
from marketplace.offers.tables import Offer, OfferSignature

CONTEXT = declare_context(
    "offers",
    __file__,
    [Offer, OfferSignature],
    depends_on=("accounts", "institutions", "applications"),
    crons=(Cron("offers.expire", "marketplace.offers.jobs:expire_open_offers", every_seconds=600),),
    public=("services", "queries", "statuses"),
)
APP_CONFIG = CONTEXT.app
