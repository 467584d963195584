"""Numeric precision of the torch embedder: bf16 where the CPU computes it natively, else fp32.

`resolve_precision` turns the embedding_precision setting into the dtype to load (cpu_has_bf16 reads the CPU
flags in /proc/cpuinfo); `_unit` renormalises vectors in fp32 whatever dtype the model ran in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.embed.bundled_e5 import EmbeddingModelError


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 in fp32 (a bf16 model's own normalisation is only good to ~1e-3)."""
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (AVX-512 BF16 or AMX); elsewhere torch emulates
    them and bf16 is slower than fp32."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:  # not Linux: keep fp32
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))


def resolve_precision(wanted: str) -> str:
    """The precision a setting means on this machine: "auto" is bf16 where the CPU has it, else fp32."""
    if wanted == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    if wanted not in ("fp32", "bf16"):
        raise EmbeddingModelError(f"unknown embedding precision {wanted!r}; expected auto, fp32 or bf16")
    return wanted
