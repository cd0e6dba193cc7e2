"""The demo has published ratings with replies and votes on several products, one held
(a phone number), one rejected, one reported by its institution and one hidden, by demo
borrowers who applied to those products."""

from __future__ import annotations

from marketplace.applications.tables import Application
from marketplace.demo.seed import seed_demo
from marketplace.ratings.tables import ProductRating, RatingReply, RatingVote


async def test_the_demo_has_ratings_in_every_state_by_real_applicants():
    await seed_demo()
    rows = await ProductRating.select()
    statuses = sorted(row["status"] for row in rows)
    assert statuses.count("published") >= 5
    assert statuses.count("held") == 2 and statuses.count("rejected") == 1
    assert statuses.count("hidden") == 1 and "pending" not in statuses  # pending: mid-check only
    assert len({row["product"] for row in rows if row["status"] == "published"}) >= 3
    assert len({row["rating"] for row in rows}) >= 4
    held = sorted(str(row["hold_reasons"]) for row in rows if row["status"] == "held")
    assert "mobile" in held[0] and "reported" in held[1]
    [reported] = [row for row in rows if "reported" in str(row["hold_reasons"])]
    assert reported["report_reason"] and reported["published_at"] is not None
    [hidden] = [row for row in rows if row["status"] == "hidden"]
    assert hidden["decision_reason"]
    assert await RatingReply.count() >= 2
    assert await RatingVote.count() >= 3
    for row in rows:
        assert await Application.exists().where(
            (Application.borrower == row["borrower"]) & (Application.product == row["product"])
        )
