"""In-place sort of top-k index rows: ascending positions, ``-1`` padding last.

The indexer sorts every full layer's top-k rows once per step (``VLLM_GLM52_TOPK_ORDER=sorted``,
the default) so that sparse attention sums its keys in one canonical order and runs are
deterministic. ``torch.sort`` costs a chain of kernels per call (where, a segmented radix sort
with its temporaries, masked_fill, copy back). On one H100 (docs/benchmarks.md, session 5) this
kernel sorts [1..128, 2048] rows in 21 us against 32-37 us (1.5-1.7x) and is 5-9% slower from
2048 rows up (prefill chunks); the default configuration measured 1.00 / 1.03 / 1.04x in-tree
throughput with it (0.79 / 0.87 / 0.84x with torch.sort in an earlier run of the same machine,
whose drift accounts for part of that gap).

:func:`sort_rows_triton_` is one Triton kernel: a program per row loads the row (``k`` <= 4096
int32, padded to a power of two), maps ``-1`` to INT32_MAX, sorts it in registers (bitonic,
``tl.sort``), maps INT32_MAX back to ``-1`` and stores it over the input. No temporaries, one
launch, CUDA-graph capturable. :func:`sort_rows_torch_` is the reference (and the path for
CPU tensors or without Triton).

rows: int32 [n, k], unit column stride (any row stride); positions are >= 0 and unique within
a row, ``-1`` marks padding.
"""

from __future__ import annotations

import torch

INT32_MAX = torch.iinfo(torch.int32).max
MAX_SORT_K = 4096  # registers: a program holds its whole row

try:
    import triton
    import triton.language as tl

    @triton.jit
    def _sort_rows_kernel(ptr, row_stride, K: tl.constexpr, BLOCK: tl.constexpr):
        row = tl.program_id(0).to(tl.int64)
        offs = tl.arange(0, BLOCK)
        mask = offs < K
        x = tl.load(ptr + row * row_stride + offs, mask=mask, other=-1)
        x = tl.where(x < 0, 2147483647, x)  # padding (and the block's tail) sorts last
        x = tl.sort(x, 0)
        x = tl.where(x == 2147483647, -1, x)
        tl.store(ptr + row * row_stride + offs, x, mask=mask)

    HAVE_TRITON = True
except ImportError:  # CPU-only installs without Triton: the torch path serves
    HAVE_TRITON = False


def sort_rows_torch_(rows: torch.Tensor) -> None:
    """Reference: the same result with torch.sort (any device)."""
    srt = torch.where(rows < 0, INT32_MAX, rows).sort(dim=-1).values
    rows.copy_(srt.masked_fill_(srt == INT32_MAX, -1))


def triton_applies(rows: torch.Tensor) -> bool:
    return (HAVE_TRITON and rows.is_cuda and rows.dim() == 2 and rows.dtype == torch.int32
            and rows.shape[1] <= MAX_SORT_K and (rows.shape[1] <= 1 or rows.stride(1) == 1))


def sort_rows_triton_(rows: torch.Tensor) -> None:
    """One Triton launch; rows int32 [n, k] on CUDA, k <= 4096, unit column stride."""
    if not triton_applies(rows):
        raise ValueError(f"sort_rows_triton_: need CUDA int32 [n, k <= {MAX_SORT_K}] rows with "
                         f"unit column stride, got {rows.dtype} {tuple(rows.shape)} on "
                         f"{rows.device} (strides {rows.stride()}); use sort_rows_torch_")
    _launch(rows)


def _launch(rows: torch.Tensor) -> None:
    """The launch itself, for rows :func:`triton_applies` accepted."""
    n, k = rows.shape
    if n == 0 or k <= 1:
        return
    block = triton.next_power_of_2(k)
    _sort_rows_kernel[(n,)](rows, rows.stride(0), K=k, BLOCK=block,
                            num_warps=8 if block >= 2048 else 4)


def sort_rows_(rows: torch.Tensor) -> None:
    """Sorts each row of int32 ``rows`` [n, k] in place: ascending positions, -1 padding last.
    The Triton kernel where it applies (CUDA), torch.sort elsewhere; the same result."""
    if triton_applies(rows):
        _launch(rows)  # checked just above: the op runs once per full layer per step
    else:
        sort_rows_torch_(rows)
