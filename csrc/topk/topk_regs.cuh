// SPDX-License-Identifier: Apache-2.0
// DSA indexer top-k, "regs" kernel for short rows (up to 20480 columns): one CTA per row holds
// its whole segment in registers, so the selection passes read no memory at all and the CTA
// synchronises as little as the algorithm allows. Same contract, tie rule and sorted output as
// topk_radix_kernel (topk_radix.cuh).
//
// NOTES: why a third kernel. Short rows (decode at 4k, prefill chunks at 8k) cost the radix
// kernel a fixed ~5 us per CTA (1 x 4096 on H100), spread over the row prologue, the three
// radix passes and the output (Nsight Compute samples), not over columns. This kernel:
//   * Ownership. Thread t owns vectors [t * kV, (t + 1) * kV) of 16-byte float4 (index i is
//     column a_al + i, a_al = the segment start rounded down to 16 bytes): thread order ==
//     column order, so the ordered output is ONE block scan of one packed count per thread.
//   * Loads go straight to registers, all kV float4 of a thread in flight at once. Decode rows
//     start at column 0, so their loads are issued before the row length is known (up to
//     num_cols, masked afterwards): the length and the logits round trips overlap.
//   * Later passes histogram the thread's own keys (no candidate list, no overflow path).
//     NOTES: a finer first digit (sign, clamped exponent, 7 mantissa bits; exact passes only
//     when its bin is not taken whole) was tried (commits 5a3b0b5-97bac88) and was slower on
//     every shape: the digit's ~7 instructions per key cost more than the passes it saves.
//   * Bucket search on one warp: the warps total their share of the bins, then warp 0 alone
//     finds the warp holding the need-th key, re-reads that warp's bins and publishes the bin
//     (lead_bucket). Passes 1-2 (few keys) also add each key to a 32-bin coarse sum, so warp 0
//     searches them with no per-warp totals (lead_groups, warp_bucket_groups). NOTES: until
//     session 18 every warp ran the search itself, saving a barrier; the same shuffle chains
//     queued at the SM's shuffle unit (read_result's notes).
// Barriers: clear, pass-0 histogram, its warp totals, its search result, the output scan, the
// output staging: 6 when the first bin is taken whole, 2 more per later pass (grid / cluster
// mode: 1 more, plus the exchange).
// Option kOptScan (kOpt; the launcher's choice where a launch keeps one CTA per SM): pass 0's
// search from per-thread prefix sums (lead_scan), its warp totals' barrier and the result's.
//
// Grid mode (kGrid, "grid kernel"): a few long rows (up to num_SMs x CTAs-per-SM CTAs in all)
// are split over G co-resident CTAs per row, each holding 4 * kT * kV consecutive columns in
// registers exactly as above. Each pass pushes the CTA's non-zero bins into the row's global
// histogram (red.global.add; a randn slice fills ~100 of 2048 bins) and meets the row's other
// CTAs at a barrier in the workspace; every CTA then copies the row's bins to shared memory and
// runs the same bucket search, so all agree on the threshold without another exchange. When
// the first bin is small (gather path) its keys go to a list in the workspace and every CTA
// finishes passes 1-2 on it locally (2 row barriers); otherwise passes 1-2 go through global
// histograms too and the CTAs exchange their (#above, #tied) at a fourth barrier. Each CTA then
// writes its own slice of the sorted row. Co-residency is guaranteed by a cooperative launch;
// the last CTA of a row to finish re-zeroes the row's workspace for the next launch.
//
// Cluster mode (kCl, "cluster kernel"): the same split over a thread-block cluster of C <= 8
// CTAs per row, exchanging through distributed shared memory instead of the workspace: no
// workspace, no co-residency beyond the cluster, and a pass exchange costs C - 1 asynchronous
// 16-byte stores per thread (of 256) and an mbarrier wait instead of a ~2 us global row
// barrier. Each pass every CTA pushes its histogram, as 16-bit counts, into its peers' receive
// buffers (cluster_bins), sums its own and the C - 1 it received and runs the same bucket
// search; the lower ranks' selected counts, which order the output, come from their
// histograms too (lower_counts), so no exchange of counts follows the last pass. The exchange
// also leaves the summed bins' 8-bin group sums, from which one warp searches with no further
// barrier (warp_bucket_groups). Passes 1-2 test each key once into a mask and read back only
// the few keys in the bin from a copy of the CTA's keys in shared memory. Pass 2 exchanges the
// CTAs' few candidates as lists instead of histograms (list_pass2) unless one has more than
// kListMax of them. Each thread stores its own selected positions (no staging).
#pragma once

#include <type_traits>

#include "topk_kernel.cuh"

namespace glm52 {
namespace topk {

constexpr int kGBins = 2048;  // 11-bit digits (the last pass uses 1024 bins)
// Option of the one-CTA regs kernel (topk_regs_kernel's kOpt; set_forced's `opt`): kOptScan
// searches pass 0's bins from per-thread prefix sums (lead_scan) instead of warp totals and
// warp 0's re-read (lead_bucket).
constexpr int kOptScan = 1;

// Static shared memory (21 KiB): the pass histograms (contiguous, cleared together), the
// passes' search results and one per-warp total array per block scan, so no scan rewrites words
// a slower warp may still be reading.
struct alignas(16) RegsSmem {
  uint32_t hist0[kGBins];      // pass 0: bits 31..21; then the output staging row
  uint32_t hist1[kGBins];      // bits 20..10
  uint32_t hist2[kGBins / 2];  // bits 9..0
  uint32_t c1[kGBins / 32];    // one CTA per row: hist1's sums over 32 bins (warp_bucket_groups)
  uint32_t c2[kGBins / 64];    // ... hist2's
  uint4 res[3];                // pass p's (bin, keys above it, keys in it), from warp 0
  uint32_t wtot[4][32];
  uint32_t tail[4];  // one CTA per row: the keys past the CTA's slice (thread kT-1's)
  uint32_t last;     // grid mode: this CTA is the row's last to finish
  uint32_t red[2];   // grid gather path: lower CTAs' list keys above / at thr
};

// One row's block of Params::workspace in grid mode (zero between launches).
constexpr int kGridMaxCtas = 512;
constexpr int kGridCap = 4096;  // gathered keys of the first pass's bin (gather path)
constexpr int kSlicesCap = 8192;  // ... of the slices kernel (its list in dynamic smem)
// Slices kernel, several CTAs per row: list entries pack (CTA << kOwnerShift | CTA-local
// segment index); the index is read only in bitmap mode, < 2^19 there (kBitmapWordsMulti).
constexpr int kOwnerShift = 20;

// Grid mode's extra shared memory (24 KiB): the gathered list's keys and owning CTAs.
struct GridSmem {
  uint32_t key[kGridCap];
  uint16_t cta[kGridCap];
};
struct NoSmem {};
// Cluster mode's extra static shared memory: one mbarrier per pass exchange, which completes
// once every peer CTA of the cluster has pushed its histogram of that pass into this CTA's
// receive buffer. The buffers are dynamic shared memory (cluster_smem_bytes): A (passes 0 and
// 2) and B (pass 1), kGBins words per sender rank each, a peer's bins packed two to a word in
// the first half of its slot; after a pass's exchange this CTA's own slot (rank q, which no
// peer writes) holds the cluster's summed bins and the CTA's own histogram those of the ranks
// below q.
constexpr int kClusterMaxCtas = 8;  // portable cluster size
constexpr uint32_t kListMax = 3;    // pass 2's list: a CTA's candidates it can send
struct alignas(16) ClusterSmem {
  uint32_t g8[kGBins / 8];  // the pass's summed bins over groups of 8 (warp_bucket_groups)
  uint64_t bar[4];          // passes 0, 1, pass 2's lists, pass 2's histograms
  uint2 msg[kClusterMaxCtas];  // pass 2: rank r's list (list_pass2)
  uint32_t lst[kListMax];      // this CTA's first candidates (low 10 bits)
  uint32_t nlst;               // its candidates
};
// Dynamic shared memory of the cluster kernel with C CTAs per cluster of `keys` keys each
// (threads x 4 x float4 per thread): the receive buffers, then a copy of the CTA's keys (passes
// 1-2 read back only the few in the chosen bin).
__host__ __device__ constexpr size_t cluster_smem_bytes(int C, int keys) {
  return (2u * static_cast<size_t>(C) * kGBins + static_cast<size_t>(keys)) * sizeof(uint32_t);
}
__device__ __forceinline__ uint64_t* cluster_bars(ClusterSmem& c) { return c.bar; }
__device__ __forceinline__ uint64_t* cluster_bars(NoSmem&) { return nullptr; }
struct alignas(16) GridRow {
  uint32_t bar;    // arrivals at the row's barriers: j * G once the j-th has completed
  uint32_t done;   // CTAs that have finished; the last resets the block
  uint32_t nlist;  // gather path: entries in `list`
  uint32_t ncand;  // slices kernel, sampled bound: candidates appended to `list` (may pass
                   // kSlicesCap: those past it were not written)
  uint32_t pad[28];
  uint32_t hist[2 * kGBins + kGBins / 2];  // bits 31..21, 20..10, 9..0 (only the passes run)
  uint32_t counts[kGridMaxCtas];  // CTA q: #selected above thr | #tied << 16 (exact passes)
                                  // or #keys above the first pass's bin (gather path)
  uint2 list[kSlicesCap];         // gather path: the bin's keys, any order: (key, CTA) (grid
                                  // kernel, the first kGridCap) or (key, CTA << kOwnerShift |
                                  // the key's CTA-local index) (slices kernel; with a sampled
                                  // bound: every key at or above it)
};
static_assert(sizeof(GridRow) == kGridRowBytes, "topk.h kGridRowBytes is the GridRow size");

// Run by every thread of a row's last CTA to finish (all CTAs of the row are done with w):
// zeroes the first `words` histogram words, the n CTAs' counts and (listed) the list entries
// written (gathered keys or sampled-bound candidates), then the counters, for the next launch.
template <int kT>
__device__ __forceinline__ void reset_grid_row(GridRow* w, int words, int n, bool listed) {
  const int t = static_cast<int>(threadIdx.x);
  __threadfence();
  uint4* h = reinterpret_cast<uint4*>(w->hist);
  for (int i = t; i < words / 4; i += kT) h[i] = make_uint4(0u, 0u, 0u, 0u);
  for (int i = t; i < n; i += kT) w->counts[i] = 0u;
  if (listed) {
    const int m = max(static_cast<int>(__ldcg(&w->nlist)),
                      min(static_cast<int>(__ldcg(&w->ncand)), kSlicesCap));
    for (int i = t; i < m; i += kT) w->list[i] = make_uint2(0u, 0u);
  }
  __syncthreads();  // nlist / ncand read by every thread before they are reset
  if (t == 0) {
    w->bar = 0u;
    w->done = 0u;
    w->nlist = 0u;
    w->ncand = 0u;
  }
}

// Cluster mode, at the kernel's start (thread 0, before any peer can push): the pass
// mbarriers, each expecting one arrival (its own, made here) and the bytes of the C - 1 peers'
// messages of that pass (histograms of 2048, 2048 bins of 2 bytes; pass 2: an 8-byte list,
// or, when a list overflows, 1024 bins of 2 bytes), made visible to the cluster. The caller
// then arrives at the cluster barrier (relaxed: this fence is the release) and waits on it
// before its first push.
__device__ __forceinline__ void init_cluster_bars(uint64_t* bar, int C) {
  constexpr uint32_t kBytes[4] = {2 * kGBins, 2 * kGBins, 8, kGBins};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(bar + i));
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(a) : "memory");
    asm volatile("mbarrier.arrive.expect_tx.relaxed.cta.shared::cta.b64 _, [%0], %1;"
                 :: "r"(a), "r"(static_cast<uint32_t>(C - 1) * kBytes[i]) : "memory");
  }
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// Cluster mode: 16 bytes into the shared memory of the cluster's CTA `rank`, at the offset of
// this CTA's shared address `saddr`, completing that many bytes of the mbarrier at `bar`
// (this CTA's address) in that CTA. An asynchronous store: its completion on the mbarrier is
// a release at cluster scope, so it needs no memory fence before it.
__device__ __forceinline__ void peer_addrs(uint32_t saddr, uint32_t bar, int rank, uint32_t& ra,
                                           uint32_t& rb) {
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(ra) : "r"(saddr), "r"(rank));
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(rb) : "r"(bar), "r"(rank));
}
__device__ __forceinline__ void st_peer_v4(uint32_t saddr, uint32_t bar, int rank, uint4 v) {
  uint32_t ra, rb;
  peer_addrs(saddr, bar, rank, ra, rb);
  asm volatile(
      "st.async.shared::cluster.mbarrier::complete_tx::bytes.v4.u32 [%0], {%1, %2, %3, %4}, "
      "[%5];" :: "r"(ra), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w), "r"(rb) : "memory");
}
// The same for 8 bytes.
__device__ __forceinline__ void st_peer_v2(uint32_t saddr, uint32_t bar, int rank, uint2 v) {
  uint32_t ra, rb;
  peer_addrs(saddr, bar, rank, ra, rb);
  asm volatile(
      "st.async.shared::cluster.mbarrier::complete_tx::bytes.v2.u32 [%0], {%1, %2}, [%3];"
      :: "r"(ra), "r"(v.x), "r"(v.y), "r"(rb) : "memory");
}

