"""Executable model of the radix top-k kernel (csrc/topk/topk_radix.cuh), checked on CPU.

The kernel cannot run in CI, so this restates its algorithm step for step in numpy: segments
over a cluster with the 16-byte alignment shift, the 11/11/10-bit passes on cluster-summed
histograms with each CTA's own share, the early "take the whole bin" exits, the candidate
list (pass-1 and pass-2 histograms come from it; with overflow, from the segment again), the
cross-rank tie quotas, and the ordered output pass: one 32-column bit-mask word per thread per
chunk, the packed-count scan, the "split" path that takes only some ties, and the early exit. It must return
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
from model_seeds import model_rng  # same folder (pytest's rootdir import)


def bucket(global_hist: np.ndarray, need: int) -> tuple[int, int, int]:
    """Kernel radix_bucket: highest-first scan; (bin, count above it, count in it)."""
    run = 0
    for b in range(len(global_hist) - 1, -1, -1):
        c = int(global_hist[b])
        if run < need <= run + c:
            return b, run, c
        run += c
    return 0, 0, 0  # fewer than need keys: the kernel's zeroed result


WORD = 32  # kRWord: columns per output bit-mask word


def model_row(values: np.ndarray, start: int, end: int, k: int, cluster: int, *, min_seg: int,
              cand_cap: int, threads: int, base_mis: int, rng, gather_cap: int = 3072) -> list[int]:
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
    if nc > 1 and not ge and cnt <= gather_cap:
        # gathered passes 1-2: every CTA copies all lists (rank order) and selects locally
        lists = []
        for r in range(nc):
            ks = seg_keys(r)[1]
            inbin = ks[(ks >> 21) == b0]
            lists.append(inbin[rng.permutation(len(inbin))])  # each list in any order
        g = np.concatenate(lists)
        b1, above, c1 = bucket(np.bincount((g >> 10) & 2047, minlength=2048), need)
        need -= above
        thr |= b1 << 10
        ge = c1 == need
        if not ge:
            sel = g[(g >> 10) == (thr >> 10)]
            b2, above, c2 = bucket(np.bincount(sel & 1023, minlength=1024), need)
            need -= above
            thr |= b2
            ge = c2 == need
        my_gt = [int(gt0) + int(np.sum(lst >= thr if ge else lst > thr))
                 for gt0, lst in zip(my_gt, lists)]
        my_cnt = [0 if ge else int(np.sum(lst == thr)) for lst in lists]
        if ge:
            need = 0
        ge = False  # shares are final: the common step below must not add my_cnt again
    elif not ge:  # pass 1: the keys in bin b0 -> candidate list (any order); bits 20..10 of it
        local = []
        for r in range(nc):
            idx, ks = seg_keys(r)
            inbin = ks[(ks >> 21) == b0]
            order = rng.permutation(len(inbin))  # threads append in any order;
            cands.append((inbin[order][:cand_cap], len(inbin)))  # slots >= cap dropped
            src = inbin[order][:cand_cap] if len(inbin) <= cand_cap else ks[(ks >> 21) == b0]
            local.append(np.bincount((src >> 10) & 2047, minlength=2048))
        b1, above, cnt = bucket(sum(local), need)
        need -= above
        my_gt = [g + int(h[b1 + 1:].sum()) for g, h in zip(my_gt, local)]
        my_cnt = [int(h[b1]) for h in local]
        thr |= b1 << 10
        ge = cnt == need
    if not ge and cands:  # pass 2: bits 9..0, from the candidates or (overflow) the segment again
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
        split = my_eq[r] != quota  # only some of this CTA's ties are taken
        a_al, i0, i1 = segs[r]
        gt_run = eq_run = 0
        for c in range(-(-i1 // (WORD * threads))):
            if gt_run + min(eq_run, quota) >= my_total:
                break  # the kernel's early exit: everything selected is written
            words = []  # thread t of chunk c: word c * threads + t, bit b = index 32w + b
            for t in range(threads):
                w = c * threads + t
                gm = em = 0
                for b in range(WORD):
                    i = WORD * w + b
                    if i0 <= i < i1:
                        kk = int(keys[a_al + i])
                        gm |= int(kk > thr if split else kk >= thr) << b
                        em |= int(split and kk == thr) << b
                words.append((w, gm, em))
            cnts = [bin(gm).count("1") | bin(em).count("1") << 16 for _, gm, em in words]
            excl = np.cumsum([0] + cnts)
            for (w, gm, em), before in zip(words, excl):
                eb = eq_run + (int(before) >> 16)
                sel = gm
                take = max(quota - eb, 0) if split else 0
                for b in range(WORD):  # the lowest ties of the word while the quota lasts
                    if take and em >> b & 1:
                        sel |= 1 << b
                        take -= 1
                pos = dst + gt_run + (int(before) & 0xFFFF) + min(eb, quota)
                for b in range(WORD):
                    if sel >> b & 1:
                        assert out[pos] is None, "slot written twice"
                        out[pos] = a_al + WORD * w + b - start
                        pos += 1
            gt_run += int(excl[-1]) & 0xFFFF
            eq_run += int(excl[-1]) >> 16
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
    rng = model_rng("radix", kind, cluster)
    for _ in range(10):
        k = int(rng.integers(1, 60))
        n = int(rng.integers(k + 1, 1200))
        start = int(rng.integers(0, 7))
        vals = np.concatenate([_row(kind, start + n, rng), np.zeros(3, np.float32)])
        _check(vals, start, start + n, k, cluster=cluster, min_seg=16,
               cand_cap=int(rng.integers(1, 40)), threads=8,
               base_mis=int(rng.integers(0, 4)), rng=rng,
               gather_cap=int(rng.choice([0, 30, 3072])))


@pytest.mark.parametrize("kind", KINDS)
def test_radix_model_kernel_sizes(kind):
    """The shipped sizes: k 2048, 4096 candidates, 512 threads (16384-column output chunks)."""
    rng = np.random.default_rng(abs(hash(kind)) % 2**32)
    for cluster, n in [(1, 9000), (16, 40000)]:
        _check(_row(kind, n, rng), 0, n, 2048, cluster=cluster, min_seg=2048, cand_cap=4096,
               threads=512, base_mis=int(rng.integers(0, 4)), rng=rng)


def test_radix_model_short_row_is_positions_then_padding():
    rng = np.random.default_rng(0)
    vals = _row("randn", 100, rng)
    assert model_row(vals, 10, 60, 64, cluster=4, min_seg=16, cand_cap=8, threads=8,
                     base_mis=0, rng=rng) == list(range(50)) + [-1] * 14
