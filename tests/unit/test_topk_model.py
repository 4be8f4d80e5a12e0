"""Executable model of the CUDA top-k algorithm (csrc/topk/topk_kernel.cuh), checked on CPU.

The GPU kernel cannot run in CI, so this file re-states its algorithm step for step in numpy
(segmenting over a cluster, head/tail scalars, backwards streaming, the first histogram threshold, slot
capacity with overflow + compaction + retry, the range-adaptive radix select with its
tie cut, the cluster-wide tie quotas) and checks that it returns exactly the reference set
under the documented order (value desc, column asc). Tiny tile / capacity sizes drive the
rare paths (overflow, repeated compaction, tie cuts) hard. tests/gpu/test_topk_cuda.py
checks the real kernel against the same reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from vllm_glm52.ops.topk_ref import float_to_key_np, reference_topk_row
from model_seeds import model_rng  # same folder (pytest's rootdir import)

NO_LIMIT = 0xFFFFFFFF


def radix_select(vals: np.ndarray, need: int, target: int) -> tuple[int, int]:
    """Kernel radix_select: (T, ge) with the `need` largest >= T and ge <= target or T exact."""
    vals = vals.astype(np.uint64)
    lo, hi, ge, above = int(vals.min()), int(vals.max()), len(vals), 0
    while ge > target and lo < hi:
        shift = max(0, (hi - lo).bit_length() - 8)
        inr = vals[(vals >= lo) & (vals <= hi)]
        hist = np.bincount(((inr - lo) >> shift).astype(np.int64), minlength=256)
        run, rem = 0, need - above
        for b in range(255, -1, -1):  # highest bucket first
            if run < rem <= run + hist[b]:
                break
            run += hist[b]
        above += run
        lo += b << shift
        hi = min(hi, lo + (1 << shift) - 1)
        ge = above + int(hist[b])
    return lo, ge


class Cta:
    """Candidate buffer of one CTA."""

    def __init__(self, cap: int):
        self.cap = cap
        self.keys: list[int] = []
        self.cols: list[int] = []
        self.thr_key, self.thr_lim = 0, NO_LIMIT

    def passes(self, key: int, col: int) -> bool:
        return key > self.thr_key or (key == self.thr_key and col < self.thr_lim)

    def insert(self, items, rng) -> tuple[list, bool]:
        """Warps append in an arbitrary order; returns (failed items, buffer now full)."""
        cand = [it for it in items if self.passes(*it)]
        order = rng.permutation(len(cand))
        failed, filled = [], False
        for i in order:
            if len(self.keys) < self.cap:
                self.keys.append(cand[i][0])
                self.cols.append(cand[i][1])
                filled |= len(self.keys) == self.cap
            else:
                failed.append(cand[i])
        return failed, filled

    def compact(self, k: int, target: int) -> None:
        keys = np.array(self.keys, dtype=np.uint64)
        cols = np.array(self.cols, dtype=np.uint64)
        T, ge = radix_select(keys, k, target)
        lim = NO_LIMIT
        if ge > target:  # exact k-th key with too many ties: keep the lowest columns
            need = k - int((keys > T).sum())
            tied = keys == T
            iv, _ = radix_select((~cols[tied]) & 0xFFFFFFFF, need, need)
            lim = int(~np.uint64(iv) & np.uint64(0xFFFFFFFF))
        keep = (keys > T) | ((keys == T) & (cols <= lim))
        self.keys = [int(x) for x in keys[keep]]
        self.cols = [int(x) for x in cols[keep]]
        self.thr_key, self.thr_lim = T, lim
        assert len(self.keys) <= max(target, k)


def model_row(values: np.ndarray, start: int, end: int, k: int, cluster: int, *, tile: int,
              cap: int, min_seg: int, base_mis: int, rng, stages: int = 4) -> list[int]:
    """One row as the kernel computes it (cluster = CTAs per row the launcher chose)."""
    n_len = end - start
    if n_len <= k:
        return list(range(n_len)) + [-1] * (k - n_len)
    keys = float_to_key_np(values)
    nc = cluster if n_len >= cluster * min_seg else 1
    target = k + (cap - k) // 4
    ctas, tiles_of, pre = [], [], np.zeros(2048, dtype=np.int64)
    for r in range(nc):
        a = start + n_len * r // nc
        b = start + n_len * (r + 1) // nc
        mis = (base_mis + a) % 4
        head = min((4 - mis) % 4, b - a)
        c0 = a + head
        nvec = (b - c0) // 4
        c1 = c0 + 4 * nvec
        scalars = list(range(a, c0)) + list(range(c1, b))
        body = list(range(c0, c1))
        # the segment streams from its end; the first-threshold histogram covers the
        # first `stages - 1` tiles in that order (already in flight) plus the scalars
        tiles = [body[i:i + tile] for i in range(0, len(body), tile)][::-1]
        first = [c for t in tiles[:stages - 1] for c in t] + scalars
        np.add.at(pre, keys[first] >> 21, 1)
        ctas.append(Cta(cap))
        tiles_of.append((scalars, tiles))
    # Step 4: threshold from the (cluster-summed) histogram of the first stages-1 tiles
    run, b0 = 0, 0
    for b in range(2047, -1, -1):
        if run < k <= run + pre[b]:
            b0 = b
            break
        run += pre[b]
    for cta, (scalars, tiles) in zip(ctas, tiles_of):
        cta.thr_key = b0 << 21
        failed, _ = cta.insert([(int(keys[c]), c) for c in scalars], rng)
        assert not failed  # an empty buffer takes the scalars
        for ti, cols in enumerate(tiles):
            more = ti + 1 < len(tiles)
            failed, filled = cta.insert([(int(keys[c]), c) for c in cols], rng)
            while failed or (filled and more):
                cta.compact(k, target)
                failed, filled = cta.insert(failed, rng)
    # Step 7: exact k-th key over the union of the candidates
    allk = np.array([x for c in ctas for x in c.keys], dtype=np.uint64)
    T, _ = radix_select(allk, k, k)
    out, gt_before, eq_before = [], 0, 0
    gts = [sum(1 for x in c.keys if x > T) for c in ctas]
    eqs = [sum(1 for x in c.keys if x == T) for c in ctas]
    need = k - sum(gts)
    for r, cta in enumerate(ctas):
        quota = min(eqs[r], max(need - eq_before, 0))
        lim = NO_LIMIT if quota else 0
        if 0 < quota < eqs[r]:
            tied = np.array([c for x, c in zip(cta.keys, cta.cols) if x == T], dtype=np.uint64)
            iv, _ = radix_select((~tied) & 0xFFFFFFFF, quota, quota)
            lim = int(~np.uint64(iv) & np.uint64(0xFFFFFFFF))
        for x, c in zip(cta.keys, cta.cols):
            if x > T or (quota and x == T and c <= lim):
                out.append(c - start)
        gt_before += gts[r]
        eq_before += eqs[r]
    assert len(out) == k
    return out


def _row(kind: str, n: int, rng) -> np.ndarray:
    if kind == "randn":
        return rng.standard_normal(n).astype(np.float32)
    if kind == "ties":  # few distinct levels: massive ties at the k-th value
        return rng.integers(0, 4, n).astype(np.float32)
    if kind == "equal":
        return np.full(n, 0.5, dtype=np.float32)
    if kind == "ascending":  # every element beats the running threshold
        return np.sort(rng.standard_normal(n)).astype(np.float32)
    if kind == "descending":
        return np.sort(rng.standard_normal(n))[::-1].astype(np.float32).copy()
    if kind == "inf":
        v = rng.standard_normal(n).astype(np.float32)
        v[rng.random(n) < 0.8] = -np.inf
        return v
    if kind == "zeros_signed":  # -0.0 ranks below +0.0
        return np.where(rng.random(n) < 0.5, np.float32(-0.0), np.float32(0.0)).astype(np.float32)
    raise ValueError(kind)


KINDS = ["randn", "ties", "equal", "ascending", "descending", "inf", "zeros_signed"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cluster", [1, 2, 4, 16])
def test_model_small_buffers(kind, cluster):
    """Tiny tile/capacity: every row overflows and compacts many times."""
    rng = model_rng("stream", kind, cluster)
    for _ in range(12):
        k = int(rng.integers(1, 40))
        n = int(rng.integers(k + 1, 1500))
        start = int(rng.integers(0, 7))
        end = min(start + n, start + int(rng.integers(1, n + 1)))
        vals = np.concatenate([_row(kind, end, rng), np.zeros(3, np.float32)])
        got = model_row(vals, start, end, k, cluster, tile=24, cap=max(k + 1 + int(rng.integers(0, 8)), 24),
                        min_seg=16, base_mis=int(rng.integers(0, 4)), rng=rng)
        ref = reference_topk_row(vals, start, end, k)
        assert sorted(got) == sorted(ref), (kind, k, n, start, end)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k", [512, 2048])
def test_model_kernel_sizes(kind, k):
    """The shipped sizes (tile 3072, 6144 slots, clusters of 1 and 16)."""
    rng = model_rng("stream-k", kind, k)
    for cluster, n in [(1, 20000), (16, 70000)]:
        vals = _row(kind, n, rng)
        got = model_row(vals, 0, n, k, cluster, tile=3072, cap=6144, min_seg=2048,
                        base_mis=int(rng.integers(0, 4)), rng=rng)
        assert sorted(got) == sorted(reference_topk_row(vals, 0, n, k)), (kind, cluster)
