// SPDX-License-Identifier: Apache-2.0
// Kernel translation unit of the GLM-5.2 indexer top-k: instantiates the kernels and picks the
// launch shape. Torch-free, so tests/unit/test_topk_build.py can compile it with bare nvcc.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "topk_kernel.cuh"
#include "topk_radix.cuh"
#include "topk_regs.cuh"
#include "topk_slices.cuh"

namespace glm52 {
namespace topk {
namespace {

constexpr int kMaxDevices = 64;

// Per-device facts, gathered once (the first call on a device must not be inside a CUDA-graph
// capture: it sets function attributes and queries occupancy).
struct DeviceInfo {
  int sms = 0;
  int blocks_per_sm = 0;
  int max_clusters[5] = {0, 0, 0, 0, 0};  // resident clusters of 1 << i CTAs (i >= 1)
  int forced_cluster = 0;                 // VLLM_GLM52_TOPK_CLUSTER, 0 = automatic
  int forced_algo = -1;                   // VLLM_GLM52_TOPK_ALGO, -1 = automatic
  bool pdl = true;                        // VLLM_GLM52_TOPK_PDL (default 1)
  int opt = -1;  // VLLM_GLM52_TOPK_OPT: -1 automatic (unset), 0 / 1 kOptScan off / on
  // radix kernel: resident keys per CTA at one / two CTAs per SM, and resident clusters of
  // 1 << i CTAs at two CTAs per SM ([0]) and at one ([1])
  int res_max = 0;
  int res_half = 0;
  int l2_bytes = 0;
  int radix_clusters[2][5] = {{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}};
  int grid_per_sm[2] = {0, 0};  // resident CTAs per SM of the grid kernels (kGridVecs order)
  int slices_per_sm = 0;        // ... of the slices kernel
  int solo_per_sm[2] = {0, 0};  // ... of its one-CTA-per-row variants (kSoloThreads order)
  // cluster kernel: resident clusters of c CTAs (index c, 2..kClusterMaxCtas) per width
  // (kClusterThreads / kClusterVecs order)
  int cl_clusters[3][kClusterMaxCtas + 1] = {};
  cudaError_t err = cudaSuccess;
};

DeviceInfo g_info[kMaxDevices];
// set_forced's override of VLLM_GLM52_TOPK_ALGO: kUnset, -1 (automatic) or an Algo.
constexpr int kUnset = -2;
std::atomic<int> g_forced_algo{kUnset};
std::atomic<int> g_forced_cluster{0};  // set_forced's cluster size, 0 = automatic
std::atomic<int> g_forced_threads{0};  // set_forced's regs-kernel CTA size, 0 = automatic
std::atomic<int> g_forced_vecs{0};     // set_forced's grid / slices float4 per thread, 0 = auto
std::atomic<int> g_sample{1};          // set_forced's sample: Params::slices_sample
std::atomic<int> g_pdl{-1};            // set_forced's pdl: -1 VLLM_GLM52_TOPK_PDL, 0 off, 1 on
std::atomic<int> g_opt{-1};  // set_forced's opt: -1 VLLM_GLM52_TOPK_OPT, 0 / 1 off / on
std::once_flag g_once[kMaxDevices];

// Makes `cfg` launch clusters of `cs` CTAs along x (`attr` must outlive the launch or query).
void set_cluster(cudaLaunchConfig_t& cfg, cudaLaunchAttribute& attr, unsigned cs) {
  attr.id = cudaLaunchAttributeClusterDimension;
  attr.val.clusterDim.x = cs;
  attr.val.clusterDim.y = 1;
  attr.val.clusterDim.z = 1;
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
}

// Adds programmatic stream serialization (PDL) to `cfg`'s attributes (attrs[0 .. numAttrs)
// must be `attrs`, with room for one more): the kernel may start before the previous kernel in
// the stream completes; every kernel waits for it (wait_prior_grids) before touching global
// memory, so only the launch and the shared-memory prologue overlap.
void add_pdl(cudaLaunchConfig_t& cfg, cudaLaunchAttribute* attrs) {
  cudaLaunchAttribute& a = attrs[cfg.numAttrs];
  a.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  a.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attrs;
  cfg.numAttrs += 1;
}

// How many clusters of `cs` CTAs of `kernel` the device keeps resident at once (0 if none or
// if the query fails, which then just rules that cluster size out).
template <typename Kernel>
int resident_clusters(Kernel kernel, int threads, size_t smem, unsigned cs) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(cs);
  cfg.blockDim = dim3(static_cast<unsigned>(threads));
  cfg.dynamicSmemBytes = smem;
  cudaLaunchAttribute attr;
  set_cluster(cfg, attr, cs);
  int n = 0;
  if (cudaOccupancyMaxActiveClusters(&n, kernel, &cfg) != cudaSuccess) {
    (void)cudaGetLastError();
    n = 0;
  }
  return n;
}

// Both variants (per-row, cluster) of a kernel may use `bytes` of dynamic shared memory.
template <class Kernel>
cudaError_t allow_smem(Kernel per_row, Kernel cluster, size_t bytes) {
  cudaError_t e = cudaFuncSetAttribute(per_row, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(bytes));
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(cluster, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(bytes));
  return e;
}

// Clusters of 16 are "non-portable"; a device that refuses them just never gets them.
template <class Kernel>
void allow_16_cta_clusters(Kernel cluster) {
  if (cudaFuncSetAttribute(cluster, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) !=
      cudaSuccess)
    (void)cudaGetLastError();
}

// Grid kernel (topk_regs.cuh, kGrid): 512 threads, 2 or 4 float4 per thread, i.e. 4096 or
// 8192 columns per CTA.
constexpr int kGridThreads = 512;
constexpr int kGridVecs[2] = {2, 4};

using RegsKernel = void (*)(const Params);

RegsKernel grid_kernel(int vecs) {
  return vecs == 2 ? topk_regs_kernel<kGridThreads, 2, true>
                   : topk_regs_kernel<kGridThreads, 4, true>;
}

// Cluster kernel (topk_regs.cuh, kCl): CTAs of 512 threads x 2 or 4 float4 or 1024 threads x
// 4 float4 (4096, 8192 or 16384 columns) in one thread-block cluster per row. NOTES: launch
// bounds of 2 / 2 / 1 CTAs per SM (64 registers): the exchange's pushes and sums need more
// than the regs kernel's 32 / 40, which spilled 124-220 bytes (sm_90a); 512 x 2 kept 3 CTAs
// per SM (40 registers) until its push exchange spilled 48 bytes there (session 16).
constexpr int kClusterWidths = 3;
constexpr int kClusterThreads[kClusterWidths] = {512, 512, 1024};
constexpr int kClusterVecs[kClusterWidths] = {2, 4, 4};
// The kernel of a width; nullptr (the launch then fails) for any other.
RegsKernel cluster_kernel(int threads, int vecs) {
  if (threads == 512 && vecs == 2) return topk_regs_kernel<512, 2, false, 2, true>;
  if (threads == 512 && vecs == 4) return topk_regs_kernel<512, 4, false, 2, true>;
  if (threads == 1024 && vecs == 4) return topk_regs_kernel<1024, 4, false, 1, true>;
  return nullptr;
}

// Slices kernel (topk_slices.cuh): 512 threads, 4 float4 per thread and slice, i.e. slices of
// 8192 columns. NOTES: 8 float4 (16384-column slices, half the sweep iterations) was slower on
// every shape (H100, 8 x 1M: 61.8 us against 48.6, 64 x 128k: 51.8 against 45.0, commit
// b830264) and spilled at 128 registers. One CTA per row (kSolo): 512 threads (launch bounds
// of two CTAs per SM: 64 registers, no spills) or 256 (4096-column slices; forced only).
constexpr int kSlicesVecs = 4;
const RegsKernel kSlicesKernel = topk_slices_kernel<kGridThreads, kSlicesVecs, false>;
constexpr int kSoloThreads[2] = {512, 256};
const RegsKernel kSlicesSoloKernel[2] = {topk_slices_kernel<512, kSlicesVecs, true, 2>,
                                         topk_slices_kernel<256, kSlicesVecs, true>};

void init_device(int dev, DeviceInfo& info) {
  const size_t smem = sizeof(Smem);
  int optin = 0;
  cudaError_t e = cudaDeviceGetAttribute(&info.sms, cudaDevAttrMultiProcessorCount, dev);
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  if (e == cudaSuccess && static_cast<size_t>(optin) < smem) e = cudaErrorInvalidConfiguration;
  if (e == cudaSuccess) e = allow_smem(topk_rows_kernel<false>, topk_rows_kernel<true>, smem);
  if (e == cudaSuccess)
    e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&info.blocks_per_sm,
                                                      topk_rows_kernel<false>, kThreads, smem);
  if (e != cudaSuccess) {
    info.err = e;
    return;
  }
  allow_16_cta_clusters(topk_rows_kernel<true>);
  for (int lg = 1; lg <= 4; ++lg)
    info.max_clusters[lg] = resident_clusters(topk_rows_kernel<true>, kThreads, smem, 1u << lg);
  // Radix kernel: the largest key store per CTA at one CTA per SM (all opt-in shared memory)
  // and at two (half the SM's shared memory, less the 1 KiB the runtime reserves per CTA).
  int per_sm = 0;
  e = cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&info.l2_bytes, cudaDevAttrL2CacheSize, dev);
  if (e == cudaSuccess) {
    const int hdr = static_cast<int>(sizeof(RadixSmem));
    info.res_max = ((optin - hdr) / 4) & ~255;
    info.res_half = ((per_sm / 2 - 1024 - hdr) / 4) & ~255;
    if (info.res_half < kRTile) info.res_half = 0;
    e = allow_smem(topk_radix_kernel<false>, topk_radix_kernel<true>,
                   radix_smem_bytes(info.res_max));
  }
  if (e != cudaSuccess) {
    info.err = e;
    return;
  }
  for (int i = 0; i < 2 && e == cudaSuccess; ++i)
    e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&info.grid_per_sm[i],
                                                      grid_kernel(kGridVecs[i]), kGridThreads, 0);
  // the largest dynamic shared memory a launch asks for: the bitmap at its largest
  const int grid_smem = slices_smem_bytes(false, kBitmapWordsMulti * 2 / kGridThreads,
                                          kGridThreads);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(kSlicesKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             grid_smem);
  if (e == cudaSuccess)
    e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&info.slices_per_sm, kSlicesKernel,
                                                      kGridThreads, grid_smem);
  for (int i = 0; i < 2 && e == cudaSuccess; ++i) {
    const int solo_smem = slices_smem_bytes(true, kBitmapWordsSolo * 2 / kSoloThreads[i],
                                            kSoloThreads[i]);
    e = cudaFuncSetAttribute(kSlicesSoloKernel[i], cudaFuncAttributeMaxDynamicSharedMemorySize,
                             solo_smem);
    if (e == cudaSuccess)
      e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &info.solo_per_sm[i], kSlicesSoloKernel[i], kSoloThreads[i], solo_smem);
  }
  if (e != cudaSuccess) {
    info.err = e;
    return;
  }
  for (int i = 0; i < kClusterWidths; ++i) {
    const RegsKernel kernel = cluster_kernel(kClusterThreads[i], kClusterVecs[i]);
    const int keys = regs_capacity(kClusterThreads[i], kClusterVecs[i]);
    // its receive buffers and keys (dynamic shared memory) at the largest cluster; a failure
    // just leaves the cluster sizes that need more unplanned (their occupancy query fails)
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(cluster_smem_bytes(kClusterMaxCtas, keys))) !=
        cudaSuccess)
      (void)cudaGetLastError();
    for (int c = 2; c <= kClusterMaxCtas; ++c)
      info.cl_clusters[i][c] =
          resident_clusters(kernel, kClusterThreads[i], cluster_smem_bytes(c, keys), c);
  }
  allow_16_cta_clusters(topk_radix_kernel<true>);
  for (int full = 0; full < 2; ++full)
    for (int lg = 1; lg <= 4; ++lg)
      info.radix_clusters[full][lg] = resident_clusters(
          topk_radix_kernel<true>, kRThreads,
          radix_smem_bytes(full ? info.res_max : info.res_half), 1u << lg);
  if (const char* env = std::getenv("VLLM_GLM52_TOPK_ALGO")) {
    const std::string v(env);
    if (v == "stream") info.forced_algo = kAlgoStream;
    if (v == "radix") info.forced_algo = kAlgoRadix;
    if (v == "regs") info.forced_algo = kAlgoRegs;
    if (v == "grid") info.forced_algo = kAlgoGrid;
    if (v == "slices") info.forced_algo = kAlgoSlices;
    if (v == "cluster") info.forced_algo = kAlgoCluster;
  }
  if (const char* env = std::getenv("VLLM_GLM52_TOPK_PDL")) info.pdl = std::string(env) != "0";
  if (const char* env = std::getenv("VLLM_GLM52_TOPK_OPT")) {  // "0" / "1"; else automatic
    const std::string v(env);
    if (v == "0" || v == "1") info.opt = v == "1";
  }
  if (const char* env = std::getenv("VLLM_GLM52_TOPK_CLUSTER")) {
    const int v = std::atoi(env);
    if (v == 1 || v == 2 || v == 4 || v == 8 || v == 16) info.forced_cluster = v;
  }
}

