"""The audit trail: who asked, searched, uploaded or deleted what, and what they got; hash-chained in SQLite."""
