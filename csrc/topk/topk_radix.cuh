// SPDX-License-Identifier: Apache-2.0
// DSA indexer top-k, "radix" kernel: the segment is read from HBM once into shared memory,
// then selected with exact 11/11/10-bit radix passes over on-chip data, and written in
// ascending column order. Same contract and tie rule as topk_rows_kernel (topk_kernel.cuh),
// plus: rows come out sorted (ascending positions, -1 padding last), deterministically.
//
// NOTES: algorithm (docs/topk.md has the long form)
//   * Segment. A CTA (or CTA `r` of a cluster of C, segments in column order) owns columns
//     [a, b) of a row. Index i of the segment is column a_al + i with a_al = a rounded down to
//     a 16-byte boundary of the row pointer, so vector v (indices 4v..4v+3) is one aligned
//     float4; indices below i0 = a - a_al and at or above i1 = b - a_al are masked. The first
//     `res_cap` indices stay in shared memory as keys; the rest (only when the segment is
//     longer) are re-read from global memory (usually L2) by the passes that need them.
//   * Pass 0 (the only HBM read): keys of the top 11 bits into a 2048-bin histogram, summed
//     over the cluster through distributed shared memory; the bin holding the k-th largest.
//   * Pass 1: the keys in that bin are appended to a candidate list; bits 20..10 and then
//     bits 9..0 (pass 2) are histogrammed from the list (from the segment again if it
//     overflowed), which gives the exact k-th key T. A pass is skipped once the chosen bin must
//     be taken whole. A cluster whose bin is small gathers all lists into every CTA and
//     finishes locally (one cluster barrier instead of five).
//   * Ties: of the keys equal to T, the lowest columns win: CTAs in rank order, and inside a
//     CTA the output pass's ordered scan.
//   * Output: chunks of 16384 columns, one 32-column bit mask per thread, a block-wide scan
//     of the masks' counts, so every selected column is written at its rank: rows are sorted
//     and the result does not depend on the schedule.
#pragma once

#include "topk_kernel.cuh"

