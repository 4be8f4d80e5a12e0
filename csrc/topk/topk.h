// SPDX-License-Identifier: Apache-2.0
// Plain C++ interface of the GLM-5.2 indexer top-k (no CUDA device code, no torch): shared by
// the torch launcher (topk_launcher.cpp) and the kernel translation unit (topk_kernels.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace glm52 {
namespace topk {

constexpr int kMaxK = 2048;

// Bytes of Params::workspace one row of the grid / slices kernel uses (topk_regs.cuh GridRow:
// barrier counters, the three pass histograms, the per-CTA counts and the gather path's list).
// These kernels are planned only for launches whose rows all fit the workspace.
constexpr int64_t kGridRowBytes = 88192;

// How a row's [start, end) column range is derived.
enum RowMode : int32_t {
  kModePrefill = 0,        // start = starts[r], end = ends[r]
  kModeDecodeRows = 1,     // start = 0, end = ends[r]                  (per-row lengths)
  kModeDecodeBatched = 2,  // start = 0, end = ends[r / next_n] - next_n + r % next_n + 1
};

// One launch: every row r writes out[r, 0:k] = the k largest logits[r, start:end] as int32
// positions relative to start (any order); rows with end - start <= k get 0..len-1 then -1.
// Ends are clamped to num_cols and starts to 0.
struct Params {
  const float* logits;     // [num_rows, row_stride] fp32, unit column stride
  int64_t row_stride;      // elements between rows
  int32_t num_cols;        // columns that exist per row
  int32_t num_rows;
  const int32_t* starts;   // [num_rows] (kModePrefill) or nullptr
  const int32_t* ends;     // see RowMode
  int32_t mode;            // RowMode
  int32_t next_n;          // >= 1; used by kModeDecodeBatched
  int32_t* out;            // [num_rows, out_stride] int32; columns [0, k) written
  int64_t out_stride;
  int32_t k;               // 1..kMaxK
  // Optional scratch of the grid / slices kernels: zero-filled when first passed, left
  // zero-filled by every launch; rows served = workspace_bytes / kGridRowBytes. nullptr:
  // neither kernel.
  uint32_t* workspace;
  int64_t workspace_bytes;
  int32_t grid_ctas;       // set by launch_topk: CTAs per row of the grid / slices kernel
  int32_t grid_slices;     // set by launch_topk: slices per CTA of the slices kernel
  int32_t slices_sample;   // set by launch_topk: 1 = the slices kernel may bound a row from a
                           // sample of its slices (one sweep instead of two), 0 = never
  // kModePrefill: an upper bound on every row's end - start (0: none, num_cols). A prefill
  // chunk of several requests is as wide as their keys together while each row sees only its
  // own request's: the launch is planned for rows of max_len columns where that gives the regs
  // kernel (launch_topk). A row longer than the bound then stops the kernel with a trap (a
  // sticky launch failure), never a row selected from part of its columns.
  int32_t max_len;
};

// Launches the top-k for `p` on `stream`; returns the launch error (or that of the one-time
// per-device set-up). Allocates nothing, so it can be captured in a CUDA graph once a first
// call on the device has run the set-up eagerly.
cudaError_t launch_topk(const Params& p, cudaStream_t stream);

// Kernels: kAlgoRegs (topk_regs.cuh: rows of up to 20480 columns held in registers, one CTA
// per row, rows written sorted), kAlgoGrid (the same kernel with a few long rows split over
// up to hundreds of co-resident CTAs that exchange histograms and counts through
// Params::workspace; needs one; rows written sorted), kAlgoRadix (topk_radix.cuh: one HBM
// read into shared memory, exact radix passes on chip, rows written sorted) for segments that
// mostly fit in shared memory, kAlgoStream (topk_kernel.cuh: one streaming read with a
// running threshold, rows in any order) for the rest. kAlgoSlices (topk_slices.cuh): rows
// whose CTAs re-read consecutive slices of the row instead of holding them in registers,
// several CTAs per row through the grid kernel's row exchange (needs the workspace) or one CTA
// per row (needs none); rows written sorted. kAlgoCluster (topk_regs.cuh, kCl): the grid
// kernel's split over one thread-block cluster of 2..8 CTAs per row, exchanging through
// distributed shared memory (no workspace); rows written sorted.
// VLLM_GLM52_TOPK_ALGO=regs|grid|slices|cluster|radix|stream (read once per process) forces one; a
// forced regs kernel runs only where the rows fit it (else the radix kernel), a forced grid or
// slices kernel only where it fits (else the automatic plan).
enum Algo : int { kAlgoStream = 0, kAlgoRadix = 1, kAlgoRegs = 2, kAlgoGrid = 3,
                  kAlgoSlices = 4, kAlgoCluster = 5 };

struct Plan {
  int algo;     // Algo, -1 if the device cannot run the kernels
  int cluster;  // CTAs per row
  int res_cap;  // radix: keys kept in shared memory per CTA; regs: threads per CTA; grid,
                // cluster and slices: float4 per thread (per slice)
  int slices;   // slices: slices per CTA; regs: float4 per thread; cluster: threads per CTA;
                // else 0
  int threads;  // slices: threads per CTA (512; one CTA per row: 512 or 256); cluster: the
                // same as `slices`; else 0
};

// What launch_topk does for these sizes on the current device, with a workspace of
// `workspace_bytes` (0: none); `aligned`: every row's segment starts on a 16-byte boundary
// (segments_aligned); `max_len` > 0: every row sees at most that many columns (Params::max_len,
// prefill). VLLM_GLM52_TOPK_CLUSTER=1|2|4|8|16 (read once per process) forces the cluster where
// it fits.
Plan planned_launch(int num_rows, int num_cols, int64_t workspace_bytes, bool aligned,
                    int max_len = 0);

// True when every row of `p` starts on a 16-byte boundary: decode rows (column 0) of logits
// whose base and row stride are 16-byte multiples.
bool segments_aligned(const Params& p);

// Overrides VLLM_GLM52_TOPK_ALGO / VLLM_GLM52_TOPK_CLUSTER for later launches in this process:
// algo an Algo or -1 (automatic); cluster 1|2|4|8|16 (radix kernel, where the device allows it)
// or 0 (automatic); threads 512|1024 (regs, cluster kernels), 256 (slices kernel, one CTA per
// row) or 0 (automatic); vecs 1-5 float4 per thread (regs kernel, where that width holds the
// rows), 2|4 (grid, cluster kernels) or 0 (automatic); sample 1 (the slices kernel bounds rows
// from a sample where it can) or 0 (it never does: the exact first sweep). A forced grid or
// slices kernel runs only where it fits (a workspace for every row, every CTA resident), a
// forced cluster kernel where a cluster of <= 8 CTAs of a matching width holds the rows, else
// the automatic plan. Benchmarks
// and tests compare the kernels in one process.
// pdl 1 / 0 launches the kernels with / without programmatic stream serialization, -1 as
// VLLM_GLM52_TOPK_PDL says (default on). opt 1 / 0: the regs kernel at 512 threads x 2-3
// float4 with / without kOptScan (topk_regs.cuh), -1 as VLLM_GLM52_TOPK_OPT says (default:
// with it where the launch keeps one CTA per SM).
void set_forced(int algo, int cluster, int threads, int vecs, int sample = 1, int pdl = -1,
                int opt = -1);

}  // namespace topk
}  // namespace glm52
