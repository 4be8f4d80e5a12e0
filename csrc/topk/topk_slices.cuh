// SPDX-License-Identifier: Apache-2.0
// DSA indexer top-k, "slices" kernel, for rows too long for the regs / grid kernels'
// registers: few rows (decode 8 x 1M, 64 x 128k-1M on H100) on G co-resident CTAs each that
// exchange through the workspace as the grid kernel's (topk_regs.cuh, kGrid) do, many rows
// (kSolo: decode 256 x 32k-1M, 64k-column prefill chunks) on one CTA each. Same contract,
// tie rule and sorted output as the other kernels.
//
// NOTES: why a fifth kernel. With one CTA per SM, the grid kernel holds at most
// num_SMs x 8192 columns; past that the radix kernel ran on 16-CTA clusters (8 x 1M: 71 us,
// `cooperative_topk` 44 us). Here CTA q owns S consecutive *slices* of 4 * kT * kV columns and
// re-reads them for every pass: pass 0 from HBM, the later sweeps mostly from L2. Each sweep
// keeps the next slice's loads in flight while it works on the current one.
//   * Slice sl of CTA q holds segment indices [(q * S + sl) * kSlice, ... + kSlice); thread t
//     owns vectors [t * kV, (t + 1) * kV) of it: column order == (CTA, slice, thread) order.
//   * Sampled bound (the default where a launch has enough slices per CTA): a 12-bit
//     histogram of every 8th slice picks a bound, ONE sweep lists every key at or above it,
//     passes 0-2 run on the list (see the NOTES at the sample below). Otherwise, or when the
//     sample misjudged the row, the exact passes:
//   * Pass 0: histogram over all slices (several CTAs: the row's bins summed in the workspace
//     at a row barrier, the same bucket search in every CTA).
//   * Gather at level 0 or 1: when the chosen bin holds <= kSlicesCap keys in the row, one sweep
//     appends them (key, CTA-local index, CTA) to the list, counts the CTA's keys above the
//     bin and keeps their bits in the CTA's selection bitmap; one row barrier, then every CTA
//     finishes the remaining passes on the list's keys in shared memory and knows every lower
//     CTA's selected count (randn rows of 32k-1M columns put 1-6k keys in the pass-0 bin).
//     When the bin is larger, one exact pass 1 through the row's histogram narrows it to a
//     22-bit prefix first and the gather runs there. Rows whose bins stay large (ties) take
//     exact passes 1-2, a counting sweep and a count exchange.
//   * Output, gather and bounded paths: the selected list keys OR-ed into the bitmap, one
//     block scan of its popcounts, positions in column order: no output sweep (the bitmap must
//     fit: S * kT / 2 <= slices_bitmap_cap words). Otherwise one sweep, a block scan per slice with the running
//     (#above, #tied) of the lower slices and CTAs. Positions staged in shared memory and
//     stored coalesced.
// A row that one CTA holds (n == 1) meets nobody: its row barriers are block barriers.
#pragma once

#include "topk_regs.cuh"

