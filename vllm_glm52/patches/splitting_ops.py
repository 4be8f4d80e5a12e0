"""Patch: make the plugin's indexer op a graph-splitting op, as vLLM's own indexer op is.

Target: ``vllm.config.compilation.CompilationConfig._attention_ops`` (vLLM 0.26.0), the class
list from which the default ``splitting_ops`` of every ``CompilationConfig`` are copied.

Why: vLLM splits the torch.compile graph at its attention ops and at
``vllm::sparse_attn_indexer``: they run eagerly between the compiled pieces in piecewise CUDA
graph mode (mixed prefill / decode batches), with that step's attention metadata, and are
captured only in FULL graphs, whose metadata is built for capture. The plugin's indexer op
(``vllm::glm52_indexer``, its own pipeline with the ``_C_glm52`` top-k) was not on that list,
so Inductor compiled it into a piece, and a piecewise graph captures its kernels as the
capture run launched them rather than running it with each step's metadata (vLLM keeps its
own indexer op out of the pieces for that reason); Inductor also warned that the op returns
the buffer it mutates. Measured on one H100 (tiny BF16, separate runs, docs/benchmarks.md):
0.76 / 0.63 / 0.69x in-tree throughput at batch 1 / 32 / 128 with the op inside the pieces,
1.00 / 0.85 / 1.03x with it split out.

How: append ``vllm::glm52_indexer`` to the class list once, in every process that runs
``vllm_glm52.register()`` (the front end builds the config; workers rebuild nothing from
defaults, they receive it). A user-given ``splitting_ops`` list is left alone.

Removal: when vLLM offers a registration hook for splitting ops (or derives them from an op
tag), register the op there and drop this file.
"""

from __future__ import annotations

TARGET = "vllm.config.compilation.CompilationConfig._attention_ops"
OP = "vllm::glm52_indexer"


def apply() -> bool:
    """Adds the op to the default splitting ops; returns True when it is there."""
    from vllm.config.compilation import CompilationConfig

    ops = CompilationConfig._attention_ops
    if OP not in ops:
        ops.append(OP)
    return OP in CompilationConfig._attention_ops
