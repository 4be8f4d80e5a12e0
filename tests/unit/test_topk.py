"""CPU tests of the indexer top-k fallback (vllm_glm52/ops/topk.py) and its op contract.

The fallback must compute what the CUDA kernel computes: the k largest values of each row's
visible range as request-local int32 positions, -1 padding for short rows (0..len-1 first),
ties to the lower column. Checked against torch.topk as a set (with equal values where tied
elements differ) and against the exact numpy reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vllm_glm52.ops import topk as T
from vllm_glm52.ops.topk_ref import reference_topk_row


def _gen():
    return torch.Generator().manual_seed(int(np.random.SeedSequence().entropy % 2**31))


def _logits(rows: int, n: int, kind: str, g: torch.Generator) -> torch.Tensor:
    x = torch.randn(rows, n, generator=g)
    if kind == "ties":  # few levels: the k-th value is shared by many columns
        x = torch.round(x * 2) / 2
    elif kind == "ties10":  # vLLM's "10LSBits"-style near-ties: low mantissa bits cleared
        x = (x.view(torch.int32) & ~0x3FF).view(torch.float32)
    elif kind == "neginf":
        x = x.masked_fill(torch.rand(rows, n, generator=g) < 0.7, float("-inf"))
    elif kind == "equal":
        x = torch.full((rows, n), 0.25)
    return x.contiguous()


def _assert_row(row_vals: torch.Tensor, start: int, end: int, got: torch.Tensor, k: int):
    """got (k,) vs torch.topk on the visible range: same set, or equal values where tied."""
    length = max(end - start, 0)
    got = got.tolist()
    if length <= k:
        assert got == list(range(length)) + [-1] * (k - length)
        return
    assert -1 not in got and len(set(got)) == k and all(0 <= c < length for c in got)
    vis = row_vals[start:end]
    ref = torch.topk(vis, k).indices.tolist()
    if set(got) != set(ref):  # ties at the k-th value: the values must still agree
        assert sorted(vis[got].tolist()) == sorted(vis[ref].tolist())
    # and exactly the documented tie rule
    assert sorted(got) == sorted(reference_topk_row(row_vals.numpy(), start, end, k))


@pytest.mark.parametrize("kind", ["randn", "ties", "ties10", "neginf", "equal"])
@pytest.mark.parametrize("k", [1, 64, 512])
def test_prefill_causal_rows(kind, k):
    """Chunk of the last M queries of an N-token prompt: row r sees [ks, ks + N - M + r + 1)."""
    g = _gen()
    rows, n = 24, 1500
    logits = _logits(rows, n, kind, g)
    ks = torch.randint(0, 40, (rows,), generator=g, dtype=torch.int32)
    ke = (ks + torch.arange(n - rows - 60, n - 60, dtype=torch.int32)).clamp(max=n)
    out = torch.full((rows, k), -7, dtype=torch.int32)  # poisoned
    T.topk_prefill(logits, ks, ke, out, k)
    for r in range(rows):
        _assert_row(logits[r], int(ks[r]), int(ke[r]), out[r], k)


def test_prefill_packed_chunk_with_max_len():
    """A chunk of three requests (rows see only their own request's keys): the same rows with
    and without the row-length bound max_len; a negative bound is refused with its name."""
    g = _gen()
    lens = [700, 300, 900]
    n = sum(lens)
    starts = torch.cat([torch.full((ln,), sum(lens[:i]), dtype=torch.int32)
                        for i, ln in enumerate(lens)])
    ends = torch.cat([sum(lens[:i]) + torch.arange(1, ln + 1, dtype=torch.int32)
                      for i, ln in enumerate(lens)])
    logits = _logits(n, n, "ties", g)
    a = torch.full((n, 256), -7, dtype=torch.int32)
    b = torch.full((n, 256), -7, dtype=torch.int32)
    T.topk_prefill(logits, starts, ends, a, 256)
    T.topk_prefill(logits, starts, ends, b, 256, max_len=max(lens))
    assert torch.equal(a, b)
    for r in (0, 699, 700, 999, 1000, n - 1):
        _assert_row(logits[r], int(starts[r]), int(ends[r]), a[r], 256)
    with pytest.raises(ValueError, match="max_len must be 0"):
        T.topk_prefill(logits, starts, ends, a, 256, max_len=-1)


@pytest.mark.skipif(not T.EXTENSION_LOADED, reason=f"extension not built: {T.EXTENSION_REASON}")
def test_prefill_schema_has_max_len():
    """topk_prefill / topk_plan take the row-length bound, default 0 (none), after workspace."""
    for op, pos in ((torch.ops._C_glm52.topk_prefill.default, 6),
                    (torch.ops._C_glm52.topk_plan.default, 4)):
        arg = op._schema.arguments[pos]
        assert (arg.name, arg.default_value) == ("max_len", 0), op._schema


@pytest.mark.parametrize("k", [16, 512])
def test_prefill_edge_lengths(k):
    """Length 0, 1, below k, exactly k, k + 1, the whole row; start past end."""
    g = _gen()
    n = 3 * k + 5
    lens = [0, 1, k - 1, k, k + 1, n - 3, n]
    rows = len(lens) + 1
    logits = _logits(rows, n, "randn", g)
    ks = torch.tensor([0, 2, 1, 3, 0, 3, 0, 9], dtype=torch.int32)
    ke = torch.tensor([s + ln for s, ln in zip(ks.tolist(), lens)] + [4], dtype=torch.int32)
    ke = ke.clamp(max=n)
    out = torch.full((rows, k), 123, dtype=torch.int32)
    T.topk_prefill(logits, ks, ke, out, k)
    for r in range(rows):
        _assert_row(logits[r], int(ks[r]), int(ke[r]), out[r], k)
    assert out[-1].tolist() == [-1] * k  # start 9 > end 4: empty


def test_decode_per_row_lengths():
    """seq_lens [rows] (next_n == 1), including lengths 0 and rows shorter than k."""
    g = _gen()
    rows, stride, k = 9, 3000, 256
    logits = _logits(rows, stride, "randn", g)
    lens = torch.tensor([0, 1, 255, 256, 257, 1000, 2999, 3000, 17], dtype=torch.int32)
    out = torch.full((rows, k), -5, dtype=torch.int32)
    T.topk_decode(logits, lens, out, k)
    for r in range(rows):
        _assert_row(logits[r], 0, int(lens[r]), out[r], k)


@pytest.mark.parametrize("next_n", [2, 4])
def test_decode_mtp_rows(next_n):
    """MTP: 1-D seq_lens [B] with next_n rows per request (len = L - next_n + j + 1), the 2-D
    [B, next_n] per-token form, and the flattened per-row form all give the same rows."""
    g = _gen()
    B, stride, k = 5, 2500, 128
    rows = B * next_n
    logits = _logits(rows, stride, "ties", g)
    L = torch.tensor([next_n, 130, 700, 2500, 129 + next_n], dtype=torch.int32)
    per_row = (L[:, None] - next_n + torch.arange(next_n)[None, :] + 1).to(torch.int32)  # [B, n]
    out1 = torch.full((rows, k), -9, dtype=torch.int32)
    out2, out3 = out1.clone(), out1.clone()
    T.topk_decode(logits, L, out1, k, next_n)
    T.topk_decode(logits, per_row, out2, k, next_n)
    T.topk_decode(logits, per_row.reshape(-1).contiguous(), out3, k, 1)
    for r in range(rows):
        _assert_row(logits[r], 0, int(per_row.reshape(-1)[r]), out1[r], k)
    assert torch.equal(torch.sort(out1, 1).values, torch.sort(out2, 1).values)
    assert torch.equal(torch.sort(out1, 1).values, torch.sort(out3, 1).values)


def test_ties_go_to_lower_columns():
    """All-equal rows: exactly columns 0..k-1 (relative to the row start)."""
    logits = torch.zeros(2, 100)
    out = torch.empty(2, 8, dtype=torch.int32)
    T.topk_prefill(logits, torch.tensor([0, 30], dtype=torch.int32),
                   torch.tensor([100, 90], dtype=torch.int32), out, 8)
    assert sorted(out[0].tolist()) == list(range(8))
    assert sorted(out[1].tolist()) == list(range(8))
    # -0.0 ranks below +0.0
    x = torch.tensor([[-0.0, 0.0, -0.0, 0.0, -1.0]])
    out = torch.empty(1, 2, dtype=torch.int32)
    T.topk_decode(x, torch.tensor([5], dtype=torch.int32), out, 2)
    assert sorted(out[0].tolist()) == [1, 3]


def test_strided_logits_and_output_slice():
    """Row-strided logits (a column slice) and an output that is a slice of a wider buffer."""
    g = _gen()
    big = _logits(6, 1200, "randn", g)
    logits = big[:, 100:1100]  # stride(0) 1200, stride(1) 1
    buf = torch.full((10, 64), -3, dtype=torch.int32)
    out = buf[2:8]
    lens = torch.tensor([1000, 999, 63, 64, 65, 500], dtype=torch.int32)
    T.topk_decode(logits, lens, out, 64)
    for r in range(6):
        _assert_row(logits[r], 0, int(lens[r]), out[r], 64)
    assert (buf[:2] == -3).all() and (buf[8:] == -3).all()


def test_vllm_dropins_match():
    """The vLLM-signature wrappers route to the same results."""
    g = _gen()
    rows, n, k = 8, 900, 64
    logits = _logits(rows, n, "randn", g)
    ks = torch.zeros(rows, dtype=torch.int32)
    ke = torch.arange(n - rows + 1, n + 1, dtype=torch.int32)
    a, b = torch.empty(rows, k, dtype=torch.int32), torch.empty(rows, k, dtype=torch.int32)
    T.top_k_per_row_prefill(logits, ks, ke, a, rows, logits.stride(0), logits.stride(1), k)
    T.topk_prefill(logits, ks, ke, b, k)
    assert torch.equal(a, b)
    L = torch.tensor([700, 900], dtype=torch.int32)
    c, d = torch.empty(4, k, dtype=torch.int32), torch.empty(4, k, dtype=torch.int32)
    T.top_k_per_row_decode(logits[:4], 2, L, c, 4, logits.stride(0), 1, k)
    T.topk_decode(logits[:4], L, d, k, 2)
    assert torch.equal(c, d)
    e = torch.empty(4, k, dtype=torch.int32)
    lens = torch.tensor([699, 700, 899, 900], dtype=torch.int32)
    T.persistent_topk(logits[:4], lens, e, torch.empty(16, dtype=torch.uint8), k, n)
    assert torch.equal(torch.sort(d, 1).values, torch.sort(e, 1).values)


@pytest.mark.parametrize("bad, match", [
    (lambda x, o, s: T.topk_decode(x.double(), s, o, 8), "logits must be float32"),
    (lambda x, o, s: T.topk_decode(x, s, o[:, :4], 8), r"out must be int32 \[rows, k\]"),
    (lambda x, o, s: T.topk_decode(x, s.long(), o, 8), "seq_lens must be int32"),
    (lambda x, o, s: T.topk_decode(x, s[:2], o, 8), "seq_lens must have 4 elements"),
    (lambda x, o, s: T.topk_decode(x, s[:3], o, 8, 2), "rows / next_n"),
    (lambda x, o, s: T.topk_decode(x, s, o, 0), r"k must be in \[1, 2048\]"),
    (lambda x, o, s: T.top_k_per_row_decode(x, 1, s, o, 3, x.stride(0), 1, 8), "num_rows"),
    (lambda x, o, s: T.top_k_per_row_decode(x, 1, s, o, 4, 7, 1, 8), "strides"),
])
def test_argument_errors_name_the_argument(bad, match):
    x = torch.randn(4, 50)
    with pytest.raises(ValueError, match=match):
        bad(x, torch.empty(4, 8, dtype=torch.int32), torch.full((4,), 50, dtype=torch.int32))


def test_order_keys_are_monotone():
    v = torch.tensor([float("-inf"), -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.0, float("inf")])
    keys = T.order_keys_torch(v).tolist()
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


@pytest.mark.skipif(not T.EXTENSION_LOADED, reason=f"extension not built: {T.EXTENSION_REASON}")
def test_fake_impls_registered():
    """Meta/fake kernels exist, so torch.compile and graph capture can trace the ops."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        x = torch.empty(3, 100, device="meta")
        out = torch.empty(3, 8, dtype=torch.int32, device="meta")
        s = torch.empty(3, dtype=torch.int32, device="meta")
        torch.ops._C_glm52.topk_prefill(x, s, s, out, 8)
        torch.ops._C_glm52.topk_prefill(x, s, s, out, 8, None, 40)  # with a row-length bound
        torch.ops._C_glm52.topk_decode(x, s, out, 8, 1)
    assert torch._library.simple_registry.singleton.find("_C_glm52::topk_prefill").fake_impl.kernel


def test_extension_built_where_it_can_be():
    """With nvcc and a CUDA torch on the machine, `pip install` must have built _C_glm52 (all
    three sources, including the host-compiled launcher): a silent fall back to PyTorch would
    otherwise hide a broken build from CI."""
    import os
    import shutil

    if os.environ.get("VLLM_GLM52_BUILD_EXT", "auto").strip().lower() in ("0", "false", "no",
                                                                         "off"):
        pytest.skip("VLLM_GLM52_BUILD_EXT=0: the extension is not built on purpose")
    if torch.version.cuda is None or not (shutil.which("nvcc") or os.environ.get("CUDA_HOME")):
        pytest.skip("no nvcc / CUDA torch here: the extension cannot be built")
    assert T.EXTENSION_LOADED, T.EXTENSION_REASON
    assert 90 in torch.ops._C_glm52.built_archs()


def test_topk_force_takes_the_kernel_options():
    """topk_force's `opt` (the regs kernel's kOptScan off / on; benchmarks and GPU tests pass it
    positionally): -1, 0 and 1 accepted, anything else refused with a message naming the
    argument. Host-only: it sets the launcher's overrides, no GPU needed."""
    if not T.EXTENSION_LOADED:
        pytest.skip(f"extension not built here: {T.EXTENSION_REASON}")
    schema = str(torch.ops._C_glm52.topk_force.default._schema)
    assert "int opt=-1" in schema, schema
    try:
        for opt in (-1, 0, 1):
            torch.ops._C_glm52.topk_force(2, 0, 512, 0, 1, -1, opt)
        for bad in (2, 7, -2):
            with pytest.raises(RuntimeError, match="opt must be -1"):
                torch.ops._C_glm52.topk_force(2, 0, 512, 0, 1, -1, bad)
    finally:
        torch.ops._C_glm52.topk_force(-1)


def test_sort_rows_puts_positions_ascending_and_padding_last():
    rows = torch.tensor([[5, -1, 2, 9], [-1, -1, 0, 3], [7, 6, 5, 4]], dtype=torch.int32)
    T.sort_rows_(rows)
    assert rows.tolist() == [[2, 5, 9, -1], [0, 3, -1, -1], [4, 5, 6, 7]]


def test_writes_sorted_is_false_off_the_cuda_kernel():
    """The fallback keeps no order contract, so the indexer must still sort its rows."""
    assert not T.writes_sorted(torch.zeros(4, 8192))


def test_helpers_the_gpu_tests_and_benchmark_use_exist():
    """tests/gpu and benchmarks/bench_topk.py call these on the GPU host only; a rename or a
    lost definition must fail here, in CI, first."""
    for name in ("clear_plan_cache", "topk_workspace", "rows_aligned", "writes_sorted",
                 "topk_decode", "topk_prefill", "topk_rows_torch", "_ubatch_id"):
        assert callable(getattr(T, name, None)), name
    import re
    from pathlib import Path

    header = (Path(__file__).resolve().parents[2] / "csrc/topk/topk.h").read_text()
    want = int(re.search(r"kGridRowBytes = (\d+);", header).group(1))
    assert T.GRID_ROW_BYTES == want, "ops/topk.py GRID_ROW_BYTES must match topk.h"
    assert T.UBATCH_SLOTS >= 2
    assert T.WORKSPACE_BYTES // T.GRID_ROW_BYTES >= 64