const DeviceInfo* device_info(cudaError_t& err) {
  int dev = 0;
  err = cudaGetDevice(&dev);
  if (err != cudaSuccess) return nullptr;
  if (dev < 0 || dev >= kMaxDevices) {
    err = cudaErrorInvalidDevice;
    return nullptr;
  }
  std::call_once(g_once[dev], init_device, dev, std::ref(g_info[dev]));
  err = g_info[dev].err;
  return err == cudaSuccess ? &g_info[dev] : nullptr;
}

int log2_exact(int c) {
  int lg = 0;
  while ((1 << lg) < c) ++lg;
  return lg;
}

// CTAs per row. NOTES: grow the cluster while (a) the whole launch stays one wave of resident
// CTAs, (b) a row of num_cols columns still gives every CTA >= 2 * kMinClusterSeg columns and
// (c) the device can keep all rows' clusters resident. Many rows => one CTA per row (no
// cluster cost); few long rows => up to 16 CTAs per row.
int choose_cluster(const DeviceInfo& info, int num_rows, int num_cols) {
  const int64_t slots = static_cast<int64_t>(info.sms) * (info.blocks_per_sm > 0 ? info.blocks_per_sm : 1);
  if (info.forced_cluster > 0) {
    const int c = info.forced_cluster;
    if (c == 1 || info.max_clusters[log2_exact(c)] >= 1) return c;
  }
  int c = 1;
  for (int lg = 1; lg <= 4; ++lg) {
    const int cand = 1 << lg;
    if (static_cast<int64_t>(num_rows) * cand > slots) break;
    if (static_cast<int64_t>(num_cols) < static_cast<int64_t>(cand) * 2 * kMinClusterSeg) break;
    if (info.max_clusters[lg] < num_rows) break;
    c = cand;
  }
  return c;
}

