"""Articles, their images and their history."""

from piccolo.columns import (
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from marketplace.accounts.tables import User


class Article(Table, tablename="content_article"):
    id: Serial
    # ASCII, lower case, digits and hyphens; the public address /articles/<slug>.
    slug = Varchar(length=80, unique=True)
    title = Varchar(length=80)
    category = Varchar(length=20, index=True)
    summary = Varchar(length=200, default="")
    body_markdown = Text(default="")
    # Rendered and sanitised when saved (marketplace.content.rendering).
    body_html = Text(default="")
    # The body's words without markup: what the search index reads.
    body_text = Text(default="")
    # The name of an ArticleImage shown as the card's cover (empty: none).
    cover_image = Varchar(length=32, default="")
    author = ForeignKey(references=User, on_delete=OnDelete.restrict)
    # Whoever saved the text last: neither they nor the author may approve it.
    editor = ForeignKey(references=User, on_delete=OnDelete.restrict)
    reviewer = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    status = Varchar(length=20, default="draft", index=True)
    publish_at = Timestamptz(null=True, default=None)
    published_at = Timestamptz(null=True, default=None, index=True)
    # Bumped by every save: an edit made against an older version is refused.
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ArticleImage(Table, tablename="content_article_image"):
    id: Serial
    # 32 hex characters: the address /articles/images/<name> and the storage key's tail.
    name = Varchar(length=32, unique=True)
    storage_key = Varchar(length=200)
    media_type = Varchar(length=30)
    article = ForeignKey(references=Article, on_delete=OnDelete.cascade, index=True)
    uploader = ForeignKey(references=User, on_delete=OnDelete.restrict)
    created_at = Timestamptz(default=TimestamptzNow())


class ArticleEvent(Table, tablename="content_article_event"):
    id: Serial
    article = ForeignKey(references=Article, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20)
    actor = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    actor_label = Varchar(length=100, default="")
    comment = Text(default="")
    at = Timestamptz(default=TimestamptzNow())