namespace glm52 {
namespace topk {

constexpr int kRThreads = 512;                 // two CTAs per SM: <= 64 registers
constexpr int kRWarps = kRThreads / 32;
constexpr int kRBins = 2048;                   // 11-bit digits (the last pass uses 1024)
constexpr int kRCand = 4096;                   // pass-1 candidate keys per CTA
constexpr int kRGather = kRBins + kRBins / 2;  // cluster: bin keys gathered into hist[1] + gsum
constexpr int kRMinSeg = 2048;                 // shortest per-CTA segment when split
constexpr int kRWord = 32;                     // output pass: columns per bit-mask word
constexpr int kRChunk = kRWord * kRThreads;    // output pass: columns per chunk (one word each)
constexpr int kRTile = 4 * kRThreads;          // smallest useful key store (planner)

// Shared memory of one CTA: this header, then keys[res_cap]: the resident part of the segment
// as raw fp32 bits (16-byte aligned; converted to keys when read; res_cap a multiple of 32).
struct alignas(16) RadixSmem {
  uint32_t hist[2][kRBins];     // pass histograms; peers read them (double-buffered)
  uint32_t gsum[kRBins / 2];    // cluster: this rank's slice of the summed histogram
  uint32_t cand[kRCand];        // pass-1 candidates: the keys in the chosen bin
  uint32_t wscan[kRWarps];
  uint32_t wred[2][kRWarps];
  uint32_t oscan[2][kRWarps];   // output pass: warp totals, double-buffered by chunk
  uint32_t res[3];
  uint32_t ncand;               // candidate tickets (may exceed kRCand: overflow)
  uint32_t x_counts[2];         // cluster exchange: #selected above T, #equal to T
};

static_assert(offsetof(RadixSmem, gsum) == offsetof(RadixSmem, hist) + sizeof(uint32_t) * 2 * kRBins,
              "the gathered list spans hist[1] and gsum");

__host__ __device__ constexpr size_t radix_smem_bytes(int res_cap) {
  return sizeof(RadixSmem) + static_cast<size_t>(res_cap) * sizeof(uint32_t);
}

__device__ __forceinline__ uint32_t bits_to_key(uint32_t b) {
  return b ^ (static_cast<uint32_t>(static_cast<int32_t>(b) >> 31) | 0x80000000u);
}

// Histogram of the next digit of a key list (the pass-1 candidates, or every CTA's lists
// gathered): pass 1 (kPass2 = false) bins bits 20..10 of every key (all lie in the chosen top
// bin); pass 2 bins bits 9..0 of the keys whose bits 31..10 equal `pre`. All threads call.
template <bool kPass2>
__device__ __forceinline__ void list_hist(uint32_t* h, const uint32_t* list, uint32_t n,
                                          uint32_t pre) {
  for (uint32_t i = threadIdx.x; i < n; i += kRThreads) {
    const uint32_t key = list[i];
    if constexpr (kPass2) {
      if ((key >> 10) == pre) atomicAdd(&h[key & 1023u], 1u);
    } else {
      atomicAdd(&h[(key >> 10) & (kRBins - 1)], 1u);
    }
  }
}

// Keys of segment vector v (indices 4v..4v+3) from global memory, masked to [i0, i1).
__device__ __forceinline__ uint32_t load_vec_global(const float* __restrict__ base, int v,
                                                    int i0, int i1, uint32_t (&kk)[4]) {
  const int i = 4 * v;
  if (i >= i0 && i + 4 <= i1) {
    const float4 f = __ldg(reinterpret_cast<const float4*>(base + i));
    kk[0] = float_to_key(f.x);
    kk[1] = float_to_key(f.y);
    kk[2] = float_to_key(f.z);
    kk[3] = float_to_key(f.w);
    return 0xfu;
  }
  uint32_t m = 0u;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const bool in = i + j >= i0 && i + j < i1;
    kk[j] = in ? float_to_key(base[i + j]) : 0u;
    m |= static_cast<uint32_t>(in) << j;
  }
  return m;
}

// Keys of vector v from shared memory when resident, else from global memory, masked to
// [i0, i1); 0 past nv. The general (slow) path: the sweeps use it for the two edge vectors.
__device__ __forceinline__ uint32_t load_vec(const uint32_t* keys, int res_cap,
                                             const float* __restrict__ base, int v, int nv,
                                             int i0, int i1, uint32_t (&kk)[4]) {
  if (v >= nv) {
    kk[0] = kk[1] = kk[2] = kk[3] = 0u;
    return 0u;
  }
  const int i = 4 * v;
  if (i + 4 <= res_cap) {
    const uint4 q = *reinterpret_cast<const uint4*>(keys + i);
    kk[0] = bits_to_key(q.x);
    kk[1] = bits_to_key(q.y);
    kk[2] = bits_to_key(q.z);
    kk[3] = bits_to_key(q.w);
    uint32_t m = 0u;
#pragma unroll
    for (int j = 0; j < 4; ++j) m |= static_cast<uint32_t>(i + j >= i0 && i + j < i1) << j;
    return m;
  }
  return load_vec_global(base, v, i0, i1, kk);
}

// Calls f(kk, m) once for every vector of the segment holding a valid index, with its four
// keys and validity mask. NOTES: the per-element cost of a pass is what bounds this
// kernel (an Nsight Compute run counted ~4 warp instructions per column before these sweeps),
// so interior vectors (all four indices valid) go through loops with no masks and no
// residency test: resident ones from shared memory, the rest from global memory kUnroll
// float4 at a time; only the head vector (when the segment starts inside it) and the tail
// vector take the masked path, on one thread each. f must not use warp-collective operations.
// kUnroll: float4 in flight per thread in the non-resident loop (1 in the cluster kernel, whose
// non-resident rows fit in L2 by the plan and which has no registers left for a second).
template <int kUnroll, class F>
__device__ __forceinline__ void radix_sweep(const uint32_t* keys, int res_cap,
                                            const float* __restrict__ base, int i0, int i1,
                                            F&& f) {
  const int t = static_cast<int>(threadIdx.x);
  const int vh = i0 > 0 ? 1 : 0;          // first interior vector
  const int vt = i1 >> 2;                 // one past the last interior vector
  const int vr = min(vt, res_cap >> 2);   // one past the last resident interior vector
  const int nv = (i1 + 3) >> 2;
  for (int v = vh + t; v < vr; v += kRThreads) {
    const uint4 q = *reinterpret_cast<const uint4*>(keys + 4 * v);
    const uint32_t kk[4] = {bits_to_key(q.x), bits_to_key(q.y), bits_to_key(q.z),
                            bits_to_key(q.w)};
    f(kk, 0xfu);
  }
  for (int v0 = max(vr, vh); v0 < vt; v0 += kUnroll * kRThreads) {
    uint32_t kk[kUnroll][4];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int v = v0 + u * kRThreads + t;
      if (v < vt) {
        const float4 q = __ldg(reinterpret_cast<const float4*>(base + 4 * v));
        kk[u][0] = float_to_key(q.x);
        kk[u][1] = float_to_key(q.y);
        kk[u][2] = float_to_key(q.z);
        kk[u][3] = float_to_key(q.w);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int v = v0 + u * kRThreads + t;
      if (v < vt) f(kk[u], 0xfu);
    }
  }
  const bool head = vh == 1, tail = (i1 & 3) != 0 && (vt != 0 || !head);
  if ((t == 0 && head) || (t == kRThreads - 1 && tail)) {
    const int v = t == 0 && head ? 0 : vt;
    uint32_t kk[4];
    const uint32_t m = load_vec(keys, res_cap, base, v, nv, i0, i1, kk);
    f(kk, m);
  }
}

// Output-pass bit masks of word w (segment indices 32w .. 32w+31; bit c is index 32w + c):
// ge_m marks valid keys >= thr (split: > thr), eq_m (split only) valid keys == thr. NOTES:
// thread t of a warp reads its 8 float4 starting at float4 (t & 7), so the 32 lanes of one
// load hit all 32 banks (reading them in order would put every lane on the same 4 banks);
// the bits are placed by loop position and rotated back once at the end. Words touching the
// head vector or the end of the segment take load_vec.
__device__ __forceinline__ void word_masks(const uint32_t* keys, int res_cap,
                                           const float* __restrict__ base, int w, int i0,
                                           int i1, uint32_t thr, bool split, uint32_t& ge_m,
                                           uint32_t& eq_m) {
  const int i = kRWord * w;
  ge_m = 0u;
  eq_m = 0u;
  if (i >= i1) return;
  const bool clean = (i >= 4 || i0 == 0) && i + kRWord <= i1;
  if (clean) {
    const bool resident = i + kRWord <= res_cap;  // res_cap % 32 == 0: all or nothing
    const int rot = static_cast<int>(lane_id() & 7u);
#pragma unroll
    for (int q = 0; q < 8; ++q) {
      const int o = i + 4 * ((q + rot) & 7);
      uint4 x;
      if (resident) {
        x = *reinterpret_cast<const uint4*>(keys + o);
      } else {
        const float4 f = __ldg(reinterpret_cast<const float4*>(base + o));
        x = make_uint4(__float_as_uint(f.x), __float_as_uint(f.y), __float_as_uint(f.z),
                       __float_as_uint(f.w));
      }
      const uint32_t kk[4] = {bits_to_key(x.x), bits_to_key(x.y), bits_to_key(x.z),
                              bits_to_key(x.w)};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        if (split) {
          ge_m |= static_cast<uint32_t>(kk[j] > thr) << (4 * q + j);
          eq_m |= static_cast<uint32_t>(kk[j] == thr) << (4 * q + j);
        } else {
          ge_m |= static_cast<uint32_t>(kk[j] >= thr) << (4 * q + j);
        }
      }
    }
    ge_m = __funnelshift_l(ge_m, ge_m, 4 * rot);
    eq_m = __funnelshift_l(eq_m, eq_m, 4 * rot);
    return;
  }
  const int nv = (i1 + 3) >> 2;
#pragma unroll 1
  for (int q = 0; q < 8; ++q) {
    uint32_t kk[4];
    const uint32_t m = load_vec(keys, res_cap, base, i / 4 + q, nv, i0, i1, kk);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const bool in = (m >> j) & 1u;
      if (split) {
        ge_m |= static_cast<uint32_t>(in && kk[j] > thr) << (4 * q + j);
        eq_m |= static_cast<uint32_t>(in && kk[j] == thr) << (4 * q + j);
      } else {
        ge_m |= static_cast<uint32_t>(in && kk[j] >= thr) << (4 * q + j);
      }
    }
  }
}

