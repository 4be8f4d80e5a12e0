"""The Triton row sort (vllm_glm52/ops/sort_rows.py) against its torch.sort reference, run on
the CPU through Triton's interpreter (TRITON_INTERPRET=1, in a child process: the interpreter is
chosen when the kernel is decorated). The GPU twin is tests/gpu/test_sort_rows_cuda.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from vllm_glm52.ops import sort_rows as S
from vllm_glm52.ops.topk import sort_rows_

CHILD = textwrap.dedent('''
    import random, sys, torch
    from vllm_glm52.ops import sort_rows as S
    seed = random.SystemRandom().randrange(2**31)
    g = torch.Generator().manual_seed(seed)
    for n, k, pad in ((3, 8, 0.0), (2, 100, 0.5), (2, 512, 0.2), (1, 64, 1.0)):
        rows = torch.stack([torch.randperm(1 << 20, generator=g)[:k] for _ in range(n)]).int()
        rows[torch.rand(n, k, generator=g) < pad] = -1
        ref = rows.clone()
        S.sort_rows_torch_(ref)
        buf = torch.full((n + 2, k), 7, dtype=torch.int32)
        buf[:n] = rows
        view = buf[:n]
        block = 1 << (k - 1).bit_length()
        S._sort_rows_kernel[(n,)](view, view.stride(0), K=k, BLOCK=block)
        assert torch.equal(view, ref), (seed, n, k, view, ref)
        assert (buf[n:] == 7).all(), (seed, "rows past n were written")
    print("ok")
''')


@pytest.mark.skipif(not S.HAVE_TRITON, reason="Triton not installed")
def test_triton_kernel_matches_torch_sort_in_the_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1")
    res = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0 and "ok" in res.stdout, res.stdout[-2000:] + res.stderr[-4000:]


def test_reference_sorts_ascending_with_padding_last():
    rows = torch.tensor([[9, -1, 3, 0], [-1, -1, -1, -1], [4, 2, 1, 3]], dtype=torch.int32)
    S.sort_rows_torch_(rows)
    assert rows.tolist() == [[0, 3, 9, -1], [-1, -1, -1, -1], [1, 2, 3, 4]]


def test_cpu_rows_take_the_torch_path_and_the_triton_entry_refuses_them():
    rows = torch.tensor([[5, -1, 2]], dtype=torch.int32)
    assert not S.triton_applies(rows)
    sort_rows_(rows)
    assert rows.tolist() == [[2, 5, -1]]
    with pytest.raises(ValueError, match="CUDA int32"):
        S.sort_rows_triton_(rows)
