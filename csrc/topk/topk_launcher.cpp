// SPDX-License-Identifier: Apache-2.0
// Torch launcher of the GLM-5.2 indexer top-k: checks every argument (shape, dtype, layout,
// device) with a message that names it and the expected value, then calls the torch-free
// launch_topk (topk_kernels.cu) on the current stream. Host code only, so it is a .cpp built by
// the host compiler like csrc/torch_bindings.cpp.
#include <ATen/core/Tensor.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "topk.h"

namespace {

namespace tk = glm52::topk;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Numbers in error messages go through std::to_string, never through an ostream `<<` compiled
// into this library. NOTES: on the GPU host (torch 2.11 cu130, Python 3.12) every failing check
// whose message streamed an integer or an IntArrayRef from this .so killed the process with
// SIGSEGV instead of raising, while checks streaming only text, a dtype or a device (formatted
// inside libc10) raised normally; not reproducible with the CPU CI toolchain.
// tests/gpu/test_topk_cuda.py::test_argument_errors checks every message in a child process.
std::string num(int64_t v) { return std::to_string(v); }

// "[a, b]" for error messages (see num()).
std::string dims(c10::IntArrayRef a) {
  std::string s = "[";
  for (size_t i = 0; i < a.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a[i]);
  }
  return s + "]";
}

// setup.py defines GLM52_WITH_SM100 when it also builds sm_100a code.
#ifdef GLM52_WITH_SM100
constexpr const char* kBuiltArchs = "sm_90a and sm_100a";
#else
constexpr const char* kBuiltArchs = "sm_90a";
#endif

// logits: [rows, n] fp32 on CUDA, unit column stride (rows may be strided).
// max_len (topk_prefill, topk_plan): 0 or an upper bound on every row's end - start, clamped
// to int32 (a bound past any row's width changes nothing).
int32_t row_bound(const char* op, int64_t max_len) {
  TORCH_CHECK(max_len >= 0, op, ": max_len must be 0 (no bound) or an upper bound on every "
              "row's end - start, got ", num(max_len));
  return static_cast<int32_t>(std::min<int64_t>(max_len, kInt32Max));
}

void check_logits(const char* op, const at::Tensor& logits) {
  TORCH_CHECK(logits.is_cuda(), op, ": logits must be a CUDA tensor, got device ",
              logits.device());
  TORCH_CHECK(logits.scalar_type() == at::kFloat, op, ": logits must be float32, got ",
              logits.scalar_type());
  TORCH_CHECK(logits.dim() == 2, op, ": logits must be 2-D [rows, n], got ",
              num(logits.dim()),
              "-D ", dims(logits.sizes()));
  TORCH_CHECK(logits.size(1) == 0 || logits.size(1) == 1 || logits.stride(1) == 1, op,
              ": logits must have stride(1) == 1 (contiguous columns), got strides ",
              dims(logits.strides()));
  TORCH_CHECK(logits.size(0) <= kInt32Max && logits.size(1) <= kInt32Max, op,
              ": logits must have < 2^31 rows and columns, got ", dims(logits.sizes()));
  TORCH_CHECK(logits.size(0) <= 1 || logits.stride(0) >= logits.size(1), op,
              ": logits rows must not overlap (stride(0) >= n), got strides ",
              dims(logits.strides()));
}

// indices: [rows, k] int32 on the logits' device, unit column stride.
void check_indices(const char* op, const at::Tensor& logits, const at::Tensor& indices,
                   int64_t k) {
  TORCH_CHECK(k >= 1 && k <= tk::kMaxK, op, ": k must be in [1, ", num(tk::kMaxK), "], got ",
              num(k));
  TORCH_CHECK(indices.device() == logits.device(), op, ": indices must be on ",
              logits.device(), " like logits, got ", indices.device());
  TORCH_CHECK(indices.scalar_type() == at::kInt, op, ": indices must be int32, got ",
              indices.scalar_type());
  TORCH_CHECK(indices.dim() == 2 && indices.size(0) == logits.size(0) && indices.size(1) == k,
              op, ": indices must be [rows, k] = [", num(logits.size(0)), ", ", num(k), "], got ",
              dims(indices.sizes()));
  TORCH_CHECK(k == 1 || indices.stride(1) == 1, op,
              ": indices must have stride(1) == 1 (contiguous columns), got strides ",
              dims(indices.strides()));
  TORCH_CHECK(indices.size(0) <= 1 || indices.stride(0) >= k, op,
              ": indices rows must not overlap (stride(0) >= k), got strides ",
              dims(indices.strides()));
}

