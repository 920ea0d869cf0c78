"""Study integrity (反刷课): the anomaly list secretaries and admins review.

It reads the study ledger and the per-day counters that ``courses`` keeps, and
quiz attempts from ``exams`` (read-only), so it sits above both in the
dependency order; nothing imports it.
"""
