// SPDX-License-Identifier: Apache-2.0
// DSA indexer top-k for GLM-5.2: for each row, the k largest fp32 logits of a ragged column
// range [start, end), written as int32 positions relative to `start` (request-local).
//
// Torch-free on purpose (raw pointers, CUDA runtime only) so the kernel can be built and
// compile-tested without libtorch; csrc/topk/topk.cu is the checked torch launcher.
//
// NOTES: algorithm (docs/topk.md has the long form)
//   * Order. Every element maps to an order-preserving uint32 key (sign-flipped fp32 bits) and
//     the selection follows the total order (key desc, column asc): among equal values the
//     lower column wins, so the selected set is unique and independent of the schedule.
//   * One read of the row. A CTA streams its segment, from its end backwards, in tiles of 3072
//     fp32 through a 4-stage cp.async ring in shared memory (3 tiles = 36 KiB in flight per
//     CTA, two CTAs per SM, no registers held by in-flight data) and appends only the elements
//     that pass a running threshold to a candidate buffer (6144 key/column slots). The
//     threshold starts from a 2048-bin histogram (top 11 key bits) of the first three tiles and
//     is raised by a radix "compaction" whenever the buffer fills. Nothing is read twice.
//   * Long rows with few rows per launch are split over a thread-block cluster (2..16 CTAs);
//     the first-threshold histogram and the final radix select are summed across the cluster
//     through distributed shared memory, so batch-1 decode at 128k-1M fills the GPU without
//     a second kernel or a global-memory workspace.
//   * Final select: range-adaptive 8-bit radix passes over the candidates find the exact k-th
//     key; ties at that key are shared out in column order (CTA rank order across a cluster,
//     a radix select on the column inside a CTA).
#pragma once

#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "topk.h"