// Radix kernel plan. NOTES: clusters grow while the launch stays within one CTA per SM,
// rows are longer than 2 * kRClusterSeg, every CTA keeps >= kRClusterSeg columns and the
// clusters fit (a cluster costs barriers and remote round trips, worth it only for long
// segments: the cluster sweep in docs/benchmarks.md); the key store is the segment
// (rounded up, plus 3 for the alignment shift) up to the two-per-SM size, or up to all shared
// memory when the launch has at most one CTA per SM anyway. The radix kernel is chosen when
// at least a quarter of each segment stays resident or all rows fit in L2 (the rest is read
// two to four times); longer segments stream through topk_rows_kernel, which reads everything once.
constexpr int kRClusterSeg = 16384;

Plan plan_radix(const DeviceInfo& info, int num_rows, int num_cols) {
  Plan pl{kAlgoRadix, 1, 0};
  const int forced_now = g_forced_cluster.load(std::memory_order_relaxed);
  const int forced = forced_now > 0 ? forced_now : info.forced_cluster;
  for (int lg = 1; lg <= 4; ++lg) {
    const int cand = 1 << lg;
    if (forced > 0) {
      if (cand > forced) break;
    } else {
      if (static_cast<int64_t>(num_rows) * cand > info.sms) break;
      if (num_cols <= 2 * kRClusterSeg ||
          static_cast<int64_t>(num_cols) < static_cast<int64_t>(cand) * kRClusterSeg)
        break;
      if (info.radix_clusters[0][lg] < num_rows) break;
    }
    if (info.radix_clusters[0][lg] < 1) break;
    pl.cluster = cand;
  }
  const int c = pl.cluster;
  const int64_t seg = (static_cast<int64_t>(num_cols) + c - 1) / c + 3;
  const int64_t want = (seg + 31) & ~static_cast<int64_t>(31);  // whole 32-column words
  const bool one_per_sm = static_cast<int64_t>(num_rows) * c <= info.sms &&
                          (c == 1 || info.radix_clusters[1][log2_exact(c)] >= num_rows);
  const int64_t cap = one_per_sm || info.res_half == 0 ? info.res_max : info.res_half;
  pl.res_cap = static_cast<int>(want < cap ? want : cap);
  // Re-reads of a non-resident remainder come from L2 when all rows fit in 3/4 of it (then the
  // radix kernel still wins: measured 8 x 1M on H100, docs/benchmarks.md).
  const bool fits_l2 = static_cast<int64_t>(num_rows) * num_cols * 4 <=
                       static_cast<int64_t>(info.l2_bytes) * 3 / 4;
  if (4 * static_cast<int64_t>(pl.res_cap) < seg && !fits_l2) pl.algo = kAlgoStream;
  return pl;
}