namespace glm52 {
namespace topk {

// Selection bitmap words a CTA may have (one bit per segment index; the rest of the dynamic
// shared memory is the list): one CTA per row up to 34816 words (rows of ~1.1M columns; 200
// KiB of dynamic shared memory with the list, one CTA per SM), several CTAs per row up to
// 16384 (the owners' array takes 16 KiB more; list entries hold 19-bit CTA-local indices).
constexpr int kBitmapWordsSolo = 34816;
constexpr int kBitmapWordsMulti = 16384;
__host__ __device__ constexpr int slices_bitmap_cap(bool solo) {
  return solo ? kBitmapWordsSolo : kBitmapWordsMulti;
}
static_assert(kBitmapWordsMulti * 32 <= (1 << (kOwnerShift)), "list entries' index bits");

// Static shared memory (~21 KiB): the regs kernel's histograms and scan totals. Dynamic
// shared memory (slices_smem_bytes): the gathered list's keys and CTA-local segment indices,
// with several CTAs per row their owners, and the CTA's selection bitmap where it fits
// (S * kT / 2 words <= slices_bitmap_cap).
constexpr int slices_smem_bytes(bool solo, int slices, int threads) {
  return kSlicesCap * 8 + (solo ? 0 : kSlicesCap * 2) +
         (slices * (threads / 2) <= slices_bitmap_cap(solo) ? slices * (threads / 2) * 4 : 0);
}

// Sampled bound (Params::slices_sample): every kSampleEvery-th slice of each CTA (from its
// first) is histogrammed on the top 12 key bits (eight bins per octave: adjacent bins' tail
// counts of a randn row differ by < 2x, so one always lands in the window below); the bound
// is the highest bin whose keys at or above it the sample puts at >= 1.3 k in the row
// (kBoundMargin10 / 10) and at most 0.9 kSlicesCap (kBoundFill10 / 10). Only launches of at
// least kSampleMinSlices[kSolo] slices per CTA sample, and only rows of >= 4 slices. NOTES:
// H100, commit 6383abf (sampling from 4 slices per CTA and row): several CTAs per row with
// 2 or 4 slices each lost to the exact pass 0 (64 x 32k forced: 21.9 us against 18.3; 64 x
// 64k: 24.7 against 24.1: the sample is a quarter to half of a sweep, and its 4096 bins cost
// more to exchange), one CTA per row with 4 won (128 x 32k: 16.1 against 16.9).
constexpr int kSampleEvery = 8;
constexpr int kSampleMinSlices[2] = {8, 4};  // several CTAs per row, one CTA per row
constexpr int kSampleMinRowSlices = 4;
constexpr uint64_t kBoundMargin10 = 13;
constexpr uint64_t kBoundFill10 = 9;
struct alignas(16) SlicesSmem {
  uint32_t hist0[kGBins];      // pass 0; then the output staging row (with hist1: the sample's
  uint32_t hist1[kGBins];      // 12-bit bins) bits 20..10
  uint32_t hist2[kGBins / 2];  // bits 9..0
  uint32_t wtot[5][32];        // 0-2: bucket searches; 3-4: output scans (by slice parity)
  uint32_t tot[2];             // the CTA's #above thr, #tied (counting sweep; gather: above bin)
  uint32_t red[4];             // gather: list keys above / at thr of the lower CTAs, then own
  uint32_t nlist;              // a row alone in its CTA: keys gathered into lkey
  uint32_t last;               // this CTA is the row's last to finish
  uint32_t ncand;              // a row alone in its CTA: sampled-bound candidates in lkey
};

// L2 eviction policies for the sweeps' loads (createpolicy: all of a load's lines): every sweep
// but the row's last marks its lines evict_last, the last marks them evict_first, so the lines
// still to be re-read outlive the ones already done with. NOTES: H100, commit d5c8143 against
// ee63c2f (three sweeps, no bitmap): 2048 x 64k on one 256-thread CTA per row 0.532 -> 0.515
// ms, 64 x 1M 0.295 -> 0.290; the re-reads then cost about one HBM read in all (Nsight
// Compute: DRAM throughput 30% at 567 us for 512 MiB of logits).
__device__ __forceinline__ uint64_t l2_policy(bool keep) {
  uint64_t pol;
  if (keep) asm("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(pol));
  else asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
  return pol;
}
__device__ __forceinline__ float4 ldg_hint(const float4* a, uint64_t pol) {
  float4 v;
  asm("ld.global.nc.L2::cache_hint.v4.f32 {%0, %1, %2, %3}, [%4], %5;"
      : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "l"(a), "l"(pol));
  return v;
}

// ---------------------------------------------------------------------------------------------
// p.grid_ctas CTAs of kT threads per row, each owning p.grid_slices slices of 4 * kT * kV
// segment indices, with slices_smem_bytes(kSolo, p.grid_slices, kT) of dynamic shared memory.
// Cooperative launch (all CTAs resident), p.workspace holding a GridRow per row (zero-filled;
// left zero-filled). kSolo: one CTA per row (p.grid_ctas == 1), any launch, no workspace
// (p.workspace unused).
// ---------------------------------------------------------------------------------------------
template <int kT, int kV, bool kSolo, int kMinB = (kSolo ? 512 / kT : 1)>
__global__ void __launch_bounds__(kT, kMinB) topk_slices_kernel(const Params p) {
  constexpr int kE = 4 * kV;        // keys per thread per slice
  constexpr int kSlice = kT * kE;   // segment indices per slice
  static_assert(kE <= 32, "a thread's validity / selection masks are 32-bit");
  static_assert(kSlice < (1 << 16), "per-slice counts are packed in 16 bits");
  static_assert(kE == 16, "a thread pair's keys of a slice make one 32-bit bitmap word");
  static_assert(kGridMaxCtas <= (1 << (32 - kOwnerShift)), "list entries pack the owner");
  __shared__ SlicesSmem s;
  // Dynamic shared memory (slices_smem_bytes): the gathered list's keys, their CTA-local
  // segment indices, (not kSolo) their owning CTAs, then the selection bitmap.
  extern __shared__ uint32_t lkey[];                  // [kSlicesCap]
  uint32_t* const lpos = lkey + kSlicesCap;           // [kSlicesCap]
  uint16_t* const lown = reinterpret_cast<uint16_t*>(lpos + kSlicesCap);  // [kSlicesCap]
  uint32_t* const selbm = lpos + kSlicesCap + (kSolo ? 0 : kSlicesCap / 2);  // [S * kT / 2]
  const int t = static_cast<int>(threadIdx.x);
  const int lane = static_cast<int>(lane_id());
  const int G = kSolo ? 1 : p.grid_ctas;
  const int S = p.grid_slices;
  // Bitmap output (the gather path's selection kept on chip, no output sweep) when a CTA's
  // bitmap, one bit per segment index, fits (slices_smem_bytes allotted it).
  const bool bitmap = S * (kT / 2) <= slices_bitmap_cap(kSolo);
  const int row = static_cast<int>(blockIdx.x) / G;
  const int q = static_cast<int>(blockIdx.x) - row * G;

  {
    uint4* h = reinterpret_cast<uint4*>(s.hist0);
    constexpr int kWords = (2 * kGBins + kGBins / 2) / 4;
    for (int i = t; i < kWords; i += kT) h[i] = make_uint4(0u, 0u, 0u, 0u);
    if (t < 9) (&s.tot[0])[t] = 0u;  // tot, red, nlist, last, ncand
  }
  static_assert(offsetof(SlicesSmem, ncand) == offsetof(SlicesSmem, tot) + 8 * 4, "cleared");
  int start, end;
  wait_prior_grids();
  row_bounds(p, row, start, end);
  if (end - start <= p.k) {
    if (q == 0) write_short_row(p, row, end - start, t, kT);
    return;
  }
  const uint32_t k = static_cast<uint32_t>(p.k);
  const float* __restrict__ rowp = p.logits + static_cast<int64_t>(row) * p.row_stride;
  const int i0 = static_cast<int>((reinterpret_cast<uintptr_t>(rowp + start) & 15u) >> 2);
  const int i1 = end - start + i0;                // valid segment indices: [i0, i1)
  const float* __restrict__ base = rowp + start - i0;  // 16-byte aligned
  const int W = S * kSlice;                       // segment indices per CTA
  const int n = kSolo ? 1 : (i1 + W - 1) / W;     // CTAs holding part of the row
  if (q >= n) return;
  // A row one CTA holds meets nobody: block barriers, the list in shared memory, no
  // workspace (never touched, so it stays zero-filled).
  const bool alone = kSolo || n == 1;
  const int ns = min(S, (i1 - q * W + kSlice - 1) / kSlice);  // this CTA's slices
  GridRow* const w = kSolo ? nullptr : reinterpret_cast<GridRow*>(p.workspace) + row;
  uint32_t* const gh = kSolo ? nullptr : w->hist;
  uint32_t barriers = 0u;
  auto meet = [&]() {
    if (!alone) row_barrier(&w->bar, ++barriers * static_cast<uint32_t>(n));
    else __syncthreads();
  };
  // first segment index of thread t's keys in slice sl
  auto first_index = [&](int sl) { return (q * S + sl) * kSlice + kE * t; };

  // Sweeps: slice sl's keys in registers (invalid ones 0, `valid` bit e set for valid key e),
  // the next slice's interior float4 already in flight. NOTES: two slices in flight (two
  // register buffers, the loop unrolled by two) measured no faster (H100, commit 9d40428:
  // 8 x 1M 47.7 us, 64 x 128k 46.5, against 47.1 and 45.5), so the sweeps are not bound by
  // load latency.
  float4 f[kV];
  auto issue = [&](int sl, uint64_t pol) {
    const int i = first_index(sl);
#pragma unroll
    for (int u = 0; u < kV; ++u)
      if (i + 4 * u >= i0 && i + 4 * u + 4 <= i1)
        f[u] = ldg_hint(reinterpret_cast<const float4*>(base + i + 4 * u), pol);
  };
  auto take = [&](int sl, uint32_t (&key)[kE]) {
    return vecs_to_keys<kV>(f, base, first_index(sl), i0, i1, key);
  };
  // NOTES: successive sweeps alternate direction (`back`: last slice first), so each starts on
  // the slices the previous one read last, the ones most likely still in L2 when a CTA's
  // slices do not all fit there (one CTA per row: 256 x 128k, the 64k-column prefill chunks).
  bool back = false;  // direction of the next sweep
  const uint64_t keep = l2_policy(true);
  auto sweep = [&](auto&& fn, uint64_t pol) {
    const bool r = back;
    back = !back;
    int sl = r ? ns - 1 : 0;
    issue(sl, pol);
    for (int j = 0; j < ns; ++j) {
      uint32_t key[kE];
      const uint32_t valid = take(sl, key);
      const int nx = r ? sl - 1 : sl + 1;
      if (j + 1 < ns) issue(nx, pol);
      fn(sl, key, valid);
      sl = nx;
    }
  };
  // Appends this thread's keys of slice sl flagged in bm to the row's list: the workspace's
  // (several CTAs; slots from *gctr) or lkey / lpos (alone; slots from *sctr). Slots past
  // kSlicesCap are counted, not written. NOTES: one iteration per key of the bin (a randn
  // slice puts ~0.4 per thread there), the key picked out of the registers by selects: an
  // unrolled predicated store per key cost 12% of the kernel's instructions (Nsight Compute,
  // 2048 x 64k, one CTA per row). On 256 x 32k (sampled bound: ~1.3 listed keys per thread
  // and slice) this loop was 34% of the instructions, but neither the unrolled stores
  // (be39668) nor reading the keys back from a shared-memory staging (128fed4: 12% fewer
  // instructions) made the kernel faster (H100, 256-thread CTAs): it waits on latency, not
  // issue slots; more warps per SM did help (two 512-thread CTAs per SM, docs/topk.md).
  auto append = [&](int sl, const uint32_t (&key)[kE], uint32_t bm, uint32_t* gctr,
                    uint32_t* sctr) {
    const uint32_t nb = static_cast<uint32_t>(__popc(bm));
    const uint32_t ib = warp_incl_scan(nb);  // list slots: one atomic per warp
    uint32_t slot = 0u;
    if (lane == 31 && ib != 0u) slot = alone ? atomicAdd(sctr, ib) : atomicAdd(gctr, ib);
    slot = __shfl_sync(kFull, slot, 31) + ib - nb;
    const uint32_t idx0 = static_cast<uint32_t>(sl * kSlice + kE * t);  // CTA-local index
    while (bm != 0u) {
      const int e = __ffs(bm) - 1;
      bm &= bm - 1u;
      uint32_t kv = key[0];
#pragma unroll
      for (int j = 1; j < kE; ++j) kv = e == j ? key[j] : kv;
      const uint32_t ix = idx0 + static_cast<uint32_t>(e);
      if (slot < static_cast<uint32_t>(kSlicesCap)) {
        if (alone) {
          lkey[slot] = kv;
          lpos[slot] = ix;
        } else {  // the index is only read in bitmap mode (< 2^kOwnerShift there)
          w->list[slot] = make_uint2(kv, (static_cast<uint32_t>(q) << kOwnerShift) |
                                             (ix & ((1u << kOwnerShift) - 1u)));
        }
      }
      ++slot;
    }
  };
  __syncthreads();  // histograms cleared

  // Sampled bound. NOTES: the exact pass 0 (a histogram sweep, 16 shared-memory atomics per
  // thread and slice) and the gather sweep cost two sweeps of the row. Instead, every
  // kSampleEvery-th slice is histogrammed (rows: summed in the workspace), the bound is the
  // highest bin above which the sample puts >= 1.3 k keys in the row, and ONE sweep appends
  // every key at or above it to the list (a compare per key; randn rows of 32k-1M columns:
  // 2-7k candidates). The list then holds every key the row selects: passes 0-2 run on it on
  // chip. When the sample finds no bound that fits, or the sweep finds fewer than k or more
  // than kSlicesCap candidates, the exact path runs from zeroed bins (several CTAs: one more
  // row barrier, after which each CTA zeroes its share of the row's sampled bins).
  const int T = (i1 + kSlice - 1) / kSlice;  // the row's slices (the same in every CTA)
  const bool sampling = p.slices_sample != 0 && S >= kSampleMinSlices[kSolo ? 1 : 0] &&
                        T >= kSampleMinRowSlices;
  uint32_t* const h12 = s.hist0;  // the sample's 2 * kGBins bins: hist0 and hist1
  static_assert(offsetof(SlicesSmem, hist1) == offsetof(SlicesSmem, hist0) + 4 * kGBins, "");
  bool bounded = false;  // the list holds every key >= the bound (m of them), the row's top k
  uint32_t bkey = 0u;    // bounded: the bound's lowest key
  bool listed = false;   // candidates went to the workspace list (reset it)
  int m = 0;
  int pushed = 0;        // histogram words of the row's workspace this launch wrote
  if (sampling) {
    issue(0, keep);
    for (int sl = 0; sl < ns; sl += kSampleEvery) {
      uint32_t key[kE];
      take(sl, key);
      if (sl + kSampleEvery < ns) issue(sl + kSampleEvery, keep);
#pragma unroll
      for (int e = 0; e < kE; ++e) atomicAdd(&h12[key[e] >> 20], 1u);
    }
    __syncthreads();
    if constexpr (!kSolo) if (!alone) {  // the row's pass-0 and pass-1 bins hold the sample's
      push_bins<2 * kGBins, kT>(h12, gh);
      meet();
      pull_bins<2 * kGBins, kT>(gh, h12);
      pushed = 2 * kGBins;
    }
    // Sampled slices of the row: ceil(S / kSampleEvery) per full CTA, and the last CTA's.
    const int per = (S + kSampleEvery - 1) / kSampleEvery;
    const uint64_t sampled = static_cast<uint64_t>(
        (n - 1) * per + (T - (n - 1) * S + kSampleEvery - 1) / kSampleEvery);
    const uint64_t tl = static_cast<uint64_t>(T);
    // The sample holds sampled * kSlice >= want keys (T >= 4 slices of >= 4096, k <= 2048).
    const uint32_t want = static_cast<uint32_t>(
        (kBoundMargin10 * k * sampled + 10 * tl - 1) / (10 * tl));
    uint32_t bnd, ab, bc;
    warp_bucket<2 * kGBins, kT>(h12, s.wtot[0], want, bnd, ab, bc);
    // bin 0 holds the invalid keys (0) and -inf: never a bound
    bounded = bnd >= 1u &&
              static_cast<uint64_t>(ab + bc) * tl * 10 <= kBoundFill10 * kSlicesCap * sampled;
    __syncthreads();  // every warp's bucket search is done with the bins
    for (int i = t; i < kGBins / 2; i += kT)
      reinterpret_cast<uint4*>(h12)[i] = make_uint4(0u, 0u, 0u, 0u);
    bool swept = false;
    if (bounded) {
      if (bitmap)  // filled by the list's selected keys only
        for (int j = t; j < ns * (kT / 2); j += kT) selbm[j] = 0u;
      bkey = bnd << 20;
      sweep([&](int sl, const uint32_t (&key)[kE], uint32_t) {
        uint32_t bm = 0u;  // invalid keys are 0, below any bound
#pragma unroll
        for (int e = 0; e < kE; ++e) bm |= static_cast<uint32_t>(key[e] >= bkey) << e;
        append(sl, key, bm, kSolo ? nullptr : &w->ncand, &s.ncand);
      }, bitmap ? l2_policy(false) : keep);  // bitmap: the row's last sweep
      listed = !alone;
      swept = true;
      meet();
      m = static_cast<int>(alone ? s.ncand : __ldcg(&w->ncand));
      bounded = m >= static_cast<int>(k) && m <= kSlicesCap;
    }
    if (!bounded) {  // the exact pass 0 below starts on zero bins
      if constexpr (!kSolo) if (!alone) {
        if (!swept) meet();  // every CTA has pulled the sample's bins: zero the row's share
        uint4* const g4 = reinterpret_cast<uint4*>(gh);
        for (int i = q * kT + t; i < kGBins / 2; i += n * kT) g4[i] = make_uint4(0u, 0u, 0u, 0u);
      }
      meet();  // (alone: the cleared bins before the adds)
    }
  }

  uint32_t need = k, thr = 0u, cnt = 0u;
  bool ge = false;
  int sh = 21;  // key bits >= sh of thr are fixed
  if (!bounded) {
    // Pass 0: top 11 key bits of every slice. NOTES: invalid keys are 0 and histogrammed too,
    // as in the regs kernel (they lie in the lowest bin of any pass that admits them and
    // cannot move the chosen bin or the counts above it).
    sweep([&](int, const uint32_t (&key)[kE], uint32_t) {
#pragma unroll
      for (int e = 0; e < kE; ++e) atomicAdd(&s.hist0[key[e] >> 21], 1u);
    }, keep);
    __syncthreads();
    // (`if constexpr`: the exchanges are not instantiated for kSolo, whose rows are alone)
    if constexpr (!kSolo) if (!alone) {
      push_bins<kGBins, kT>(s.hist0, gh);
      meet();
      pull_bins<kGBins, kT>(gh, s.hist0);
      pushed = max(pushed, kGBins);
    }
    narrow_threshold<kGBins, kT>(s.hist0, s.wtot[0], 21, need, thr, ge, cnt);

    // Exact pass 1 through the row's histogram when the pass-0 bin is too large to gather.
    if (!ge && cnt > kSlicesCap) {
      const uint32_t pre = thr >> 21;
      sweep([&](int, const uint32_t (&key)[kE], uint32_t) {
#pragma unroll
        for (int e = 0; e < kE; ++e)
          if ((key[e] >> 21) == pre) atomicAdd(&s.hist1[(key[e] >> 10) & (kGBins - 1)], 1u);
      }, keep);
      __syncthreads();
      if constexpr (!kSolo) if (!alone) {
        push_bins<kGBins, kT>(s.hist1, gh + kGBins);
        meet();
        pull_bins<kGBins, kT>(gh + kGBins, s.hist1);
        pushed = 2 * kGBins;
      }
      narrow_threshold<kGBins, kT>(s.hist1, s.wtot[1], 10, need, thr, ge, cnt);
      sh = 10;
    }
  }

  // Gather: the keys of the chosen level-sh bin, then the remaining passes on chip. NOTES: also
  // when the bin is taken whole (ge; a 22-bit bin of a randn row holds 1-3 keys, so after an
  // exact pass 1 that is common): the list then gives the lower CTAs' counts in the same one
  // sweep and barrier as the count exchange would. A bounded row's list is already complete.
  bool gathered = false;
  int nlist = 0;                // gather path: the list's length
  uint32_t gt0 = 0u, eq0 = 0u;  // selected keys of the lower CTAs: above / at thr
  uint32_t gtc = 0u, eqc = 0u;  // ... of this CTA (gather path, for a backward output sweep)
  if (bounded || cnt <= kSlicesCap) {
    gathered = true;
    if (!bounded) {
      const uint32_t pre = thr >> sh;
      uint32_t na = 0u;  // this thread's keys above the bin (invalid keys are 0: never above)
      sweep([&](int sl, const uint32_t (&key)[kE], uint32_t valid) {
        uint32_t am = 0u, bm = 0u;  // keys above / in the bin
#pragma unroll
        for (int e = 0; e < kE; ++e) {
          am |= static_cast<uint32_t>((key[e] >> sh) > pre) << e;
          bm |= static_cast<uint32_t>((key[e] >> sh) == pre) << e;
        }
        bm &= valid;
        if (!alone) na += __popc(am);
        if (bitmap) {  // thread pair (t, t + 1) holds one 32-column word: the even one stores it
          const uint32_t hi = __shfl_down_sync(kFull, am, 1);
          if ((t & 1) == 0) selbm[sl * (kT / 2) + (t >> 1)] = am | (hi << 16);
        }
        append(sl, key, bm, kSolo ? nullptr : &w->nlist, &s.nlist);
      }, bitmap ? l2_policy(false) : keep);  // bitmap: the row's last sweep
      if (alone) {
        __syncthreads();
        m = static_cast<int>(s.nlist);
      } else {
        na = __reduce_add_sync(kFull, na);
        if (lane == 0 && na != 0u) {
          atomicAdd(&w->counts[q], na);
          atomicAdd(&s.tot[0], na);
        }
        meet();
        m = static_cast<int>(__ldcg(&w->nlist));
      }
    }
    nlist = m;
    // The next pass's histogram while the list comes in (bounded: pass 0; at level 1 every key
    // of the list matches thr's 22-bit prefix).
    for (int i = t; i < m; i += kT) {
      uint32_t c;
      if (alone) {
        c = lkey[i];
      } else {
        const uint2 e = __ldcg(&w->list[i]);
        c = e.x;
        lkey[i] = c;
        lpos[i] = e.y & ((1u << kOwnerShift) - 1u);
        lown[i] = static_cast<uint16_t>(e.y >> kOwnerShift);
      }
      if (bounded) atomicAdd(&s.hist0[c >> 21], 1u);
      else if (sh == 21) atomicAdd(&s.hist1[(c >> 10) & (kGBins - 1)], 1u);
      else atomicAdd(&s.hist2[c & 1023u], 1u);
    }
    if (!alone) {
      for (int j = lane; j < q; j += 32) gt0 += __ldcg(&w->counts[j]);
      gt0 = __reduce_add_sync(kFull, gt0);
    }
    __syncthreads();
    if (bounded) {  // pass 0 on the list (it holds every key >= the bound, >= k of them)
      narrow_threshold<kGBins, kT>(s.hist0, s.wtot[0], 21, need, thr, ge, cnt);
      // NOTES: the bound has 12 bits, this bin 11: with an odd bound the bin's lower half lies
      // below it and holds row keys the list does not, so "every key >= thr" must start at
      // the bound (the output sweep tests every key; the bitmap output sets list keys only).
      if (ge) thr = max(thr, bkey);
      if (!ge) {
        const uint32_t pre0 = thr >> 21;
        for (int i = t; i < m; i += kT)
          if ((lkey[i] >> 21) == pre0) atomicAdd(&s.hist1[(lkey[i] >> 10) & (kGBins - 1)], 1u);
        __syncthreads();
      }
    }
    if (sh == 21 && !ge) {
      narrow_threshold<kGBins, kT>(s.hist1, s.wtot[1], 10, need, thr, ge, cnt);
      if (!ge) {
        const uint32_t pre1 = thr >> 10;
        for (int i = t; i < m; i += kT)
          if ((lkey[i] >> 10) == pre1) atomicAdd(&s.hist2[lkey[i] & 1023u], 1u);
        __syncthreads();
      }
    }
    if (!ge) {
      narrow_threshold<kGBins / 2, kT>(s.hist2, s.wtot[2], 0, need, thr, ge, cnt);
    }
    if (alone) {
      // The row's keys above thr number k - need (all of them, k when the bin is taken
      // whole); the list holds only valid keys, so cnt counts exactly the keys == thr.
      gtc = ge ? k : k - need;
      eqc = ge ? 0u : cnt;
    } else {
      uint32_t c[4] = {0u, 0u, 0u, 0u};  // list keys above / at thr: lower CTAs, this CTA
      for (int i = t; i < m; i += kT) {
        const uint32_t o = lown[i];
        if (o > static_cast<uint32_t>(q)) continue;
        const uint32_t kk = lkey[i];
        const int j = o == static_cast<uint32_t>(q) ? 2 : 0;
        c[j] += ge ? kk >= thr : kk > thr;
        c[j + 1] += !ge && kk == thr;
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        c[j] = __reduce_add_sync(kFull, c[j]);
        if (lane == 0 && c[j] != 0u) atomicAdd(&s.red[j], c[j]);
      }
      __syncthreads();
      gt0 += s.red[0];
      eq0 = s.red[1];
      gtc = s.tot[0] + s.red[2];
      eqc = s.red[3];
    }
  } else {
    // Exact pass 2 (unless the bin is taken whole), then every CTA's (#above, #tied) by a
    // counting sweep and an exchange (a row alone in its CTA needs neither).
    if (!ge) {
      const uint32_t pre = thr >> 10;
      sweep([&](int, const uint32_t (&key)[kE], uint32_t) {
#pragma unroll
        for (int e = 0; e < kE; ++e)
          if ((key[e] >> 10) == pre) atomicAdd(&s.hist2[key[e] & 1023u], 1u);
      }, keep);
      __syncthreads();
      if constexpr (!kSolo) if (!alone) {
        push_bins<kGBins / 2, kT>(s.hist2, gh + 2 * kGBins);
        meet();
        pull_bins<kGBins / 2, kT>(gh + 2 * kGBins, s.hist2);
        pushed = 2 * kGBins + kGBins / 2;
      }
      narrow_threshold<kGBins / 2, kT>(s.hist2, s.wtot[2], 0, need, thr, ge, cnt);
    }
    if (!alone) {
      uint32_t gt = 0u, eq = 0u;
      sweep([&](int, const uint32_t (&key)[kE], uint32_t valid) {
#pragma unroll
        for (int e = 0; e < kE; ++e) {
          const bool v = (valid >> e) & 1u;
          gt += v && (ge ? key[e] >= thr : key[e] > thr);
          eq += v && !ge && key[e] == thr;
        }
      }, keep);
      gt = __reduce_add_sync(kFull, gt);
      eq = __reduce_add_sync(kFull, eq);
      if (lane == 0 && (gt | eq) != 0u) {
        atomicAdd(&s.tot[0], gt);
        atomicAdd(&s.tot[1], eq);
      }
      __syncthreads();
      // NOTES: a CTA may hold up to S * kSlice tied keys; min(eq, need) keeps the packed count
      // in 16 bits and changes no sum the output reads (min(sum min(e_j, need), need) ==
      // min(sum e_j, need)).
      if (t == 0) w->counts[q] = s.tot[0] | (min(s.tot[1], need) << 16);
      meet();
      add_lower_counts(w->counts, q, gt0, eq0);
    }
  }

  // Every read of the row's workspace by this CTA is behind it: count it out.
  if (!alone) {
    __syncthreads();
    if (t == 0) {
      __threadfence();
      s.last = atomicAdd(&w->done, 1u) == static_cast<uint32_t>(n) - 1u;
    }
  }

  const uint32_t first = gt0 + min(eq0, need);  // this CTA's first output slot
  uint32_t* stage = s.hist0;  // k <= kGBins; its last reader passed a barrier since
  static_assert(kMaxK <= kGBins, "the staging row holds k positions");
  const int32_t col_base = -i0;  // segment index -> position relative to start
  uint32_t end_slot;
  if (gathered && bitmap) {
    // Output from the bitmap: the gather sweep's bits of the keys above the bin, plus the list
    // keys selected (above thr; at thr within this CTA's tie quota, lowest columns first);
    // thread t scans the consecutive words [t * wpt, (t + 1) * wpt).
    const uint32_t quota = need > eq0 ? need - eq0 : 0u;  // tied keys this CTA may take
    const bool partial = !ge && eqc > quota;
    const int nw = ns * (kT / 2);  // bitmap words the gather sweep wrote
    const int wpt = (nw + kT - 1) / kT;
    const int j0 = min(t * wpt, nw), j1 = min(j0 + wpt, nw);
    for (int i = t; i < nlist; i += kT) {
      if (!alone && lown[i] != static_cast<uint16_t>(q)) continue;
      const uint32_t kk = lkey[i], ix = lpos[i];
      const bool tie = !ge && kk == thr;
      if (ge ? kk >= thr : (kk > thr || (tie && !partial)))
        atomicOr(&selbm[ix >> 5], 1u << (ix & 31u));
      if (partial) lpos[i] = tie ? ix : ~0u;
    }
    if (partial) {
      // The tie bitmap takes the list keys' space (no longer read), kSlicesCap words at a
      // time: bitmap words [w0, w0 + kSlicesCap) per round, the ties of lower rounds carried.
      uint32_t* const tiebm = lkey;
      uint32_t carry = 0u;
      for (int w0 = 0; w0 < nw; w0 += kSlicesCap) {
        const int w1 = min(w0 + kSlicesCap, nw);
        __syncthreads();
        for (int j = w0 + t; j < w1; j += kT) tiebm[j - w0] = 0u;
        __syncthreads();
        for (int i = t; i < nlist; i += kT) {
          const uint32_t ix = lpos[i];
          const int wd = static_cast<int>(ix >> 5);
          if (ix != ~0u && wd >= w0 && wd < w1 &&
              (alone || lown[i] == static_cast<uint16_t>(q)))
            atomicOr(&tiebm[wd - w0], 1u << (ix & 31u));
        }
        __syncthreads();
        const int a0 = max(j0, w0), a1 = min(j1, w1);
        uint32_t c = 0u, tot;
        for (int j = a0; j < a1; ++j) c += static_cast<uint32_t>(__popc(tiebm[j - w0]));
        uint32_t before = carry + block_excl_sum<kT>(c, s.wtot[3], tot);
        for (int j = a0; j < a1; ++j) {
          const uint32_t wd = tiebm[j - w0];
          uint32_t take = 0u;
          take_lowest(take, wd, quota > before ? quota - before : 0u);
          selbm[j] |= take;
          before += static_cast<uint32_t>(__popc(wd));
        }
        carry += tot;
      }
    }
    __syncthreads();
    uint32_t c = 0u, tot;
    for (int j = j0; j < j1; ++j) c += static_cast<uint32_t>(__popc(selbm[j]));
    uint32_t pos = block_excl_sum<kT>(c, s.wtot[4], tot);
    const int32_t cta0 = col_base + q * W;  // position of the CTA's segment index 0
    for (int j = j0; j < j1; ++j) {
      uint32_t wd = selbm[j];
      while (wd != 0u) {
        stage[pos++] = static_cast<uint32_t>(cta0 + 32 * j + __ffs(wd) - 1);
        wd &= wd - 1u;
      }
    }
    end_slot = first + tot;
  } else {
    // Output sweep: selected = key >= thr when ge, else key > thr plus the `need`
    // lowest-column keys == thr. Per slice, a block scan of (#above | #tied << 16) per thread
    // on top of gt_run / eq_run, the selected keys of the lower CTAs and slices. A backward
    // sweep (gather path only: it knows this CTA's totals gtc / eqc) starts from the CTA's
    // end and subtracts each slice's totals before its scan.
    const bool out_back = back && gathered;
    if (!out_back) back = false;
    uint32_t gt_run = out_back ? gt0 + gtc : gt0;
    uint32_t eq_run = out_back ? eq0 + eqc : eq0;
    sweep([&](int sl, const uint32_t (&key)[kE], uint32_t valid) {
      uint32_t gm = 0u, em = 0u;
#pragma unroll
      for (int e = 0; e < kE; ++e) {
        gm |= static_cast<uint32_t>(ge ? key[e] >= thr : key[e] > thr) << e;
        em |= static_cast<uint32_t>(!ge && key[e] == thr) << e;
      }
      gm &= valid;
      em &= valid;
      const uint32_t mine = static_cast<uint32_t>(__popc(gm)) |
                            (static_cast<uint32_t>(__popc(em)) << 16);
      uint32_t total;
      const uint32_t excl = block_excl_sum<kT>(mine, s.wtot[3 + (sl & 1)], total);
      if (out_back) {
        gt_run -= total & 0xffffu;
        eq_run -= total >> 16;
      }
      const uint32_t gt_before = gt_run + (excl & 0xffffu);
      const uint32_t eq_before = eq_run + (excl >> 16);
      if (em != 0u) take_lowest(gm, em, need > eq_before ? need - eq_before : 0u);
      uint32_t pos = gt_before + min(eq_before, need) - first;
      const int32_t col0 = col_base + first_index(sl);
      while (gm != 0u) {
        stage[pos++] = static_cast<uint32_t>(col0 + __ffs(gm) - 1);
        gm &= gm - 1u;
      }
      if (!out_back) {
        gt_run += total & 0xffffu;
        eq_run += total >> 16;
      }
    }, l2_policy(false));
    end_slot = out_back ? gt0 + gtc + min(eq0 + eqc, need) : gt_run + min(eq_run, need);
  }
  __syncthreads();
  int32_t* __restrict__ dst = p.out + static_cast<int64_t>(row) * p.out_stride + first;
  for (int i = t; i < static_cast<int>(end_slot - first); i += kT)
    dst[i] = static_cast<int32_t>(stage[i]);
  // every CTA of the row is done with the block: zero it for the next launch
  if (!alone && s.last) reset_grid_row<kT>(w, pushed, n, gathered || listed);
}

}  // namespace topk
}  // namespace glm52