namespace glm52 {
namespace topk {

namespace cg = cooperative_groups;

// ---------------------------------------------------------------------------------------------
// Tunables
// ---------------------------------------------------------------------------------------------
constexpr int kThreads = 384;                             // 2 CTAs per SM, 80 registers each
constexpr int kWarps = kThreads / 32;
constexpr int kVecPerThread = 2;                          // 16-byte copies per thread per tile
constexpr int kElemsPerThread = 4 * kVecPerThread;        // 8
constexpr int kTileVecs = kThreads * kVecPerThread;       // 768 float4
constexpr int kTile = kTileVecs * 4;                      // 3072 fp32 = 12 KiB per tile
constexpr int kStages = 4;                                // cp.async ring: 3 tiles in flight
constexpr int kCap = 6144;                                // candidate slots per CTA
constexpr int kBins = 256;                                // 8-bit digits in the select passes
constexpr int kPreShift = 21;                             // first-threshold histogram: 11 bits
constexpr int kPreBins = 1 << (32 - kPreShift);           // 2048
constexpr int kMinClusterSeg = 2048;                      // shortest per-CTA segment when split
constexpr int kMaxCluster = 16;
constexpr uint32_t kNoLimit = 0xffffffffu;
constexpr uint32_t kFull = 0xffffffffu;

static_assert(kCap > kMaxK, "the candidate buffer must hold more than k items");
static_assert(kCap >= kTile, "a tile must fit the buffer (retries assume it)");

// Dynamic shared memory of one CTA (~107 KiB: two CTAs per SM on Hopper).
struct alignas(16) Smem {
  float4 stage[kStages][kTileVecs];  // tiles in flight (each thread reads back its own)
  uint32_t keys[kCap];          // candidate keys
  uint32_t cols[kCap];          // candidate columns (absolute within the row)
  uint32_t pre_hist[kPreBins];  // first-threshold histogram (read by cluster peers)
  uint32_t hist[2][kBins];      // select-pass histograms, double-buffered for cluster peers
  uint32_t wscan[kWarps];
  uint32_t wred[3][kWarps];
  uint32_t res[3];
  uint32_t count;               // candidate slot tickets (may exceed kCap on overflow)
  uint32_t out_count;
  uint32_t tmp_count;
  uint32_t x_range[3];          // cluster exchange: min, max, count
  uint32_t x_counts[2];         // cluster exchange: #keys > T, #keys == T
};

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------
__device__ __forceinline__ uint32_t lane_id() { return threadIdx.x & 31u; }
__device__ __forceinline__ uint32_t warp_id() { return threadIdx.x >> 5; }

// Order-preserving map fp32 -> uint32 (larger float => larger key; -0 < +0).
__device__ __forceinline__ uint32_t float_to_key(float x) {
  const uint32_t b = __float_as_uint(x);
  return b ^ (static_cast<uint32_t>(static_cast<int32_t>(b) >> 31) | 0x80000000u);
}

// Programmatic dependent launch (sm_90+): launch_topk may let this kernel's CTAs start while
// the previous kernel in the stream is still finishing (its launch and prologue overlap that
// kernel's tail). Every global read or write of a kernel launched so comes after this wait,
// which returns once the previous grid has completed and its writes are visible. A no-op in an
// ordinary launch.
__device__ __forceinline__ void wait_prior_grids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// One slot per requesting lane from a shared counter (one atomic per warp). All lanes call.
__device__ __forceinline__ uint32_t warp_reserve(uint32_t* counter, bool want) {
  const uint32_t m = __ballot_sync(kFull, want);
  uint32_t base = 0;
  if (m != 0u) {
    const uint32_t leader = __ffs(m) - 1;
    if (lane_id() == leader) base = atomicAdd(counter, static_cast<uint32_t>(__popc(m)));
    base = __shfl_sync(kFull, base, leader);
  }
  return base + __popc(m & ((1u << lane_id()) - 1u));
}

// Inclusive scan over the warp's lanes. All lanes call.
// kWidth < 32: only lanes [0, kWidth) are summed correctly (the higher lanes hold partial
// sums of their last kWidth lanes), in log2(kWidth) shuffle steps instead of 5.
template <int kWidth = 32>
__device__ __forceinline__ uint32_t warp_incl_scan(uint32_t x) {
  static_assert(kWidth >= 1 && kWidth <= 32 && (kWidth & (kWidth - 1)) == 0, "power of 2");
#pragma unroll
  for (int o = 1; o < kWidth; o <<= 1) {
    const uint32_t y = __shfl_up_sync(kFull, x, o);
    if (static_cast<int>(lane_id()) >= o) x += y;
  }
  return x;
}

// Adds to `sel` the lowest `take` set bits of `m` (all of them when it has fewer): the tied keys
// a thread takes, lowest column first, while the tie quota lasts.
__device__ __forceinline__ void take_lowest(uint32_t& sel, uint32_t m, uint32_t take) {
  for (; take > 0u && m != 0u; --take) {
    const uint32_t low = m & (0u - m);
    sel |= low;
    m ^= low;
  }
}

// Shared-memory histogram increment. NOTES: the lanes sharing the bin of the first, then of
// the next pending lane are combined (one shfl + ballot each), so tie-heavy rows do not
// serialise 32 same-address atomics; the rest add individually. All lanes call.
__device__ __forceinline__ void hist_add(uint32_t* h, uint32_t bin, bool valid) {
  uint32_t pending = __ballot_sync(kFull, valid);
#pragma unroll
  for (int peel = 0; peel < 2; ++peel) {
    if (pending == 0u) return;  // warp-uniform
    const uint32_t src = __ffs(pending) - 1;
    const uint32_t b = __shfl_sync(kFull, bin, src);
    const uint32_t same = __ballot_sync(kFull, valid && bin == b) & pending;
    if (lane_id() == src) atomicAdd(&h[b], static_cast<uint32_t>(__popc(same)));
    pending &= ~same;
  }
  if ((pending >> lane_id()) & 1u) atomicAdd(&h[bin], 1u);
}

template <bool kCluster>
__device__ __forceinline__ void sync_all(int nc) {
  if constexpr (kCluster) {
    if (nc > 1) {
      cg::this_cluster().sync();  // barrier.cluster: release/acquire, all threads of all CTAs
      return;
    }
  }
  __syncthreads();
}

// Reads `ptr[idx]` summed over the cluster's CTAs (nc > 1) or locally.
template <bool kCluster>
__device__ __forceinline__ uint32_t cluster_sum(const uint32_t* ptr, int idx, int nc) {
  if constexpr (kCluster) {
    if (nc > 1) {
      cg::cluster_group cl = cg::this_cluster();
      uint32_t acc = 0;
#pragma unroll 4
      for (int r = 0; r < nc; ++r) acc += cl.map_shared_rank(const_cast<uint32_t*>(ptr), r)[idx];
      return acc;
    }
  }
  return ptr[idx];
}

// Cluster step of both kernels' output: thread 0 publishes this CTA's counts (#selected
// above the threshold, #equal to it) in `x` (2 words written once per kernel), one cluster
// barrier, then every thread adds up the lower ranks' counts (ties go to lower ranks first)
// and, with kTotal, the above-threshold count over all ranks. Only for nc > 1 in a cluster.
template <bool kTotal>
__device__ __forceinline__ void exchange_counts(uint32_t* x, int nc, int r, uint32_t gt,
                                                uint32_t eq, uint32_t& gt_before,
                                                uint32_t& eq_before, uint32_t& gt_total) {
  cg::cluster_group cl = cg::this_cluster();
  if (threadIdx.x == 0) {
    x[0] = gt;
    x[1] = eq;
  }
  cl.sync();
  for (int q = 0; q < (kTotal ? nc : r); ++q) {
    const uint32_t* xq = cl.map_shared_rank(x, q);
    if constexpr (kTotal) gt_total += xq[0];
    if (q < r) {
      gt_before += xq[0];
      eq_before += xq[1];
    }
  }
}

// Block (and, for nc > 1, cluster) reduction of (min, max, sum). `xslot` is a 3-word
// exchange area written once per kernel, so peers never see it rewritten.
template <bool kCluster>
__device__ __forceinline__ void block_reduce3(Smem& s, int nc, uint32_t& mn, uint32_t& mx,
                                              uint32_t& sum, uint32_t* xslot) {
  mn = __reduce_min_sync(kFull, mn);
  mx = __reduce_max_sync(kFull, mx);
  sum = __reduce_add_sync(kFull, sum);
  if (lane_id() == 0) {
    s.wred[0][warp_id()] = mn;
    s.wred[1][warp_id()] = mx;
    s.wred[2][warp_id()] = sum;
  }
  __syncthreads();
  mn = 0xffffffffu;
  mx = 0u;
  sum = 0u;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    mn = min(mn, s.wred[0][w]);
    mx = max(mx, s.wred[1][w]);
    sum += s.wred[2][w];
  }
  if constexpr (kCluster) {
    if (nc > 1) {
      cg::cluster_group cl = cg::this_cluster();
      if (threadIdx.x == 0) {
        xslot[0] = mn;
        xslot[1] = mx;
        xslot[2] = sum;
      }
      cl.sync();
      mn = 0xffffffffu;
      mx = 0u;
      sum = 0u;
      for (int r = 0; r < nc; ++r) {
        const uint32_t* x = cl.map_shared_rank(xslot, r);
        mn = min(mn, x[0]);
        mx = max(mx, x[1]);
        sum += x[2];
      }
    }
  }
  __syncthreads();  // s.wred may be rewritten by the next reduction
}

// Thread t's kPer bins NB-1-(t*kPer+j), j = 0..kPer-1 (thread order == descending bins).
// NOTES: vector loads, not kPer scalar ones: consecutive lanes' words are kPer apart, so scalar
// loads hit one bank per kPer lanes (an 8-way conflict at 4096 bins / 512 threads, which made
// the regs kernel's bucket searches cost ~1 us per CTA); with kPer = 8 the two 16-byte halves are read in an
// order rotated by lane group, so each quarter-warp phase covers all 32 banks once.
template <int kPer>
__device__ __forceinline__ void load_bins(const uint32_t* h, int NB, int t, uint32_t (&c)[kPer]) {
  const uint32_t* w = h + (NB - (t + 1) * kPer);  // 16-byte aligned for kPer >= 4
  if constexpr (kPer == 16) {  // (the slices kernel's 12-bit sample at 256 threads)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int r = (j + t) & 3;  // 16-byte quarters in an order rotated by lane
      const uint4 x = reinterpret_cast<const uint4*>(w)[r];
      uint32_t v[4] = {x.w, x.z, x.y, x.x};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int rr = 0; rr < 4; ++rr)
          if (r == rr) c[(3 - rr) * 4 + i] = v[i];
    }
  } else if constexpr (kPer == 8) {
    const int rot = (t >> 2) & 1;
    const uint4 x = reinterpret_cast<const uint4*>(w)[rot];
    const uint4 y = reinterpret_cast<const uint4*>(w)[rot ^ 1];
    const uint4 lo = rot ? y : x, hi = rot ? x : y;
    c[0] = hi.w; c[1] = hi.z; c[2] = hi.y; c[3] = hi.x;
    c[4] = lo.w; c[5] = lo.z; c[6] = lo.y; c[7] = lo.x;
  } else if constexpr (kPer == 4) {
    const uint4 x = *reinterpret_cast<const uint4*>(w);
    c[0] = x.w; c[1] = x.z; c[2] = x.y; c[3] = x.x;
  } else if constexpr (kPer == 2) {
    const uint2 x = *reinterpret_cast<const uint2*>(w);
    c[0] = x.y; c[1] = x.x;
  } else {
    static_assert(kPer == 1, "1, 2, 4, 8 or 16 bins per thread");
    c[0] = w[0];
  }
}