// Regs kernel configurations: float4 per thread at each CTA size, fewest first (the automatic
// plan takes the first that holds the row). NOTES: 512 threads while 5 float4 hold the row,
// then 1024; the register budget caps a thread at 5 float4 (20 keys).
constexpr int kRegsVecs512[4] = {2, 3, 4, 5};
constexpr int kRegsVecs1024[4] = {1, 2, 3, 5};

// The float4 per thread of the regs kernel of `threads` for rows of num_cols columns (`vecs` >
// 0: only that width), 0 if none holds them.
int regs_vecs(int threads, int num_cols, int vecs) {
  for (int v : threads == 512 ? kRegsVecs512 : kRegsVecs1024)
    if ((vecs == 0 || v == vecs) && num_cols <= regs_capacity(threads, v)) return v;
  return 0;
}

// The regs kernel's plan (threads, float4 per thread) for rows of num_cols columns (`threads`,
// `vecs` 0: automatic; a forced width that does not hold the rows is ignored); algo -1 if no
// configuration holds them.
Plan plan_regs(int num_cols, int threads, int vecs) {
  if (threads == 0) threads = regs_vecs(512, num_cols, 0) > 0 ? 512 : 1024;
  int v = regs_vecs(threads, num_cols, vecs);
  if (v == 0) v = regs_vecs(threads, num_cols, 0);
  if (v == 0) return Plan{-1, 0, 0};
  return Plan{kAlgoRegs, 1, threads, v};
}

// NOTES: launch bounds of 3 or 4 CTAs per SM (40 / 32 registers) where that costs no or few
// spills: CTAs of these short rows mostly wait on their own dependent instructions and
// barriers, so more resident CTAs per SM is what makes many-row launches faster (H100, session
// 12 in docs/benchmarks.md: prefill 8192 x 8192 at 4 float4 per thread 187 -> 161 us with 3
// CTAs per SM instead of 2). Rows of at most 4096 columns at 1024 threads: 2 per SM.
// `scan`: the kernel with kOptScan (pass 0 searched from per-thread prefix sums), instantiated
// for 512 threads x 2 or 3 float4 (rows of up to 6144 columns); other widths ignore it. At 2
// float4 it takes 3 CTAs per SM (40 registers): at 32, 16-32 bytes spilled.
RegsKernel regs_kernel(int threads, int vecs, bool scan) {
  if (scan && threads == 512 && vecs == 2)
    return topk_regs_kernel<512, 2, false, 3, false, kOptScan>;
  if (scan && threads == 512 && vecs == 3)
    return topk_regs_kernel<512, 3, false, 3, false, kOptScan>;
  if (threads == 512) {
    switch (vecs) {
      case 2: return topk_regs_kernel<512, 2, false, 4>;
      case 3: return topk_regs_kernel<512, 3, false, 3>;
      case 4: return topk_regs_kernel<512, 4, false, 3>;
      default: return topk_regs_kernel<512, 5, false, 3>;
    }
  }
  switch (vecs) {
    case 1: return topk_regs_kernel<1024, 1, false, 2>;
    case 2: return topk_regs_kernel<1024, 2, false, 2>;
    case 3: return topk_regs_kernel<1024, 3, false>;
    default: return topk_regs_kernel<1024, 5, false>;
  }
}

