"""Executable model of the radix top-k kernel (csrc/topk/topk_radix.cuh), checked on CPU.

The kernel cannot run in CI, so this restates its algorithm step for step in numpy: segments
over a cluster with the 16-byte alignment shift, the 11/11/10-bit passes on cluster-summed
histograms with each CTA's own share, the early "take the whole bin" exits, the candidate
list with overflow (then pass 2 rescans the segment), the cross-rank tie quotas, and the
ordered output pass with its packed-count scan, sub-tiles and early exit. It must return
exactly the reference row *in ascending order* (the kernel writes sorted rows) on adversarial
rows; a tiny candidate list forces the overflow path. tests/gpu/test_topk_cuda.py checks the
real kernel against the same reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_topk_model import KINDS as STREAM_KINDS  # same folder (pytest's rootdir import)
from test_topk_model import _row as stream_model_row
from vllm_glm52.ops.topk_ref import float_to_key_np, reference_topk_row


def bucket(global_hist: np.ndarray, need: int) -> tuple[int, int, int]:
    """Kernel radix_bucket: highest-first scan; (bin, count above it, count in it)."""
    run = 0
    for b in range(len(global_hist) - 1, -1, -1):
        c = int(global_hist[b])
        if run < need <= run + c:
            return b, run, c
        run += c
    return 0, 0, 0  # fewer than need keys: the kernel's zeroed result


def model_row(values: np.ndarray, start: int, end: int, k: int, cluster: int, *, min_seg: int,
              cand_cap: int, threads: int, out_vecs: int, base_mis: int, rng) -> list[int]:
    """What the radix kernel writes for one row (k slots, in slot order)."""
    n = end - start
    if n <= k:
        return list(range(n)) + [-1] * (k - n)
    nc = cluster if n >= cluster * min_seg else 1
    keys = float_to_key_np(values).astype(np.int64)
    segs = []
    for r in range(nc):
        a = start + n * r // nc
        b = start + n * (r + 1) // nc
        i0 = (base_mis + a) & 3  # the row pointer's 16-byte misalignment at column a
        segs.append((a - i0, i0, b - (a - i0)))  # (a_al, i0, i1)

    def seg_keys(r):  # (index, key) of the valid indices, in column order
        a_al, i0, i1 = segs[r]
        idx = np.arange(i0, i1)
        return idx, keys[a_al + idx]

    # pass 0: top 11 bits
    local = [np.bincount(seg_keys(r)[1] >> 21, minlength=2048) for r in range(nc)]
    b0, above, cnt = bucket(sum(local), k)
    need = k - above
    my_gt = [int(h[b0 + 1:].sum()) for h in local]
    my_cnt = [int(h[b0]) for h in local]
    thr, ge = b0 << 21, cnt == need
    cands = []
    if not ge:  # pass 1: bits 20..10 of the keys in bin b0, candidate lists (arbitrary order)
        local = []
        for r in range(nc):
            idx, ks = seg_keys(r)
            sel = (ks >> 21) == b0
            local.append(np.bincount((ks[sel] >> 10) & 2047, minlength=2048))
            order = rng.permutation(int(sel.sum()))  # warps append in any order;
            cands.append((ks[sel][order][:cand_cap], int(sel.sum())))  # slots >= cap dropped
        b1, above, cnt = bucket(sum(local), need)
        need -= above
        my_gt = [g + int(h[b1 + 1:].sum()) for g, h in zip(my_gt, local)]
        my_cnt = [int(h[b1]) for h in local]
        thr |= b1 << 10
        ge = cnt == need
    if not ge:  # pass 2: bits 9..0, from the candidates or (overflow) the segment again
        local = []
        for r in range(nc):
            ck, total = cands[r]
            src = ck if total <= cand_cap else seg_keys(r)[1]
            sel = src[(src >> 10) == (thr >> 10)]
            local.append(np.bincount(sel & 1023, minlength=1024))
        b2, above, cnt = bucket(sum(local), need)
        need -= above
        my_gt = [g + int(h[b2 + 1:].sum()) for g, h in zip(my_gt, local)]
        my_cnt = [int(h[b2]) for h in local]
        thr |= b2
        ge = cnt == need
    my_eq = list(my_cnt)
    if ge:
        my_gt = [g + c for g, c in zip(my_gt, my_cnt)]
        my_eq = [0] * nc
        need = 0

    out = [None] * k
    for r in range(nc):
        gt_before, eq_before = sum(my_gt[:r]), sum(my_eq[:r])
        quota = min(my_eq[r], max(need - eq_before, 0))
        dst = gt_before + min(eq_before, need)
        my_total = my_gt[r] + quota
        a_al, i0, i1 = segs[r]
        nv = (i1 + 3) // 4
        tile_vecs = out_vecs * threads
        gt_run = eq_run = 0
        for tile in range(-(-nv // tile_vecs)):
            if gt_run + min(eq_run, quota) >= my_total:
                break  # the kernel's early exit: everything selected is written
            # per (sub-tile u, thread t) in column order: packed counts and their exclusive scan
            flags = []
            for u in range(out_vecs):
                for t in range(threads):
                    v = (tile * out_vecs + u) * threads + t
                    f = []
                    for j in range(4):
                        i = 4 * v + j
                        if v < nv and i0 <= i < i1:
                            kk = int(keys[a_al + i])
                            f.append("g" if (kk >= thr if ge else kk > thr)
                                     else "e" if (not ge and kk == thr) else "")
                        else:
                            f.append("")
                    flags.append((v, f))
            g_pre = np.cumsum([0] + [f.count("g") for _, f in flags])
            e_pre = np.cumsum([0] + [f.count("e") for _, f in flags])
            for slot, (v, f) in enumerate(flags):
                g, e = gt_run + int(g_pre[slot]), eq_run + int(e_pre[slot])
                for j, x in enumerate(f):
                    col = a_al + 4 * v + j - start
                    if x == "g":
                        pos = dst + g + min(e, quota)
                        assert out[pos] is None, "slot written twice"
                        out[pos] = col
                        g += 1
                    elif x == "e":
                        if e < quota:
                            assert out[dst + g + e] is None, "slot written twice"
                            out[dst + g + e] = col
                        e += 1
            gt_run += int(g_pre[-1])
            eq_run += int(e_pre[-1])
    assert all(x is not None for x in out), "unwritten slots"
    return out


def _row(kind: str, n: int, rng) -> np.ndarray:
    """test_topk_model's adversarial rows, plus dense near-ties that only pass 2 separates."""
    if kind == "ties10":  # low 10 mantissa bits cleared
        v = rng.standard_normal(n).astype(np.float32).view(np.uint32) & np.uint32(0xFFFFFC00)
        return v.view(np.float32)
    return stream_model_row(kind, n, rng)