// Finds the bin of the `need`-th largest key among NB bins of `h` summed over the cluster
// (descending; the scan is scan_bucket). Every thread gets: bucket, the cluster-wide count above
// it and in it, and this CTA's own count above it and in it. Bins holding fewer than `need`
// keys give bucket 0. With nc > 1 it has a cluster barrier inside (all CTAs call it; `gsum`
// is rewritten by the next call only after the caller's next cluster barrier).
template <int NB, bool kCluster>
__device__ __forceinline__ void radix_bucket(RadixSmem& s, int nc, const uint32_t* h,
                                             uint32_t need, uint32_t& bucket, uint32_t& above,
                                             uint32_t& cnt, uint32_t& my_above,
                                             uint32_t& my_cnt) {
  constexpr int kPer = NB / kRThreads;
  static_assert(NB % kRThreads == 0, "bins must split evenly over the threads");
  const int t = static_cast<int>(threadIdx.x);
  uint32_t g[kPer], l[kPer];  // thread order == descending bins
  if constexpr (kCluster) {  // scalar loads: the vector ones cost this kernel a spilled register
#pragma unroll
    for (int j = 0; j < kPer; ++j) l[j] = h[NB - 1 - (t * kPer + j)];
  } else {
    load_bins<kPer>(h, NB, t, l);
  }
  bool summed = false;
  if constexpr (kCluster) {
    if (nc > 1) {
      // NOTES: reduce-scatter, then all-gather. Rank q sums bins [q*S, (q+1)*S) over the
      // cluster (S * nc = NB remote loads per CTA, issued together), then every CTA gathers the
      // NB sums (kPer remote loads per thread). Reading all NB bins of every peer instead moves
      // nc times more data through distributed shared memory.
      cg::cluster_group cl = cg::this_cluster();
      const int S = NB / nc;
      const int r = static_cast<int>(cl.block_rank());
      for (int i = t; i < S; i += kRThreads) {
        uint32_t part[kMaxCluster];
#pragma unroll
        for (int q = 0; q < kMaxCluster; ++q)
          part[q] = q < nc ? cl.map_shared_rank(const_cast<uint32_t*>(h), q)[r * S + i] : 0u;
        uint32_t acc = 0u;
#pragma unroll
        for (int q = 0; q < kMaxCluster; ++q) acc += part[q];
        s.gsum[i] = acc;
      }
      cl.sync();
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int bin = NB - 1 - (t * kPer + j);
        g[j] = cl.map_shared_rank(s.gsum, bin / S)[bin % S];
      }
      summed = true;
    }
  }
  if (!summed) {
#pragma unroll
    for (int j = 0; j < kPer; ++j) g[j] = l[j];
  }
  scan_bucket(s.wscan, s.res, g, NB, need, bucket, above, cnt);
  if (!summed) {  // one CTA per row: its share is the whole
    my_above = above;
    my_cnt = cnt;
    __syncthreads();  // res / wscan are rewritten by the next call
    return;
  }
  // This CTA's share: needed for the output offsets across the cluster.
  uint32_t la = 0u, lc = 0u;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const uint32_t bin = static_cast<uint32_t>(NB - 1 - (t * kPer + j));
    la += bin > bucket ? l[j] : 0u;
    lc += bin == bucket ? l[j] : 0u;
  }
  block_sum2<kRWarps>(s.wred[0], s.wred[1], la, lc);  // its last barrier frees res / wscan too
  my_above = la;
  my_cnt = lc;
}