// Grid kernel plan (algo -1 when it does not apply): every row gets a workspace block, a row
// needs 2..kGridMaxCtas CTAs and the whole launch is resident at once (the cooperative launch
// checks it too). `shift`: how far into its first 16-byte vector a row's segment may start (0
// for decode rows of aligned logits, else 3), since CTA slices are whole vectors. `vecs` 0:
// 2 float4 per thread (4096 columns per CTA) while the launch keeps one CTA per SM, else 4
// (fewer CTAs at each row barrier) within one CTA per SM; a forced width may use two CTAs
// per SM. NOTES: H100 grid sweep in docs/benchmarks.md (1 x 1M: 128 CTAs of 8192 columns
// 14.8 us, 256 of 4096 19.5 us; 1 x 128k: 32 of 4096 11.2 us, 16 of 8192 12.6 us).
Plan plan_grid(const DeviceInfo& info, int num_rows, int num_cols, int64_t ws_bytes, int vecs,
               int shift) {
  const Plan none{-1, 0, 0};
  if (ws_bytes / kGridRowBytes < num_rows) return none;
  int64_t ctas[2], cap[2];
  for (int i = 0; i < 2; ++i) {
    const int64_t slice = 4LL * kGridThreads * kGridVecs[i];
    ctas[i] = (static_cast<int64_t>(num_cols) + shift + slice - 1) / slice;
    cap[i] = static_cast<int64_t>(info.sms) * info.grid_per_sm[i];
  }
  // automatic: one CTA per SM at most (64 x 32k at two per SM, 4 x 8192 columns: 19.0 us
  // against the radix kernel's 16.3, H100); forced: any resident launch
  for (int i = 0; i < 2; ++i) {
    const int64_t limit = vecs == 0 ? std::min<int64_t>(info.sms, cap[i]) : cap[i];
    if ((vecs == 0 || vecs == kGridVecs[i]) && ctas[i] >= 2 && ctas[i] <= kGridMaxCtas &&
        ctas[i] * num_rows <= limit)
      return Plan{kAlgoGrid, static_cast<int>(ctas[i]), kGridVecs[i]};
  }
  return none;
}

// Cluster kernel plan (algo -1 when it does not apply): rows too long for the regs kernel,
// split over one cluster of C = 2..kClusterMaxCtas CTAs of one of the kClusterWidths widths
// (C the fewest that hold the row plus `shift`). Automatic (`threads`, `vecs` 0): 512 x 4,
// else 1024 x 4, the first whose launch is one wave of resident clusters of at most
// kClusterAutoCtas; none if neither is. Forced (`forced`): the widths matching `threads` /
// `vecs` (0: any; 512 x 4 first), any launch the device can run.
// NOTES: H100, commit 3dd14b6 (push exchange; docs/benchmarks.md, session 16), us, 512x2 /
// 512x4 / 1024x4: 1 x 32k 9.2 / 7.9 / 9.2 (grid kernel 9.9), 8 x 32k 10.4 / 8.9 / 10.2 (grid
// 10.3), 32 x 32k 28.2 / 12.6 / 11.5 (grid 13.0), 64 x 32k 47.5 / 19.5 (two waves) / 12.6
// (radix 15.7); clusters of 8 lose (1 x 64k on 512 x 4: 10.1 against 4 CTAs of 1024 x 4's
// 9.96; 1 x 128k 13.2 against the grid kernel's 10.8). Session 15's pull exchange (a release
// cluster barrier, i.e. a GPU-scope fence, per pass) was 0.6-1.0 us slower on each.
constexpr int kClusterAutoCtas = 4;
constexpr int kClusterOrder[kClusterWidths] = {1, 2, 0};

Plan plan_cluster(const DeviceInfo& info, int num_rows, int num_cols, int threads, int vecs,
                  int shift, bool forced) {
  for (int i : kClusterOrder) {
    if ((vecs != 0 && vecs != kClusterVecs[i]) || (threads != 0 && threads != kClusterThreads[i]))
      continue;
    if (!forced && i == 0) continue;  // 512 x 2: slower than 512 x 4 on every shape measured
    const int64_t slice = 4LL * kClusterThreads[i] * kClusterVecs[i];
    const int64_t c = (static_cast<int64_t>(num_cols) + shift + slice - 1) / slice;
    if (c < 2 || c > (forced ? kClusterMaxCtas : kClusterAutoCtas)) continue;
    // 1024 x 4 on more than 2 CTAs only for one row (8 x 64k: 11.4 us against the grid
    // kernel's 10.9; 1 x 64k: 9.95 against 10.2; session 16)
    if (!forced && kClusterThreads[i] == 1024 && c > 2 && num_rows > 1) continue;
    const int resident = info.cl_clusters[i][c];
    if (resident < 1 || (!forced && num_rows > resident)) continue;
    return Plan{kAlgoCluster, static_cast<int>(c), kClusterVecs[i], kClusterThreads[i],
                kClusterThreads[i]};
  }
  return Plan{-1, 0, 0};
}