// Block-wide bucket search shared by both kernels. Thread t holds the counts c[j] of bins
// nb - 1 - (t * kPer + j) (thread order == descending bins; 0 past the last bin). Finds the bin
// holding the `need`-th largest value: every thread receives it, the number of values in
// higher bins and the bin's own count (bin 0 with counts 0 if there are fewer than `need`).
// wscan (one word per warp) and res (3 words) are shared memory; two barriers inside.
template <int kPer>
__device__ __forceinline__ void scan_bucket(uint32_t* wscan, uint32_t* res,
                                            const uint32_t (&c)[kPer], int nb, uint32_t need,
                                            uint32_t& bucket, uint32_t& above, uint32_t& cnt) {
  const int t = static_cast<int>(threadIdx.x);
  uint32_t sum = 0u;
#pragma unroll
  for (int j = 0; j < kPer; ++j) sum += c[j];
  // Block-wide exclusive scan over threads.
  const uint32_t incl = warp_incl_scan(sum);
  if (lane_id() == 31) wscan[warp_id()] = incl;
  if (t == 0) res[0] = res[1] = res[2] = 0u;
  __syncthreads();
  uint32_t excl = incl - sum;
  for (int w = 0; w < static_cast<int>(warp_id()); ++w) excl += wscan[w];
  if (excl < need && need <= excl + sum) {  // never true for a thread without counts
    uint32_t run = excl;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      if (run < need && need <= run + c[j]) {
        res[0] = static_cast<uint32_t>(nb - 1 - (t * kPer + j));
        res[1] = run;
        res[2] = c[j];
      }
      run += c[j];
    }
  }
  __syncthreads();
  bucket = res[0];
  above = res[1];
  cnt = res[2];
}

