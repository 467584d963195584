"""Documents in (above rag, imports only rag): load/ (bytes → text, bounded and sandboxed), parse/ (header,
structure, validity), chunk (structural units within a token budget), pipeline (files or uploads → store)."""
