"""DSA indexer top-k: the CUDA extension op (``torch.ops._C_glm52``) and its exact fallback.

For every row the op writes the ``k`` largest fp32 logits of the row's visible column range
``[start, end)`` as int32 positions relative to ``start`` (request-local), in any order. A row
whose visible length is <= k gets ``0 .. len-1`` in order followed by -1. Order is total: value
descending, then the **lower column wins** among equal values (values compare through the
order-preserving key of their fp32 bits: -0.0 < +0.0, -inf is an ordinary value, NaN with the
sign bit clear ranks above +inf and with it set below -inf). The selected set is therefore
unique: the CUDA kernel and the PyTorch fallback return the same set for the same input.

Entry points (outputs go into caller-provided buffers; the CUDA path allocates nothing and is
CUDA-graph capturable after one eager call per device):

* :func:`topk_prefill` / :func:`topk_decode` -- the two shapes the indexer needs.
* :func:`top_k_per_row_prefill`, :func:`top_k_per_row_decode` -- drop-ins with the argument
  order of ``vllm._custom_ops.top_k_per_row_prefill/decode`` (vLLM 0.26); like
  :func:`persistent_topk` they pass :func:`topk_workspace`.
* :func:`persistent_topk` -- drop-in for ``torch.ops._C.persistent_topk`` /
  ``torch.ops._C.cooperative_topk`` (vLLM's workspace is not used: ours is
  :func:`topk_workspace`).
* :func:`topk_workspace` -- the per-device scratch the grid / slices kernels need (few long
  rows split over many CTAs); without it the op still works, on the other kernels.

The CUDA op is used for CUDA tensors on devices the extension was built for (sm_90a, plus
sm_100a when the toolkit could build it); everything else runs the fallback, whose result is
identical. ``VLLM_GLM52_TOPK_IMPL=torch`` forces the fallback.
"""

from __future__ import annotations

import functools
import logging
import os

import torch

from vllm_glm52.ops.sort_rows import sort_rows_  # noqa: F401  (re-exported)

logger = logging.getLogger("vllm.glm52.ops")

__all__ = ["topk_prefill", "topk_decode", "top_k_per_row_prefill", "top_k_per_row_decode",
           "persistent_topk", "topk_rows_torch", "topk_workspace", "uses_cuda_kernel",
           "writes_sorted", "sort_rows_", "EXTENSION_LOADED"]

IMPL_ENV = "VLLM_GLM52_TOPK_IMPL"
MAX_K = 2048  # kernel limit (csrc/topk/topk.h kMaxK); GLM-5.2 uses index_topk = 2048
GRID_ROW_BYTES = 88192  # workspace bytes per row of the grid / slices kernels (kGridRowBytes)
WORKSPACE_BYTES = 8 << 20  # topk_workspace's size: the grid / slices kernel for up to 95 rows


def _load_extension() -> tuple[bool, str]:
    """Imports the compiled extension (registers torch.ops._C_glm52); logs the choice once."""
    if os.environ.get(IMPL_ENV, "").strip().lower() == "torch":
        reason = f"{IMPL_ENV}=torch"
        ok = False
    else:
        try:
            import vllm_glm52._C_glm52  # noqa: F401  (loads the TORCH_LIBRARY registrations)

            ok, reason = True, ""
        except ImportError as exc:
            ok, reason = False, f"extension not built or not loadable: {exc}"
    if ok:
        archs = ", ".join(f"sm_{a}a" for a in torch.ops._C_glm52.built_archs())
        logger.info("vllm-glm52 indexer top-k: CUDA extension _C_glm52 (%s); "
                    "PyTorch fallback elsewhere", archs)
    else:
        logger.info("vllm-glm52 indexer top-k: PyTorch fallback (%s)", reason)
    return ok, reason


EXTENSION_LOADED, EXTENSION_REASON = _load_extension()

def _topk_prefill_fake(logits, row_starts, row_ends, indices, k, workspace=None,
                       max_len=0) -> None:
    return None  # writes `indices` in place, returns nothing: no output metadata to produce


def _topk_decode_fake(logits, seq_lens, indices, k, next_n, workspace=None) -> None:
    return None