// Scans NB bins from the highest down and finds the bucket holding the `need`-th largest
// value (bins summed over the cluster when nc > 1). Every thread receives the bucket, the
// number of values in higher bins and the bucket's own count. If the bins hold fewer than
// `need` values, bucket 0 with counts 0 is returned.
template <int NB, bool kCluster>
__device__ __forceinline__ void find_bucket(Smem& s, int nc, const uint32_t* h, uint32_t need,
                                            uint32_t& bucket, uint32_t& above, uint32_t& cnt) {
  constexpr int kPer = (NB + kThreads - 1) / kThreads;  // bins per thread
  const int t = static_cast<int>(threadIdx.x);
  uint32_t c[kPer];
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int idx = t * kPer + j;  // descending bin order: idx 0 is the highest bin
    c[j] = idx < NB ? cluster_sum<kCluster>(h, NB - 1 - idx, nc) : 0u;
  }
  scan_bucket(s.wscan, s.res, c, NB, need, bucket, above, cnt);
}

// Range-adaptive radix select over the values `get(i, v)` yields for i in [0, n) (items for
// which it returns false are ignored). Returns T and ge = #values >= T such that the `need`
// largest values are all >= T and either ge <= target or every value in the last bucket is T
// (then T is the exact need-th largest value). `need` must not exceed the number of values.
// With kCluster and nc > 1 the counts are summed across the cluster (all CTAs call it).
template <bool kCluster, typename Get>
__device__ __forceinline__ uint32_t radix_select(Smem& s, int nc, uint32_t n, uint32_t need,
                                                 uint32_t target, Get get, uint32_t& ge_out) {
  const uint32_t t = threadIdx.x;
  // Step 1: clear both histograms; the barrier in block_reduce3 orders it before pass 1.
  for (uint32_t i = t; i < 2u * kBins; i += kThreads) (&s.hist[0][0])[i] = 0u;
  // Step 2: range and count of the values.
  uint32_t lo = 0xffffffffu, hi = 0u, cnt = 0u;
  for (uint32_t i = t; i < n; i += kThreads) {
    uint32_t v;
    if (get(i, v)) {
      lo = min(lo, v);
      hi = max(hi, v);
      ++cnt;
    }
  }
  block_reduce3<kCluster>(s, nc, lo, hi, cnt, s.x_range);
  // Step 3: narrow [lo, hi] to the bucket of the need-th largest, 256 buckets per pass.
  uint32_t above = 0u, ge = cnt;
  int parity = 0;
  while (ge > target && lo < hi) {
    const int shift = max(0, 24 - __clz(hi - lo));  // (hi - lo) >> shift < 256
    uint32_t* h = s.hist[parity];
    for (uint32_t base = 0; base < n; base += kThreads) {  // uniform trip count per CTA
      const uint32_t i = base + t;
      uint32_t v = 0u;
      const bool act = i < n && get(i, v) && v >= lo && v <= hi;
      hist_add(h, act ? (v - lo) >> shift : 0u, act);
    }
    sync_all<kCluster>(nc);
    // Peers finished reading the other buffer before arriving at the barrier above.
    if (t < static_cast<uint32_t>(kBins)) s.hist[parity ^ 1][t] = 0u;
    uint32_t b, ab, cb;
    find_bucket<kBins, kCluster>(s, nc, h, need - above, b, ab, cb);
    above += ab;
    lo += b << shift;
    const uint64_t top = static_cast<uint64_t>(lo) + ((1ull << shift) - 1ull);
    hi = static_cast<uint32_t>(min(static_cast<uint64_t>(hi), top));
    ge = above + cb;
    parity ^= 1;
  }
  ge_out = ge;
  return lo;
}

