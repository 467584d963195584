"""Token limits of the embedder: a query clipped to the model's length, passages batched by a token budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence

# A question is embedded whole up to the model's length; past it, windows would multiply the cost for text
# that is no longer a question (2,000 combining marks took 3.2 s windowed).
QUERY_MAX_TOKENS = 512


def clip_to_tokens(text: str, count: Callable[[str], int], limit: int) -> str:
    """The longest prefix of text whose token count (prompt and specials included) is within limit."""
    if count(text) <= limit:
        return text
    lo, hi = 0, len(text)  # count(text[:lo]) <= limit < count(text[:hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid
    return text[:lo]


def token_batches(lengths: Sequence[int], budget: int, max_texts: int = 64) -> list[list[int]]:
    """Indexes of texts, longest first, cut into batches whose padded size (texts x longest) fits the budget.

    Long passages go a few at a time and short ones many at a time, so each batch costs about the same and
    padding stays small; a text longer than the budget gets a batch of its own."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    i = 0
    while i < len(order):
        width = max(lengths[order[i]], 1)  # the longest text of the batch sets the padded width
        n = max(1, min(max_texts, budget // width))
        batches.append(order[i : i + n])
        i += n
    return batches