// An int32 vector of `numel` elements on the logits' device, contiguous.
void check_int_vector(const char* op, const char* name, const at::Tensor& logits,
                      const at::Tensor& v, int64_t numel) {
  TORCH_CHECK(v.device() == logits.device(), op, ": ", name, " must be on ", logits.device(),
              " like logits, got ", v.device());
  TORCH_CHECK(v.scalar_type() == at::kInt, op, ": ", name, " must be int32, got ",
              v.scalar_type());
  TORCH_CHECK(v.is_contiguous(), op, ": ", name, " must be contiguous, got strides ",
              dims(v.strides()));
  TORCH_CHECK(v.numel() == numel, op, ": ", name, " must have ", num(numel), " elements, got ",
              num(v.numel()), " ", dims(v.sizes()));
}

// workspace: optional scratch of the grid kernel on the logits' device, contiguous, 16-byte
// aligned, zero-filled when first passed (every launch leaves it so), >= one row's block.
void set_workspace(const char* op, const at::Tensor& logits,
                   const std::optional<at::Tensor>& workspace, tk::Params& p) {
  p.workspace = nullptr;
  p.workspace_bytes = 0;
  if (!workspace.has_value()) return;
  const at::Tensor& w = *workspace;
  TORCH_CHECK(w.device() == logits.device(), op, ": workspace must be on ", logits.device(),
              " like logits, got ", w.device());
  TORCH_CHECK(w.is_contiguous(), op, ": workspace must be contiguous, got strides ",
              dims(w.strides()));
  TORCH_CHECK(w.nbytes() >= static_cast<size_t>(tk::kGridRowBytes), op,
              ": workspace must hold at least ", num(tk::kGridRowBytes),
              " bytes (one row of the grid kernel), got ", num(static_cast<int64_t>(w.nbytes())),
              "; allocate it with torch.zeros (vllm_glm52.ops.topk.topk_workspace)");
  TORCH_CHECK(reinterpret_cast<uintptr_t>(w.data_ptr()) % 16 == 0, op,
              ": workspace must be 16-byte aligned (allocate it with torch.zeros)");
  p.workspace = static_cast<uint32_t*>(w.data_ptr());
  p.workspace_bytes = static_cast<int64_t>(w.nbytes());
}

void run(const char* op, const at::Tensor& logits, at::Tensor& indices, tk::Params& p) {
  p.logits = logits.data_ptr<float>();
  p.row_stride = logits.size(0) > 1 ? logits.stride(0) : logits.size(1);
  p.num_cols = static_cast<int32_t>(logits.size(1));
  p.num_rows = static_cast<int32_t>(logits.size(0));
  p.out = indices.data_ptr<int32_t>();
  p.out_stride = indices.size(0) > 1 ? indices.stride(0) : indices.size(1);
  if (p.num_rows == 0) return;  // nothing to do (and nothing to launch)
  const c10::cuda::CUDAGuard guard(logits.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(logits.device().index());
  const cudaError_t err = tk::launch_topk(p, stream);
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA launch failed: ", cudaGetErrorString(err),
              " (device ", logits.device(), "; the extension is built for ", kBuiltArchs, ")");
}

}  // namespace