// Waits until the mbarrier's first phase completes (acquire at cluster scope: the bytes
// pushed into this CTA are visible).
__device__ __forceinline__ void wait_cluster_bar(uint64_t* bar) {
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(bar));
  uint32_t done = 0u;
  do {
    asm volatile(
        "{\n\t.reg .pred p;\n\t"
        "mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%1], 0;\n\t"
        "selp.u32 %0, 1, 0, p;\n\t}"
        : "=r"(done) : "r"(a) : "memory");
  } while (done == 0u);
}

// Cluster mode, one pass's exchange (push): after a barrier (this CTA's histogram h of NB bins
// is complete) thread t < NB / 8 packs bins [8t, 8t + 8) into 16-bit counts (a CTA holds at
// most 16384 keys) and pushes the 16 bytes into slot q (this CTA's rank) of buffer `buf` in
// every peer CTA of the cluster (st_peer_v4); once the pass's mbarrier `bar` has all C - 1
// peers' slots, it adds them to its own bins: the cluster's sums into slot q of this CTA's
// buffer (the bucket search's input), the ranks below q over h itself (lower_counts), both
// complete after the barrier inside. NOTES: session 15 pulled the peers' bins after a release
// cluster barrier, which compiles to a GPU-scope memory barrier (MEMBAR.ALL.GPU, ~0.5 us a
// pass on H100); the asynchronous stores and the mbarrier need no fence. Until session 19 each
// thread pushed 4 bins as 32-bit words to all C CTAs, itself included: a globaltimer trace
// (docs/benchmarks.md) showed issuing those stores taking ~0.6 us of a C = 4 exchange; 16-bit
// counts and no push to itself cut the bytes 2C / (C - 1)-fold (1 x 32k 7.92 -> 7.31 us,
// 64 x 32k 12.6 -> 12.2, with the predicated adds of passes 1-2). Only the summing threads
// wait on the mbarrier (the others read no peer's bins; session 20: 64 x 32k 11.9 -> 11.8 us).
// g8[i] gets the sum of the cluster's bins [8i, 8i + 8) (warp_bucket_groups); work() runs on every
// thread between the pushes and the wait.
struct NoWork {
  __device__ void operator()() const {}
};
template <int NB, typename Work = NoWork>
__device__ __forceinline__ void cluster_bins(uint32_t* h, uint32_t* buf, uint32_t* g8,
                                             uint64_t* bar, int C, int q, Work&& work = Work{}) {
  static_assert(NB % 8 == 0 && NB <= kGBins, "bins go in 16-byte groups of 8 16-bit counts");
  __syncthreads();
  const int t = static_cast<int>(threadIdx.x);
  if (t < NB / 8) {
    const uint4 a = reinterpret_cast<const uint4*>(h)[2 * t];
    const uint4 b = reinterpret_cast<const uint4*>(h)[2 * t + 1];
    const uint4 v = make_uint4(a.x | (a.y << 16), a.z | (a.w << 16), b.x | (b.y << 16),
                               b.z | (b.w << 16));
    const uint32_t dst =
        static_cast<uint32_t>(__cvta_generic_to_shared(buf + q * kGBins + 4 * t));
    const uint32_t mb = static_cast<uint32_t>(__cvta_generic_to_shared(bar));
    for (int r = 0; r < C; ++r)
      if (r != q) st_peer_v4(dst, mb, r, v);
  }
  work();  // while the peers' pushes are on their way
  if (t < NB / 8) {  // only the summing threads wait: the others read no peer's bins
    wait_cluster_bar(bar);
    uint32_t acc[8], lo[8];
    const uint4 a = reinterpret_cast<const uint4*>(h)[2 * t];
    const uint4 b = reinterpret_cast<const uint4*>(h)[2 * t + 1];
    acc[0] = a.x;
    acc[1] = a.y;
    acc[2] = a.z;
    acc[3] = a.w;
    acc[4] = b.x;
    acc[5] = b.y;
    acc[6] = b.z;
    acc[7] = b.w;
#pragma unroll
    for (int j = 0; j < 8; ++j) lo[j] = 0u;
    for (int r = 0; r < C; ++r) {
      if (r == q) continue;
      const uint4 v = reinterpret_cast<const uint4*>(buf + r * kGBins)[t];
      const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        acc[2 * j] += w[j] & 0xffffu;
        acc[2 * j + 1] += w[j] >> 16;
        if (r < q) {
          lo[2 * j] += w[j] & 0xffffu;
          lo[2 * j + 1] += w[j] >> 16;
        }
      }
    }
    // the sums into this CTA's own slot (no peer writes it), the lower ranks' over h (bins
    // [8t, 8t + 8), read by this thread only)
    uint4* sum = reinterpret_cast<uint4*>(buf + q * kGBins);
    g8[t] = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
    sum[2 * t] = make_uint4(acc[0], acc[1], acc[2], acc[3]);
    sum[2 * t + 1] = make_uint4(acc[4], acc[5], acc[6], acc[7]);
    reinterpret_cast<uint4*>(h)[2 * t] = make_uint4(lo[0], lo[1], lo[2], lo[3]);
    reinterpret_cast<uint4*>(h)[2 * t + 1] = make_uint4(lo[4], lo[5], lo[6], lo[7]);
  }
  __syncthreads();
}

