"""The REST API (FastAPI) over rag and ingest: app factory, routes, security, limits, errors, SSE. Never
imports ui (`policyqa serve` mounts the chat UI beside it)."""
