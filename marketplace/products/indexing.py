"""Keeping the index in step with the database: only through the outbox job below
and the full `reindex` — never inline in a web request."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from marketplace import freshness
from marketplace.categories.queries import category_labels
from marketplace.cities import canonical_or_same
from marketplace.institutions.statuses import InstitutionStatus
from marketplace.products.search_port import ProductDocument, backend
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.products.visibility import on_portal

DOCUMENT_COLUMNS = (
    Product.id,
    Product.name,
    Product.institution.id.as_alias("institution_id"),
    Product.institution.short_name.as_alias("institution_name"),
    Product.category,
    Product.summary,
    Product.tags,
    Product.keywords,
    Product.repayment_methods,
    Product.cities,
    Product.employment_types,
    Product.amount_min,
    Product.amount_max,
    Product.term_options,
    Product.apr_min,
    Product.apr_max,
    Product.approval_rate,
    Product.popularity,
    Product.listed_at,
    Product.promoted,
    Product.status,
    Product.institution.status.as_alias("institution_status"),
)


def product_document(row: dict, labels: Mapping[str, str]) -> ProductDocument:
    """Catalogue facts only: nothing about any borrower ever goes into the index.
    `labels`: category names as operators set them."""
    summary = row["summary"]
    if row["keywords"]:
        summary = f"{summary} {' '.join(row['keywords'])}"
    return ProductDocument(
        id=row["id"],
        name=row["name"],
        institution_id=row["institution_id"],
        institution_name=row["institution_name"],
        category=row["category"],
        category_label=labels.get(row["category"], row["category"]),
        summary=summary,
        tags=list(row["tags"]),
        repayment_methods=list(row["repayment_methods"]),
        cities=[canonical_or_same(city) for city in row["cities"]],
        employment_types=list(row["employment_types"]),
        amount_min=int(row["amount_min"]),
        amount_max=int(row["amount_max"]),
        term_min=min(row["term_options"]),
        term_max=max(row["term_options"]),
        term_options=list(row["term_options"]),
        apr_min=float(row["apr_min"]),
        apr_max=float(row["apr_max"]),
        approval_rate=float(row["approval_rate"]),
        popularity=int(row["popularity"]),
        listed_at=int(row["listed_at"].timestamp()) if row["listed_at"] else 0,
        promoted=bool(row["promoted"]),
    )


async def index_product(product_id: int) -> str:
    """On the portal (listed, institution active) → upsert, anything else → delete.
    Idempotent."""
    row = await Product.select(*DOCUMENT_COLUMNS).where(Product.id == product_id).first()
    if (
        row is None
        or row["status"] != ProductStatus.LISTED
        or row["institution_status"] != InstitutionStatus.ACTIVE
    ):
        await backend().delete([product_id])
        await freshness.changed()
        return "deleted"
    await backend().upsert([product_document(row, await category_labels(active_only=False))])
    # Pages cached while the index still had the old document must go now.
    await freshness.changed()
    return "indexed"


async def index_product_job(ctx: dict, product_id: int, **_: object) -> str:
    return await index_product(product_id)


async def index_institution_job(ctx: dict, institution_id: int, **_: object) -> int:
    """An institution was suspended, resumed or activated: its products follow."""
    rows = await Product.select(Product.id).where(Product.institution == institution_id)
    for row in rows:
        await index_product(row["id"])
    return len(rows)


async def reindex_all(
    batch_size: int = 500, progress: Callable[[int, int], None] | None = None
) -> int:
    """Rebuild the whole index from the database; `progress(done_now, total)` per batch."""
    search = backend()
    await search.clear()
    rows = await Product.select(*DOCUMENT_COLUMNS).where(on_portal())
    labels = await category_labels(active_only=False)
    documents = [product_document(row, labels) for row in rows]
    for start in range(0, len(documents), batch_size):
        batch = documents[start : start + batch_size]
        await search.upsert(batch)
        if progress is not None:
            progress(len(batch), len(documents))
    await freshness.changed()
    return len(documents)


async def reindex_category_job(ctx: dict, category: str, **_: object) -> int:
    """After a category is renamed: its listed products carry the new name. Idempotent."""
    rows = await Product.select(*DOCUMENT_COLUMNS).where(
        (Product.category == category) & on_portal()
    )
    labels = await category_labels(active_only=False)
    await backend().upsert([product_document(row, labels) for row in rows])
    await freshness.changed()
    return len(rows)