// Block-wide sums of two per-thread counts; every thread gets both. w0 / w1: one shared word
// per warp each; two barriers inside (the second lets the caller reuse them at once).
template <int kNWarps>
__device__ __forceinline__ void block_sum2(uint32_t* w0, uint32_t* w1, uint32_t& a,
                                           uint32_t& b) {
  a = __reduce_add_sync(kFull, a);
  b = __reduce_add_sync(kFull, b);
  if (lane_id() == 0) {
    w0[warp_id()] = a;
    w1[warp_id()] = b;
  }
  __syncthreads();
  a = 0u;
  b = 0u;
#pragma unroll
  for (int w = 0; w < kNWarps; ++w) {
    a += w0[w];
    b += w1[w];
  }
  __syncthreads();
}

// Block-wide counts of candidate keys above / equal to T (every thread gets both).
__device__ __forceinline__ void count_vs(Smem& s, uint32_t n, uint32_t T, uint32_t& gt,
                                         uint32_t& eq) {
  uint32_t g = 0u, e = 0u;
  for (uint32_t i = threadIdx.x; i < n; i += kThreads) {
    const uint32_t key = s.keys[i];
    g += key > T;
    e += key == T;
  }
  block_sum2<kWarps>(s.wred[0], s.wred[1], g, e);
  gt = g;
  eq = e;
}

// Raises the threshold and compacts the candidate buffer in place: keeps at least k and, unless
// too many candidates tie at the k-th key, at most `target` candidates; with heavy ties keeps
// exactly k (lowest columns among the tied). Returns the new threshold through thr_key /
// thr_lim (an element passes iff key > thr_key or key == thr_key and col < thr_lim).
// Called by all threads after a barrier; nothing else touches the buffer meanwhile.
__device__ __forceinline__ void compact(Smem& s, uint32_t k, uint32_t target, uint32_t& thr_key,
                                     uint32_t& thr_lim) {
  const uint32_t t = threadIdx.x;
  const uint32_t n = min(s.count, static_cast<uint32_t>(kCap));
  uint32_t ge;
  const uint32_t T = radix_select<false>(
      s, 1, n, k, target,
      [&](uint32_t i, uint32_t& v) {
        v = s.keys[i];
        return true;
      },
      ge);
  uint32_t lim = kNoLimit;
  if (ge > target) {
    // T is the exact k-th key and the ties overflow the target: keep the lowest columns.
    uint32_t gt, eq;
    count_vs(s, n, T, gt, eq);
    const uint32_t need = k - gt;
    uint32_t ge2;
    const uint32_t iv = radix_select<false>(
        s, 1, n, need, need,
        [&](uint32_t i, uint32_t& v) {
          if (s.keys[i] != T) return false;
          v = ~s.cols[i];  // largest ~col == smallest column
          return true;
        },
        ge2);
    lim = ~iv;  // tied columns <= lim are kept (exactly `need` of them)
  }
  // In-place compaction in rounds: writes land below the read frontier (kept <= read).
  if (t == 0) s.tmp_count = 0u;
  __syncthreads();
  for (uint32_t base = 0; base < n; base += 4u * kThreads) {
    uint32_t kk[4], cc[4];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const uint32_t i = base + u * kThreads + t;
      kk[u] = 0u;
      cc[u] = 0u;
      if (i < n) {
        kk[u] = s.keys[i];
        cc[u] = s.cols[i];
      }
    }
    __syncthreads();
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const uint32_t i = base + u * kThreads + t;
      const bool keep = i < n && (kk[u] > T || (kk[u] == T && cc[u] <= lim));
      const uint32_t pos = warp_reserve(&s.tmp_count, keep);
      if (keep) {
        s.keys[pos] = kk[u];
        s.cols[pos] = cc[u];
      }
    }
    __syncthreads();
  }
  if (t == 0) s.count = s.tmp_count;
  __syncthreads();
  thr_key = T;
  thr_lim = lim;  // kNoLimit when all ties were kept
}