if EXTENSION_LOADED:
    for _name, _fake in (("_C_glm52::topk_prefill", _topk_prefill_fake),
                         ("_C_glm52::topk_decode", _topk_decode_fake)):
        try:
            torch.library.register_fake(_name)(_fake)
        except RuntimeError:  # already registered (module re-imported)
            pass


@functools.lru_cache(maxsize=None)
def _device_supported(index: int) -> bool:
    major, minor = torch.cuda.get_device_capability(index)
    return major * 10 + minor in tuple(torch.ops._C_glm52.built_archs())


def _device_index(t: torch.Tensor) -> int:
    return t.device.index if t.device.index is not None else torch.cuda.current_device()


def uses_cuda_kernel(t: torch.Tensor) -> bool:
    """True when a call on tensors like ``t`` runs the CUDA kernel (not the fallback)."""
    return EXTENSION_LOADED and t.is_cuda and _device_supported(_device_index(t))


# topk_plan's algo codes of the kernels that write rows sorted: 1 radix, 2 regs, 3 grid,
# 4 slices, 5 cluster
SORTED_ALGOS = (1, 2, 3, 4, 5)


@functools.lru_cache(maxsize=4096)
def _sorted_planned(device: int, rows: int, cols: int, ws_bytes: int, aligned: bool,
                    max_len: int = 0) -> bool:
    with torch.cuda.device(device):  # the plan is per device (SM count, shared memory, L2)
        plan = torch.ops._C_glm52.topk_plan(rows, cols, ws_bytes, aligned, max_len)
        return int(plan[0]) in SORTED_ALGOS


def rows_aligned(logits: torch.Tensor, prefill: bool) -> bool:
    """True when every row's segment starts on a 16-byte boundary (the launcher's
    ``segments_aligned``): decode rows (column 0) of logits with 16-byte aligned base and
    row stride."""
    return (not prefill and logits.data_ptr() % 16 == 0
            and (logits.shape[0] <= 1 or logits.stride(0) % 4 == 0))


def writes_sorted(logits: torch.Tensor, workspace: torch.Tensor | None = None,
                  prefill: bool = False, max_len: int = 0) -> bool:
    """True when a call on ``logits`` [rows, cols] (with ``workspace``; ``prefill``: a
    ``topk_prefill`` call with ``max_len``) writes every row in ascending position order (-1
    padding last):
    the CUDA radix, regs, grid, slices and cluster kernels do, the streaming kernel and the fallback
    do not.
    The launcher's plan depends only on the shape, the workspace size, the rows' 16-byte
    alignment and the device (and on ``topk_force``, a test and benchmark hook: call
    :func:`clear_plan_cache` after it)."""
    if not uses_cuda_kernel(logits):
        return False
    ws = 0 if workspace is None else workspace.numel() * workspace.element_size()
    return _sorted_planned(_device_index(logits), int(logits.shape[0]), int(logits.shape[1]),
                           ws, rows_aligned(logits, prefill), int(max_len) if prefill else 0)


def clear_plan_cache() -> None:
    _sorted_planned.cache_clear()


_WORKSPACES: dict[int, torch.Tensor] = {}
#: vLLM's dual-batch overlap (DBO) runs two micro-batches whose kernels may overlap on the GPU;
#: like vLLM's WorkspaceManager, each gets its own workspace slot
UBATCH_SLOTS = 2


@functools.cache
def _dbo_ubatch_id_fn():
    """vLLM's ``dbo_current_ubatch_id``, imported once (None without DBO support). Imported
    lazily: this module is loaded while vLLM registers plugins."""
    try:
        from vllm.v1.worker.ubatching import dbo_current_ubatch_id
    except ImportError:
        return None
    return dbo_current_ubatch_id


def _ubatch_id() -> int:
    """The current micro-batch of vLLM's dual-batch overlap (0 without it)."""
    fn = _dbo_ubatch_id_fn()
    return 0 if fn is None else int(fn())


