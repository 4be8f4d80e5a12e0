"""Executable model of the regs top-k kernel (csrc/topk/topk_regs.cuh), checked on CPU.

The kernel cannot run in CI, so this restates it step for step in numpy, thread by thread:
contiguous ownership (thread t holds vectors [t*V, (t+1)*V) after the 16-byte alignment shift,
masked head / tail; the up to 3 segment indices past the CTA's 4 * threads * V, the tail of a
row that starts inside its first vector, are the last thread's extra keys; decode rows loaded
up to num_cols and masked by length afterwards), the
11/11/10-bit passes histogrammed from the threads' own keys, warp_bucket / lead_bucket
(per-warp totals, then the bins of the warp that holds the need-th key re-read) for pass 0
and, one CTA per row, warp_bucket_groups (the coarse 32-bin sums the passes add, then that
coarse bin's 32 bins, prefixes from ballots when every lane's sum is below 8) for passes 1-2
(the kernel runs both searches on warp 0 and
publishes the result; the model computes the same values), the
"take the whole bin" exits, the packed (above | tied << 16) block scan in thread order with the lowest-column tie quota, and each
thread's own stores. It must return exactly the reference row in ascending order (the kernel
writes sorted rows). With ``ctas`` > 1 it models the grid kernel (the same kernel, kGrid):
CTA q of a row holds segment indices [q * slice, (q + 1) * slice), CTAs past the row's end
leave without contributing, the bucket searches run on the sum of the active CTAs' histograms,
and each CTA offsets its output by the (#above, #tied) totals of the lower CTAs and writes
only its own slots. With ``cluster`` it models the cluster kernel (kCl): every CTA of the
cluster takes part (those past the row's end hold only invalid keys), each pass's bucket search
(warp_bucket_groups, from the 8-bin group sums) runs on the sum of the CTAs' histograms exactly as
they build them (pass 0 skips threads with no valid key, pass 1 adds the keys of its mask of
pass 0's bin, pass 2 those of the mask in pass 1's bin, invalid zeros included), and each CTA
derives the lower CTAs' (#above, #tied) from their histograms (lower_counts, with the key-0
correction) instead of an exchange; the model checks those against the direct counts. The
histograms travel between CTAs as the kernel pushes them (two 16-bit counts to a word).
tests/gpu/test_topk_cuda.py checks the real kernel against the same reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from test_topk_radix_model import KINDS, _row  # same folder (pytest's rootdir import)
from vllm_glm52.ops.topk_ref import float_to_key_np, reference_topk_row
from model_seeds import model_rng  # same folder (pytest's rootdir import)

WARP = 32


def warp_bucket(hist: np.ndarray, threads: int, need: int) -> tuple[int, int, int]:
    """Kernel warp_bucket: (bin, count above it, count in it) of the need-th largest key."""
    nb = len(hist)
    per = nb // threads
    assert per * threads == nb and threads % WARP == 0
    # thread t owns bins nb-1-(t*per+j): reversed histogram, `per` consecutive bins a thread
    owned = hist[::-1].reshape(threads, per).astype(np.int64)
    wtot = owned.sum(axis=1).reshape(threads // WARP, WARP).sum(axis=1)
    wi = np.cumsum(wtot)
    ws = int(np.argmax(wi >= need))  # first warp whose inclusive sum reaches need
    assert wi[ws] >= need, "histogram holds fewer than need keys"
    before_w = int(wi[ws] - wtot[ws])
    d = owned[ws * WARP:(ws + 1) * WARP]  # that warp's bins, re-read by every warp
    incl = np.cumsum(d.sum(axis=1)) + before_w
    lane = int(np.argmax(incl >= need))
    run = int(incl[lane] - d[lane].sum())
    assert run < need
    for j in range(per):
        if need <= run + int(d[lane, j]):
            return nb - 1 - ((ws * WARP + lane) * per + j), run, int(d[lane, j])
        run += int(d[lane, j])
    raise AssertionError("lane's bins do not reach need")


def ballot_incl_scan3(x: np.ndarray) -> np.ndarray:
    """Kernel ballot_incl_scan3: the inclusive sum over the warp's lanes of x < 8 from one
    ballot per bit, lane l counting the set bits of lanes <= l (popc(ballot & lanes_le))."""
    assert len(x) == WARP and int(x.max()) < 8
    out = np.zeros(WARP, dtype=np.int64)
    for b in range(3):
        mask = [(int(v) >> b) & 1 for v in x]  # the ballot, lane by lane
        out += np.array([sum(mask[:lane + 1]) for lane in range(WARP)], dtype=np.int64) << b
    return out


def warp_bucket_groups(hist: np.ndarray, groups: np.ndarray, need: int) -> tuple[int, int, int]:
    """Kernel warp_bucket_groups: the same (bin, count above it, count in it) from the sums over
    groups of g = len(hist) / len(groups) bins (g = 32: one CTA per row, passes 1-2, the sums
    its adds build; g = 8: the cluster kernel, the sums cluster_bins leaves), lane l holding
    groups ng-1-(l*per+j), then the group's g bins, lane l < g holding bin g cb + g - 1 - l.
    Lane sums all below 8: the first prefix (and, g = 32, the second) from ballots
    (ballot_incl_scan3), else shuffle scans."""
    ng = len(groups)
    g = len(hist) // ng
    per = ng // WARP
    assert g in (8, 32) and per * WARP == ng and len(hist) == g * ng
    owned = groups[::-1].reshape(WARP, per).astype(np.int64)
    sums = owned.sum(axis=1)
    small = bool((sums < 8).all())
    incl = ballot_incl_scan3(sums) if small else np.cumsum(sums)
    lane = int(np.argmax(incl >= need))
    assert incl[lane] >= need, "histogram holds fewer than need keys"
    run = int(incl[lane] - owned[lane].sum())
    for j in range(per):
        if need <= run + int(owned[lane, j]):
            cb, ca = ng - 1 - (lane * per + j), run
            break
        run += int(owned[lane, j])
    else:
        raise AssertionError("lane's groups do not reach need")
    x = hist[g * cb:g * cb + g][::-1].astype(np.int64)  # lane l: bin g cb + g - 1 - l
    incl2 = (ballot_incl_scan3(x) if small and g == 32 else np.cumsum(x)) + ca
    l2 = int(np.argmax(incl2 >= need))
    assert incl2[l2] >= need, "group sums disagree with the bins"
    return g * cb + g - 1 - l2, int(incl2[l2] - x[l2]), int(x[l2])


def lead_scan(hist: np.ndarray, threads: int, need: int) -> tuple[int, int, int]:
    """Kernel lead_scan (kOptScan): the same (bin, count above it, count in it) from per-thread
    prefix sums: thread t owns bins nb-1-(t*per+j); each warp scans its threads' sums (the
    warp's keys above a thread's bins | the thread's own, packed in 16 bits each), adds the
    totals of the warps below it, and the one thread with run < need <= run + sum picks."""
    nb = len(hist)
    per = nb // threads
    owned = hist[::-1].reshape(threads, per).astype(np.int64)
    sums = owned.sum(axis=1)
    assert sums.sum() < 1 << 16, "packed 16-bit sums"
    warp_incl = np.cumsum(sums.reshape(-1, WARP), axis=1)  # warp_incl_scan
    wtot = warp_incl[:, -1]
    packed = ((warp_incl.ravel() - sums) | (sums << 16))
    found = []
    for t in range(threads):
        w = t // WARP
        run = int(wtot[:w].sum()) + int(packed[t] & 0xFFFF)
        if run < need <= run + int(packed[t] >> 16):
            for j in range(per):  # lane_pick
                if need <= run + int(owned[t, j]):
                    found.append((nb - 1 - (t * per + j), run, int(owned[t, j])))
                    break
                run += int(owned[t, j])
    assert len(found) == 1, "exactly one thread publishes"
    return found[0]


def model_row(values: np.ndarray, start: int, end: int, k: int, *, threads: int, vecs: int,
              base_mis: int, decode: bool = False, ctas: int = 1,
              cluster: bool = False, scan: bool = False) -> list[int]:
    """What the regs kernel (ctas > 1: the grid kernel with that many CTAs per row) writes for
    one row (k slots, in slot order). values: the row's num_cols columns; decode rows (start
    0) are loaded in full before the length is known. scan: the one-CTA kernel with kOptScan
    (pass 0 searched by lead_scan, which must find lead_bucket's bin)."""
    n = end - start
    if n <= k:
        return list(range(n)) + [-1] * (k - n)
    e_per = 4 * vecs
    slice_ = threads * e_per  # segment indices per CTA
    if ctas > 1:  # the planner: the columns plus the 16-byte misalignment (0 if aligned)
        assert len(values) + ((base_mis + start) & 3) <= ctas * slice_, "row wider than the CTAs"
    else:  # regs_capacity: 4 * threads * vecs columns wherever the row starts
        assert len(values) <= slice_, "row wider than the kernel holds"
    i0 = (base_mis + start) & 3  # the row pointer's 16-byte misalignment at column start
    a_al = start - i0
    i1 = n + i0
    # CTAs holding part of the row (cluster: all of them)
    active = ctas if cluster else -(-i1 // slice_) if ctas > 1 else 1
    assert active <= ctas
    # segment index of key[T][e], T = q * threads + t over the active CTAs (thread order ==
    # column order across CTAs too); -1: no key. One CTA: the tail [slice_, i1) (<= 3 indices)
    # follows the last thread's own keys, loaded once the row's bounds are known.
    ntail = max(i1 - slice_, 0) if ctas == 1 else 0
    assert ntail <= 3
    idx = np.full((active * threads, e_per + 3), -1)
    idx[:, :e_per] = np.arange(active * slice_).reshape(active * threads, e_per)
    idx[-1, e_per:e_per + ntail] = slice_ + np.arange(ntail)
    load_hi = len(values) + i0 if decode else i1
    assert not decode or start == 0
    tail = np.zeros(idx.shape, dtype=bool)
    tail[-1, e_per:e_per + ntail] = True
    loaded = (idx >= i0) & (((idx < load_hi) & (idx < len(values) + i0)) | tail)
    keys = np.zeros(idx.shape, dtype=np.int64)
    keys[loaded] = float_to_key_np(values[a_al + idx[loaded]]).astype(np.int64)
    valid = loaded & (idx < i1)
    # invalid keys become 0 and are histogrammed too (the lowest bin of any pass that admits
    # them: the chosen bin and the counts above it do not change); the tail's absent slots
    # are not keys at all
    keys = np.where(valid, keys, 0)
    kv = keys[:, :e_per].ravel()
    kv = np.concatenate([kv, keys[-1, e_per:e_per + ntail]])

    def hist(sub, bins):  # grid: the row's histogram, the sum of the active CTAs' own
        return np.bincount(sub, minlength=bins)

    # pass 0, then passes 1 and 2 while the chosen bin is not taken whole
    b, above, cnt = warp_bucket(hist(kv >> 21, 2048), threads, k)
    if scan:
        assert ctas == 1 and not cluster, "kOptScan: one CTA per row"
        assert lead_scan(hist(kv >> 21, 2048), threads, k) == (b, above, cnt)
    need, thr = k - above, b << 21
    ge = cnt == need
    def search(sub, bins):  # passes 1-2: warp_bucket_groups for one CTA, from its coarse adds
        if ctas > 1:
            return warp_bucket(hist(sub, bins), threads, need)
        return warp_bucket_groups(hist(sub, bins), hist(sub >> 5, bins // 32), need)

    if not ge:
        sub = kv[(kv >> 21) == (thr >> 21)]
        b, above, cnt = search((sub >> 10) & 2047, 2048)
        need, thr = need - above, thr | (b << 10)
        ge = cnt == need
    if not ge:
        sub = kv[(kv >> 10) == (thr >> 10)]
        b, above, cnt = search(sub & 1023, 1024)
        need, thr = need - above, thr | b
        ge = cnt == need

    gl = el = None
    if cluster:
        thr, need, ge, gl, el = cluster_passes(keys[:, :e_per], valid[:, :e_per], active,
                                               threads, k)
        if not ge and thr == 0:  # key 0 is the k-th key: lower ranks' invalid keys are tied
            for q in range(active):
                lim = q * slice_
                el[q] -= lim - max(min(i1, lim) - i0, 0)

    # output: packed per-thread counts, exclusive scan in thread order (== column order)
    # within each CTA; lower CTAs' totals (summed unpacked) come first
    gsel = valid & ((keys >= thr) if ge else (keys > thr))
    eq = valid & (keys == thr) & (not ge)
    mine = (gsel.sum(axis=1) | (eq.sum(axis=1) << 16)).reshape(active, threads)
    out: list[int | None] = [None] * k
    gt0 = eq0 = 0
    for q in range(active):
        cg, ce = gsel[q * threads:(q + 1) * threads], eq[q * threads:(q + 1) * threads]
        assert cg.sum() < 1 << 16 and ce.sum() < 1 << 16, "16-bit packed counts overflow"
        excl = np.cumsum(mine[q]) - mine[q]
        if cluster:  # lower_counts' derivation == the lower CTAs' own counts
            assert (gl[q], el[q]) == (gt0, eq0), (q, gl[q], el[q], gt0, eq0)
        first = gt0 + min(eq0, need)
        last = gt0 + int(cg.sum()) + min(eq0 + int(ce.sum()), need)
        for t in range(threads):
            tt = q * threads + t
            gt_before = gt0 + (int(excl[t]) & 0xFFFF)
            eq_before = eq0 + (int(excl[t]) >> 16)
            sel = gsel[tt].copy()
            take = need - eq_before if need > eq_before else 0
            for e in range(e_per + 3):  # lowest ties first while the quota lasts
                if take and eq[tt, e]:
                    sel[e] = True
                    take -= 1
            pos = gt_before + min(eq_before, need)
            for e in range(e_per + 3):
                if sel[e]:
                    assert first <= pos < last, "slot outside the CTA's range"
                    assert out[pos] is None, "slot written twice"
                    out[pos] = a_al + int(idx[tt, e]) - start
                    pos += 1
        gt0 += int(cg.sum())
        eq0 += int(ce.sum())
    assert all(x is not None for x in out), "unwritten slots"
    return out


def _pack16(h: np.ndarray) -> np.ndarray:
    """cluster_bins' push: bins (2i, 2i + 1) as one 32-bit word, 16 bits each."""
    assert h.max(initial=0) < 1 << 16, "a CTA's bin count must fit 16 bits"
    h = h.astype(np.uint32)
    return h[0::2] | (h[1::2] << 16)


def _unpack16(w: np.ndarray) -> np.ndarray:
    out = np.empty(2 * w.size, dtype=np.int64)
    out[0::2] = w & 0xFFFF
    out[1::2] = w >> 16
    return out


LIST_MAX = 3  # kListMax


def list_pass2(lists: list[np.ndarray], q: int, need: int):
    """Kernel list_pass2 for rank q: the ranks' lists of pass-2 candidates (low 10 bits), each
    lane ranking its value against every listed one (keys above, keys equal); the first lane
    whose value holds the need-th largest gives (bin, above, cnt), and the lower ranks' listed
    values give the gl / el additions as lower_counts would. None when a list overflowed."""
    if any(len(x) > LIST_MAX for x in lists):
        return None
    lanes = [(r, int(v)) for r, x in enumerate(lists) for v in x]  # lane 3r + j, in order
    for r, v in lanes:
        gt = sum(u > v for _, u in lanes)
        eq = sum(u == v for _, u in lanes)
        if gt < need <= gt + eq:
            bin_, above, cnt = v, gt, eq
            break
    else:
        raise AssertionError("the lists hold fewer than need keys")
    ge = cnt == need - above
    ga = sum(r < q and (v > bin_ or (ge and v == bin_)) for r, v in lanes)
    ea = sum(r < q and not ge and v == bin_ for r, v in lanes)
    return bin_, above, cnt, ga, ea


def cluster_passes(keys: np.ndarray, valid: np.ndarray, ctas: int, threads: int, k: int):
    """The cluster kernel's passes: keys / valid [ctas * threads, keys per thread]. Returns
    (thr, need, ge) and, per CTA, the lower CTAs' keys above thr and tied at it as
    lower_counts derives them from their histograms (before the key-0 correction); pass 2
    from the candidates' lists when none overflows (list_pass2, checked against the
    histograms), else from histograms."""
    gl, el = [0] * ctas, [0] * ctas
    need, thr, ge = k, 0, False
    for p, (shift, bins, pre_shift) in enumerate([(21, 2048, 32), (10, 2048, 21), (0, 1024, 10)]):
        if p > 0 and ge:
            break
        hs, lists = [], []
        for q in range(ctas):
            kq = keys[q * threads:(q + 1) * threads]
            if p == 0:  # threads with no valid key skip pass 0
                m = np.broadcast_to(valid[q * threads:(q + 1) * threads].any(axis=1,
                                                                            keepdims=True),
                                    kq.shape)
            elif p == 1:  # the mask of the keys in pass 0's bin, invalid zeros included
                m = ((kq.astype(np.int64) - thr) & 0xFFFFFFFF) < (1 << 21)
                m1 = m if q == 0 else np.concatenate([m1, m])
            else:  # pass 1's mask, those of pass 1's bin
                m = m1[q * threads:(q + 1) * threads] & ((kq >> pre_shift) == (thr >> pre_shift))
            hs.append(np.bincount((kq[m] >> shift) & (bins - 1), minlength=bins))
            if p == 2:  # list_pass2's candidates (in thread order; any order works)
                lists.append((kq[m] & 1023).ravel())
        # cluster_bins: each CTA adds its own bins and the C - 1 peers' as they arrive, packed
        # two 16-bit counts to a word (a CTA's count of one bin is at most its keys)
        recv = [_unpack16(_pack16(h)) for h in hs]
        sums = [hs[q] + sum(recv[r] for r in range(ctas) if r != q) for q in range(ctas)]
        assert all(np.array_equal(x, sums[0]) for x in sums)  # every CTA searches the same bins
        b, above, cnt = warp_bucket_groups(sums[0], sums[0].reshape(-1, 8).sum(axis=1), need)
        ge = cnt == need - above
        adds = []
        for q in range(ctas):  # the lower ranks' sums cluster_bins leaves in the CTA's own bins
            low = np.sum(recv[:q], axis=0) if q else np.zeros(bins, dtype=np.int64)
            adds.append((int(low[b + 1:].sum()) + (int(low[b]) if ge else 0),
                         int(low[b]) if p == 2 and not ge else 0))
        if p == 2:
            listed = [list_pass2(lists, q, need) for q in range(ctas)]
            if listed[0] is not None:  # every CTA sees the same lists and takes them
                assert all(x[:3] == (b, above, cnt) for x in listed)
                assert [x[3:] for x in listed] == adds
        need, thr = need - above, thr | (b << shift)
        for q in range(ctas):
            gl[q] += adds[q][0]
            el[q] += adds[q][1]
    return thr, need, ge, gl, el


def _check(vals, start, end, k, **kw):
    got = model_row(vals, start, end, k, **kw)
    ref = reference_topk_row(vals, start, end, k)
    sel = sorted(x for x in ref if x >= 0)
    assert got == sel + [-1] * (k - len(sel)), (k, start, end)  # the set, in ascending order


def _row_scaled(kind: str, n: int, rng) -> np.ndarray:
    """KINDS, plus tiny and huge magnitudes, and rows around 2^-15 and 2^16 of both signs."""
    if kind == "tiny":
        return (rng.standard_normal(n) * 1e-6).astype(np.float32)
    if kind == "huge":
        return (rng.standard_normal(n) * 1e7).astype(np.float32)
    if kind == "edges":  # values on both sides of 2^-15 and 2^16, both signs
        base = rng.choice([2.0**-15, 2.0**16], n) * rng.choice([-1.0, 1.0], n)
        return (base * (1 + rng.uniform(-1e-3, 1e-3, n))).astype(np.float32)
    if kind == "negnan":  # the k-th key in bin 0 (NaNs with the sign bit set), where the
        # kernel also histograms its invalid keys
        bits = rng.integers(0xFFE00000, 0x100000000, n, dtype=np.uint64).astype(np.uint32)
        bits[rng.random(n) < 0.95] = 0xFFFFFFFF  # key 0 itself, the invalid keys' value
        keep = rng.random(n) < 0.01  # fewer than k ordinary values: the k-th key is a NaN
        bits[keep] = rng.standard_normal(int(keep.sum())).astype(np.float32).view(np.uint32)
        return bits.view(np.float32)
    return _row(kind, n, rng)


ALL_KINDS = [*KINDS, "tiny", "huge", "edges", "negnan"]


def test_warp_bucket_matches_a_plain_scan():
    rng = np.random.default_rng(1)
    for i in range(100):
        nb = int(rng.choice([1024, 2048, 4096]))
        if i % 2:  # dense: the searches' shuffle scans
            hist = rng.integers(0, 200, nb) * (rng.random(nb) < 0.5)
        else:  # sparse: lane sums below 8, their ballot scans
            hist = rng.integers(0, 4, nb) * (rng.random(nb) < 0.1)
        total = int(hist.sum())
        if total == 0:
            continue
        need = int(rng.integers(1, total + 1))
        run = 0
        for b in range(nb - 1, -1, -1):
            if run < need <= run + hist[b]:
                want = (b, run, int(hist[b]))
                break
            run += int(hist[b])
        for threads in (512, 1024):
            if nb // threads <= 8:
                assert warp_bucket(hist, threads, need) == want
        if nb <= 2048:  # passes 1-2 (2048 / 1024 bins) of one-CTA rows, cluster passes
            coarse = hist.reshape(nb // 32, 32).sum(axis=1)
            assert warp_bucket_groups(hist, coarse, need) == want
            assert warp_bucket_groups(hist, hist.reshape(nb // 8, 8).sum(axis=1), need) == want


def test_ballot_scan_matches_cumsum():
    rng = np.random.default_rng(7)
    for _ in range(200):
        x = rng.integers(0, 8, WARP) * (rng.random(WARP) < rng.random())
        assert (ballot_incl_scan3(x) == np.cumsum(x)).all()


def test_lead_scan_matches_warp_bucket():
    """kOptScan's pass-0 search finds lead_bucket's bin on dense and sparse histograms."""
    rng = np.random.default_rng(3)
    checked = 0
    for i in range(200):
        hist = (rng.integers(0, 40, 2048) * (rng.random(2048) < 0.5) if i % 2 else
                rng.integers(0, 4, 2048) * (rng.random(2048) < 0.05))
        total = int(hist.sum())
        if total == 0 or total >= 1 << 16:
            continue
        need = int(rng.integers(1, total + 1))
        for threads in (512, 1024):
            assert lead_scan(hist, threads, need) == warp_bucket(hist, threads, need)
            checked += 1
    assert checked >= 300


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("scan", [False, True], ids=["bucket", "scan"])
def test_regs_model_small_sizes(kind, scan):
    """Small k and rows, the kernel's thread geometry (and CTAs of one or two warps, whose
    full-width rows reach the tail): partial head / tail vectors everywhere, tie quotas inside
    one thread, decode rows shorter than the loaded columns."""
    rng = model_rng("regs", kind)
    for it in range(16):
        threads, vecs = int(rng.choice([32, 64, 512, 1024])), int(rng.integers(1, 6))
        cap = 4 * threads * vecs
        k = int(rng.integers(1, min(80, cap)))
        # every other row as wide as the CTA holds: with a misaligned start, a tail
        cols = min(cap, 1500) if it % 2 else int(rng.integers(k + 1, min(cap, 1500) + 1))
        vals = _row_scaled(kind, cols, rng)
        if rng.random() < 0.5:  # decode: start 0, any length up to the columns
            end = int(rng.integers(k + 1, cols + 1))
            _check(vals, 0, end, k, threads=threads, vecs=vecs,
                   base_mis=int(rng.integers(0, 4)), decode=True, scan=scan)
        else:
            start = int(rng.integers(0, 7))
            end = int(rng.integers(min(start + k + 1, cols), cols + 1))
            _check(vals, start, end, k, threads=threads, vecs=vecs,
                   base_mis=int(rng.integers(0, 4)), scan=scan)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_regs_model_kernel_sizes(kind):
    """The shipped configurations at k 2048, at their full capacity and misaligned (512 x 2-3
    also with kOptScan)."""
    rng = model_rng("regs-big", kind)
    for threads, vecs in [(512, 2), (512, 3), (512, 4), (512, 5), (1024, 1), (1024, 5)]:
        n = 4 * threads * vecs
        mis = int(rng.integers(1, 4))  # a tail of 1-3 keys at full width
        scan = threads == 512 and vecs <= 3  # the widths built with kOptScan
        _check(_row_scaled(kind, n, rng), 0, n - 1, 2048, threads=threads, vecs=vecs,
               base_mis=mis, decode=True, scan=scan)
        _check(_row_scaled(kind, n, rng), 0, n, 2048, threads=threads, vecs=vecs,
               base_mis=mis, decode=True)
        _check(_row_scaled(kind, n, rng), 1, n, 2048, threads=threads, vecs=vecs, base_mis=mis,
               scan=scan)
        _check(_row_scaled(kind, n, rng), 0, n, 2048, threads=threads, vecs=vecs, base_mis=3)


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("cluster", [False, True], ids=["grid", "cluster"])
def test_multi_cta_model(kind, cluster):
    """The grid kernel's exchange (CTAs past the row's end leave) and the cluster kernel's (2-8
    CTAs per row, those past the end take part with invalid keys only, the lower CTAs' counts
    derived from their histograms) at small sizes: rows ending inside any CTA, ties spread
    over CTAs, key-0 rows, misaligned and prefill rows."""
    rng = model_rng("cluster" if cluster else "grid", kind)
    for _ in range(10):
        threads, vecs = 64, int(rng.choice([2, 4]))
        ctas = int(rng.integers(2, 9))
        k = int(rng.integers(1, 200))
        cols = int(rng.integers(k + 1, ctas * threads * 4 * vecs - 2))
        vals = _row_scaled(kind, cols, rng)
        if rng.random() < 0.5:
            end = int(rng.integers(k + 1, cols + 1))
            _check(vals, 0, end, k, threads=threads, vecs=vecs,
                   base_mis=int(rng.integers(0, 4)), decode=True, ctas=ctas, cluster=cluster)
        else:
            start = int(rng.integers(0, 7))
            end = int(rng.integers(min(start + k + 1, cols), cols + 1))
            _check(vals, start, end, k, threads=threads, vecs=vecs,
                   base_mis=int(rng.integers(0, 4)), ctas=ctas, cluster=cluster)


@pytest.mark.parametrize("kind", ["randn", "ties", "equal", "negnan"])
def test_grid_model_shipped_width(kind):
    """512 threads x 2 float4 (4096 columns per CTA), k 2048, a row over 5 CTAs whose last CTA
    holds a single key."""
    rng = model_rng("grid-big", kind)
    n = 4 * 4096 + 1
    _check(_row_scaled(kind, n, rng), 0, n, 2048, threads=512, vecs=2, base_mis=0,
           decode=True, ctas=5)


@pytest.mark.parametrize("kind", ["randn", "ties", "equal", "negnan"])
@pytest.mark.parametrize("threads,vecs,ctas", [(512, 2, 8), (512, 4, 4), (1024, 4, 2)])
def test_cluster_model_shipped_widths(kind, threads, vecs, ctas):
    """The shipped widths (512 threads x 2 / 4 float4, 1024 x 4), k 2048: a full 32768-column
    decode row, and a shorter one that leaves the last CTAs without a valid key."""
    rng = model_rng(f"cluster-big-{threads}-{vecs}", kind)
    n = ctas * 4 * threads * vecs
    for end in (n, n // 2 + 5):
        _check(_row_scaled(kind, n, rng), 0, end, 2048, threads=threads, vecs=vecs, base_mis=0,
               decode=True, ctas=ctas, cluster=True)
