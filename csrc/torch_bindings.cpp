// SPDX-License-Identifier: Apache-2.0
// Schema of the vllm-glm52 CUDA extension (torch.ops._C_glm52). Outputs are caller-provided
// `Tensor!` buffers (nothing is allocated inside, so the ops are CUDA-graph capturable); the
// fake (meta) implementations live in vllm_glm52/ops/topk.py.
#include <Python.h>
#include <torch/library.h>

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

void glm52_topk_prefill(const at::Tensor& logits, const at::Tensor& row_starts,
                        const at::Tensor& row_ends, at::Tensor& indices, int64_t k,
                        const std::optional<at::Tensor>& workspace, int64_t max_len);
void glm52_topk_decode(const at::Tensor& logits, const at::Tensor& seq_lens,
                       at::Tensor& indices, int64_t k, int64_t next_n,
                       const std::optional<at::Tensor>& workspace);
std::vector<int64_t> glm52_topk_plan(int64_t num_rows, int64_t num_cols,
                                     int64_t workspace_bytes, bool aligned, int64_t max_len);
void glm52_topk_force(int64_t algo, int64_t cluster, int64_t threads, int64_t vecs,
                      int64_t sample, int64_t pdl, int64_t opt);

// Compute capabilities (major * 10 + minor) this binary has machine code for.
std::vector<int64_t> glm52_built_archs() {
#ifdef GLM52_WITH_SM100
  return {90, 100};
#else
  return {90};
#endif
}

TORCH_LIBRARY(_C_glm52, ops) {
  ops.def("built_archs() -> int[]", &glm52_built_archs);
  // [algo (0 stream, 1 radix, 2 regs, 3 grid), CTAs per row, radix resident keys, regs
  // threads or grid float4 per thread] the launcher would use on the current CUDA device with
  // a workspace of workspace_bytes, rows starting 16-byte aligned or not (benchmarks / tests /
  // writes_sorted); max_len as topk_prefill's
  ops.def("topk_plan(int num_rows, int num_cols, int workspace_bytes=0, bool aligned=True, "
          "int max_len=0) -> int[]", &glm52_topk_plan);
  // later launches: algo -1 automatic, 0 streaming, 1 radix, 2 regs, 3 grid, 4 slices,
  // 5 cluster; cluster 0 automatic or 1..16 CTAs per row (radix); threads 0 automatic,
  // 512|1024 (regs, cluster) or 256 (slices, one CTA per row); vecs 0 automatic, 1-5 (regs) or
  // 2|4 (grid, cluster); sample 1 / 0: the
  // slices kernel may / may not bound rows from a sample; pdl -1 automatic, 1 / 0 with /
  // without programmatic dependent launch; opt -1 automatic, 0 / 1 the regs kernel's kOptScan
  // off / on (benchmarks / tests)
  ops.def("topk_force(int algo, int cluster=0, int threads=0, int vecs=0, int sample=1, "
          "int pdl=-1, int opt=-1) -> ()",
          &glm52_topk_force);
  // logits [rows, n] fp32; row_starts/row_ends [rows] int32; indices [rows, k] int32 (out);
  // workspace: the grid kernel's zero-filled scratch (optional; left zero-filled); max_len: 0
  // or an upper bound on every row's end - start (plans the launch; a longer row traps)
  ops.def(
      "topk_prefill(Tensor logits, Tensor row_starts, Tensor row_ends, Tensor(a!) indices, "
      "int k, Tensor(b!)? workspace=None, int max_len=0) -> ()");
  // logits [rows, stride] fp32; seq_lens [B] / [B, next_n] / [rows] int32; indices (out)
  ops.def(
      "topk_decode(Tensor logits, Tensor seq_lens, Tensor(a!) indices, int k, int next_n, "
      "Tensor(b!)? workspace=None) -> ()");
}

TORCH_LIBRARY_IMPL(_C_glm52, CUDA, ops) {
  ops.impl("topk_prefill", &glm52_topk_prefill);
  ops.impl("topk_decode", &glm52_topk_decode);
}

// `import vllm_glm52._C_glm52` loads the library (running the registrations above); the
// module itself is empty.
PyMODINIT_FUNC PyInit__C_glm52(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C_glm52", nullptr, 0, nullptr,
                                      nullptr, nullptr, nullptr, nullptr};
  return PyModule_Create(&module);
}