def topk_workspace(device: torch.device | int | str) -> torch.Tensor:
    """The grid / slices kernels' scratch on ``device``: ``WORKSPACE_BYTES`` zero-filled bytes
    for the current micro-batch (one slot per DBO micro-batch, all allocated on the first call
    per device, so create it outside CUDA-graph capture). The kernel leaves it zero-filled; calls
    that share a slot must run in stream order, which one micro-batch's stream guarantees."""
    dev = torch.device(device)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    ws = _WORKSPACES.get(index)
    if ws is None:
        ws = torch.zeros(UBATCH_SLOTS, WORKSPACE_BYTES, dtype=torch.uint8,
                         device=f"cuda:{index}")
        _WORKSPACES[index] = ws
    u = _ubatch_id()
    if not 0 <= u < UBATCH_SLOTS:
        raise RuntimeError(f"topk_workspace: micro-batch {u} has no workspace slot (this "
                           f"package keeps {UBATCH_SLOTS}); raise UBATCH_SLOTS in "
                           f"vllm_glm52/ops/topk.py")
    return ws[u]


# ------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------
def topk_prefill(logits: torch.Tensor, row_starts: torch.Tensor, row_ends: torch.Tensor,
                 out: torch.Tensor, k: int, workspace: torch.Tensor | None = None,
                 max_len: int = 0) -> None:
    """Row r selects among ``logits[r, row_starts[r]:row_ends[r]]``; positions are relative
    to ``row_starts[r]`` (request-local), exactly what vLLM's ``top_k_per_row_prefill`` writes.

    logits [rows, n] fp32 (unit column stride); row_starts, row_ends [rows] int32;
    out [rows, k] int32 (written, unit column stride); 1 <= k <= 2048; workspace: see
    :func:`topk_workspace` (optional; lets few long rows take the grid or slices kernel).
    max_len: 0, or an upper bound on every row's ``end - start`` (a chunk of several
    requests: its longest request's length, far below n = all their keys): the launch is
    planned for rows that long where that gives the regs kernel. A row longer than the bound
    then stops the kernel (a sticky CUDA "unspecified launch failure"), never a wrong row;
    the fallback ignores the bound.
    """
    if max_len < 0:
        raise ValueError(f"topk_prefill: max_len must be 0 (no bound) or an upper bound on "
                         f"every row's end - start, got {max_len}")
    if uses_cuda_kernel(logits):
        torch.ops._C_glm52.topk_prefill(logits, row_starts, row_ends, out, k, workspace,
                                        max_len)
        return
    _check("topk_prefill", logits, out, k)
    _check_vector("topk_prefill", "row_starts", row_starts, logits.shape[0])
    _check_vector("topk_prefill", "row_ends", row_ends, logits.shape[0])
    topk_rows_torch(logits, row_starts, row_ends, out, k)


def topk_decode(logits: torch.Tensor, seq_lens: torch.Tensor, out: torch.Tensor, k: int,
                next_n: int = 1, workspace: torch.Tensor | None = None) -> None:
    """Row r selects among ``logits[r, 0:len_r]`` (vLLM's decode-length rule):

    * ``seq_lens`` 2-D [B, next_n], or 1-D [rows] with ``next_n == 1``: per-row lengths,
      ``len_r = seq_lens.flatten()[r]`` (MTP rows already expanded, the flattened path);
    * ``seq_lens`` 1-D [B] with ``rows == B * next_n``:
      ``len_r = seq_lens[r // next_n] - next_n + r % next_n + 1`` (one request, next_n rows).

    logits [rows, stride] fp32 (unit column stride, e.g. [B * next_n, max_model_len]);
    out [rows, k] int32 (written); 1 <= k <= 2048; workspace as for :func:`topk_prefill`.
    """
    if uses_cuda_kernel(logits):
        torch.ops._C_glm52.topk_decode(logits, seq_lens, out, k, next_n, workspace)
        return
    _check("topk_decode", logits, out, k)
    starts, ends = decode_row_bounds(seq_lens, next_n, logits.shape[0])
    topk_rows_torch(logits, starts, ends, out, k)


def _own_workspace(logits: torch.Tensor) -> torch.Tensor | None:
    """The drop-ins' workspace: this package's :func:`topk_workspace` where the kernel runs."""
    return topk_workspace(logits.device) if uses_cuda_kernel(logits) else None