// Slices kernel plan (algo -1 when it does not apply). Rows of several CTAs: every row gets a
// workspace block and G = num_SMs / rows CTAs (at most one per SM, at most the row's slices),
// each owning S consecutive 8192-column slices; automatic only with G >= 2 and S >=
// kSlicesMinPer. Rows of one CTA (kSolo: no workspace, any row count): the whole row's
// slices; automatic per solo_wins and forced with 512 threads (256 with `threads`).
// NOTES: H100, commit 3a3cf68 (one slice in flight): 8 x 1M (S = 8) 47.1 us against the radix
// kernel's 71.1; 64 x 128k (S = 8) 45.5 against 46.2; 64 x 1M (S = 64, rows 8x L2) 308 us
// against the streaming kernel's 338: its sweeps cost less per column than the streaming
// kernel's running threshold even when the re-reads miss L2. b830264: 64 x 32k (S = 2)
// 18.7 us against the radix kernel's 16.3, so short rows keep the radix kernel.
constexpr int kSlicesMinPer = 4;

// Rows the one-CTA-per-row slices kernel serves automatically: rows too many for two CTAs
// each (the multi-CTA plan's G < 2) and short enough for the bitmap output (<= 32 x
// kBitmapWordsSolo columns; longer rows take an output sweep and lose to the streaming
// kernel). 512-thread CTAs, two per SM (64 registers) where their shared memory allows it.
// NOTES: H100, commit d1e3543, ms, 512 threads at two CTAs per SM / 256 threads (two per SM,
// the automatic choice before): 256 x 32k 0.0231 / 0.0240, 256 x 64k 0.0333 / 0.0357, 256 x
// 128k 0.0581 / 0.0634, prefill 2048 x 64k 0.219 / 0.262, 8192 x 64k 0.786 / 0.933; 128 x
// 32k 0.0162, 128 x 128k 0.0345, 96 x 256k 0.0490 as at one CTA per SM (commit 67d9023 for
// the 256-thread history). 64 x 32k (G = 2) keeps the radix kernel (0.0159 against 0.0182).
bool solo_wins(const DeviceInfo& info, int num_rows, int num_cols, int shift) {
  return 2 * num_rows > info.sms &&
         static_cast<int64_t>(num_cols) + shift <= 32LL * kBitmapWordsSolo;
}

Plan plan_slices(const DeviceInfo& info, int num_rows, int num_cols, int64_t ws_bytes,
                 bool forced, int shift, int threads) {
  const Plan none{-1, 0, 0};
  const int64_t slice = 4LL * kGridThreads * kSlicesVecs;
  const int64_t total = (static_cast<int64_t>(num_cols) + shift + slice - 1) / slice;
  int64_t g = std::min<int64_t>({info.sms / num_rows, total, kGridMaxCtas});
  if (g >= 2 && threads != 256 && ws_bytes / kGridRowBytes >= num_rows &&
      info.slices_per_sm >= 1) {
    const int64_t per = (total + g - 1) / g;  // slices per CTA
    g = (total + per - 1) / per;
    if (forced || per >= kSlicesMinPer)
      return Plan{kAlgoSlices, static_cast<int>(g), kSlicesVecs, static_cast<int>(per),
                  kGridThreads};
    return none;  // short rows: the radix kernel (64 x 32k)
  }
  if (!forced && !solo_wins(info, num_rows, num_cols, shift)) return none;
  // 512 threads unless forced to 256
  const int i = forced && threads == 256 ? 1 : 0;
  if (info.solo_per_sm[i] < 1) return none;
  const int64_t sl = 4LL * kSoloThreads[i] * kSlicesVecs;
  const int64_t per = (static_cast<int64_t>(num_cols) + shift + sl - 1) / sl;
  return Plan{kAlgoSlices, 1, kSlicesVecs, static_cast<int>(per), kSoloThreads[i]};
}

// The plan without a forced grid kernel (`forced`: -1 or the forced Algo).
Plan plan_launch_auto(const DeviceInfo& info, int num_rows, int num_cols, int64_t ws_bytes,
                      int shift, int forced) {
  // Short rows: the regs kernel (its rows never take a cluster) at any row count (H100,
  // docs/benchmarks.md: faster than the radix kernel on every short shape, 8192 x 8192
  // included, since its passes lost their per-key validity branch); a forced regs kernel on
  // rows it cannot hold runs the radix kernel.
  if (forced < 0 || forced == kAlgoRegs) {
    const int ft = g_forced_threads.load(std::memory_order_relaxed);
    const Plan r = plan_regs(num_cols, ft == 256 ? 0 : ft,
                             forced == kAlgoRegs ? g_forced_vecs.load(std::memory_order_relaxed)
                                                 : 0);
    if (r.algo == kAlgoRegs) return r;
  }
  // Few long rows: the cluster kernel, the grid kernel where it fits, else the slices kernel.
  if (forced < 0) {
    const Plan cl = plan_cluster(info, num_rows, num_cols, 0, 0, shift, false);
    if (cl.algo == kAlgoCluster) return cl;
    const Plan g = plan_grid(info, num_rows, num_cols, ws_bytes, 0, shift);
    if (g.algo == kAlgoGrid) return g;
    const Plan sl = plan_slices(info, num_rows, num_cols, ws_bytes, false, shift, 0);
    if (sl.algo == kAlgoSlices) return sl;
  }
  Plan pl = plan_radix(info, num_rows, num_cols);
  if (forced >= 0) pl.algo = forced == kAlgoRegs ? kAlgoRadix : forced;
  if (pl.algo == kAlgoStream) {
    pl.cluster = choose_cluster(info, num_rows, num_cols);
    pl.res_cap = 0;
  }
  return pl;
}

