from marketplace.content.tables import Article, ArticleEvent, ArticleImage
from marketplace.contexts import Cron, declare_context

CONTEXT = declare_context(
    "content",
    __file__,
    [Article, ArticleImage, ArticleEvent],
    depends_on=("accounts", "audit"),
    jobs={"content.index": "marketplace.content.jobs:index"},
    crons=(
        Cron(
            "content.publish_scheduled",
            "marketplace.content.jobs:publish_scheduled",
            every_seconds=60,
        ),
    ),
    public=("services", "queries", "statuses", "search_port", "indexing", "rendering"),
)
APP_CONFIG = CONTEXT.app
