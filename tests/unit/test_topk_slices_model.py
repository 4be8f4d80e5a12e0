"""Executable model of the slices top-k kernel (csrc/topk/topk_slices.cuh), checked on CPU.

The kernel cannot run in CI, so this restates its algorithm in numpy: CTA q of a row owns S
consecutive slices (segment indices [(q * S + sl) * slice, ...)), thread t of a slice owns
4 * vecs consecutive indices after the 16-byte alignment shift; CTAs past the row's end
leave and a CTA sweeps only the slices holding valid indices; invalid keys of a visited slice
are 0 and histogrammed too. With a sampled bound (launches of >= 8 slices per CTA, >= 4 with one CTA per row; rows of
>= 4 slices): every 8th slice of each
CTA histogrammed on 12 key bits, the highest bin above which the sample puts >= 1.3 k keys in the row
(and <= 0.9 `cap`), one sweep lists every key at or above it; with k..cap candidates passes 0-2
run on the list ("bounded"), else the kernel falls back to the exact pass 0. Pass 0 on the
row's summed histogram, then one of three paths:
  * gather at level 0: the pass-0 bin holds <= `cap` keys (taken whole or not): its valid keys
    go to a list (in any order: the model shuffles it), each CTA counts its keys above the
    bin, passes 1-2 run on the list while the bin is not taken whole;
  * gather at level 1: an exact pass 1 through the row's histogram first, then the list of
    the 22-bit prefix and pass 2 on it;
  * exact: passes 1-2 through the row's histograms, a count of (#above, min(#tied, need)) per
    CTA and the exchange.
Output: per slice a scan of packed (#above | #tied << 16) per thread on top of the running
counts of the lower CTAs and slices, the lowest-column tie quota. The row must come out as
exactly the reference row in ascending order. tests/gpu/test_topk_cuda.py checks the real
kernel against the same reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_topk_regs_model import ALL_KINDS, _row_scaled, warp_bucket
from vllm_glm52.ops.topk_ref import float_to_key_np, reference_topk_row
from model_seeds import model_rng  # same folder (pytest's rootdir import)

CAP = 8192  # topk_regs.cuh kSlicesCap: gathered keys per row
SAMPLE_EVERY = 8  # topk_slices.cuh kSampleEvery
SAMPLE_MIN = {True: 4, False: 8}  # kSampleMinSlices: one CTA per row (kSolo) / several
SAMPLE_MIN_ROW = 4  # kSampleMinRowSlices


def model_slices_row(values: np.ndarray, start: int, end: int, k: int, *, threads: int,
                     vecs: int, slices: int, ctas: int, base_mis: int, cap: int = CAP,
                     bitmap: bool | None = None, sample: bool = True,
                     rng=None) -> tuple[list[int], str]:
    """What the slices kernel writes for one row (k slots) and which path it took. `bitmap`:
    whether the gather path outputs from the on-chip selection bitmap (the kernel: when a CTA's
    bitmap, slices * threads / 2 words, fits its share of shared memory); `sample`:
    Params::slices_sample."""
    if bitmap is None:
        bitmap = slices * (threads // 2) <= (34816 if ctas == 1 else 16384)
    n = end - start
    if n <= k:
        return list(range(n)) + [-1] * (k - n), "short"
    e_per = 4 * vecs
    slice_ = threads * e_per
    width = slices * slice_  # segment indices per CTA
    i0 = (base_mis + start) & 3
    a_al = start - i0
    i1 = n + i0
    active = -(-i1 // width)
    assert active <= ctas, "row wider than the launch holds"
    # visited[q][sl] = (idx [threads, e_per], keys, valid): the slices CTA q sweeps
    visited = []
    for q in range(active):
        ns = min(slices, -(-(i1 - q * width) // slice_))
        assert ns >= 1
        per = []
        for sl in range(ns):
            idx = (q * slices + sl) * slice_ + np.arange(slice_).reshape(threads, e_per)
            valid = (idx >= i0) & (idx < i1)
            keys = np.zeros(idx.shape, dtype=np.int64)
            keys[valid] = float_to_key_np(values[a_al + idx[valid]]).astype(np.int64)
            per.append((idx, keys, valid))
        visited.append(per)
    allk = np.concatenate([kk.ravel() for per in visited for _, kk, _ in per])
    allv = np.concatenate([v.ravel() for per in visited for _, _, v in per])
    owner = np.concatenate([np.full(kk.size, q) for q, per in enumerate(visited)
                            for _, kk, _ in per])

    alone = active == 1  # block barriers, the list in shared memory, no count exchange
    n_slices = -(-i1 // slice_)  # the row's slices
    bounded, cand_sweep, tag = False, 0, ""  # tag: why a sampled row took the exact pass 0
    if sample and slices >= SAMPLE_MIN[ctas == 1] and n_slices >= SAMPLE_MIN_ROW:
        per_cta = -(-slices // SAMPLE_EVERY)
        n_samp = (active - 1) * per_cta + -(-(n_slices - (active - 1) * slices) // SAMPLE_EVERY)
        samp = [kk.ravel() for per in visited for sl, (_, kk, _) in enumerate(per)
                if sl % SAMPLE_EVERY == 0]
        assert len(samp) == n_samp, "sampled slices"
        want = -(-(13 * k * n_samp) // (10 * n_slices))
        hs = np.bincount(np.concatenate(samp) >> 20, minlength=4096)  # top 12 key bits
        assert hs.sum() >= want, "the sample holds the bucket search's need"
        bnd, ab, bc = warp_bucket(hs, threads, want)
        if bnd >= 1 and (ab + bc) * n_slices * 10 <= 9 * cap * n_samp:
            cand_sweep = 1
            cand = allk >= (bnd << 20)  # invalid keys are 0: below any bound
            bounded = k <= int(cand.sum()) <= cap
            tag = "" if bounded else "fallback-"  # the sweep found < k or > cap candidates
        else:
            tag = "nobound-"  # no bin fits the sample's estimate
    sweeps = cand_sweep  # full sweeps so far; the direction alternates per sweep
    if bounded:
        b, above, cnt = warp_bucket(np.bincount(allk[cand] >> 21, minlength=2048), threads, k)
    else:
        sweeps += 1
        b, above, cnt = warp_bucket(np.bincount(allk >> 21, minlength=2048), threads, k)
    need, thr, ge, sh = k - above, b << 21, cnt == k - above, 21
    if bounded and ge:  # an odd 12-bit bound splits the 11-bit bin: keys below it are unlisted
        thr = max(thr, bnd << 20)
    if not bounded and not ge and cnt > cap:  # exact pass 1 through the row's histogram
        sub = allk[(allk >> 21) == (thr >> 21)]
        b, above, cnt = warp_bucket(np.bincount((sub >> 10) & 2047, minlength=2048), threads,
                                    need)
        need, thr, ge, sh = need - above, thr | (b << 10), cnt == need - above, 10
        sweeps += 1
    gt0 = np.zeros(active, dtype=np.int64)
    eq0 = np.zeros(active, dtype=np.int64)
    gtc = np.zeros(active, dtype=np.int64)  # gather path: each CTA's own selected above / at thr
    eqc = np.zeros(active, dtype=np.int64)
    if bounded or cnt <= cap:  # also a bin taken whole: the list gives the lower CTAs' counts
        path = "bounded" if bounded else f"{tag}gather{sh}"
        pre = thr >> sh
        if bounded:  # the list: every key >= the bound; nothing from a sweep's bitmap
            inbin, above_bin = cand, np.zeros(allk.shape, dtype=bool)
        else:
            sweeps += 1
            inbin = allv & ((allk >> sh) == pre)
            above_bin = (allk >> sh) > pre  # the gather sweep's bitmap bits (invalid keys: 0)
        lkeys, lcta, lidx = allk[inbin], owner[inbin], np.flatnonzero(inbin)
        assert len(lkeys) <= cap
        order = (rng or np.random.default_rng(0)).permutation(len(lkeys))  # any order
        lkeys, lcta, lidx = lkeys[order], lcta[order], lidx[order]
        counts = np.bincount(owner[above_bin], minlength=active)
        if bounded and not ge:
            sub = lkeys[(lkeys >> 21) == (thr >> 21)]
            b, above, cnt = warp_bucket(np.bincount((sub >> 10) & 2047, minlength=2048),
                                        threads, need)
            need, thr, ge = need - above, thr | (b << 10), cnt == need - above
        elif sh == 21 and not ge:
            b, above, cnt = warp_bucket(np.bincount((lkeys >> 10) & 2047, minlength=2048),
                                        threads, need)
            need, thr, ge = need - above, thr | (b << 10), cnt == need - above
        if not ge:
            sub = lkeys[(lkeys >> 10) == (thr >> 10)]
            b, above, cnt = warp_bucket(np.bincount(sub & 1023, minlength=1024), threads, need)
            need, thr, ge = need - above, thr | b, cnt == need - above
        for q in range(active):
            lower, own = lcta < q, lcta == q
            sel = (lkeys >= thr) if ge else (lkeys > thr)
            gt0[q] = counts[:q].sum() + int(sel[lower].sum())
            eq0[q] = 0 if ge else int((lkeys == thr)[lower].sum())
            gtc[q] = counts[q] + int(sel[own].sum())
            eqc[q] = 0 if ge else int((lkeys == thr)[own].sum())
        if alone:  # what the kernel uses instead: the row's totals from the bucket searches
            assert (gtc[0], eqc[0]) == ((k, 0) if ge else (k - need, cnt))
    else:
        path = f"{tag}exact"
        sweeps += (not ge) + (not alone)  # pass 2, the counting sweep
        if not ge:
            sub = allk[(allk >> 10) == (thr >> 10)]
            b, above, cnt = warp_bucket(np.bincount(sub & 1023, minlength=1024), threads, need)
            need, thr, ge = need - above, thr | b, cnt == need - above
        sel_gt = allv & ((allk >= thr) if ge else (allk > thr))
        sel_eq = allv & (allk == thr) & (not ge)
        gt_c = np.bincount(owner[sel_gt], minlength=active)
        eq_c = np.minimum(np.bincount(owner[sel_eq], minlength=active), need)
        assert gt_c.max() < 1 << 16 and eq_c.max() < 1 << 16, "16-bit packed counts overflow"
        gt0 = np.concatenate([[0], np.cumsum(gt_c)[:-1]])
        eq0 = np.concatenate([[0], np.cumsum(eq_c)[:-1]])

    out = np.full(k, -2, dtype=np.int64)
    if not path.endswith("exact") and bitmap:  # no output sweep: the CTA's bitmap in column order
        # flat position p of allk / allv / owner: CTA-major, then slice, thread, key = columns
        colpos = np.concatenate([(a_al + idx - start).ravel() for per in visited
                                 for idx, _, _ in per])
        for q in range(active):
            quota = max(need - int(eq0[q]), 0)
            partial = (not ge) and eqc[q] > quota
            sel = above_bin & (owner == q)
            mine = lcta == q
            take = (lkeys >= thr) if ge else ((lkeys > thr) | ((lkeys == thr) & (not partial)))
            sel[lidx[mine & take]] = True
            if partial:  # the lowest-column `quota` of the CTA's tied list keys
                tied = np.sort(lidx[mine & (lkeys == thr)])
                sel[tied[:quota]] = True
            first = int(gt0[q]) + min(int(eq0[q]), need)
            cols = colpos[sel]
            assert np.all(np.diff(cols) > 0) and first + len(cols) <= k, "slots"
            assert (out[first:first + len(cols)] == -2).all(), "slot written twice"
            out[first:first + len(cols)] = cols
        assert (out != -2).all(), "unwritten slots"
        return out.tolist(), path + "-bitmap"
    # the output sweep runs backward (from the CTA's totals down) where the alternation says so
    # and the gather path knows the CTA's totals
    back = not path.endswith("exact") and sweeps % 2 == 1
    for q, per in enumerate(visited):
        first = int(gt0[q]) + min(int(eq0[q]), need)
        gt_run, eq_run = int(gt0[q] + gtc[q] * back), int(eq0[q] + eqc[q] * back)
        for idx, keys, valid in (per[::-1] if back else per):
            gsel = valid & ((keys >= thr) if ge else (keys > thr))
            eq = valid & (keys == thr) & (not ge)
            cg, ce = gsel.sum(axis=1), eq.sum(axis=1)
            assert cg.sum() < 1 << 16 and ce.sum() < 1 << 16, "per-slice packed counts"
            if back:
                gt_run -= int(cg.sum())
                eq_run -= int(ce.sum())
            gt_before = gt_run + np.cumsum(cg) - cg
            eq_before = eq_run + np.cumsum(ce) - ce
            quota = np.maximum(need - eq_before, 0)
            sel = gsel | (eq & (np.cumsum(eq, axis=1) <= quota[:, None]))
            pos = (gt_before + np.minimum(eq_before, need))[:, None] + np.cumsum(sel, axis=1) - 1
            slots, cols = pos[sel], a_al + idx[sel] - start
            assert (slots >= first).all() and (slots < k).all(), "slot outside the row"
            assert (out[slots] == -2).all() and len(set(slots.tolist())) == len(slots), \
                "slot written twice"
            out[slots] = cols
            if not back:
                gt_run += int(cg.sum())
                eq_run += int(ce.sum())
        if back:
            assert (gt_run, eq_run) == (gt0[q], eq0[q]), "backward sweep ends off the lower counts"
    assert (out != -2).all(), "unwritten slots"
    return out.tolist(), path


def _check(vals, start, end, k, **kw) -> str:
    got, path = model_slices_row(vals, start, end, k, **kw)
    ref = reference_topk_row(vals, start, end, k)
    sel = sorted(x for x in ref if x >= 0)
    assert got == sel + [-1] * (k - len(sel)), (k, start, end, path)
    return path


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_slices_model_small(kind):
    """Small geometry, several slices per CTA and CTAs per row, a small list capacity so all
    three paths run; rows ending inside any slice; decode and misaligned prefill rows."""
    rng = model_rng("slices", kind)
    for _ in range(10):
        threads, vecs = 32, int(rng.choice([1, 2]))
        slices, ctas = int(rng.integers(1, 10)), int(rng.integers(1, 6))
        width = threads * 4 * vecs * slices
        k = int(rng.integers(1, 120))
        cols = int(rng.integers(k + 1, max(k + 2, ctas * width - 3)))
        vals = _row_scaled(kind, cols, rng)
        start = 0 if rng.random() < 0.5 else int(rng.integers(0, 7))
        end = int(rng.integers(min(start + k + 1, cols), cols + 1))
        _check(vals, start, end, k, threads=threads, vecs=vecs, slices=slices, ctas=ctas,
               base_mis=int(rng.integers(0, 4)), cap=int(rng.choice([16, 64, 4096])),
               bitmap=bool(rng.integers(0, 2)), rng=rng)


def test_slices_model_paths():
    """The shipped geometry without the sampled bound: randn rows take the gather at level 0
    (a 300k-column row's bin holds ~5k keys), at level 1 with a smaller list or when the bin is
    one 22-bit prefix wide (ties10: low 10 mantissa bits cleared), and tie-heavy rows the exact
    path."""
    rng = np.random.default_rng(7)
    geo = dict(threads=512, vecs=4, slices=4, ctas=10, base_mis=0, rng=rng, sample=False)
    x = rng.standard_normal(300000).astype(np.float32)
    assert _check(x, 0, 300000, 2048, **geo) == "gather21-bitmap"
    assert _check(x, 0, 300000, 2048, cap=4096, **geo) == "gather10-bitmap"
    t10 = (x.view(np.uint32) & ~np.uint32(0x3FF)).view(np.float32)
    assert _check(t10, 1, 300000, 2048, cap=1024, **geo) == "gather10-bitmap"
    ties = np.round(rng.standard_normal(300000)).astype(np.float32)  # ~18k keys tie at 2.0
    assert _check(ties, 3, 299999, 2048, **geo) == "exact"
    # 65 slices per CTA (16640 bitmap words): past the multi-CTA bitmap's space, the output
    # sweep
    wide = dict(geo, slices=65, ctas=2)
    assert _check(x, 0, 300000, 2048, **wide) == "gather21"


@pytest.mark.parametrize("ctas", [1, 3])
@pytest.mark.parametrize("bitmap", [True, False])
def test_slices_model_tied_threshold(ctas, bitmap):
    """The k-th key repeated 300 times across CTAs: the gather path's tie quota takes the
    lowest columns, in the CTA where it runs out only part of its tied keys (the bitmap path's
    tie bitmap)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal(120000).astype(np.float32)
    kth = np.sort(x)[-2000]
    x[rng.choice(120000, 300, replace=False)] = kth
    path = _check(x, 0, 120000, 2048, threads=512, vecs=4, slices=-(-120000 // (8192 * ctas)),
                  ctas=ctas, base_mis=0, bitmap=bitmap, rng=rng)
    assert path.startswith(("gather", "bounded")) and path.endswith("-bitmap") == bitmap


@pytest.mark.parametrize("kind", ["randn", "ties", "equal", "negnan"])
def test_slices_model_shipped_width(kind):
    """512 threads x 4 float4 (8192-column slices), k 2048, 3 slices per CTA, a row over 4
    CTAs whose last CTA holds a single key."""
    rng = model_rng("slices-big", kind)
    n = 3 * 3 * 8192 + 1
    _check(_row_scaled(kind, n, rng), 0, n, 2048, threads=512, vecs=4, slices=3, ctas=4,
           base_mis=0, rng=rng)


@pytest.mark.parametrize("ctas,slices", [(1, 37), (1, 4), (3, 13), (10, 8), (2, 64)])
def test_slices_model_bounded(ctas, slices):
    """The sampled bound on randn rows of the shipped geometry (one and several CTAs, 64 slices
    per CTA as at 64 x 1M): one sweep lists every key at or above the bound and the passes run
    on that list, with the bitmap output and with the output sweep."""
    rng = np.random.default_rng(ctas * 100 + slices)
    n = min(ctas * slices * 8192, 1 << 20) - 5
    x = rng.standard_normal(n).astype(np.float32)
    geo = dict(threads=512, vecs=4, slices=slices, ctas=ctas, base_mis=0, rng=rng)
    assert _check(x, 0, n, 2048, **geo) == "bounded-bitmap"
    assert _check(x, 3, n, 2048, bitmap=False, **geo) == "bounded"
    assert _check(x, 0, n, 512, **geo) == "bounded-bitmap"
    # one slice per CTA fewer, with more CTAs (several per row): below the multi-CTA minimum
    # of 8 slices per CTA, so no sample (for (1, 4) this also tests 3 slices over 3 CTAs)
    if (ctas, slices) in ((1, 4), (10, 8)):
        assert _check(x, 0, n, 2048, **dict(geo, slices=slices - 1, ctas=ctas + 2)) == \
            "gather21-bitmap"


def test_slices_model_bound_fallbacks():
    """Rows the sample misjudges take the exact pass 0 and still come out exact: sampled slices
    of large values (the sweep finds fewer than k keys at the bound), sampled slices of one
    repeated value (no bin fits: every key at or above it would overflow the list), a sample
    bound whose sweep overflows the list, and a k-th key tied across the row."""
    rng = np.random.default_rng(5)
    geo = dict(threads=512, vecs=4, slices=8, ctas=4, base_mis=0, rng=rng)
    n = 4 * 8 * 8192
    x = rng.standard_normal(n).astype(np.float32)
    hi = x.copy()
    for sl in range(0, 32, 8):  # every CTA's slice 0: values far above the rest
        hi[sl * 8192:(sl + 1) * 8192] += 3.0
    assert _check(hi, 0, n, 2048, **geo).startswith("fallback-")
    flat = x.copy()
    for sl in range(0, 32, 8):
        flat[sl * 8192:(sl + 1) * 8192] = 0.25
    assert _check(flat, 0, n, 2048, **geo).startswith("nobound-")
    # a dense band just above the sample's bound in the unsampled slices: > cap candidates
    dense = x.copy()
    band = np.flatnonzero((np.arange(n) // 8192) % 8 != 0)[:20000]
    dense[band] = 3.2
    assert _check(dense, 0, n, 2048, **geo).startswith(("fallback-", "nobound-"))
    tied = x.copy()
    tied[rng.choice(n, 3000, replace=False)] = np.sort(x)[-1500]
    _check(tied, 0, n, 2048, **geo)
