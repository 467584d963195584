"""Answers with verified citations (extractive or from an LLM), abstention, and retrieval-only search.

The entry points are in rag.answer.entry (`answer`, `iter_answer`, `search`) and rag.answer.events
(`answer_events`, the typed events of the SSE endpoint and the chat UI). Nothing is re-exported here: the
LLM layer (rag.llm) reads rag.answer.verify, and importing the entry points from this package would loop.
"""
