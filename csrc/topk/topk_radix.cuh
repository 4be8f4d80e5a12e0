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
//   * Pass 1: keys in that bin are histogrammed on bits 20..10 and appended (key, index) to a
//     small candidate list; pass 2 histograms the candidates (or, if the list overflowed, the
//     segment again) on bits 9..0, which gives the exact k-th key T. A pass is skipped once
//     the chosen bin must be taken whole.
//   * Ties: of the keys equal to T, the lowest columns win: CTAs in rank order, and inside a
//     CTA the output pass's ordered scan.
//   * Output: one ordered pass over the segment (tiles of 2048 columns, a block-wide prefix
//     scan of packed (#> T, #== T) counts per tile), so every selected column is written at
//     its rank: rows are sorted and the result does not depend on the schedule.
#pragma once

#include "topk_kernel.cuh"

namespace glm52 {
namespace topk {

constexpr int kRThreads = 512;                 // two CTAs per SM: <= 64 registers
constexpr int kRWarps = kRThreads / 32;
constexpr int kRBins = 2048;                   // 11-bit digits (the last pass uses 1024)
constexpr int kRCand = 3072;                   // pass-1 candidate slots per CTA
constexpr int kRTile = 4 * kRThreads;          // one float4 per thread per tile: 2048 columns
constexpr int kRUnroll = 4;                    // pass 0: tiles in flight per thread
constexpr int kRMinSeg = 2048;                 // shortest per-CTA segment when split
constexpr int kROut = 2;                       // output pass: float4 per thread per tile

// Shared memory of one CTA: this header, then keys[res_cap]: the resident part of the segment
// as raw fp32 bits (16-byte aligned; converted to keys when read).
struct alignas(16) RadixSmem {
  uint32_t hist[2][kRBins];     // pass histograms; peers read them (double-buffered)
  uint32_t gsum[kRBins / 2];    // cluster: this rank's slice of the summed histogram
  uint32_t cand_keys[kRCand];   // pass-1 candidates: keys in the chosen bin
  uint32_t cand_idx[kRCand];    //   and their segment indices
  uint32_t wscan[kRWarps];
  uint32_t wred[2][kRWarps];
  uint32_t oscan[2][kROut][kRWarps];  // output pass: warp totals, double-buffered by tile
  uint32_t res[3];
  uint32_t ncand;               // candidate tickets (may exceed kRCand: overflow)
  uint32_t x_counts[2];         // cluster exchange: #selected above T, #equal to T
};

__host__ __device__ constexpr size_t radix_smem_bytes(int res_cap) {
  return sizeof(RadixSmem) + static_cast<size_t>(res_cap) * sizeof(uint32_t);
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

// Keys of vector v from shared memory (raw fp32 bits, as cp.async copied them) when resident,
// else from global memory; 0 past nv.
__device__ __forceinline__ uint32_t load_vec(const uint32_t* keys, int res_cap,
                                             const float* __restrict__ base, int v, int nv,
                                             int i0, int i1, uint32_t (&kk)[4]) {
  if (v >= nv) {
    kk[0] = kk[1] = kk[2] = kk[3] = 0u;
    return 0u;
  }
  const int i = 4 * v;
  if (i + 4 <= res_cap) {
    const float4 q = *reinterpret_cast<const float4*>(keys + i);
    kk[0] = float_to_key(q.x);
    kk[1] = float_to_key(q.y);
    kk[2] = float_to_key(q.z);
    kk[3] = float_to_key(q.w);
    uint32_t m = 0u;
#pragma unroll
    for (int j = 0; j < 4; ++j) m |= static_cast<uint32_t>(i + j >= i0 && i + j < i1) << j;
    return m;
  }
  return load_vec_global(base, v, i0, i1, kk);
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
  uint32_t g[kPer], l[kPer];
#pragma unroll
  for (int j = 0; j < kPer; ++j) l[j] = h[NB - 1 - (t * kPer + j)];  // thread order == descending bins
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
// res_cap: resident keys per CTA, a multiple of 4.
// ---------------------------------------------------------------------------------------------
template <bool kCluster>
__global__ void __launch_bounds__(kRThreads, 2) topk_radix_kernel(const Params p,
                                                                  const int res_cap) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  RadixSmem& s = *reinterpret_cast<RadixSmem*>(smem_raw);
  uint32_t* keys = reinterpret_cast<uint32_t*>(smem_raw + sizeof(RadixSmem));
  const int t = static_cast<int>(threadIdx.x);

  int row, start, nc, r, a, b;  // rows no longer than k are written whole in here
  if (!row_segment<kRThreads, kCluster>(p, kRMinSeg, row, start, nc, r, a, b)) return;
  const int k = p.k;
  int32_t* __restrict__ out = p.out + static_cast<int64_t>(row) * p.out_stride;
  const float* __restrict__ rowp = p.logits + static_cast<int64_t>(row) * p.row_stride;
  const int i0 = static_cast<int>((reinterpret_cast<uintptr_t>(rowp + a) & 15u) >> 2);
  const int a_al = a - i0;         // column of segment index 0 (16-byte aligned address)
  const float* __restrict__ base = rowp + a_al;  // only [i0, i1) is ever dereferenced
  const int i1 = b - a_al;
  const int nv = (i1 + 3) >> 2;
  const int ntiles = (nv + kRThreads - 1) / kRThreads;

  // Step 1: clear both histograms and the candidate counter.
  for (int i = t; i < 2 * kRBins; i += kRThreads) (&s.hist[0][0])[i] = 0u;
  if (t == 0) s.ncand = 0u;
  __syncthreads();

  // Step 2 (pass 0): the one read from HBM. NOTES: the resident part is copied to shared
  // memory with cp.async, all of it in flight at once and holding no registers (one round
  // trip instead of one per register batch); vector 0, when the segment starts inside it, is
  // read as scalars so nothing before column a is touched, and the last vector's copy stops
  // at i1 (zero fill). Then the top-11-bit histogram is built from shared memory; a
  // non-resident remainder is streamed from global memory, kRUnroll float4 per thread.
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
  for (int v = t; v < nres; v += kRThreads) {
    uint32_t kk[4];
    const uint32_t m = load_vec(keys, res_cap, base, v, nv, i0, i1, kk);
#pragma unroll
    for (int j = 0; j < 4; ++j)
      if ((m >> j) & 1u) atomicAdd(&s.hist[0][kk[j] >> 21], 1u);
  }
  for (int v0 = nres; v0 < nv; v0 += kRUnroll * kRThreads) {
    uint32_t kk[kRUnroll][4], m[kRUnroll];
#pragma unroll
    for (int u = 0; u < kRUnroll; ++u) {
      const int v = v0 + u * kRThreads + t;
      m[u] = v < nv ? load_vec_global(base, v, i0, i1, kk[u]) : 0u;
    }
#pragma unroll
    for (int u = 0; u < kRUnroll; ++u)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        if ((m[u] >> j) & 1u) atomicAdd(&s.hist[0][kk[u][j] >> 21], 1u);
  }
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

  if (!ge) {
    // Step 4 (pass 1): keys in the bin: histogram of bits 20..10, and the candidate list.
    const uint32_t b0 = bucket;
    for (int tile = 0; tile < ntiles; ++tile) {
      uint32_t kk[4];
      const uint32_t m = load_vec(keys, res_cap, base, tile * kRThreads + t, nv, i0, i1, kk);
      const int i = 4 * (tile * kRThreads + t);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const bool in = ((m >> j) & 1u) && (kk[j] >> 21) == b0;
        const uint32_t pos = warp_reserve(&s.ncand, in);
        if (in) {
          atomicAdd(&s.hist[1][(kk[j] >> 10) & (kRBins - 1)], 1u);
          if (pos < static_cast<uint32_t>(kRCand)) {
            s.cand_keys[pos] = kk[j];
            s.cand_idx[pos] = static_cast<uint32_t>(i + j);
          }
        }
      }
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
  if (!ge) {
    // Step 5 (pass 2): bits 9..0 of the keys matching the 22-bit prefix: candidates, or the
    // whole segment again when this CTA's list overflowed.
    const uint32_t pre = thr >> 10;
    const uint32_t n = s.ncand;  // stable: written before the last barrier
    if (n <= static_cast<uint32_t>(kRCand)) {
      for (uint32_t i = static_cast<uint32_t>(t); i < n; i += kRThreads) {
        const uint32_t key = s.cand_keys[i];
        if ((key >> 10) == pre) atomicAdd(&s.hist[0][key & 1023u], 1u);
      }
    } else {
      for (int tile = 0; tile < ntiles; ++tile) {
        uint32_t kk[4];
        const uint32_t m = load_vec(keys, res_cap, base, tile * kRThreads + t, nv, i0, i1, kk);
#pragma unroll
        for (int j = 0; j < 4; ++j)
          if (((m >> j) & 1u) && (kk[j] >> 10) == pre) atomicAdd(&s.hist[0][kk[j] & 1023u], 1u);
      }
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
  uint32_t my_eq = my_cnt;
  if (ge) {
    my_gt += my_cnt;
    my_eq = 0u;
    need = 0u;
  }

  // Step 6: output offsets. Selected keys above thr, then the tied ones in column order:
  // lower ranks first across the cluster.
  uint32_t gt_before = 0u, eq_before = 0u;
  if constexpr (kCluster) {
    if (nc > 1) {
      cg::cluster_group cl = cg::this_cluster();
      if (t == 0) {
        s.x_counts[0] = my_gt;
        s.x_counts[1] = my_eq;
      }
      cl.sync();
      for (int q = 0; q < r; ++q) {
        const uint32_t* x = cl.map_shared_rank(s.x_counts, q);
        gt_before += x[0];
        eq_before += x[1];
      }
    }
  }
  const uint32_t quota = min(my_eq, need > eq_before ? need - eq_before : 0u);
  int32_t* __restrict__ dst = out + gt_before + min(eq_before, need);
  const uint32_t my_total = my_gt + quota;

  // Step 7: ordered output pass. A tile is kROut sub-tiles of kRThreads vectors; thread t of
  // sub-tile u holds columns 4((tile*kROut + u)*T + t) .. +3, so (u, t) order is column order.
  // Packed (gt | eq << 16) counts are scanned per warp, the warp totals of all sub-tiles go
  // through shared memory (double-buffered by tile parity: one barrier per tile), and every
  // selected key is written at its rank.
  uint32_t gt_run = 0u, eq_run = 0u;
  const int32_t col_off = a_al - start;
  const int nout = (nv + kROut * kRThreads - 1) / (kROut * kRThreads);
  for (int tile = 0; tile < nout; ++tile) {
    if (gt_run + min(eq_run, quota) >= my_total) break;  // uniform: all written
    uint32_t flags[kROut], excl[kROut];  // flags: bit j > thr, bit 4 + j == thr (tie)
#pragma unroll
    for (int u = 0; u < kROut; ++u) {
      uint32_t kk[4];
      const int v = (tile * kROut + u) * kRThreads + t;
      const uint32_t m = load_vec(keys, res_cap, base, v, nv, i0, i1, kk);
      uint32_t f = 0u;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const bool valid = (m >> j) & 1u;
        f |= static_cast<uint32_t>(valid && (ge ? kk[j] >= thr : kk[j] > thr)) << j;
        f |= static_cast<uint32_t>(valid && !ge && kk[j] == thr) << (4 + j);
      }
      flags[u] = f;
      const uint32_t mine = static_cast<uint32_t>(__popc(f & 0xfu)) |
                            (static_cast<uint32_t>(__popc(f >> 4)) << 16);
      uint32_t incl = mine;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const uint32_t x = __shfl_up_sync(kFull, incl, o);
        if (static_cast<int>(lane_id()) >= o) incl += x;
      }
      if (lane_id() == 31) s.oscan[tile & 1][u][warp_id()] = incl;
      excl[u] = incl - mine;
    }
    __syncthreads();
    uint32_t total = 0u;
#pragma unroll
    for (int u = 0; u < kROut; ++u) {
      uint32_t before = total + excl[u];
#pragma unroll
      for (int w = 0; w < kRWarps; ++w) {
        const uint32_t x = s.oscan[tile & 1][u][w];
        before += w < static_cast<int>(warp_id()) ? x : 0u;
        total += x;
      }
      uint32_t g = gt_run + (before & 0xffffu), e = eq_run + (before >> 16);
      const int32_t col0 = col_off + 4 * ((tile * kROut + u) * kRThreads + t);
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        if ((flags[u] >> j) & 1u) {
          dst[g + min(e, quota)] = col0 + j;
          ++g;
        } else if ((flags[u] >> (4 + j)) & 1u) {
          if (e < quota) dst[g + e] = col0 + j;
          ++e;
        }
      }
    }
    gt_run += total & 0xffffu;
    eq_run += total >> 16;
  }
  if constexpr (kCluster) {
    if (nc > 1) cg::this_cluster().sync();  // peers may still read this CTA's shared memory
  }
}

}  // namespace topk
}  // namespace glm52
