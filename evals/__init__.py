"""Measures rag and ingest: datasets, metrics, runs against baselines, ALQAC, calibration, training, and
bench/ (every benchmark). Reaches the API only over HTTP."""