Plan plan_launch(const DeviceInfo& info, int num_rows, int num_cols, int64_t ws_bytes,
                 int shift) {
  const int override_algo = g_forced_algo.load(std::memory_order_relaxed);
  const int forced = override_algo == kUnset ? info.forced_algo : override_algo;
  if (forced == kAlgoGrid || forced == kAlgoSlices || forced == kAlgoCluster) {
    const int vecs = g_forced_vecs.load(std::memory_order_relaxed);
    const Plan g = forced == kAlgoGrid
                       ? plan_grid(info, num_rows, num_cols, ws_bytes, vecs, shift)
                   : forced == kAlgoCluster
                       ? plan_cluster(info, num_rows, num_cols,
                                      g_forced_threads.load(std::memory_order_relaxed), vecs,
                                      shift, true)
                       : plan_slices(info, num_rows, num_cols, ws_bytes, true, shift,
                                     g_forced_threads.load(std::memory_order_relaxed));
    if (g.algo == forced) return g;
    return plan_launch_auto(info, num_rows, num_cols, ws_bytes, shift, -1);
  }
  return plan_launch_auto(info, num_rows, num_cols, ws_bytes, shift, forced);
}

// The plan for rows of at most max_len columns (> 0: Params::max_len, prefill) where that
// plan is the regs kernel, which holds a row of up to its width at any alignment and checks
// that it does (topk_regs_kernel traps on a longer row); otherwise the plan for the logits'
// width, whose kernels read whatever a row spans. NOTES: a prefill chunk of R whole prompts
// of L tokens has logits [R L, R L] but rows of <= L columns: planned by the width, R L >
// 20480 took the cluster / slices / radix kernels and 4096 < R L <= 20480 a regs kernel
// mostly of idle threads at fewer CTAs per SM (docs/benchmarks.md, "packed" shapes).
Plan plan_rows(const DeviceInfo& info, int num_rows, int num_cols, int max_len,
               int64_t ws_bytes, int shift) {
  if (max_len > 0 && max_len < num_cols) {
    const Plan h = plan_launch(info, num_rows, max_len, ws_bytes, shift);
    if (h.algo == kAlgoRegs) return h;
  }
  return plan_launch(info, num_rows, num_cols, ws_bytes, shift);
}

}  // namespace

Plan planned_launch(int num_rows, int num_cols, int64_t workspace_bytes, bool aligned,
                    int max_len) {
  cudaError_t err;
  const DeviceInfo* info = device_info(err);
  return info == nullptr ? Plan{-1, 0, 0}
                         : plan_rows(*info, num_rows, num_cols, max_len, workspace_bytes,
                                     aligned ? 0 : 3);
}

bool segments_aligned(const Params& p) {
  return p.mode != kModePrefill && reinterpret_cast<uintptr_t>(p.logits) % 16 == 0 &&
         (p.num_rows == 1 || p.row_stride % 4 == 0);
}

void set_forced(int algo, int cluster, int threads, int vecs, int sample, int pdl, int opt) {
  g_sample.store(sample != 0 ? 1 : 0, std::memory_order_relaxed);
  g_opt.store(opt == 0 || opt == 1 ? opt : -1, std::memory_order_relaxed);
  g_pdl.store(pdl == 0 || pdl == 1 ? pdl : -1, std::memory_order_relaxed);
  g_forced_algo.store(algo >= kAlgoStream && algo <= kAlgoCluster ? algo : -1,
                      std::memory_order_relaxed);
  g_forced_vecs.store(vecs >= 1 && vecs <= 5 ? vecs : 0, std::memory_order_relaxed);
  g_forced_threads.store(threads == 256 || threads == 512 || threads == 1024 ? threads : 0,
                         std::memory_order_relaxed);
  g_forced_cluster.store(cluster == 1 || cluster == 2 || cluster == 4 || cluster == 8 ||
                         cluster == 16 ? cluster : 0, std::memory_order_relaxed);
}

