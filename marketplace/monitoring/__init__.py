"""Monitoring (PRODUCT.md A7): per product and institution figures, automatic flags by
rules with parameter thresholds, and the cases they open (review, suspend, dismiss,
resume, the institution's response)."""