def top_k_per_row_prefill(logits: torch.Tensor, cu_seqlen_ks: torch.Tensor,
                          cu_seqlen_ke: torch.Tensor, raw_topk_indices: torch.Tensor,
                          num_rows: int, stride0: int, stride1: int, topk_tokens: int) -> None:
    """Drop-in for ``vllm._custom_ops.top_k_per_row_prefill`` (same arguments and result).

    logits [num_rows, N] fp32 with strides (stride0, stride1 == 1); cu_seqlen_ks/ke [num_rows]
    int32; raw_topk_indices [num_rows, topk_tokens] int32 (written, request-local positions).
    """
    _check_vllm_layout("top_k_per_row_prefill", logits, num_rows, stride0, stride1)
    topk_prefill(logits, cu_seqlen_ks, cu_seqlen_ke, raw_topk_indices, topk_tokens,
                 _own_workspace(logits))


def top_k_per_row_decode(logits: torch.Tensor, next_n: int, seq_lens: torch.Tensor,
                         raw_topk_indices: torch.Tensor, num_rows: int, stride0: int,
                         stride1: int, topk_tokens: int) -> None:
    """Drop-in for ``vllm._custom_ops.top_k_per_row_decode`` (same arguments and result).

    logits [num_rows = B * next_n, max_model_len] fp32; seq_lens [B] (len_r = seq_lens[r //
    next_n] - next_n + r % next_n + 1) or [B, next_n] (per row); raw_topk_indices
    [num_rows, topk_tokens] int32 (written).
    """
    _check_vllm_layout("top_k_per_row_decode", logits, num_rows, stride0, stride1)
    topk_decode(logits, seq_lens, raw_topk_indices, topk_tokens, next_n, _own_workspace(logits))


def persistent_topk(logits: torch.Tensor, lengths: torch.Tensor, output: torch.Tensor,
                    workspace: torch.Tensor | None = None, k: int = 2048,
                    max_seq_len: int | None = None) -> None:
    """Drop-in for ``torch.ops._C.persistent_topk`` / ``cooperative_topk`` (vLLM 0.26).

    logits [rows, stride] fp32; lengths [rows] or [B, next_n] int32 with one length per row;
    output [rows, k] int32 (written). ``workspace`` and ``max_seq_len`` are accepted for
    signature parity and ignored: vLLM's workspace holds its own kernel's state, so the grid
    kernel gets this package's :func:`topk_workspace` instead.
    """
    del workspace, max_seq_len
    topk_decode(logits, lengths, output, k, 1, _own_workspace(logits))


