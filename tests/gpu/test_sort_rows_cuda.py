"""GPU: the Triton row sort (vllm_glm52/ops/sort_rows.py) equals its torch.sort reference,
on fresh random rows, through strided views, and under CUDA-graph capture and replay.

Run on the GPU host:  python -m pytest -q tests/gpu/test_sort_rows_cuda.py
"""

from __future__ import annotations

import random

import pytest
import torch

from vllm_glm52.ops import sort_rows as S
from vllm_glm52.ops.topk import sort_rows_

pytestmark = pytest.mark.gpu

if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)
if not S.HAVE_TRITON:
    pytest.skip("Triton not installed", allow_module_level=True)

DEV = "cuda"


def _rows(n: int, k: int, pad: float) -> tuple[torch.Tensor, int]:
    """n rows of k unique positions < 65536 (as the indexer writes them), `pad` of them -1."""
    seed = random.SystemRandom().randrange(2**31)
    g = torch.Generator(device=DEV).manual_seed(seed)
    rows = torch.rand(n, 1 << 16, generator=g, device=DEV).topk(k, dim=1).indices.int()
    rows[torch.rand(n, k, generator=g, device=DEV) < pad] = -1
    return rows, seed


@pytest.mark.parametrize("n", [1, 37, 4096])
@pytest.mark.parametrize("k", [512, 1000, 2048, 4096])
@pytest.mark.parametrize("pad", [0.0, 0.4, 1.0])
def test_matches_torch_sort(n, k, pad):
    rows, seed = _rows(n, k, pad)
    ref = rows.clone()
    S.sort_rows_torch_(ref)
    buf = torch.full((n + 5, k), -7, dtype=torch.int32, device=DEV)
    buf[:n] = rows
    sort_rows_(buf[:n])
    assert S.triton_applies(buf[:n])
    assert torch.equal(buf[:n], ref), f"seed {seed}"
    assert (buf[n:] == -7).all(), f"seed {seed}: rows past n were written"


def test_row_stride_wider_than_k():
    rows, seed = _rows(64, 2048, 0.3)
    ref = rows.clone()
    S.sort_rows_torch_(ref)
    wide = torch.full((64, 2048 + 96), 5, dtype=torch.int32, device=DEV)
    wide[:, :2048] = rows
    S.sort_rows_triton_(wide[:, :2048])
    assert torch.equal(wide[:, :2048], ref), f"seed {seed}"
    assert (wide[:, 2048:] == 5).all(), f"seed {seed}"


def test_cuda_graph_capture_and_replay():
    buf = torch.empty(128, 2048, dtype=torch.int32, device=DEV)
    rows, _ = _rows(128, 2048, 0.2)
    buf.copy_(rows)
    sort_rows_(buf)  # compile outside the capture
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        sort_rows_(buf)
    for _ in range(3):  # fresh rows each replay
        rows, seed = _rows(128, 2048, 0.2)
        ref = rows.clone()
        S.sort_rows_torch_(ref)
        buf.copy_(rows)
        g.replay()
        torch.cuda.synchronize()
        assert torch.equal(buf, ref), f"seed {seed}"


def test_bad_rows_name_the_problem():
    with pytest.raises(ValueError, match="unit column stride"):
        S.sort_rows_triton_(torch.zeros(4, 8, dtype=torch.int32, device=DEV).t())
    with pytest.raises(ValueError, match="k <= 4096"):
        S.sort_rows_triton_(torch.zeros(2, 8192, dtype=torch.int32, device=DEV))