KINDS = [*STREAM_KINDS, "ties10"]


def _check(vals, start, end, k, **kw):
    got = model_row(vals, start, end, k, **kw)
    ref = reference_topk_row(vals, start, end, k)
    sel = sorted(x for x in ref if x >= 0)
    assert got == sel + [-1] * (k - len(sel)), (k, start, end)  # the set, in ascending order


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cluster", [1, 2, 4, 16])
def test_radix_model_small_sizes(kind, cluster):
    """Tiny candidate list, few threads: overflow, partial tiles and tie quotas everywhere."""
    rng = np.random.default_rng(abs(hash((kind, cluster))) % 2**32)
    for _ in range(10):
        k = int(rng.integers(1, 60))
        n = int(rng.integers(k + 1, 1200))
        start = int(rng.integers(0, 7))
        vals = np.concatenate([_row(kind, start + n, rng), np.zeros(3, np.float32)])
        _check(vals, start, start + n, k, cluster=cluster, min_seg=16,
               cand_cap=int(rng.integers(1, 40)), threads=8, out_vecs=2,
               base_mis=int(rng.integers(0, 4)), rng=rng)


@pytest.mark.parametrize("kind", KINDS)
def test_radix_model_kernel_sizes(kind):
    """The shipped sizes: k 2048, 3072 candidates, 512 threads, 2 vectors per output tile."""
    rng = np.random.default_rng(abs(hash(kind)) % 2**32)
    for cluster, n in [(1, 9000), (16, 40000)]:
        _check(_row(kind, n, rng), 0, n, 2048, cluster=cluster, min_seg=2048, cand_cap=3072,
               threads=512, out_vecs=2, base_mis=int(rng.integers(0, 4)), rng=rng)


def test_radix_model_short_row_is_positions_then_padding():
    rng = np.random.default_rng(0)
    vals = _row("randn", 100, rng)
    assert model_row(vals, 10, 60, 64, cluster=4, min_seg=16, cand_cap=8, threads=8, out_vecs=2,
                     base_mis=0, rng=rng) == list(range(50)) + [-1] * 14