// ---------------------------------------------------------------------------------------------
// The kernel: one CTA per row (kCluster = false) or one cluster of C CTAs per row.
// Grid: num_rows * C CTAs of kRThreads; dynamic shared memory radix_smem_bytes(res_cap).
// res_cap: resident keys per CTA, a multiple of 32.
// ---------------------------------------------------------------------------------------------
template <bool kCluster>
__global__ void __launch_bounds__(kRThreads, 2) topk_radix_kernel(const Params p,
                                                                  const int res_cap) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  RadixSmem& s = *reinterpret_cast<RadixSmem*>(smem_raw);
  uint32_t* keys = reinterpret_cast<uint32_t*>(smem_raw + sizeof(RadixSmem));
  const int t = static_cast<int>(threadIdx.x);
  constexpr int kU = kCluster ? 1 : 2;  // radix_sweep's non-resident unroll

  // Step 1: clear both histograms and the candidate counter. NOTES: before the row prologue,
  // so the stores overlap the latency of its row-bounds loads; the barrier after the copy in
  // step 2 orders them before any histogram add.
  for (int i = t; i < 2 * kRBins; i += kRThreads) (&s.hist[0][0])[i] = 0u;
  if (t == 0) s.ncand = 0u;

  int row, start, nc, r, a, b;  // rows no longer than k are written whole in here
  wait_prior_grids();
  if (!row_segment<kRThreads, kCluster>(p, kRMinSeg, row, start, nc, r, a, b)) return;
  const int k = p.k;
  const float* __restrict__ rowp = p.logits + static_cast<int64_t>(row) * p.row_stride;
  const int i0 = static_cast<int>((reinterpret_cast<uintptr_t>(rowp + a) & 15u) >> 2);
  const int a_al = a - i0;         // column of segment index 0 (16-byte aligned address)
  const float* __restrict__ base = rowp + a_al;  // only [i0, i1) is ever dereferenced
  const int i1 = b - a_al;
  const int nv = (i1 + 3) >> 2;

  // Step 2 (pass 0): the one read from HBM. NOTES: the resident part is copied to shared
  // memory with cp.async, all of it in flight at once and holding no registers (one round
  // trip instead of one per register batch); vector 0, when the segment starts inside it, is
  // read as scalars so nothing before column a is touched, and the last vector's copy stops
  // at i1 (zero fill). Then the top-11-bit histogram is built from shared memory; a
  // non-resident remainder is streamed from global memory, kU float4 per thread.
  const int nres = min(nv, res_cap / 4);
  for (int v = t; v < nres; v += kRThreads) {
    if (v == 0 && i0 > 0) continue;
    const int bytes = min(16, 4 * (i1 - 4 * v));
    const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(keys + 4 * v));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst),
                 "l"(base + 4 * v), "r"(bytes)
                 : "memory");
  }
  asm volatile("cp.async.commit_group;\n" ::: "memory");
  if (i0 > 0 && nres > 0 && t < 4 && t >= i0 && t < i1)
    keys[t] = __float_as_uint(base[t]);
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
  __syncthreads();
  radix_sweep<kU>(keys, res_cap, base, i0, i1, [&](const uint32_t(&kk)[4], uint32_t m) {
#pragma unroll
    for (int j = 0; j < 4; ++j)
      if ((m >> j) & 1u) atomicAdd(&s.hist[0][kk[j] >> 21], 1u);
  });
  sync_all<kCluster>(nc);

  // Step 3: the bin of the k-th largest key. `thr` gathers the chosen digits; `ge` means
  // every key >= thr is taken (the chosen bin is taken whole), else keys > thr plus
  // `need` keys == thr.
  uint32_t bucket, above, cnt, my_above, my_cnt;
  radix_bucket<kRBins, kCluster>(s, nc, s.hist[0], static_cast<uint32_t>(k), bucket, above,
                                 cnt, my_above, my_cnt);
  uint32_t need = static_cast<uint32_t>(k) - above;  // keys still to take from the bin
  uint32_t my_gt = my_above;                          // this CTA's keys known to be selected
  uint32_t thr = bucket << 21;
  bool ge = cnt == need;
  uint32_t ncand = 0u;
  // NOTES: a cluster whose bin holds at most kRGather keys in all (known to every CTA after
  // pass 0) gathers them into every CTA and finishes passes 1-2 and the output offsets
  // locally: one cluster barrier instead of five. Cluster barriers and distributed-memory
  // round trips, not columns, were what few-row launches paid for (1 x 32768 at C = 8 took
  // longer than on one CTA).
  const bool gather = kCluster && nc > 1 && !ge && cnt <= static_cast<uint32_t>(kRGather);
  uint32_t gt_before = 0u, eq_before = 0u, my_eq = 0u;

  if (!ge) {
    // Step 4 (pass 1): the keys in that bin go to the candidate list (one shared atomic per
    // thread that has any; no per-element warp vote), then their bits 20..10 are histogrammed
    // from the list. If the list overflowed, the segment is swept again for the histogram.
    const uint32_t b0 = bucket;
    radix_sweep<kU>(keys, res_cap, base, i0, i1, [&](const uint32_t(&kk)[4], uint32_t m) {
      uint32_t f = 0u;
#pragma unroll
      for (int j = 0; j < 4; ++j) f |= static_cast<uint32_t>((kk[j] >> 21) == b0) << j;
      f &= m;
      if (f != 0u) {
        uint32_t pos = atomicAdd(&s.ncand, static_cast<uint32_t>(__popc(f)));
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          if ((f >> j) & 1u) {
            if (pos < static_cast<uint32_t>(kRCand)) s.cand[pos] = kk[j];
            ++pos;
          }
        }
      }
    });
    if (!gather) {
      __syncthreads();
      ncand = s.ncand;  // uniform; final (nothing appends after this barrier)
      if (ncand <= static_cast<uint32_t>(kRCand)) {
        list_hist<false>(s.hist[1], s.cand, ncand, 0u);
      } else {
        radix_sweep<kU>(keys, res_cap, base, i0, i1, [&](const uint32_t(&kk)[4], uint32_t m) {
#pragma unroll
          for (int j = 0; j < 4; ++j)
            if (((m >> j) & 1u) && (kk[j] >> 21) == b0)
              atomicAdd(&s.hist[1][(kk[j] >> 10) & (kRBins - 1)], 1u);
        });
      }
      sync_all<kCluster>(nc);
      // Peers finished reading hist[0] before arriving at that barrier: pass 2 may reuse it.
      for (int i = t; i < kRBins / 2; i += kRThreads) s.hist[0][i] = 0u;
      radix_bucket<kRBins, kCluster>(s, nc, s.hist[1], need, bucket, above, cnt, my_above,
                                     my_cnt);
      need -= above;
      my_gt += my_above;
      thr |= bucket << 10;
      ge = cnt == need;
    }
  }
  if constexpr (kCluster) {
    if (gather) {
      // Step 4' (gathered passes 1-2). This CTA's list holds exactly its my_cnt keys of the
      // bin (<= cnt <= kRGather: no overflow). After one cluster barrier every CTA copies all
      // lists, in rank order, into hist[1] + gsum (contiguous; peers read this CTA's hist[0]
      // and gsum only before that barrier) and selects on them with local histograms.
      cg::cluster_group cl = cg::this_cluster();
      if (t == 0) s.x_counts[0] = my_gt;  // this CTA's keys above the bin
      cl.sync();
      uint32_t* g = &s.hist[1][0];
      uint32_t off = 0u, my_off = 0u, my_n = 0u, above_before = 0u;
#pragma unroll 1
      for (int q = 0; q < nc; ++q) {
        const uint32_t nq = *cl.map_shared_rank(&s.ncand, q);
        const uint32_t* src = cl.map_shared_rank(s.cand, q);
        for (uint32_t i = static_cast<uint32_t>(t); i < nq; i += kRThreads) g[off + i] = src[i];
        if (q < r) above_before += cl.map_shared_rank(s.x_counts, q)[0];
        if (q == r) {
          my_off = off;
          my_n = nq;
        }
        off += nq;
      }
      for (int i = t; i < kRBins; i += kRThreads) s.hist[0][i] = 0u;
      __syncthreads();
      list_hist<false>(s.hist[0], g, off, 0u);
      __syncthreads();
      radix_bucket<kRBins, false>(s, 1, s.hist[0], need, bucket, above, cnt, my_above, my_cnt);
      need -= above;
      thr |= bucket << 10;
      ge = cnt == need;
      if (!ge) {  // radix_bucket's last barrier: every read of hist[0] is done
        for (int i = t; i < kRBins / 2; i += kRThreads) s.hist[0][i] = 0u;
        __syncthreads();
        list_hist<true>(s.hist[0], g, off, thr >> 10);
        __syncthreads();
        radix_bucket<kRBins / 2, false>(s, 1, s.hist[0], need, bucket, above, cnt, my_above,
                                        my_cnt);
        need -= above;
        thr |= bucket;  // the exact k-th key
        ge = cnt == need;
      }
      // Selected (> thr, or >= thr when the bin is taken whole) and tied keys of the lower
      // ranks' lists and of this CTA's own.
      // Counts are packed (gt | eq << 16): each is at most kRGather.
      uint32_t lo = 0u, own = 0u;
      for (uint32_t i = static_cast<uint32_t>(t); i < my_off + my_n; i += kRThreads) {
        const uint32_t key = g[i];
        const uint32_t x = (ge ? key >= thr : key > thr) ? 1u : (!ge && key == thr) ? 0x10000u : 0u;
        if (i < my_off) lo += x; else own += x;
      }
      block_sum2<kRWarps>(s.wred[0], s.wred[1], lo, own);
      const uint32_t lg = lo & 0xffffu, le = lo >> 16, og = own & 0xffffu, oe = own >> 16;
      gt_before = above_before + lg;
      eq_before = le;
      my_gt += og;
      my_eq = oe;
      if (ge) need = 0u;
    }
  }
  if (!gather) {
    if (!ge) {
      // Step 5 (pass 2): bits 9..0 of the keys matching the 22-bit prefix: candidates, or the
      // whole segment again when this CTA's list overflowed.
      const uint32_t pre = thr >> 10;
      if (ncand <= static_cast<uint32_t>(kRCand)) {
        list_hist<true>(s.hist[0], s.cand, ncand, pre);
      } else {
        radix_sweep<kU>(keys, res_cap, base, i0, i1, [&](const uint32_t(&kk)[4], uint32_t m) {
#pragma unroll
          for (int j = 0; j < 4; ++j)
            if (((m >> j) & 1u) && (kk[j] >> 10) == pre)
              atomicAdd(&s.hist[0][kk[j] & 1023u], 1u);
        });
      }
      sync_all<kCluster>(nc);
      radix_bucket<kRBins / 2, kCluster>(s, nc, s.hist[0], need, bucket, above, cnt, my_above,
                                         my_cnt);
      need -= above;
      my_gt += my_above;
      thr |= bucket;  // the exact k-th key
      ge = cnt == need;
    }
    // my_cnt: this CTA's keys in the final bin (== thr when exact).
    my_eq = my_cnt;
    if (ge) {
      my_gt += my_cnt;
      my_eq = 0u;
      need = 0u;
    }

    // Step 6: output offsets. Selected keys above thr, then the tied ones in column order:
    // lower ranks first across the cluster.
    if constexpr (kCluster) {
      uint32_t unused = 0u;
      if (nc > 1)
        exchange_counts<false>(s.x_counts, nc, r, my_gt, my_eq, gt_before, eq_before, unused);
    }
  }
  const uint32_t quota = min(my_eq, need > eq_before ? need - eq_before : 0u);
  int32_t* __restrict__ dst = p.out + static_cast<int64_t>(row) * p.out_stride + gt_before +
                              min(eq_before, need);
  const uint32_t my_total = my_gt + quota;

  // Step 7: ordered output. NOTES: a chunk gives every thread one 32-column word (thread
  // order == column order); the word's selected columns become a bit mask, the masks' counts
  // are scanned over the block (one barrier per chunk, warp totals double-buffered), and each
  // thread writes its set bits at their ranks: rows come out sorted, the same every run.
  // Usually this CTA takes all of its keys == thr (or the bin was taken whole): one mask,
  // key >= thr. Only when it takes some of its ties ("split") does it also mask key == thr
  // and take the lowest `quota` of them; counts are then packed as (gt | eq << 16).
  // One CTA per row: the positions go to a shared staging row (hist[0], free by now;
  // my_total <= k <= kRBins) and are copied out coalesced at the end: a global store per bit
  // held its address registers until issued, which stalled the loop on dense rows (Nsight
  // Compute, 1 x 4096: a third of the time). Cluster rows are long and sparse (>= 4096
  // columns per CTA), and that kernel has no register left for the staging.
  const bool split = my_eq != quota;
  static_assert(kMaxK <= kRBins, "the staging row holds k positions");
  uint32_t gt_run = 0u, eq_run = 0u;
  const int32_t col_off = a_al - start;
  const int nchunks = (i1 + kRChunk - 1) / kRChunk;
  for (int c = 0; c < nchunks; ++c) {
    if (gt_run + min(eq_run, quota) >= my_total) break;  // uniform: all written
    const int w = c * kRThreads + t;
    uint32_t gm, em;
    word_masks(keys, res_cap, base, w, i0, i1, thr, split, gm, em);
    const uint32_t mine = static_cast<uint32_t>(__popc(gm)) |
                          (static_cast<uint32_t>(__popc(em)) << 16);
    const uint32_t incl = warp_incl_scan(mine);
    if (lane_id() == 31) s.oscan[c & 1][warp_id()] = incl;
    __syncthreads();
    uint32_t before = incl - mine, total = 0u;
#pragma unroll
    for (int q = 0; q < kRWarps; ++q) {
      const uint32_t x = s.oscan[c & 1][q];
      before += q < static_cast<int>(warp_id()) ? x : 0u;
      total += x;
    }
    const uint32_t eb = eq_run + (before >> 16);
    uint32_t sel = gm;
    if (split) take_lowest(sel, em, eb < quota ? quota - eb : 0u);
    uint32_t pos = gt_run + (before & 0xffffu) + min(eb, quota);
    const int32_t col0 = col_off + kRWord * w;
    while (sel != 0u) {
      const int32_t col = col0 + (__ffs(sel) - 1);
      if constexpr (kCluster) {
        dst[pos++] = col;
      } else {
        s.hist[0][pos++] = static_cast<uint32_t>(col);
      }
      sel &= sel - 1u;
    }
    gt_run += total & 0xffffu;
    eq_run += total >> 16;
  }
  if constexpr (!kCluster) {
    __syncthreads();
    for (int i = t; i < static_cast<int>(my_total); i += kRThreads)
      dst[i] = static_cast<int32_t>(s.hist[0][i]);
  }
  if constexpr (kCluster) {
    // Peers may still read this CTA's shared memory. NOTES: relaxed arrive: no write of
    // this CTA needs ordering here, and the default release arrive compiles to a GPU-scope
    // MEMBAR that waited for the output stores (Nsight Compute). Every remote load a peer
    // issued was consumed before it arrives, so the data has been read.
    if (nc > 1) {
      asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
      asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
    }
  }
}

}  // namespace topk
}  // namespace glm52