// Cluster mode, pass 2 from lists, on warp 0 (after the barrier that completed cs.lst /
// cs.nlst: this CTA's keys in pass 1's bin, their low 10 bits): lanes r < C push this CTA's
// list to rank r as one 8-byte message (count | v0 << 16, v1 | v2 << 16; count kListMax + 1:
// too many to list), the warp waits for the C - 1 peers' (mbarrier `bar`) and, when every
// rank listed all its candidates, ranks them (lane 3r + j: rank r's j-th): the need-th
// largest value is the last pass's bin. Stores (bin, keys above it, keys in it, 1) in *res and
// adds the lower ranks' selected / tied candidates to lane 0's gl / el (as lower_counts);
// (0, 0, 0, 0) when some list overflowed: every CTA then exchanges pass 2's histograms.
__device__ __forceinline__ void list_pass2(ClusterSmem& cs, uint64_t* bar, int C, int q,
                                           uint32_t need, uint4* res, uint32_t& gl,
                                           uint32_t& el) {
  const int lane = static_cast<int>(lane_id());
  const uint32_t n = cs.nlst;
  const uint32_t v0 = n > 0u ? cs.lst[0] : 0u, v1 = n > 1u ? cs.lst[1] : 0u;
  const uint32_t v2 = n > 2u ? cs.lst[2] : 0u;
  const uint2 mine = make_uint2(min(n, kListMax + 1u) | (v0 << 16), v1 | (v2 << 16));
  if (lane < C && lane != q)
    st_peer_v2(static_cast<uint32_t>(__cvta_generic_to_shared(&cs.msg[q])),
               static_cast<uint32_t>(__cvta_generic_to_shared(bar)), lane, mine);
  if (lane == q) cs.msg[q] = mine;
  __syncwarp();
  wait_cluster_bar(bar);
  const int r = lane / 3, j = lane - 3 * r;
  const uint2 m = r < C ? cs.msg[r] : make_uint2(0u, 0u);
  const uint32_t cr = m.x & 0xffffu;
  if (__any_sync(kFull, cr > kListMax)) {
    if (lane == 0) *res = make_uint4(0u, 0u, 0u, 0u);
    return;
  }
  const bool valid = static_cast<uint32_t>(j) < cr;  // (lanes of ranks >= C: cr 0)
  const uint32_t v = j == 0 ? m.x >> 16 : (j == 1 ? m.y & 0xffffu : m.y >> 16);
  const uint32_t vmask = __ballot_sync(kFull, valid);
  uint32_t gt = 0u, eq = 0u;
  // NOTES: over the 3C listed lanes only, not all 3 kClusterMaxCtas (64 x 32k, C = 2: 10.83 ->
  // 10.69 us on H100, session 20)
#pragma unroll 2
  for (int i = 0; i < 3 * C; ++i) {
    const uint32_t u = __shfl_sync(kFull, v, i);
    const bool in = (vmask >> i) & 1u;
    gt += in && u > v;
    eq += in && u == v;
  }
  const int l = __ffs(__ballot_sync(kFull, valid && gt < need && need <= gt + eq)) - 1;
  const uint32_t bin = __shfl_sync(kFull, v, l), above = __shfl_sync(kFull, gt, l);
  const uint32_t cnt = __shfl_sync(kFull, eq, l);
  const bool ge = cnt == need - above;
  const bool low = valid && r < q;
  const uint32_t ga = __popc(__ballot_sync(kFull, low && (v > bin || (ge && v == bin))));
  const uint32_t ea = __popc(__ballot_sync(kFull, low && !ge && v == bin));
  if (lane == 0) {
    gl += ga;
    el += ea;
    *res = make_uint4(bin, above, cnt, 1u);
  }
}

// Cluster mode: once a pass's bucket search chose `bin`, adds to gl the lower ranks' keys
// (lo[0, NB): their sums of the pass's bins, which cluster_bins leaves in the CTA's own
// histogram) that the row selects above
// the threshold: those in higher bins, and the bin itself when it is taken whole (ge); with
// `tied` (the last pass, not ge) adds their keys in the bin, tied at thr, to el.
template <int NB>
__device__ __forceinline__ void lower_counts(const uint32_t* lo, uint32_t bin, bool ge,
                                             bool tied, uint32_t& gl, uint32_t& el) {
  const int t = static_cast<int>(threadIdx.x);
  if (t >= NB / 4) return;
  const uint4 l = reinterpret_cast<const uint4*>(lo)[t];
  const uint32_t v[4] = {l.x, l.y, l.z, l.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const uint32_t b = 4u * static_cast<uint32_t>(t) + static_cast<uint32_t>(j);
    gl += b > bin || (ge && b == bin) ? v[j] : 0u;
    el += tied && b == bin ? v[j] : 0u;
  }
}

// Adds the packed (#above | #tied << 16) counts of CTAs 0..q-1 (published before a row
// barrier) to gt0 / eq0; every lane gets the sums.
__device__ __forceinline__ void add_lower_counts(const uint32_t* counts, int q, uint32_t& gt0,
                                                 uint32_t& eq0) {
  for (int j = static_cast<int>(lane_id()); j < q; j += 32) {
    const uint32_t c = __ldcg(&counts[j]);
    gt0 += c & 0xffffu;
    eq0 += c >> 16;
  }
  gt0 = __reduce_add_sync(kFull, gt0);
  eq0 = __reduce_add_sync(kFull, eq0);
}

// The row's n CTAs meet for the j-th time (target = j * n). CUTLASS's GenericBarrier, per
// row: bar.sync, then one thread makes the CTA's prior writes (the global histogram adds
// included) visible with an acq_rel fence, arrives with a relaxed reduction and spins on an
// acquire load at L2. NOTES: a spin that never ends (a workspace that was not zero-filled)
// traps after ~2^26 polls, so the launch fails with an error instead of hanging the stream.
__device__ __forceinline__ void row_barrier(uint32_t* bar, uint32_t target) {
  __syncthreads();
  if (threadIdx.x == 0) {
    asm volatile("fence.acq_rel.gpu;\n\tred.relaxed.gpu.global.add.u32 [%0], 1;"
                 :: "l"(bar) : "memory");
    uint32_t polls = 0u;
    for (;;) {
      uint32_t v;
      asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(bar) : "memory");
      if (static_cast<int32_t>(v - target) >= 0) break;
      if (++polls == (1u << 26)) __trap();
    }
  }
  __syncthreads();
}

// Copies the row's global bins g[0, NB) (complete after a row barrier) over the CTA's own h
// for the bucket search: one L2 round trip (ld.global.cg: never a stale L1 line) instead of
// the two dependent ones of searching g in place. Barrier inside.
template <int NB, int kT>
__device__ __forceinline__ void pull_bins(const uint32_t* g, uint32_t* h) {
#pragma unroll
  for (int i = static_cast<int>(threadIdx.x); i < NB / 4; i += kT)
    reinterpret_cast<uint4*>(h)[i] = __ldcg(reinterpret_cast<const uint4*>(g) + i);
  __syncthreads();
}

// Adds the CTA's non-zero bins h[0, NB) to the row's global bins g (after a barrier that
// completed h).
template <int NB, int kT>
__device__ __forceinline__ void push_bins(const uint32_t* h, uint32_t* g) {
#pragma unroll
  for (int i = static_cast<int>(threadIdx.x); i < NB; i += kT) {
    const uint32_t c = h[i];
    if (c != 0u) atomicAdd(g + i, c);
  }
}

// Bucket search, step 1 of 2: warp w's total of histogram h's bins (NB bins; thread t owns
// bins NB-1-(t*kPer+j), thread order == descending bins) into wtot[w], then a barrier. `wtot`
// (kT / 32 words) must not be rewritten until every warp has passed the caller's next barrier.
template <int NB, int kT>
__device__ __forceinline__ void warp_totals(const uint32_t* h, uint32_t* wtot) {
  constexpr int kPer = NB / kT;
  static_assert(NB % kT == 0, "bins must split evenly");
  uint32_t c[kPer];
  load_bins<kPer>(h, NB, static_cast<int>(threadIdx.x), c);
  uint32_t sum = 0u;
#pragma unroll
  for (int j = 0; j < kPer; ++j) sum += c[j];
  sum = __reduce_add_sync(kFull, sum);
  if (lane_id() == 0u) wtot[warp_id()] = sum;
  __syncthreads();
}

// The last step of a bucket search, on the lane whose bins d[0, kPer) (descending bins, `run`
// keys above the first) reach the need-th key: pick(j, keys above d[j], d[j]) for that bin.
template <int kPer, typename Pick>
__device__ __forceinline__ void lane_pick(const uint32_t (&d)[kPer], uint32_t run,
                                          uint32_t need, Pick&& pick) {
  bool found = false;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    if (!found && need <= run + d[j]) {
      pick(j, run, d[j]);
      found = true;
    }
    run += d[j];
  }
}