# ------------------------------------------------------------------------------------------
# Exact PyTorch fallback (same semantics as the kernel)
# ------------------------------------------------------------------------------------------
def decode_row_bounds(seq_lens: torch.Tensor, next_n: int,
                      rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row [start, end) of the decode rule above. Returns int64 [rows] tensors."""
    if next_n < 1:
        raise ValueError(f"topk_decode: next_n must be >= 1, got {next_n}")
    if seq_lens.dtype != torch.int32:
        raise ValueError(f"topk_decode: seq_lens must be int32, got {seq_lens.dtype}")
    if seq_lens.dim() == 2 or (seq_lens.dim() == 1 and next_n == 1):
        if seq_lens.numel() != rows:
            raise ValueError(f"topk_decode: seq_lens must have {rows} elements (one per logits "
                             f"row), got {tuple(seq_lens.shape)}")
        ends = seq_lens.reshape(-1).to(torch.int64)
    elif seq_lens.dim() == 1:
        if rows % next_n or seq_lens.numel() != rows // next_n:
            raise ValueError(f"topk_decode: 1-D seq_lens must have rows / next_n = "
                             f"{rows} / {next_n} elements, got {tuple(seq_lens.shape)}")
        r = torch.arange(rows, device=seq_lens.device)
        ends = seq_lens.to(torch.int64)[r // next_n] - next_n + r % next_n + 1
    else:
        raise ValueError(f"topk_decode: seq_lens must be 1-D [B] or 2-D [B, next_n], got "
                         f"{seq_lens.dim()}-D {tuple(seq_lens.shape)}")
    return torch.zeros_like(ends), ends


def order_keys_torch(logits: torch.Tensor) -> torch.Tensor:
    """fp32 -> int32 with the same order as the kernel's uint32 key (offset by 2^31).

    Positive floats keep their bits; negative ones flip their 31 low bits, so the int32 order
    is the float order with -0.0 < +0.0. Shape preserved.
    """
    bits = logits.contiguous().view(torch.int32)
    return bits ^ ((bits >> 31) & 0x7FFFFFFF)


def topk_rows_torch(logits: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor,
                    out: torch.Tensor, k: int, chunk_elems: int = 1 << 24) -> None:
    """Fallback: composite int64 key (value key << 32 | ~column) and torch.topk, so ties go
    to the lower column exactly as in the kernel. Rows are processed in chunks of about
    ``chunk_elems`` logits to bound the int64 temporaries.

    logits [rows, n] fp32; starts, ends [rows] (any int dtype); out [rows, k] int32.
    """
    rows, n = logits.shape
    if rows == 0:
        return
    dev = logits.device
    starts = starts.to(device=dev, dtype=torch.int64).clamp(min=0)
    ends = torch.maximum(ends.to(device=dev, dtype=torch.int64).clamp(max=n), starts)
    length = ends - starts
    seq = torch.arange(k, device=dev)
    short = torch.where(seq[None, :] < length[:, None], seq[None, :], -1)  # [rows, k]
    if n <= k:  # every row is short
        out.copy_(short.to(torch.int32))
        return
    cols = torch.arange(n, device=dev, dtype=torch.int64)
    low = (1 << 32) - 1 - cols  # lower column => larger composite
    step = max(1, chunk_elems // n)
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        comp = order_keys_torch(logits[r0:r1]).to(torch.int64) * (1 << 32) + low  # [R, n]
        visible = (cols[None, :] >= starts[r0:r1, None]) & (cols[None, :] < ends[r0:r1, None])
        comp = comp.masked_fill(~visible, torch.iinfo(torch.int64).min)
        top = torch.topk(comp, k, dim=1, sorted=True).indices - starts[r0:r1, None]
        res = torch.where(length[r0:r1, None] > k, top, short[r0:r1])
        out[r0:r1].copy_(res.to(torch.int32))


# ------------------------------------------------------------------------------------------
# Argument checks of the fallback (the CUDA op checks in csrc/topk/topk_launcher.cpp)
# ------------------------------------------------------------------------------------------
def _check(op: str, logits: torch.Tensor, out: torch.Tensor, k: int) -> None:
    if logits.dtype != torch.float32 or logits.dim() != 2:
        raise ValueError(f"{op}: logits must be float32 [rows, n], got {logits.dtype} "
                         f"{tuple(logits.shape)}")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"{op}: k must be in [1, {MAX_K}], got {k}")
    if out.dtype != torch.int32 or tuple(out.shape) != (logits.shape[0], k):
        raise ValueError(f"{op}: out must be int32 [rows, k] = [{logits.shape[0]}, {k}], got "
                         f"{out.dtype} {tuple(out.shape)}")
    if out.device != logits.device:
        raise ValueError(f"{op}: out must be on {logits.device} like logits, got {out.device}")


def _check_vector(op: str, name: str, v: torch.Tensor, numel: int) -> None:
    if v.dtype != torch.int32 or v.numel() != numel:
        raise ValueError(f"{op}: {name} must be int32 with {numel} elements, got {v.dtype} "
                         f"{tuple(v.shape)}")


def _check_vllm_layout(op: str, logits: torch.Tensor, num_rows: int, stride0: int,
                       stride1: int) -> None:
    if logits.dim() != 2 or num_rows != logits.shape[0]:
        raise ValueError(f"{op}: num_rows must equal logits.shape[0] = "
                         f"{logits.shape[0] if logits.dim() == 2 else '?'}, got {num_rows}")
    if stride1 != 1 or logits.stride(1) != 1 or (num_rows > 1 and stride0 != logits.stride(0)):
        raise ValueError(f"{op}: strides must be (logits.stride(0), 1) = "
                         f"{tuple(logits.stride())} with unit column stride, got "
                         f"({stride0}, {stride1})")
