"""Synthetic scans of text documents: official layout rendered to A4 pages, then degraded like a scanner or a
phone would (evals/scans/render.py, degrade.py), and the character error rate of OCR against the source
(cer.py). Tests and `policyqa eval --scanned` / `policyqa bench ocr` build their scans here."""