// Bucket search, step 2 of 2, by one whole warp: the bin of the `need`-th largest key of h from
// the warp totals (which warp's bins hold it and the keys above that warp), then that warp's
// bins re-read (which thread, then which bin). Every lane gets the bin, the count in higher
// bins and the bin's own count; kPublish: only *res gets them, (bin, above, count, 0), stored by
// the lane that found them (no broadcast). h must hold >= need keys.
template <int NB, int kT, bool kPublish = false>
__device__ __forceinline__ void search_totals(const uint32_t* h, const uint32_t* wtot,
                                              uint32_t need, uint32_t& bucket, uint32_t& above,
                                              uint32_t& cnt, uint4* res = nullptr) {
  constexpr int kPer = NB / kT;
  constexpr int kW = kT / 32;
  const int lane = static_cast<int>(lane_id());
  const uint32_t x = lane < kW ? wtot[lane] : 0u;
  const uint32_t wi = warp_incl_scan<kW>(x);  // lanes < kW (the first to reach need is one)
  const int ws = __ffs(__ballot_sync(kFull, wi >= need)) - 1;
  const uint32_t before_w = __shfl_sync(kFull, wi - x, ws);
  const int tt = ws * 32 + lane;
  uint32_t d[kPer];
  load_bins<kPer>(h, NB, tt, d);
  uint32_t s = 0u;
#pragma unroll
  for (int j = 0; j < kPer; ++j) s += d[j];
  const uint32_t incl = warp_incl_scan(s) + before_w;
  const int l = __ffs(__ballot_sync(kFull, incl >= need)) - 1;
  uint32_t b = 0u, ab = 0u, cb = 0u;
  if (lane == l) {
    lane_pick<kPer>(d, incl - s, need, [&](int j, uint32_t run, uint32_t dj) {
      b = static_cast<uint32_t>(NB - 1 - (tt * kPer + j));
      ab = run;
      cb = dj;
    });
    if constexpr (kPublish) *res = make_uint4(b, ab, cb, 0u);
  }
  if constexpr (kPublish) return;
  bucket = __shfl_sync(kFull, b, l);
  above = __shfl_sync(kFull, ab, l);
  cnt = __shfl_sync(kFull, cb, l);
}

// The bin of the `need`-th largest key of histogram h (NB bins), the count in higher bins and
// the bin's own count, for every thread: every warp runs step 2 itself. One barrier inside
// (warp_totals'). The slices kernel and the grid kernel's gather path.
template <int NB, int kT>
__device__ __forceinline__ void warp_bucket(const uint32_t* h, uint32_t* wtot, uint32_t need,
                                            uint32_t& bucket, uint32_t& above, uint32_t& cnt) {
  warp_totals<NB, kT>(h, wtot);
  search_totals<NB, kT>(h, wtot, need, bucket, above, cnt);
}

// The search result warp 0 stored in *res (kPublish), for every thread, behind a barrier.
// NOTES: why one warp searches. A search is a chain of dependent shuffles; run by all 16-32
// warps of a CTA at once, the same chains queue at the SM's shuffle unit (one warp instruction
// a cycle) and each step waits for all of them. Session 18 (standalone A/B on H100,
// docs/benchmarks.md): pass 0's step 2 by warp 0 alone, behind one more barrier, made 8 x 4096
// 3.36 -> 3.29 us, 256 x 4096 5.79 -> 5.54, prefill 8192 x 8192 121.6 -> 113.2; passes 1-2
// the same way (with warp_bucket_groups's ballot prefixes) 3.29 -> 3.24, 5.54 -> 5.43,
// 113.2 -> 110.6.
__device__ __forceinline__ void read_result(const uint4* res, uint32_t& bucket, uint32_t& above,
                                            uint32_t& cnt) {
  __syncthreads();
  const uint4 r = *res;
  bucket = r.x;
  above = r.y;
  cnt = r.z;
}

// warp_bucket with step 2 run by warp 0 only (read_result). Two barriers inside; *res must not
// be rewritten until every thread has passed the caller's next barrier (one slot per pass).
template <int NB, int kT>
__device__ __forceinline__ void lead_bucket(const uint32_t* h, uint32_t* wtot, uint4* res,
                                            uint32_t need, uint32_t& bucket, uint32_t& above,
                                            uint32_t& cnt) {
  warp_totals<NB, kT>(h, wtot);
  if (warp_id() == 0u) search_totals<NB, kT, true>(h, wtot, need, bucket, above, cnt, res);
  read_result(res, bucket, above, cnt);
}

// A block scan split around a barrier the caller places (block_excl_sum places it right
// away): before it, this warp's inclusive scan of x, whose total (lane 31's) goes to wt[warp];
// after it, the totals of the warps below this one (one REDUX). wt: kT / 32 words; lane: the
// caller's lane_id().
__device__ __forceinline__ uint32_t warp_scan_publish(uint32_t x, uint32_t* wt, int lane) {
  const uint32_t incl = warp_incl_scan(x);
  if (lane == 31) wt[warp_id()] = incl;
  return incl;
}
template <int kT>
__device__ __forceinline__ uint32_t warps_below(const uint32_t* wt, int lane) {
  const uint32_t y = lane < kT / 32 ? wt[lane] : 0u;
  return __reduce_add_sync(kFull, lane < static_cast<int>(warp_id()) ? y : 0u);
}

// lead_bucket's result from per-thread prefix sums (kOptScan): each warp scans its threads'
// bin sums before the barrier (thread t owns bins NB-1-(t*kPer+j), as warp_totals), so after
// it every thread adds the warp totals below its own (one REDUX) and the one thread whose bins
// reach the need-th key re-reads them and publishes (bin, keys above it, keys in it, 0) in
// *res. Two barriers inside; *res as in lead_bucket. NOTES: why. lead_bucket's warp 0 runs two
// dependent shuffle scans and a shared-memory re-read after the warp totals' barrier (~400 ns
// of pass 0's ~650 in the session-19 trace); here the scans run in every warp before it, one
// each, and the chain after it is a load, a REDUX and the pick. Session 22 (H100, 7 rounds):
// 1 x 4096 2.85 -> 2.79 us, 64 x 4096 3.33 -> 3.28, 1 x 6144 3.75 -> 3.66, 64 x 6144 4.46 ->
// 4.36; 256 x 4096 5.34 -> 5.46 (its 40 registers, 3 CTAs per SM, where the kernel without it
// keeps 4): launch_topk takes it while a launch keeps one CTA per SM.
template <int NB, int kT>
__device__ __forceinline__ void lead_scan(const uint32_t* h, uint32_t* wtot, uint4* res,
                                          uint32_t need, uint32_t& bucket, uint32_t& above,
                                          uint32_t& cnt) {
  constexpr int kPer = NB / kT;
  static_assert(NB % kT == 0, "bins must split evenly");
  const int t = static_cast<int>(threadIdx.x);
  const int lane = static_cast<int>(lane_id());
  uint32_t d[kPer];
  load_bins<kPer>(h, NB, t, d);
  uint32_t sum = 0u;
#pragma unroll
  for (int j = 0; j < kPer; ++j) sum += d[j];
  // this warp's keys in bins >= this thread's last
  const uint32_t incl = warp_scan_publish(sum, wtot, lane);
  // the warp's keys above this thread's bins | this thread's, one register across the barrier
  // (a CTA holds < 2^16 keys)
  const uint32_t mine = (incl - sum) | (sum << 16);
  __syncthreads();
  const uint32_t run = warps_below<kT>(wtot, lane) + (mine & 0xffffu);
  if (run < need && need <= run + (mine >> 16)) {  // one thread (the bins hold >= need keys)
    load_bins<kPer>(h, NB, t, d);  // (re-read: not held across the barrier)
    lane_pick<kPer>(d, run, need, [&](int j, uint32_t r, uint32_t dj) {
      *res = make_uint4(static_cast<uint32_t>(NB - 1 - (t * kPer + j)), r, dj, 0u);
    });
  }
  read_result(res, bucket, above, cnt);
}

// Inclusive sum over the warp's lanes of x < 8, from one ballot per bit (no shuffle chain).
__device__ __forceinline__ uint32_t ballot_incl_scan3(uint32_t x) {
  const uint32_t le = (2u << lane_id()) - 1u;  // lanes <= this one (2u << 31 wraps to 0)
  return static_cast<uint32_t>(__popc(__ballot_sync(kFull, x & 1u) & le)) +
         (static_cast<uint32_t>(__popc(__ballot_sync(kFull, x & 2u) & le)) << 1) +
         (static_cast<uint32_t>(__popc(__ballot_sync(kFull, x & 4u) & le)) << 2);
}

