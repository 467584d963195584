"""Benchmarks: embedding and ingest throughput (throughput), API load over HTTP (load), store scale (scale,
with base_chunks and replicate)."""
