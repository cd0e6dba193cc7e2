"""Complaints and feedback (PRODUCT.md P11, A10, §6.5): borrowers' complaints against an
institution or the platform, anyone's feedback, the operators' desk with assignment and
SLA deadlines, institutions' answers, borrowers' satisfaction ratings, and the per
institution statistics snapshots the published complaint figures are built from."""