// Appends this thread's register keys selected by `mask` (bit j = element j) that pass the
// threshold (key > thr_key, or key == thr_key and col < thr_lim). Returns the elements that
// met a full buffer; `filled` is set when this thread took the last slot. All threads call.
__device__ __forceinline__ uint32_t insert_keys(Smem& s, const uint32_t (&kv)[kElemsPerThread],
                                                uint32_t mask, uint32_t col0, uint32_t thr_key,
                                                uint32_t thr_lim, bool& filled) {
  // Candidate bits first (one compare each; the column only matters on an exact tie), so the
  // slow path below keeps nothing but the keys live.
  uint32_t cand = 0u;
#pragma unroll
  for (int j = 0; j < kElemsPerThread; ++j) {
    const uint32_t col = col0 + (j >> 2) * (4u * kThreads) + (j & 3);
    const bool pass = kv[j] > thr_key || (kv[j] == thr_key && col < thr_lim);
    cand |= static_cast<uint32_t>(pass) << j;
  }
  cand &= mask;
  if (!__any_sync(kFull, cand != 0u)) return 0u;
  uint32_t failed = 0u;
#pragma unroll
  for (int j = 0; j < kElemsPerThread; ++j) {
    const bool want = (cand >> j) & 1u;
    if (__any_sync(kFull, want)) {
      const uint32_t pos = warp_reserve(&s.count, want);
      if (want) {
        if (pos < static_cast<uint32_t>(kCap)) {
          // element j of the thread: vector (j / 4) lies kThreads float4 further on
          s.keys[pos] = kv[j];
          s.cols[pos] = col0 + (j >> 2) * (4u * kThreads) + (j & 3);
          filled |= pos == kCap - 1;
        } else {
          failed |= 1u << j;
        }
      }
    }
  }
  return failed;
}

// Segment body streamed backwards: processing step `tile` covers physical tile
// ntiles - 1 - tile (NOTES: indexer logits favour recent keys, which then set a high
// threshold early; see docs/topk.md). Returns -1 past the last step.
__device__ __forceinline__ int phys_tile(int ntiles, int tile) { return ntiles - 1 - tile; }

// Issues this thread's 16-byte copies of step `tile` into its ring slot and commits them as
// one cp.async group (always, so wait_group counts stay uniform). Outside the body the copy
// reads nothing and zero-fills.
__device__ __forceinline__ void issue_tile(Smem& s, const float4* __restrict__ vp, int nvec,
                                           int ntiles, int tile) {
  float4* slot = s.stage[tile % kStages];
  const int p = phys_tile(ntiles, tile);
#pragma unroll
  for (int q = 0; q < kVecPerThread; ++q) {
    const int vi = p * kTileVecs + q * kThreads + static_cast<int>(threadIdx.x);
    const bool in = p >= 0 && vi < nvec;
    const uint32_t dst =
        static_cast<uint32_t>(__cvta_generic_to_shared(slot + q * kThreads + threadIdx.x));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst),
                 "l"(vp + (in ? vi : 0)), "r"(in ? 16 : 0)
                 : "memory");
  }
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits until at most `kPending` of this thread's copy groups are outstanding.
template <int kPending>
__device__ __forceinline__ void wait_tiles() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// This thread's keys of step `tile` (its own copies, so no barrier is needed) and their mask.
__device__ __forceinline__ uint32_t tile_keys(const Smem& s, int nvec, int ntiles, int tile,
                                              uint32_t (&kv)[kElemsPerThread]) {
  const float4* slot = s.stage[tile % kStages];
  const int p = phys_tile(ntiles, tile);
  uint32_t mask = 0u;
#pragma unroll
  for (int q = 0; q < kVecPerThread; ++q) {
    const int vi = p * kTileVecs + q * kThreads + static_cast<int>(threadIdx.x);
    const float4 v = slot[q * kThreads + threadIdx.x];
    kv[4 * q + 0] = float_to_key(v.x);
    kv[4 * q + 1] = float_to_key(v.y);
    kv[4 * q + 2] = float_to_key(v.z);
    kv[4 * q + 3] = float_to_key(v.w);
    if (p >= 0 && vi < nvec) mask |= 0xfu << (4 * q);
  }
  return mask;
}

__device__ __forceinline__ void row_bounds(const Params& p, int row, int& start, int& end) {
  int s = 0, e;
  if (p.mode == kModePrefill) {
    s = p.starts[row];
    e = p.ends[row];
  } else if (p.mode == kModeDecodeRows) {
    e = p.ends[row];
  } else {
    e = p.ends[row / p.next_n] - p.next_n + row % p.next_n + 1;
  }
  s = max(s, 0);
  e = min(e, p.num_cols);
  start = s;
  end = max(e, s);
}

// A row no longer than k: out[row] = 0..len-1 then -1, slots first, first + step, ... here.
__device__ __forceinline__ void write_short_row(const Params& p, int row, int len, int first,
                                                int step) {
  int32_t* __restrict__ out = p.out + static_cast<int64_t>(row) * p.out_stride;
  for (int j = first; j < p.k; j += step) out[j] = j < len ? j : -1;
}

