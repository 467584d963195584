"""Text to vectors: the embedders and load_embeddings (embedders), the bundled e5 model (bundled_e5), loading
a sentence-transformers model with its LoRA adapter (adapter), precision (precision), token limits (batching)."""