// The bin of the need-th largest key of histogram h (NB bins) whose sums over groups of kG
// consecutive bins are in c (NB / kG group sums), found by one warp with no barrier: the group
// (lane l holds groups NC-1-(l*kPer+j)), then that group's kG bins (lane l < kG holds bin
// kG * cb + kG - 1 - l). The lane that finds it stores (bin, keys above it, keys in it, 0) in
// *res, as search_totals<kPublish>; h must hold >= need keys. When every lane's sum is below 8
// (the usual few keys) the lane prefixes come from 3 ballots instead of a shuffle scan
// (session 18: part of read_result's gain; ballots for up to 16-bit sums were slower).
// NOTES: kG = 32, one CTA per row, passes 1-2: the passes' adds build the group
// sums too, free with their few keys; against warp_bucket's barrier and per-warp totals it was
// 3% faster on the 4096-column decodes and 1.5% on the prefill chunks (session 17,
// docs/benchmarks.md). Pass 0 keeps the per-warp totals there: group adds of every key would
// collide. kG = 8, cluster kernel, every pass: cluster_bins leaves the group
// sums; with the keys' copy stored during the exchange, 64 x 32k 11.49 -> 11.41 us in two
// calls (session 20, H100); the finding lane alone picking among the group's 8 bins held 8
// more registers and spilled 50-120 bytes.
template <int NB, int kG>
__device__ __forceinline__ void warp_bucket_groups(const uint32_t* h, const uint32_t* c,
                                                   uint32_t need, uint4* res) {
  constexpr int NC = NB / kG;
  constexpr int kPer = NC / 32;
  static_assert((kG == 32 || kG == 8) && kPer >= 1 && NC % 32 == 0, "1024 or 2048 bins");
  const int lane = static_cast<int>(lane_id());
  uint32_t d[kPer];
  if constexpr (kPer <= 2) {
#pragma unroll
    for (int j = 0; j < kPer; ++j) d[j] = c[NC - 1 - (lane * kPer + j)];
  } else {
    load_bins<kPer>(c, NC, lane, d);  // (conflict-free 16-byte loads)
  }
  uint32_t sum = 0u;
#pragma unroll
  for (int j = 0; j < kPer; ++j) sum += d[j];
  const bool small = __all_sync(kFull, sum < 8u);  // then every bin below is < 8 too
  const uint32_t incl = small ? ballot_incl_scan3(sum) : warp_incl_scan(sum);
  const int l = __ffs(__ballot_sync(kFull, incl >= need)) - 1;
  uint32_t cb = 0u, ca = 0u;  // the group, the keys above it
  if (lane == l) {
    lane_pick<kPer>(d, incl - sum, need, [&](int j, uint32_t run, uint32_t) {
      cb = static_cast<uint32_t>(NC - 1 - (lane * kPer + j));
      ca = run;
    });
  }
  cb = __shfl_sync(kFull, cb, l);
  ca = __shfl_sync(kFull, ca, l);
  const bool in = kG == 32 || lane < kG;
  const uint32_t x = in ? h[kG * cb + kG - 1u - static_cast<uint32_t>(lane)] : 0u;
  uint32_t incl2;
  if constexpr (kG == 32)
    incl2 = (small ? ballot_incl_scan3(x) : warp_incl_scan(x)) + ca;
  else
    incl2 = warp_incl_scan<kG>(x) + ca;
  const int l2 = __ffs(__ballot_sync(kFull, in && incl2 >= need)) - 1;
  if (lane == l2)
    *res = make_uint4(kG * cb + kG - 1u - static_cast<uint32_t>(l2), incl2 - x, x, 0u);
}

// warp_bucket_groups<NB, kG> on warp 0, its result for every thread (read_result). One barrier
// inside; *res as in lead_bucket.
template <int NB, int kG>
__device__ __forceinline__ void lead_groups(const uint32_t* h, const uint32_t* c, uint4* res,
                                            uint32_t need, uint32_t& bucket, uint32_t& above,
                                            uint32_t& cnt) {
  if (warp_id() == 0u) warp_bucket_groups<NB, kG>(h, c, need, res);
  read_result(res, bucket, above, cnt);
}

// Block-wide exclusive sum of x over threads (`total`: the block's sum). One barrier inside;
// wt (kT / 32 words) must not be rewritten until every warp has passed the caller's next
// barrier. NOTES: each warp sums the warp totals below it and all of them with two reductions
// (REDUX), not a shuffle scan of the totals plus two shuffles, which every warp ran at once:
// session 18, 8 x 4096 3.24 -> 3.19 us, 256 x 4096 5.39 -> 5.31 (H100, docs/benchmarks.md).
template <int kT>
__device__ __forceinline__ uint32_t block_excl_sum(uint32_t x, uint32_t* wt, uint32_t& total) {
  const int lane = static_cast<int>(lane_id());
  const uint32_t incl = warp_scan_publish(x, wt, lane);
  __syncthreads();
  const uint32_t y = lane < kT / 32 ? wt[lane] : 0u;
  total = __reduce_add_sync(kFull, y);
  return __reduce_add_sync(kFull, lane < static_cast<int>(warp_id()) ? y : 0u) + incl - x;
}

// One more digit of the threshold: the bucket search over h (NB bins) for the need-th largest
// key of thr's prefix; thr gains the bin at bit `shift`, need drops by the keys above it, ge
// says the bin is taken whole, cnt is its count. One barrier inside (warp_bucket's).
template <int NB, int kT>
__device__ __forceinline__ void narrow_threshold(const uint32_t* h, uint32_t* wtot, int shift,
                                                 uint32_t& need, uint32_t& thr, bool& ge,
                                                 uint32_t& cnt) {
  uint32_t bin, above;
  warp_bucket<NB, kT>(h, wtot, need, bin, above, cnt);
  need -= above;
  thr |= bin << shift;
  ge = cnt == need;
}

// The float4 at segment indices [i, i + 4) of base that is not whole inside [lo, hi) (a
// row's head or tail vector): its indices inside [lo, hi) as scalar loads, 0.f elsewhere.
__device__ __forceinline__ float4 load_edge_vec(const float* __restrict__ base, int i, int lo,
                                                int hi) {
  float4 v;
  v.x = i >= lo && i < hi ? __ldg(base + i) : 0.f;
  v.y = i + 1 >= lo && i + 1 < hi ? __ldg(base + i + 1) : 0.f;
  v.z = i + 2 >= lo && i + 2 < hi ? __ldg(base + i + 2) : 0.f;
  v.w = i + 3 >= lo && i + 3 < hi ? __ldg(base + i + 3) : 0.f;
  return v;
}

// The 4 keys of the float4 v at segment indices [i, i + 4): those inside [lo, hi) converted,
// the others 0. Returns the mask of keys inside (bit j). A vector whole inside takes no
// per-key test.
__device__ __forceinline__ uint32_t vec_to_keys(const float4& v, int i, int lo, int hi,
                                                uint32_t* key) {
  if (i >= lo && i + 4 <= hi) {
    key[0] = float_to_key(v.x);
    key[1] = float_to_key(v.y);
    key[2] = float_to_key(v.z);
    key[3] = float_to_key(v.w);
    return 0xfu;
  }
  const float c[4] = {v.x, v.y, v.z, v.w};
  uint32_t in_mask = 0u;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const bool in = i + j >= lo && i + j < hi;
    key[j] = in ? float_to_key(c[j]) : 0u;
    in_mask |= static_cast<uint32_t>(in) << j;
  }
  return in_mask;
}

// A thread's kV consecutive float4 at segment indices i, i + 4, ... (base 16-byte aligned) as
// keys: the vectors whole inside [lo, hi) from f (loaded by the caller, all in flight at
// once), the others as masked scalars read from base, 0 outside [lo, hi). Returns the mask of
// keys inside (bit 4 * u + j).
template <int kV>
__device__ __forceinline__ uint32_t vecs_to_keys(const float4 (&f)[kV],
                                                 const float* __restrict__ base, int i, int lo,
                                                 int hi, uint32_t (&key)[4 * kV]) {
  uint32_t in_mask = 0u;
#pragma unroll
  for (int u = 0; u < kV; ++u) {
    const int iu = i + 4 * u;
    if (iu >= lo && iu + 4 <= hi) {
      in_mask |= vec_to_keys(f[u], iu, lo, hi, key + 4 * u) << (4 * u);
    } else {  // NOTES: scalars loaded here, not through load_edge_vec: +330 SASS instructions
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const bool in = iu + j >= lo && iu + j < hi;
        key[4 * u + j] = in ? float_to_key(base[iu + j]) : 0u;
        in_mask |= static_cast<uint32_t>(in) << (4 * u + j);
      }
    }
  }
  return in_mask;
}

// Columns a row may have for the regs kernel of kT threads x kV float4 each (one CTA per row),
// wherever in its first vector its segment starts: the up to 3 segment indices past the CTA's
// 4 * kT * kV are the tail, thread kT-1's extra keys.
__host__ __device__ constexpr int regs_capacity(int threads, int vecs) {
  return 4 * threads * vecs;
}
constexpr int kRegsTail = 3;

// A prefill row longer than the regs kernel's CTA holds, which happens only when the caller's
// Params::max_len (which planned the launch) was below a row's end - start: the kernel stops
// with a trap (a sticky "unspecified launch failure") instead of writing the row from part of
// its columns. NOTES: a printf naming the row is a call (the ABI's saved registers): 4-120
// bytes of spills in the 1024 x 1 and 512 x 5 kernels, so the check is one compare and a trap.
__device__ __forceinline__ void trap_if_row_too_long(bool too_long) {
  if (too_long) __trap();
}

// ---------------------------------------------------------------------------------------------
// One CTA of kT threads per row (kGrid: p.grid_ctas CTAs per row, CTA q of a row holding its
// segment indices [q * 4 * kT * kV, (q + 1) * 4 * kT * kV)); each thread holds kV float4
// (4 * kV keys) in registers. Grid: num_rows (* grid_ctas) CTAs; static shared memory only.
// Rows must have <= regs_capacity columns (kGrid: <= grid_ctas times that, and the launch
// must be cooperative with p.workspace holding a GridRow per row). kCl: clusters of grid_ctas
// CTAs along x, one per row (rows of <= grid_ctas times 4 * kT * kV columns, no workspace).
// ---------------------------------------------------------------------------------------------
// NOTES: grid launches keep one CTA per SM (the planner's automatic choice, measured faster),
// so the grid kernel may use up to 128 registers: at 64 the gather path spilled.
template <int kT, int kV, bool kGrid, int kMinB = (kGrid ? 1 : 1024 / kT), bool kCl = false,
          int kOpt = 0>