// Row prologue shared by the three kernels (kNThreads threads per CTA). Returns false when this CTA
// is done: a row no longer than k has been written as 0..len-1 then -1 (by every CTA of the
// cluster; none touches a peer's shared memory on this path), or the row is too short to split
// (len < C * min_seg) and this is not rank 0. Otherwise gives the row, its start, the CTAs
// sharing it (nc: C, or 1 when too short) and this CTA's rank r and segment [a, b) among them.
template <int kNThreads, bool kCluster>
__device__ __forceinline__ bool row_segment(const Params& p, int min_seg, int& row, int& start,
                                            int& nc, int& r, int& a, int& b) {
  int C = 1, rank = 0;
  if constexpr (kCluster) {
    C = static_cast<int>(cg::this_cluster().num_blocks());
    rank = static_cast<int>(cg::this_cluster().block_rank());
  }
  row = static_cast<int>(blockIdx.x) / C;
  int end;
  row_bounds(p, row, start, end);
  const int len = end - start;
  if (len <= p.k) {
    write_short_row(p, row, len, rank * kNThreads + static_cast<int>(threadIdx.x),
                    C * kNThreads);
    return false;
  }
  nc = (kCluster && len >= C * min_seg) ? C : 1;
  if (nc == 1 && rank != 0) return false;
  r = nc == 1 ? 0 : rank;
  a = start + static_cast<int>(static_cast<int64_t>(len) * r / nc);
  b = start + static_cast<int>(static_cast<int64_t>(len) * (r + 1) / nc);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The kernel: one CTA per row (kCluster = false) or one cluster of C CTAs per row.
// Grid: num_rows * C CTAs of kThreads; dynamic shared memory sizeof(Smem).
// ---------------------------------------------------------------------------------------------
template <bool kCluster>
__global__ void __launch_bounds__(kThreads, 2) topk_rows_kernel(const Params p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Smem& s = *reinterpret_cast<Smem*>(smem_raw);
  const uint32_t t = threadIdx.x;
  // Steps 0-1: rows no longer than k are written whole; the row is split over the cluster only
  // when every CTA gets a useful segment.
  int row, start, nc, r, a, b;
  wait_prior_grids();
  if (!row_segment<kThreads, kCluster>(p, kMinClusterSeg, row, start, nc, r, a, b)) return;
  const int k = p.k;

  // 16-byte aligned body [c0, c1) plus < 4 head and < 4 tail scalars.
  const float* __restrict__ rowp = p.logits + static_cast<int64_t>(row) * p.row_stride;
  const int mis = static_cast<int>((reinterpret_cast<uintptr_t>(rowp + a) & 15u) >> 2);
  const int head = min((4 - mis) & 3, b - a);
  const int c0 = a + head;
  const int nvec = (b - c0) >> 2;
  const int c1 = c0 + 4 * nvec;
  const int tail = b - c1;
  const float4* __restrict__ vp = reinterpret_cast<const float4*>(rowp + c0);
  const int ntiles = (nvec + kTileVecs - 1) / kTileVecs;  // may be 0 (scalars only)
  const uint32_t target = static_cast<uint32_t>(k) + (kCap - static_cast<uint32_t>(k)) / 4u;

  // Step 2: shared state.
  if (t == 0) {
    s.count = 0u;
    s.out_count = 0u;
  }
  for (int i = static_cast<int>(t); i < kPreBins; i += kThreads) s.pre_hist[i] = 0u;

  // Step 3: start the copy ring (steps 0 .. kStages-2) and read the head/tail scalars.
#pragma unroll
  for (int q = 0; q + 1 < kStages; ++q) issue_tile(s, vp, nvec, ntiles, q);
  uint32_t xk = 0u, ce = 0u;
  bool pend_e = false;
  if (static_cast<int>(t) < head) {
    ce = static_cast<uint32_t>(a + static_cast<int>(t));
    pend_e = true;
  } else if (static_cast<int>(t) < head + tail) {
    ce = static_cast<uint32_t>(c1 + static_cast<int>(t) - head);
    pend_e = true;
  }
  if (pend_e) xk = float_to_key(rowp[ce]);
  wait_tiles<0>();
  __syncthreads();  // pre_hist cleared

  // Step 4: histogram of the top 11 key bits of the first kStages-1 steps (up to 9216
  // elements, already in shared memory) and the scalars, summed over the cluster: the initial
  // threshold is the lower edge of the bucket holding the k-th largest value.
  // NOTES: valid because these elements alone contain k values >= that edge.
  uint32_t kv[kElemsPerThread];
#pragma unroll 1
  for (int q = 0; q + 1 < kStages; ++q) {
    const uint32_t m = tile_keys(s, nvec, ntiles, q, kv);
#pragma unroll
    for (int j = 0; j < kElemsPerThread; ++j)
      hist_add(s.pre_hist, kv[j] >> kPreShift, (m >> j) & 1u);
  }
  hist_add(s.pre_hist, xk >> kPreShift, pend_e);
  issue_tile(s, vp, nvec, ntiles, kStages - 1);
  sync_all<kCluster>(nc);
  uint32_t thr_key, thr_lim = kNoLimit;
  {
    uint32_t b0, ab0, cb0;
    find_bucket<kPreBins, kCluster>(s, nc, s.pre_hist, static_cast<uint32_t>(k), b0, ab0, cb0);
    thr_key = b0 << kPreShift;  // 0 (accept all) if these held fewer than k values
  }

  // Step 5: the head/tail scalars go in first: with an empty buffer they always fit.
  {
    const bool want = pend_e && xk >= thr_key;
    const uint32_t pos = warp_reserve(&s.count, want);
    if (want) {
      s.keys[pos] = xk;
      s.cols[pos] = ce;
    }
  }

  // Step 6: stream. Step `tile` is in registers while the next kStages-1 are in flight; on a
  // full buffer compact and retry the rejected elements (re-read from the ring slot).
  const uint32_t col_base = static_cast<uint32_t>(c0) + 4u * t;
  for (int tile = 0; tile < ntiles; ++tile) {
    if (tile > 0) {
      wait_tiles<kStages - 2>();
      issue_tile(s, vp, nvec, ntiles, tile + kStages - 1);  // into the slot read last step
    }
    uint32_t mask = tile_keys(s, nvec, ntiles, tile, kv);
    const bool more = tile + 1 < ntiles;
    const uint32_t col0 =
        col_base + static_cast<uint32_t>(phys_tile(ntiles, tile)) * (4u * kTileVecs);
    bool filled = false;
    uint32_t pending = insert_keys(s, kv, mask, col0, thr_key, thr_lim, filled);
    while (__syncthreads_or(pending != 0u || (filled && more))) {
      compact(s, static_cast<uint32_t>(k), target, thr_key, thr_lim);
      filled = false;
      tile_keys(s, nvec, ntiles, tile, kv);
      pending = insert_keys(s, kv, pending, col0, thr_key, thr_lim, filled);
    }
  }
  __syncthreads();  // the last step's candidates (or the scalars alone) are visible
  wait_tiles<0>();  // no copy may land after the CTA is gone

  // Step 7: exact k-th key over the candidates of the row (all CTAs of the cluster).
  const uint32_t n = min(s.count, static_cast<uint32_t>(kCap));  // stable after the barrier
  const uint32_t uk = static_cast<uint32_t>(k);
  uint32_t ge;
  const uint32_t T = radix_select<kCluster>(
      s, nc, n, uk, uk,
      [&](uint32_t i, uint32_t& v) {
        v = s.keys[i];
        return true;
      },
      ge);

  // Step 8: share out the tied keys in column order: CTA rank order across the cluster (the
  // segments are ordered), lowest columns inside a CTA.
  uint32_t gt, eq;
  count_vs(s, n, T, gt, eq);
  uint32_t gt_total = gt, gt_before = 0u, eq_before = 0u;
  if constexpr (kCluster) {
    if (nc > 1) {
      gt_total = 0u;
      exchange_counts<true>(s.x_counts, nc, r, gt, eq, gt_before, eq_before, gt_total);
    }
  }
  const uint32_t need = uk - gt_total;  // tied values still to take, cluster-wide
  const uint32_t quota = min(eq, need > eq_before ? need - eq_before : 0u);
  const uint32_t offset = gt_before + min(eq_before, need);
  uint32_t lim = quota == 0u ? 0u : kNoLimit;
  bool take_ties = quota != 0u;
  if (quota != 0u && quota < eq) {
    uint32_t ge2;
    const uint32_t iv = radix_select<false>(
        s, 1, n, quota, quota,
        [&](uint32_t i, uint32_t& v) {
          if (s.keys[i] != T) return false;
          v = ~s.cols[i];
          return true;
        },
        ge2);
    lim = ~iv;
  }

  // Step 9: write the selection (any order), request-local.
  int32_t* __restrict__ out = p.out + static_cast<int64_t>(row) * p.out_stride;
  for (uint32_t base = 0; base < n; base += kThreads) {
    const uint32_t i = base + t;
    bool sel = false;
    uint32_t col = 0u;
    if (i < n) {
      const uint32_t key = s.keys[i];
      col = s.cols[i];
      sel = key > T || (take_ties && key == T && col <= lim);
    }
    const uint32_t pos = warp_reserve(&s.out_count, sel);
    if (sel) out[offset + pos] = static_cast<int32_t>(col) - start;
  }
  if constexpr (kCluster) {
    if (nc > 1) cg::this_cluster().sync();  // peers may still read this CTA's shared memory
  }
}

}  // namespace topk
}  // namespace glm52