cudaError_t launch_topk(const Params& p, cudaStream_t stream) {
  if (p.num_rows <= 0) return cudaSuccess;
  if (p.k < 1 || p.k > kMaxK || p.next_n < 1) return cudaErrorInvalidValue;
  cudaError_t err;
  const DeviceInfo* info = device_info(err);
  if (info == nullptr) return err;
  const Plan pl = plan_rows(*info, p.num_rows, p.num_cols,
                            p.mode == kModePrefill ? p.max_len : 0,
                            p.workspace != nullptr ? p.workspace_bytes : 0,
                            segments_aligned(p) ? 0 : 3);
  const int c = pl.cluster;
  const bool radix = pl.algo == kAlgoRadix;

  cudaLaunchConfig_t cfg = {};
  cfg.stream = stream;
  cudaLaunchAttribute attrs[2];  // cluster or cooperative, then PDL
  // NOTES: programmatic dependent launch (default on): the launch and the kernels' shared-
  // memory prologue overlap the previous kernel's completion, ~0.3 us per call on H100
  // (decode 1 / 8 / 64 x 4096: 3.6 / 3.9 / 4.0 us -> 3.3 / 3.6 / 3.7 us, docs/benchmarks.md).
  const int forced_pdl = g_pdl.load(std::memory_order_relaxed);
  const bool pdl = forced_pdl == -1 ? info->pdl : forced_pdl == 1;
  const int forced_opt = g_opt.load(std::memory_order_relaxed);  // the regs kernel's kOptScan
  const int opt = forced_opt >= 0 ? forced_opt : info->opt;
  if (pl.algo == kAlgoGrid || pl.algo == kAlgoSlices) {
    Params q = p;  // the grid / slices kernels' geometry and options
    q.grid_ctas = c;
    q.grid_slices = pl.slices;
    q.slices_sample = g_sample.load(std::memory_order_relaxed);
    if (pl.algo == kAlgoSlices && c == 1) {  // one CTA per row: an ordinary launch
      cfg.gridDim = dim3(static_cast<unsigned>(p.num_rows));
      cfg.blockDim = dim3(static_cast<unsigned>(pl.threads));
      cfg.dynamicSmemBytes = slices_smem_bytes(true, pl.slices, pl.threads);
      if (pdl) add_pdl(cfg, attrs);
      return cudaLaunchKernelEx(&cfg, kSlicesSoloKernel[pl.threads == 256 ? 1 : 0], q);
    }
    // NOTES: a cooperative launch, so the runtime refuses a grid that cannot be resident at
    // once (the row barriers would wait forever) instead of trusting the occupancy query.
    cfg.gridDim = dim3(static_cast<unsigned>(static_cast<int64_t>(p.num_rows) * c));
    cfg.blockDim = dim3(kGridThreads);
    attrs[0].id = cudaLaunchAttributeCooperative;
    attrs[0].val.cooperative = 1;
    cfg.attrs = attrs;
    cfg.numAttrs = 1;
    if (pdl) add_pdl(cfg, attrs);
    if (pl.algo == kAlgoGrid) return cudaLaunchKernelEx(&cfg, grid_kernel(pl.res_cap), q);
    cfg.dynamicSmemBytes = slices_smem_bytes(false, pl.slices, kGridThreads);
    return cudaLaunchKernelEx(&cfg, kSlicesKernel, q);
  }
  if (pl.algo == kAlgoCluster) {  // one cluster of c CTAs per row, no workspace
    Params q = p;
    q.grid_ctas = c;
    cfg.gridDim = dim3(static_cast<unsigned>(static_cast<int64_t>(p.num_rows) * c));
    cfg.blockDim = dim3(static_cast<unsigned>(pl.threads));
    // the receive buffers and the keys
    cfg.dynamicSmemBytes = cluster_smem_bytes(c, regs_capacity(pl.threads, pl.res_cap));
    set_cluster(cfg, attrs[0], static_cast<unsigned>(c));
    if (pdl) add_pdl(cfg, attrs);
    return cudaLaunchKernelEx(&cfg, cluster_kernel(pl.threads, pl.res_cap), q);
  }
  if (pl.algo == kAlgoRegs) {
    const int threads = pl.res_cap;
    cfg.gridDim = dim3(static_cast<unsigned>(p.num_rows));
    cfg.blockDim = dim3(static_cast<unsigned>(threads));
    if (pdl) add_pdl(cfg, attrs);
    // NOTES: kOptScan where the launch keeps one CTA per SM (H100, session 22: 1 / 64 / 132 x
    // 4096 2% / 1.3% / 0.8% faster, 1 / 64 x 6144 2.4% / 2.3%), not beyond: 256 x 4096 2%
    // slower (40 registers: 3 CTAs per SM where the kernel without it keeps 4).
    const bool scan = opt == -1 ? p.num_rows <= info->sms : opt == 1;
    return cudaLaunchKernelEx(&cfg, regs_kernel(threads, pl.slices, scan), p);
  }
  cfg.gridDim = dim3(static_cast<unsigned>(static_cast<int64_t>(p.num_rows) * c));
  cfg.blockDim = dim3(radix ? kRThreads : kThreads);
  cfg.dynamicSmemBytes = radix ? radix_smem_bytes(pl.res_cap) : sizeof(Smem);
  if (c > 1) set_cluster(cfg, attrs[0], static_cast<unsigned>(c));
  if (pdl) add_pdl(cfg, attrs);
  if (c > 1) {
    if (radix) return cudaLaunchKernelEx(&cfg, topk_radix_kernel<true>, p, pl.res_cap);
    return cudaLaunchKernelEx(&cfg, topk_rows_kernel<true>, p);
  }
  if (radix) return cudaLaunchKernelEx(&cfg, topk_radix_kernel<false>, p, pl.res_cap);
  return cudaLaunchKernelEx(&cfg, topk_rows_kernel<false>, p);
}

}  // namespace topk
}  // namespace glm52