__global__ void __launch_bounds__(kT, kMinB) topk_regs_kernel(const Params p) {
  constexpr int kE = 4 * kV;        // keys per thread
  constexpr int kSlice = kT * kE;   // segment indices per CTA
  constexpr bool kMulti = kGrid || kCl;  // a row over several CTAs
  static_assert(kE <= 32, "a thread's validity / selection masks are 32-bit");
  static_assert(!(kGrid && kCl), "grid or cluster mode, not both");
  static_assert(!kCl || kSlice < 65536, "cluster_bins pushes a CTA's bins as 16-bit counts");
  static_assert(kOpt == 0 || (kOpt == kOptScan && !kMulti), "kOptScan: one CTA per row only");
  __shared__ RegsSmem s;
  __shared__ std::conditional_t<kGrid, GridSmem, NoSmem> gs;
  __shared__ std::conditional_t<kCl, ClusterSmem, NoSmem> cs;
  uint64_t* const cbar = cluster_bars(cs);
  extern __shared__ __align__(16) uint32_t cl_buf[];  // cluster mode's receive buffers
  const int t = static_cast<int>(threadIdx.x);
  const int lane = static_cast<int>(lane_id());
  const int G = kMulti ? p.grid_ctas : 1;  // cluster mode: the cluster size
  const int row = static_cast<int>(blockIdx.x) / G;
  const int q = static_cast<int>(blockIdx.x) - row * G;  // CTA rank in the row
  const int ofs = q * kSlice;                             // its first segment index
  uint32_t* const buf_a = cl_buf;               // cluster mode: passes 0 and 2
  uint32_t* const buf_b = cl_buf + G * kGBins;  // pass 1
  // Cluster mode: a copy of the thread's keys (key 4u + j at word 4 (u kT + t) + j), so passes
  // 1-2 test each key once and read back only the few in the chosen bin.
  uint4* const skey = reinterpret_cast<uint4*>(cl_buf + 2 * G * kGBins);
  auto key_at = [&](int e) {
    return reinterpret_cast<const uint32_t*>(skey)[4 * ((e >> 2) * kT + t) + (e & 3)];
  };

  // Step 1: clear the histograms (barrier A orders the stores before any histogram add).
  {
    uint4* h = reinterpret_cast<uint4*>(s.hist0);
    constexpr int kWords = (2 * kGBins + kGBins / 2 + kGBins / 32 + kGBins / 64) / 4;
    for (int i = t; i < kWords; i += kT) h[i] = make_uint4(0u, 0u, 0u, 0u);
    if (t == 0) s.red[0] = s.red[1] = 0u;
    if constexpr (kCl)
      if (t == 0) cs.nlst = 0u;
  }
  if constexpr (kCl) {  // the pass mbarriers, ready before any peer pushes (its first wait)
    if (t == 0) init_cluster_bars(cbar, G);
    asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory");
  }

  // Step 2: this thread's vectors of segment indices [lo, hi) (base 16-byte aligned), raw, in
  // registers: interior vectors as one 16-byte load each, the head / tail vectors as
  // predicated scalars (0 outside [lo, hi)), all in flight together. They become keys only
  // after barrier A, vector by vector with their pass-0 adds (step 3).
  uint32_t key[kE];
  float4 f[kV];
  int llo = 0, lhi = 0;  // the loaded segment indices: [llo, lhi)
  auto load = [&](const float* __restrict__ base, int lo, int hi) {
#pragma unroll
    for (int u = 0; u < kV; ++u) {
      const int i = ofs + 4 * (t * kV + u);
      if (i >= lo && i + 4 <= hi)
        f[u] = __ldg(reinterpret_cast<const float4*>(base + i));
      else
        f[u] = load_edge_vec(base, i, lo, hi);
    }
    llo = lo;
    lhi = hi;
  };
  wait_prior_grids();  // after the clear: it overlaps the previous kernel's tail (PDL launch)
  // Decode rows start at column 0: load columns [0, num_cols) before the length is known.
  const bool early = p.mode != kModePrefill;
  const float* __restrict__ rowp = p.logits + static_cast<int64_t>(row) * p.row_stride;
  if (early) {
    const int m = static_cast<int>((reinterpret_cast<uintptr_t>(rowp) & 15u) >> 2);
    load(rowp - m, m, p.num_cols + m);
  }
  int start, a, b;  // rows no longer than k are written whole in here
  if constexpr (kMulti) {  // (cluster mode: the whole cluster leaves together)
    int end;
    row_bounds(p, row, start, end);
    if (end - start <= p.k) {
      if (q == 0) write_short_row(p, row, end - start, t, kT);
      if constexpr (kCl) asm volatile("barrier.cluster.wait.aligned;" ::: "memory");
      return;
    }
    a = start;
    b = end;
  } else {
    int r0, nc, r;
    if (!row_segment<kT, false>(p, 0, r0, start, nc, r, a, b)) return;
  }
  const uint32_t k = static_cast<uint32_t>(p.k);
  const int i0 = static_cast<int>((reinterpret_cast<uintptr_t>(rowp + a) & 15u) >> 2);
  const int i1 = b - a + i0;  // valid segment indices: [i0, i1)
  if constexpr (!kMulti)
    trap_if_row_too_long(i1 > kSlice + kRegsTail);
  // Grid: the CTAs holding part of this row (the rest hold none of it and leave). Cluster:
  // all of them (every CTA meets at the cluster barriers; those past the end hold only
  // invalid keys, and pass 0 skips threads with none valid).
  const int n = kGrid ? (i1 + kSlice - 1) / kSlice : G;
  if (kGrid && q >= n) return;
  if (!early) load(rowp + (a - i0), i0, i1);
  // The tail (one CTA per row): segment indices [kSlice, i1), at most kRegsTail of them (a row
  // of up to kSlice columns that starts inside its first vector), the row's last columns, so
  // thread kT-1's after its own. Kept in shared memory (read back by that thread only), not in
  // registers every thread would carry.
  const int ntail = kMulti ? 0 : max(i1 - kSlice, 0);
  if (!kMulti && ntail > 0 && t == kT - 1) {
    const float* __restrict__ seg = rowp + (a - i0);
    for (int j = 0; j < ntail; ++j) s.tail[j] = float_to_key(seg[kSlice + j]);
  }
  // fn(key, j) for each tail key j, on thread kT-1 (the passes and the output add them after
  // the thread's own keys)
  auto each_tail = [&](auto&& fn) {
    if (ntail > 0 && t == kT - 1)
      for (int j = 0; j < ntail; ++j) fn(s.tail[j], j);
  };
  // NOTES: invalid keys are 0 and histogrammed like the others, so the passes run without a
  // per-key validity test (a branch per key in SASS, ~2x the instructions of a pass; 10-15% of
  // the short shapes' time on H100, docs/benchmarks.md). Safe: key 0 lies in the lowest bin of
  // every pass whose prefix admits it, and the valid keys alone reach `need` by that bin, so
  // the extra counts change neither the chosen bin nor the counts above it; at most they turn
  // a bin taken whole (`ge`) into the exact path, which selects the same set. The output masks
  // them out.
  // Valid segment indices: [llo, vend) (decode rows were loaded up to the row width).
  const int vend = min(lhi, i1);
  const int ifirst = ofs + 4 * t * kV;  // this thread's first segment index
  const bool any_valid = ifirst < vend && ifirst + 4 * kV > llo;
  uint32_t valid = 0u;  // bit e: key[e] is a column of the row (the others are 0)
  GridRow* const w = kGrid ? reinterpret_cast<GridRow*>(p.workspace) + row : nullptr;
  uint32_t* const gh = kGrid ? w->hist : nullptr;
  uint32_t barriers = 0u;
  __syncthreads();  // A: histograms cleared

  // Step 3 (pass 0): top 11 key bits. Then the bin of the k-th largest key (grid: of the
  // row's histogram, the same bin in every CTA). Each vector becomes 4 keys and is added as
  // soon as its own load has landed. NOTES: until session 17 the keys were made before
  // barrier A, so A waited for every thread's last load and the adds started only after it:
  // converting after A, vector by vector, was 3-5% faster on every regs shape (1 x 4096 3.15
  // -> 3.03 us, 8192 x 8192 174 -> 165 us on H100) and left the 4- and 5-float4 widths
  // without spills. Threads holding no valid key (whole warps past a short row's end: thread
  // order == column order, so the branch is warp-uniform but for one warp) skip the adds:
  // their keys are all 0, and every one of those adds would hit bin 0 (a causal prefill
  // chunk's rows hold 1..8192 valid keys of the CTA's 10240).
#pragma unroll
  for (int u = 0; u < kV; ++u) {
    valid |= vec_to_keys(f[u], ifirst + 4 * u, llo, vend, key + 4 * u) << (4 * u);
    if (any_valid) {
#pragma unroll
      for (int j = 0; j < 4; ++j) atomicAdd(&s.hist0[key[4 * u + j] >> 21], 1u);
    }
  }
  each_tail([&](uint32_t kk, int) { atomicAdd(&s.hist0[kk >> 21], 1u); });
  // Cluster mode: the lower ranks' keys selected above thr (gl) and tied at it (el), from
  // their histograms, pass by pass.
  uint32_t gl = 0u, el = 0u;
  if constexpr (kCl) {
    // every CTA's mbarriers are initialised; cluster_bins' barrier is barrier B
    asm volatile("barrier.cluster.wait.aligned;" ::: "memory");
    // the keys' copy is stored while the pushes travel (NOTES: stored with the pass-0 adds,
    // they competed with the histogram atomics for shared-memory bandwidth: 64 x 32k 11.65 ->
    // 11.45 us when moved here, session 20)
    cluster_bins<kGBins>(s.hist0, buf_a, cs.g8, cbar, G, q, [&]() {
#pragma unroll
      for (int u = 0; u < kV; ++u)
        skey[u * kT + t] = make_uint4(key[4 * u], key[4 * u + 1], key[4 * u + 2], key[4 * u + 3]);
    });
  } else {
    __syncthreads();  // B
  }
  if constexpr (kGrid) {
    push_bins<kGBins, kT>(s.hist0, gh);
    row_barrier(&w->bar, ++barriers * n);
    pull_bins<kGBins, kT>(gh, s.hist0);
  }
  // NOTES: this pass and the non-gathered passes 1-2 below keep narrow_threshold open-coded:
  // calling it here changed the regs kernels' SASS (+16 to +32 instructions, untimed). Their
  // searches run on warp 0 (lead_bucket, lead_groups), the result published behind a barrier.
  uint32_t bin, above, cnt;
  if constexpr (kCl)
    lead_groups<kGBins, 8>(buf_a + q * kGBins, cs.g8, &s.res[0], k, bin, above, cnt);
  else if constexpr (kOpt == kOptScan)
    lead_scan<kGBins, kT>(s.hist0, s.wtot[0], &s.res[0], k, bin, above, cnt);
  else
    lead_bucket<kGBins, kT>(s.hist0, s.wtot[0], &s.res[0], k, bin, above, cnt);
  uint32_t need = k - above;  // keys still to take at or below thr
  uint32_t thr = bin << 21;
  bool ge = cnt == need;      // every key >= thr is selected
  if constexpr (kCl) lower_counts<kGBins>(s.hist0, bin, ge, false, gl, el);

  // Grid gather path. NOTES: when the chosen bin holds <= kGridCap keys in the whole row
  // (randn rows up to ~128k columns), every CTA appends its keys of the bin to the row's list
  // and adds its count of keys above the bin to counts[q]; after one barrier each CTA runs
  // passes 1-2 on the list in shared memory and takes the lower CTAs' counts from counts[] and
  // the list: 2 row barriers in all instead of 4 (each costs ~2 us on H100).
  bool gathered = false;
  uint32_t gt0 = 0u, eq0 = 0u;  // grid: lower CTAs' selected keys above / at thr
  if constexpr (kGrid) {
    if (!ge && cnt <= kGridCap) {
      gathered = true;
      const uint32_t pre = thr >> 21;
      uint32_t nb = 0u, na = 0u;  // this thread's valid keys in / above the bin
#pragma unroll
      for (int e = 0; e < kE; ++e) {
        nb += ((valid >> e) & 1u) && (key[e] >> 21) == pre;
        na += (key[e] >> 21) > pre;  // invalid keys are 0: never above
      }
      const uint32_t ib = warp_incl_scan(nb);  // list slots: one atomic per warp
      uint32_t base = 0u;
      if (lane == 31 && ib != 0u) base = atomicAdd(&w->nlist, ib);
      base = __shfl_sync(kFull, base, 31) + ib - nb;
#pragma unroll
      for (int e = 0; e < kE; ++e)
        if (((valid >> e) & 1u) && (key[e] >> 21) == pre)
          w->list[base++] = make_uint2(key[e], static_cast<uint32_t>(q));
      na = __reduce_add_sync(kFull, na);
      if (lane == 0 && na != 0u) atomicAdd(&w->counts[q], na);
      row_barrier(&w->bar, ++barriers * n);
      const int m = static_cast<int>(__ldcg(&w->nlist));
      for (int i = t; i < m; i += kT) {  // pass 1 histogram while the list comes in
        const uint2 c = __ldcg(&w->list[i]);
        gs.key[i] = c.x;
        gs.cta[i] = static_cast<uint16_t>(c.y);
        atomicAdd(&s.hist1[(c.x >> 10) & (kGBins - 1)], 1u);
      }
      for (int j = lane; j < q; j += 32) gt0 += __ldcg(&w->counts[j]);
      gt0 = __reduce_add_sync(kFull, gt0);
      __syncthreads();
      narrow_threshold<kGBins, kT>(s.hist1, s.wtot[1], 10, need, thr, ge, cnt);
      if (!ge) {
        const uint32_t pre1 = thr >> 10;
        for (int i = t; i < m; i += kT)
          if ((gs.key[i] >> 10) == pre1) atomicAdd(&s.hist2[gs.key[i] & 1023u], 1u);
        __syncthreads();
        narrow_threshold<kGBins / 2, kT>(s.hist2, s.wtot[2], 0, need, thr, ge, cnt);
      }
      // lower CTAs' list keys above / at thr, summed into s.red before the output scan's
      // barrier and read after it
      uint32_t g = 0u, x = 0u;
      for (int i = t; i < m; i += kT) {
        if (gs.cta[i] >= q) continue;
        const uint32_t kk = gs.key[i];
        g += ge ? kk >= thr : kk > thr;
        x += !ge && kk == thr;
      }
      g = __reduce_add_sync(kFull, g);
      x = __reduce_add_sync(kFull, x);
      if (lane == 0 && (g | x) != 0u) {
        atomicAdd(&s.red[0], g);
        atomicAdd(&s.red[1], x);
      }
    }
  }

  // Steps 4-5 (passes 1, 2): bits 20..10, then 9..0, of this thread's keys in the chosen bin.
  uint32_t m1 = 0u;  // cluster: bit e = key e is in pass 0's bin
  if (!ge && !gathered) {
    const uint32_t pre = thr >> 21;
    auto add = [&](uint32_t kk) {  // one CTA per row: the coarse sums too (warp_bucket_groups)
      if ((kk >> 21) == pre) {
        atomicAdd(&s.hist1[(kk >> 10) & (kGBins - 1)], 1u);
        if constexpr (!kMulti) atomicAdd(&s.c1[(kk >> 15) & 63u], 1u);
      }
    };
    if constexpr (kCl) {
      // NOTES: a mask of the keys in the bin (~3 instructions a key), then a loop over its few
      // set bits, not a test and add per key (~9 instructions: ptxas branches around each
      // predicated add); pass 2 loops over the same mask. Session 20 (H100, docs/benchmarks.md):
      // 64 x 32k 12.3 -> 11.9 us, 1 x 32k 7.41 -> 7.24.
#pragma unroll
      for (int e = 0; e < kE; ++e) m1 |= static_cast<uint32_t>(key[e] - thr < (1u << 21)) << e;
      for (uint32_t m = m1; m != 0u; m &= m - 1u)
        atomicAdd(&s.hist1[(key_at(__ffs(m) - 1) >> 10) & (kGBins - 1)], 1u);
    } else {
#pragma unroll
      for (int e = 0; e < kE; ++e) add(key[e]);
      each_tail([&](uint32_t kk, int) { add(kk); });
    }
    if constexpr (kCl) {
      cluster_bins<kGBins>(s.hist1, buf_b, cs.g8, cbar + 1, G, q);
    } else {
      __syncthreads();
    }
    if constexpr (kGrid) {
      push_bins<kGBins, kT>(s.hist1, gh + kGBins);
      row_barrier(&w->bar, ++barriers * n);
      pull_bins<kGBins, kT>(gh + kGBins, s.hist1);
    }
    if constexpr (kCl)
      lead_groups<kGBins, 8>(buf_b + q * kGBins, cs.g8, &s.res[1], need, bin, above, cnt);
    else if constexpr (kGrid)
      lead_bucket<kGBins, kT>(s.hist1, s.wtot[1], &s.res[1], need, bin, above, cnt);
    else
      lead_groups<kGBins, 32>(s.hist1, s.c1, &s.res[1], need, bin, above, cnt);
    need -= above;
    thr |= bin << 10;
    ge = cnt == need;
    if constexpr (kCl) lower_counts<kGBins>(s.hist1, bin, ge, false, gl, el);
  }
  if (!ge && !gathered) {
    const uint32_t pre = thr >> 10;
    auto add = [&](uint32_t kk) {
      if ((kk >> 10) == pre) {
        atomicAdd(&s.hist2[kk & 1023u], 1u);
        if constexpr (!kMulti) atomicAdd(&s.c2[(kk >> 5) & 31u], 1u);
      }
    };
    bool listed = false;  // cluster: pass 2 resolved from the candidates' lists
    if constexpr (kCl) {
      // NOTES: the few keys of pass 1's bin (1.5 on average in a randn 32k row) go to the
      // cluster as lists of low 10 bits (list_pass2): one 8-byte push per peer and one warp
      // ranking them, instead of a 1024-bin histogram exchange and bucket search; a CTA with
      // more than kListMax candidates (ties) makes every CTA exchange histograms instead.
      uint32_t m2 = 0u;  // bit e = key e is in pass 1's bin
      for (uint32_t m = m1; m != 0u; m &= m - 1u) {
        const int e = __ffs(m) - 1;
        const uint32_t kk = key_at(e);
        if ((kk >> 10) == pre) {
          m2 |= 1u << e;
          const uint32_t i = atomicAdd(&cs.nlst, 1u);
          if (i < kListMax) cs.lst[i] = kk & 1023u;
        }
      }
      __syncthreads();
      if (warp_id() == 0u) list_pass2(cs, cbar + 2, G, q, need, &s.res[2], gl, el);
      __syncthreads();
      const uint4 r = s.res[2];
      listed = r.w != 0u;
      bin = r.x;
      above = r.y;
      cnt = r.z;
      if (!listed) {
        for (; m2 != 0u; m2 &= m2 - 1u) atomicAdd(&s.hist2[key_at(__ffs(m2) - 1) & 1023u], 1u);
        cluster_bins<kGBins / 2>(s.hist2, buf_a, cs.g8, cbar + 3, G, q);
        lead_groups<kGBins / 2, 8>(buf_a + q * kGBins, cs.g8, &s.res[2], need, bin, above,
                                   cnt);
      }
    } else {
#pragma unroll
      for (int e = 0; e < kE; ++e) add(key[e]);
      each_tail([&](uint32_t kk, int) { add(kk); });
      __syncthreads();
    }
    if constexpr (kGrid) {
      push_bins<kGBins / 2, kT>(s.hist2, gh + 2 * kGBins);
      row_barrier(&w->bar, ++barriers * n);
      pull_bins<kGBins / 2, kT>(gh + 2 * kGBins, s.hist2);
      lead_bucket<kGBins / 2, kT>(s.hist2, s.wtot[2], &s.res[2], need, bin, above, cnt);
    } else if constexpr (!kCl) {
      lead_groups<kGBins / 2, 32>(s.hist2, s.c2, &s.res[2], need, bin, above, cnt);
    }
    need -= above;
    thr |= bin;  // the exact k-th key
    ge = cnt == need;
    if constexpr (kCl)
      if (!listed) lower_counts<kGBins / 2>(s.hist2, bin, ge, !ge, gl, el);
  }
  if constexpr (kCl) {
    // Every push into this CTA has landed (the last pass's mbarrier): arrive at the exit
    // barrier now, wait only before leaving, so no CTA leaves while a push of its own may
    // still be on its way to a peer. NOTES: relaxed: the default release arrive compiles to
    // a GPU-scope memory barrier.
    asm volatile("barrier.cluster.arrive.relaxed.aligned;" ::: "memory");
    // the lower ranks' counts, summed into s.red before the output scan's barrier
    gl = __reduce_add_sync(kFull, gl);
    el = __reduce_add_sync(kFull, el);
    if (lane == 0 && (gl | el) != 0u) {
      atomicAdd(&s.red[0], gl);
      atomicAdd(&s.red[1], el);
    }
  }

  // Step 6: ordered output. Selected: key >= thr when ge, else key > thr plus the `need`
  // lowest-column keys == thr. One block scan of (#selected above | #tied << 16) per thread
  // (thread order == column order; both counts < 2^16 for one CTA's keys), staged.
  // NOTES: "above" as one compare per key, key >= tsel (ge: thr, else thr + 1, none when thr
  // is the top key and not taken whole), and the tied mask only where not ge.
  const uint32_t tsel = ge ? thr : thr + 1u;
  uint32_t gm = 0u, em = 0u;
#pragma unroll
  for (int e = 0; e < kE; ++e) gm |= static_cast<uint32_t>(key[e] >= tsel) << e;
  if (!ge) {
#pragma unroll
    for (int e = 0; e < kE; ++e) em |= static_cast<uint32_t>(key[e] == thr) << e;
    if (tsel == 0u) gm = 0u;  // thr + 1 wrapped: nothing above the top key
  }
  gm &= valid;  // an invalid key (0) passes only when thr is 0
  em &= valid;
  static_assert(kE + kRegsTail <= 32, "the tail's bits follow the thread's keys");
  each_tail([&](uint32_t kk, int j) {  // bits kE.. (columns col0 + kE ..: see below)
    gm |= static_cast<uint32_t>(ge ? kk >= thr : kk > thr) << (kE + j);
    em |= static_cast<uint32_t>(!ge && kk == thr) << (kE + j);
  });
  const uint32_t mine = static_cast<uint32_t>(__popc(gm)) | (static_cast<uint32_t>(__popc(em)) << 16);
  uint32_t total;  // the CTA's (#above | #tied << 16)
  const uint32_t excl = block_excl_sum<kT>(mine, s.wtot[3], total);
  uint32_t gt_before = excl & 0xffffu, eq_before = excl >> 16;
  // Selected keys of lower CTAs (grid) come first: gt0 above thr, and the lowest-column
  // min(eq0, need) tied ones.
  if constexpr (kGrid) {
    if (gathered) {
      gt0 += s.red[0];
      eq0 = s.red[1];
    } else {  // exchange the CTAs' counts at one more row barrier
      if (t == 0) w->counts[q] = total;
      row_barrier(&w->bar, ++barriers * n);
      add_lower_counts(w->counts, q, gt0, eq0);
    }
    gt_before += gt0;
    eq_before += eq0;
  }
  if constexpr (kCl) {
    gt0 = s.red[0];
    eq0 = s.red[1];
    // The k-th key is key 0 (a NaN pattern, tied with the invalid keys): the lower ranks'
    // invalid keys, all 0, were counted in its last-pass bin (pass 2 histograms every key of
    // the prefix); take them out. The lower ranks hold segment indices [0, q * kSlice).
    if (!ge && thr == 0u) {
      const int lim = q * kSlice;
      eq0 -= static_cast<uint32_t>(lim - max(min(i1, lim) - i0, 0));
    }
    gt_before += gt0;
    eq_before += eq0;
  }
  if (em != 0u) take_lowest(gm, em, need > eq_before ? need - eq_before : 0u);
  // This CTA writes output slots [first, first + its selected count) of the row (all k of them
  // with one CTA per row), in column order.
  const uint32_t first = gt0 + min(eq0, need);
  uint32_t pos = gt_before + min(eq_before, need) - first;
  const int32_t col0 = (a - i0 - start) + ofs + 4 * kV * t;
  if constexpr (kMulti) {
    // Several CTAs per row (a long row, of which a CTA selects few keys: ~6% of a 32k row's):
    // each thread stores its positions itself, a loop over its selected keys. NOTES: session
    // 20 (H100): against staging them in shared memory as one CTA per row does (a predicated
    // store per key slot, a barrier, coalesced stores), the staging loop over the set bits made
    // 64 x 32k 11.76 -> 11.57 us, 1 x 64k 9.08 -> 8.80, 8 x 128k 13.2 -> 13.05, and storing
    // straight to global memory 64 x 32k 11.37 -> 11.15, 1 x 32k 6.97 -> 6.82, 1 x 128k 10.32
    // -> 10.17: a warp's stores still land in a few consecutive sectors.
    int32_t* __restrict__ dst = p.out + static_cast<int64_t>(row) * p.out_stride + first;
    for (; gm != 0u; gm &= gm - 1u) dst[pos++] = col0 + __ffs(gm) - 1;
    if constexpr (kGrid) {
      __syncthreads();
      // Every read of the row's workspace by this CTA is behind it: count it out.
      if (t == 0) {
        __threadfence();
        s.last = atomicAdd(&w->done, 1u) == static_cast<uint32_t>(n) - 1u;
      }
    }
  } else {
    // NOTES: staged in shared memory and stored coalesced: each thread storing its own
    // positions straight to global memory (every store a partial sector, half the keys
    // selected) made 1 x 4096 25% and the 8192-column prefills 45% slower (H100, commit
    // 5a3b0b5). One predicated store per key slot (unrolled), not a loop over the set bits:
    // the loop ran as long as the warp's fullest thread, ~9 instructions an iteration.
    uint32_t* stage = s.hist0;  // k <= kGBins; the last reader passed the scan's barrier
    static_assert(kMaxK <= kGBins, "the staging row holds k positions");
#pragma unroll
    for (int e = 0; e < kE; ++e)
      if ((gm >> e) & 1u) stage[pos++] = static_cast<uint32_t>(col0 + e);
    for (gm >>= kE; gm != 0u; gm &= gm - 1u)  // the tail's (thread kT-1)
      stage[pos++] = static_cast<uint32_t>(col0 + kE + __ffs(gm) - 1);
    __syncthreads();
    int32_t* __restrict__ dst = p.out + static_cast<int64_t>(row) * p.out_stride + first;
    // NOTES: a 16-byte aligned output row stores 16 bytes a thread (session 18: 1% on the
    // 4096-column decodes, 1 x 4096 2.97 -> 2.94 us on H100).
    if ((reinterpret_cast<uintptr_t>(dst) & 15u) == 0u && (k & 3u) == 0u) {
      for (int i = 4 * t; i < static_cast<int>(k); i += 4 * kT)
        *reinterpret_cast<uint4*>(dst + i) = *reinterpret_cast<const uint4*>(stage + i);
    } else {
      for (int i = t; i < static_cast<int>(k); i += kT) dst[i] = static_cast<int32_t>(stage[i]);
    }
  }
  if constexpr (kGrid) {
    __syncthreads();
    // every CTA of the row is done with the block: zero it for the next launch (the bins of
    // the passes that pushed histograms: barriers - 1 of them; the gather path pushes only
    // pass 0's and has 2 barriers)
    if (s.last) {
      const int words = min(static_cast<int>(barriers - 1u) * kGBins, 2 * kGBins + kGBins / 2);
      reset_grid_row<kT>(w, words, n, gathered);
    }
  }
  if constexpr (kCl) asm volatile("barrier.cluster.wait.aligned;" ::: "memory");
}

}  // namespace topk
}  // namespace glm52
