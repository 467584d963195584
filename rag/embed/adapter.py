"""A sentence-transformers model as the embedder loads it: from a local folder or the local hub cache, with the
shipped (or a trained) LoRA adapter merged into its weights, in fp32 or bf16.

The adapter setting names a folder (adapter_folder: "alqac" = the one shipped in rag/data/adapters, "none" = no
adapter), and the adapted model's vectors get an id of their own (adapter_model_id). torch, sentence-transformers,
peft and huggingface_hub are imported inside the functions that need them: importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.embed.bundled_e5 import EmbeddingModelError
from rag.embed.precision import resolve_precision

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def _local_model_path(name: str) -> str:
    """A local folder as given, or the hub name's snapshot in the local cache; never the network."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        return str(folder)
    if folder.is_absolute() or name.startswith((".", "~")):
        raise EmbeddingModelError(f"embedding model folder {name} does not exist")
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id=name, local_files_only=True)
    except (OSError, ValueError) as exc:  # LocalEntryNotFoundError, HFValidationError
        raise EmbeddingModelError(
            f"model {name!r} is not in the local cache and this machine is offline: download it where there "
            f"is network (huggingface-cli download {name}) and copy the Hugging Face cache here, or set "
            f"POLICYQA_EMBEDDING_MODEL to a local sentence-transformers folder ({type(exc).__name__})"
        ) from exc


def load_sentence_transformer(name_or_path: str, *, threads: int | None = None, precision: str = "fp32",
                              adapter: Path | None = None) -> SentenceTransformer:
    """A sentence-transformers model on CPU from a local folder or the local hub cache, with a LoRA adapter
    merged into its weights (before any dtype change), in fp32 or bf16."""
    path = _local_model_path(name_or_path)  # before importing torch: a missing model fails in milliseconds
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    try:
        model = SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as exc:  # whatever a broken folder raises (OSError, ValueError, KeyError, safetensors…)
        raise EmbeddingModelError(f"cannot load embedding model {name_or_path!r} from {path}: {exc}") from exc
    if adapter is not None:
        apply_adapter(model, adapter)
    return model.to(torch.bfloat16) if resolve_precision(precision) == "bf16" else model


SHIPPED_ADAPTER = Path(__file__).parents[1] / "data" / "adapters" / "e5-small-alqac-lora"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def adapter_folder(setting: str) -> Path | None:
    """The adapter folder a setting names ("alqac" = the shipped one, "none" = no adapter, else a path)."""
    if setting == "none":
        return None
    folder = SHIPPED_ADAPTER if setting == "alqac" else Path(setting).expanduser()
    if not (folder / ADAPTER_WEIGHTS).is_file() or not (folder / "adapter_config.json").is_file():
        raise EmbeddingModelError(f"embedding adapter folder {folder} lacks {ADAPTER_WEIGHTS} or adapter_config.json "
                                  "(write one with `policyqa train`, or set POLICYQA_EMBEDDING_ADAPTER=none)")
    return folder


def adapter_model_id(base_id: str, folder: Path) -> str:
    """Id of the adapted model's vectors: the base id plus a hash of the adapter's weights and config (its
    scaling lives in the config)."""
    digest = hashlib.sha256()
    for name in (ADAPTER_WEIGHTS, "adapter_config.json"):
        digest.update((folder / name).read_bytes())
    return f"{base_id}+lora@{digest.hexdigest()[:12]}"


def set_transformer(module: Any, model: Any) -> None:
    """Replace the Hugging Face model inside a sentence-transformers Transformer module (6.x keeps it in
    `.model` and `auto_model` is a read-only view; 5.x keeps it in `auto_model`)."""
    if isinstance(getattr(type(module), "auto_model", None), property):
        module.model = model
    else:
        module.auto_model = model


def apply_adapter(model: SentenceTransformer, folder: Path) -> None:
    """Merge a LoRA adapter (peft) into the model's transformer weights, in place, before any dtype change."""
    from peft import PeftModel

    module = model[0]
    try:
        set_transformer(module, PeftModel.from_pretrained(module.auto_model, str(folder)).merge_and_unload())
    except Exception as exc:  # a mismatched or damaged adapter: whatever peft/safetensors raise
        raise EmbeddingModelError(f"cannot apply embedding adapter {folder}: {exc}") from exc

