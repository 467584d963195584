"""policyqa's foundation and question side (the lowest layer: imports no other first-party package).

records (the frozen records every step passes on), settings, text/ (normalisation, số hiệu, vocabulary),
embed/, store/, query, retrieve, answer/ (the entry points `answer` and `search` in rag.answer.entry), llm/,
runtime (settings + embedder + store, opened once per process).
"""
