"""The store: Store and its immutable Snapshot (store), the manifest on SQLite or on a Chroma server
(manifest_sqlite, manifest_chroma), the chunk vectors in Chroma (vectors), the BM25 index (lexical) and the
file locks shared by processes (locks)."""