// Prefill: row r selects among logits[r, row_starts[r]:row_ends[r]] and writes positions
// relative to row_starts[r] (request-local), like vLLM's top_k_per_row_prefill.
//   logits [rows, n] fp32, row_starts / row_ends [rows] int32, indices [rows, k] int32 (out).
//   workspace (optional): the grid kernel's scratch (see set_workspace).
//   max_len: 0, or an upper bound on every row's end - start (a chunk of several requests:
//   the longest request's length); it only plans the launch (Params::max_len).
void glm52_topk_prefill(const at::Tensor& logits, const at::Tensor& row_starts,
                        const at::Tensor& row_ends, at::Tensor& indices, int64_t k,
                        const std::optional<at::Tensor>& workspace, int64_t max_len) {
  constexpr const char* op = "glm52 topk_prefill";
  const int32_t bound = row_bound(op, max_len);
  check_logits(op, logits);
  check_indices(op, logits, indices, k);
  check_int_vector(op, "row_starts", logits, row_starts, logits.size(0));
  check_int_vector(op, "row_ends", logits, row_ends, logits.size(0));
  tk::Params p{};
  p.starts = row_starts.data_ptr<int32_t>();
  p.ends = row_ends.data_ptr<int32_t>();
  p.mode = tk::kModePrefill;
  p.next_n = 1;
  p.k = static_cast<int32_t>(k);
  p.max_len = bound;
  set_workspace(op, logits, workspace, p);
  run(op, logits, indices, p);
}

// Decode: row r selects among logits[r, 0:len_r], as vLLM's top_k_per_row_decode:
//   seq_lens 2-D [B, next_n] (or 1-D [rows] with next_n == 1): len_r = seq_lens.flatten()[r];
//   seq_lens 1-D [B] with rows == B * next_n: len_r = seq_lens[r / next_n] - next_n
//                                                      + r % next_n + 1.
//   logits [rows, stride] fp32, indices [rows, k] int32 (out); workspace as for prefill.
void glm52_topk_decode(const at::Tensor& logits, const at::Tensor& seq_lens,
                       at::Tensor& indices, int64_t k, int64_t next_n,
                       const std::optional<at::Tensor>& workspace) {
  constexpr const char* op = "glm52 topk_decode";
  check_logits(op, logits);
  check_indices(op, logits, indices, k);
  TORCH_CHECK(next_n >= 1 && next_n <= kInt32Max, op, ": next_n must be >= 1, got ",
              num(next_n));
  const int64_t rows = logits.size(0);
  TORCH_CHECK(seq_lens.dim() == 1 || seq_lens.dim() == 2, op,
              ": seq_lens must be 1-D [B] or 2-D [B, next_n], got ", num(seq_lens.dim()), "-D ",
              dims(seq_lens.sizes()));
  tk::Params p{};
  if (seq_lens.dim() == 2 || next_n == 1) {
    check_int_vector(op, "seq_lens", logits, seq_lens, rows);
    p.mode = tk::kModeDecodeRows;
    p.next_n = 1;
  } else {
    TORCH_CHECK(rows % next_n == 0, op, ": logits rows (", num(rows),
                ") must be a multiple of next_n (", num(next_n), ") for 1-D seq_lens");
    check_int_vector(op, "seq_lens", logits, seq_lens, rows / next_n);
    p.mode = tk::kModeDecodeBatched;
    p.next_n = static_cast<int32_t>(next_n);
  }
  p.starts = nullptr;
  p.ends = seq_lens.data_ptr<int32_t>();
  p.k = static_cast<int32_t>(k);
  set_workspace(op, logits, workspace, p);
  run(op, logits, indices, p);
}

