"""API clients of institutions (PRODUCT.md I6): credentials, bearer tokens, idempotency."""
