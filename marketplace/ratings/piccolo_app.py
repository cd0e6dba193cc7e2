from marketplace.contexts import declare_context
from marketplace.ratings.tables import ProductRating, RatingReply, RatingVote

CONTEXT = declare_context(
    "ratings",
    __file__,
    [ProductRating, RatingVote, RatingReply],
    depends_on=(
        "accounts",
        "institutions",
        "products",
        "applications",
        "loans",
        "inbox",
        "audit",
        "parameters",
    ),
    public=("services", "queries", "statuses", "moderation"),
)
APP_CONFIG = CONTEXT.app
