"""Answers written by an LLM: the prompt (prompt), the generators and their streams (generators), the model's
text made into a verifiable draft (draft), and building the configured generator (loading)."""