// The launcher's plan for [num_rows, num_cols] with a workspace of workspace_bytes (0: none)
// and rows starting on 16-byte boundaries (aligned: decode rows of aligned logits) on the
// current device: [algo (0 stream, 1 radix, 2 regs, 3 grid, 4 slices, 5 cluster, -1 if the
// device cannot run the kernels), CTAs per row, radix keys resident per CTA, regs threads per
// CTA or grid / slices / cluster float4 per thread, slices per CTA (slices kernel), float4 per
// thread (regs kernel) or threads per CTA (cluster kernel), else 0]. max_len: as topk_prefill's.
// For benchmarks, tests and writes_sorted.
std::vector<int64_t> glm52_topk_plan(int64_t num_rows, int64_t num_cols,
                                     int64_t workspace_bytes, bool aligned, int64_t max_len) {
  TORCH_CHECK(num_rows >= 0 && num_rows <= kInt32Max && num_cols >= 0 && num_cols <= kInt32Max,
              "glm52 topk_plan: sizes must be in [0, 2^31), got ", num(num_rows), ", ",
              num(num_cols));
  TORCH_CHECK(workspace_bytes >= 0, "glm52 topk_plan: workspace_bytes must be >= 0, got ",
              num(workspace_bytes));
  const tk::Plan pl = tk::planned_launch(static_cast<int>(num_rows), static_cast<int>(num_cols),
                                         workspace_bytes, aligned,
                                         row_bound("glm52 topk_plan", max_len));
  return {pl.algo, pl.cluster, pl.res_cap, pl.slices};
}

// Benchmarks / tests (process-wide): algo -1 automatic, 0 streaming kernel, 1 radix kernel,
// 2 regs kernel (where the rows fit it, else radix), 3 grid / 4 slices / 5 cluster kernel
// (where it fits, else automatic); cluster 0 automatic or 1|2|4|8|16 CTAs per row (radix
// kernel); threads 0 automatic, 512|1024 per CTA (regs, cluster kernels) or 256 (slices
// kernel, one CTA per row); vecs 0 automatic, 1-5 float4 per thread (regs kernel, where the
// width holds the rows) or 2|4 (grid and cluster kernels); sample 1 (the slices kernel bounds
// rows from a sample of their slices where it can) or 0 (never: its exact first sweep); pdl -1
// automatic, 1 / 0 programmatic dependent launch on / off; opt -1 automatic
// (VLLM_GLM52_TOPK_OPT), 1 / 0: the regs kernel at 512 threads x 2-3 float4 searches pass 0
// from per-thread prefix sums (kOptScan) / from warp totals; other widths ignore it.
void glm52_topk_force(int64_t algo, int64_t cluster, int64_t threads, int64_t vecs,
                      int64_t sample, int64_t pdl, int64_t opt) {
  TORCH_CHECK(algo >= -1 && algo <= 5, "glm52 topk_force: algo must be -1 (automatic), 0 "
              "(stream), 1 (radix), 2 (regs), 3 (grid), 4 (slices) or 5 (cluster), got ",
              num(algo));
  TORCH_CHECK(vecs >= 0 && vecs <= 5,
              "glm52 topk_force: vecs must be 0 (automatic), 1-5 (regs kernel: float4 per "
              "thread, where that width holds the rows) or 2, 4 (grid, cluster kernels), got ",
              num(vecs));
  TORCH_CHECK(cluster == 0 || cluster == 1 || cluster == 2 || cluster == 4 || cluster == 8 ||
              cluster == 16, "glm52 topk_force: cluster must be 0 (automatic) or 1, 2, 4, 8, "
              "16, got ", num(cluster));
  TORCH_CHECK(threads == 0 || threads == 256 || threads == 512 || threads == 1024,
              "glm52 topk_force: threads must be 0 (automatic) or 512, 1024 (regs) or 256 "
              "(slices, one CTA per row), got ", num(threads));
  TORCH_CHECK(sample == 0 || sample == 1,
              "glm52 topk_force: sample must be 1 (slices kernel: sampled bound where it "
              "applies) or 0 (never), got ", num(sample));
  TORCH_CHECK(pdl >= -1 && pdl <= 1,
              "glm52 topk_force: pdl must be -1 (automatic), 0 (off) or 1 (on), got ", num(pdl));
  TORCH_CHECK(opt >= -1 && opt <= 1,
              "glm52 topk_force: opt must be -1 (automatic), 0 or 1 (the regs kernel's pass-0 "
              "search from per-thread prefix sums off / on), got ", num(opt));
  tk::set_forced(static_cast<int>(algo), static_cast<int>(cluster), static_cast<int>(threads),
                 static_cast<int>(vecs), static_cast<int>(sample), static_cast<int>(pdl),
                 static_cast<int>(opt));
}
