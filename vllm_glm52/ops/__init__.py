"""Custom ops of vllm-glm52. ``topk``: the DSA indexer top-k (CUDA extension + exact fallback);
``sort_rows``: the in-place sort of top-k rows (Triton, torch.sort reference).

Import ``vllm_glm52.ops.topk`` lazily (it imports torch and loads the extension); this package
module itself stays import-light for the plugin entry point.
"""
