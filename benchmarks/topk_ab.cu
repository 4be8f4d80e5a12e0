// SPDX-License-Identifier: Apache-2.0
// Standalone A/B timer of the indexer top-k launcher (csrc/topk: launch_topk, set_forced),
// torch-free: needs only the CUDA toolkit and a GPU, so a kernel change is timed without
// installing vLLM on the GPU host. benchmarks/topk_ab.sh builds and runs it.
//
//   topk_ab SHAPES [ROUNDS] SPEC [SPEC ...]
//   SHAPES  comma-separated RxN (decode: R rows of N columns, all visible) or RxNc (prefill
//           chunk: row r sees [0, N - R + r + 1)), suffix u: uniform random bit patterns
//           instead of randn (no inf / NaN)
//   ROUNDS  rounds of timing every spec in turn (default 3)
//   SPEC    name=algo,cluster,threads,vecs,sample,pdl,opt (set_forced's arguments; "auto" is
//           -1,0,0,0,1,-1,-1), or name=floor / name=empty: the floors any top-k op is timed
//           against here (not top-k, not checked; both launched with PDL like ours): "floor"
//           reads each decode row once (one 512-thread CTA a row, 2 float4 a thread: rows of
//           4096 columns only) and writes k = 2048 positions that depend on what it read;
//           "empty" is one CTA of one thread that waits for the previous grid and stores one int
// Per shape: inputs rotate over copies exceeding 3x L2 (at most 16), as bench_topk.py does;
// every spec's output (dirty buffer, eager call) must equal a CPU top-k (ties to the lower
// column) as a set, "unsorted" is reported for rows not in ascending order; then each spec is
// captured into a CUDA graph of 48 calls and timed over 21 replays (median us per call), in
// ROUNDS rounds alternating the specs. Prints one line per shape: the median over rounds per
// spec and the ratio of each to the first.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "topk.h"

namespace tk = glm52::topk;

#define CK(x)                                                                       \
  do {                                                                              \
    cudaError_t e_ = (x);                                                           \
    if (e_ != cudaSuccess) {                                                        \
      fprintf(stderr, "topk_ab: %s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
      exit(1);                                                                      \
    }                                                                               \
  } while (0)

struct Spec {
  std::string name;
  int a[7] = {-1, 0, 0, 0, 1, -1, -1};
  int ref = 0;  // 1: the "floor" kernel, 2: the "empty" kernel (instead of launch_topk)
};

__device__ __forceinline__ void wait_prior() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

// The IO floor of a 4096-column decode row (one CTA of 512 threads, 2 float4 each, as the regs
// kernel loads it): slot c < 2048 gets c or c + 2048, whichever column holds the larger value,
// so every load feeds a store and each row writes its 2048 positions once.
__global__ void __launch_bounds__(512) floor_kernel(const float* x, int n, int* out, int k) {
  wait_prior();
  const float4* row = reinterpret_cast<const float4*>(x + static_cast<size_t>(blockIdx.x) * n);
  const int t = threadIdx.x, h = k / 4;  // float4 index of column k
  const float4 a = row[t], b = row[t + h];
  const int c = 4 * t;
  const int4 o = make_int4(a.x >= b.x ? c : c + k, a.y >= b.y ? c + 1 : c + 1 + k,
                           a.z >= b.z ? c + 2 : c + 2 + k, a.w >= b.w ? c + 3 : c + 3 + k);
  reinterpret_cast<int4*>(out + static_cast<size_t>(blockIdx.x) * k)[t] = o;
}

__global__ void empty_kernel(int* out) {
  wait_prior();
  out[0] = 0;
}

static cudaError_t launch_ref(const Spec& sp, const float* x, int rows, int n, int* out, int k,
                              cudaStream_t st) {
  cudaLaunchConfig_t cfg = {};
  cfg.stream = st;
  cudaLaunchAttribute a;
  a.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  a.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = &a;
  cfg.numAttrs = 1;
  if (sp.ref == 2) {
    cfg.gridDim = dim3(1);
    cfg.blockDim = dim3(1);
    return cudaLaunchKernelEx(&cfg, empty_kernel, out);
  }
  cfg.gridDim = dim3(static_cast<unsigned>(rows));
  cfg.blockDim = dim3(512);
  return cudaLaunchKernelEx(&cfg, floor_kernel, x, n, out, k);
}

static bool parse_spec(const char* s, Spec& sp) {
  const char* eq = strchr(s, '=');
  if (eq == nullptr) return false;
  sp.name.assign(s, eq - s);
  if (strcmp(eq + 1, "auto") == 0) return true;
  if (strcmp(eq + 1, "floor") == 0 || strcmp(eq + 1, "empty") == 0) {
    sp.ref = eq[1] == 'f' ? 1 : 2;
    return true;
  }
  return sscanf(eq + 1, "%d,%d,%d,%d,%d,%d,%d", &sp.a[0], &sp.a[1], &sp.a[2], &sp.a[3],
                &sp.a[4], &sp.a[5], &sp.a[6]) == 7;
}

static void force(const Spec& sp) {
  tk::set_forced(sp.a[0], sp.a[1], sp.a[2], sp.a[3], sp.a[4], sp.a[5], sp.a[6]);
}

// Row r's CPU top-k (ties to the lower column), sorted, -1 padded; "" when `got` (k slots)
// holds the same set, else what differs.
static std::string check_row(const float* x, int len, int k, const int* got) {
  std::vector<int> want, idx(len);
  if (len <= k) {
    for (int i = 0; i < len; ++i) want.push_back(i);
  } else {
    for (int i = 0; i < len; ++i) idx[i] = i;
    auto cmp = [&](int i, int j) {
      uint32_t ui, uj;
      memcpy(&ui, x + i, 4);
      memcpy(&uj, x + j, 4);
      // the kernels' order: float keys (sign-flipped bits), NaNs by their bits
      ui = (ui & 0x80000000u) ? ~ui : ui | 0x80000000u;
      uj = (uj & 0x80000000u) ? ~uj : uj | 0x80000000u;
      return ui > uj || (ui == uj && i < j);
    };
    std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), cmp);
    want.assign(idx.begin(), idx.begin() + k);
    std::sort(want.begin(), want.end());
  }
  want.resize(k, -1);
  std::vector<int> g(got, got + k);
  const bool sorted = std::is_sorted(g.begin(), g.begin() + std::min(len, k));
  std::sort(g.begin(), g.end(), [](int p, int q) { return (p < 0) != (q < 0) ? p >= 0 : p < q; });
  if (g != want) return "WRONG SET";
  return sorted ? "" : "unsorted";
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: topk_ab SHAPES [ROUNDS] name=algo,cluster,threads,vecs,sample,"
                    "pdl,opt|auto ...\n");
    return 2;
  }
  int argi = 2, rounds = 3;
  if (strchr(argv[2], '=') == nullptr) rounds = std::max(1, atoi(argv[argi++]));
  std::vector<Spec> specs;
  for (; argi < argc; ++argi) {
    Spec sp;
    if (!parse_spec(argv[argi], sp)) {
      fprintf(stderr, "topk_ab: bad spec '%s' (name=a,c,t,v,s,p,o, name=auto, name=floor or "
                      "name=empty)\n", argv[argi]);
      return 2;
    }
    specs.push_back(sp);
  }
  const int k = 2048, iters = 48, reps = 21;
  int dev = 0, l2 = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  printf("# %s, k=%d, %d rounds; us per call (median of rounds; each the median of %d replays "
         "of %d calls)\n# shape", prop.name, k, rounds, reps, iters);
  for (const Spec& sp : specs) printf(" %s", sp.name.c_str());
  printf(" | ratios to %s | check\n", specs[0].name.c_str());
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  const std::string all = argv[1];
  for (size_t p0 = 0; p0 < all.size();) {
    size_t p1 = all.find(',', p0);
    if (p1 == std::string::npos) p1 = all.size();
    const std::string sh = all.substr(p0, p1 - p0);
    p0 = p1 + 1;
    int rows = 0, n = 0;
    char suf = 0;
    if (sscanf(sh.c_str(), "%dx%d%c", &rows, &n, &suf) < 2 || rows < 1 || n < 1) {
      fprintf(stderr, "topk_ab: bad shape '%s' (RxN, RxNc, RxNu)\n", sh.c_str());
      return 2;
    }
    const bool causal = suf == 'c';
    const size_t elems = static_cast<size_t>(rows) * n, bytes = elems * 4;
    const int nbuf = static_cast<int>(
        std::min<size_t>(16, std::max<size_t>(1, (3 * static_cast<size_t>(l2) + bytes - 1) / bytes)));
    std::vector<float> h(elems), h0;
    std::mt19937 gen(1234u + static_cast<unsigned>(rows) * 7919u + static_cast<unsigned>(n));
    std::normal_distribution<float> nd;
    std::vector<float*> d(nbuf);
    for (int b = 0; b < nbuf; ++b) {
      for (size_t i = 0; i < elems; ++i) {
        if (suf == 'u') {
          uint32_t u = gen();
          if ((u & 0x7f800000u) == 0x7f800000u) u &= ~0x00800000u;
          memcpy(&h[i], &u, 4);
        } else {
          h[i] = nd(gen);
        }
      }
      if (b == 0) h0 = h;
      CK(cudaMalloc(&d[b], bytes));
      CK(cudaMemcpy(d[b], h.data(), bytes, cudaMemcpyHostToDevice));
    }
    std::vector<int> starts(rows, 0), ends(rows);
    for (int r = 0; r < rows; ++r) ends[r] = causal ? std::max(0, n - rows + r + 1) : n;
    int *dst = nullptr, *den = nullptr, *dout = nullptr;
    CK(cudaMalloc(&den, rows * sizeof(int)));
    CK(cudaMemcpy(den, ends.data(), rows * sizeof(int), cudaMemcpyHostToDevice));
    if (causal) {
      CK(cudaMalloc(&dst, rows * sizeof(int)));
      CK(cudaMemcpy(dst, starts.data(), rows * sizeof(int), cudaMemcpyHostToDevice));
    }
    CK(cudaMalloc(&dout, elems > 0 ? static_cast<size_t>(rows) * k * sizeof(int) : 4));
    tk::Params p = {};
    p.row_stride = n;
    p.num_cols = n;
    p.num_rows = rows;
    p.starts = dst;
    p.ends = den;
    p.mode = causal ? tk::kModePrefill : tk::kModeDecodeRows;
    p.next_n = 1;
    p.out = dout;
    p.out_stride = k;
    p.k = k;
    std::string check = "ok";
    std::vector<cudaGraphExec_t> exec(specs.size());
    std::vector<int> out(static_cast<size_t>(rows) * k);
    const int step = rows > 2048 ? 7 : 1;  // CPU time: every 7th row of big prefill chunks
    for (size_t s = 0; s < specs.size(); ++s) {
      const Spec& sp = specs[s];
      if (sp.ref == 1 && (n != 4096 || causal)) {
        fprintf(stderr, "topk_ab: '%s=floor' times decode rows of 4096 columns only, not '%s'\n",
                sp.name.c_str(), sh.c_str());
        return 2;
      }
      auto call = [&]() {
        return sp.ref != 0 ? launch_ref(sp, p.logits, rows, n, dout, k, st)
                           : tk::launch_topk(p, st);
      };
      force(sp);
      CK(cudaMemset(dout, 0x7f, out.size() * sizeof(int)));
      p.logits = d[0];
      CK(call());
      CK(cudaStreamSynchronize(st));
      CK(cudaMemcpy(out.data(), dout, out.size() * sizeof(int), cudaMemcpyDeviceToHost));
      for (int r = 0; r < rows && sp.ref == 0; r += step) {
        const std::string e = check_row(h0.data() + static_cast<size_t>(r) * n + starts[r],
                                        ends[r] - starts[r], k, out.data() + static_cast<size_t>(r) * k);
        if (!e.empty()) {
          check = sp.name + ": row " + std::to_string(r) + " " + e;
          if (e == "WRONG SET") break;
        }
      }
      cudaGraph_t g;
      CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
      for (int i = 0; i < iters; ++i) {
        p.logits = d[i % nbuf];
        CK(call());
      }
      CK(cudaStreamEndCapture(st, &g));
      CK(cudaGraphInstantiate(&exec[s], g, 0));
      CK(cudaGraphDestroy(g));
      CK(cudaGraphLaunch(exec[s], st));  // warm-up
    }
    tk::set_forced(-1, 0, 0, 0);
    CK(cudaStreamSynchronize(st));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<std::vector<float>> per(specs.size());
    for (int rd = 0; rd < rounds; ++rd) {
      for (size_t s = 0; s < specs.size(); ++s) {
        std::vector<float> ts;
        for (int rep = 0; rep < reps; ++rep) {
          CK(cudaEventRecord(e0, st));
          CK(cudaGraphLaunch(exec[s], st));
          CK(cudaEventRecord(e1, st));
          CK(cudaEventSynchronize(e1));
          float ms = 0.f;
          CK(cudaEventElapsedTime(&ms, e0, e1));
          ts.push_back(ms * 1000.f / iters);
        }
        std::nth_element(ts.begin(), ts.begin() + reps / 2, ts.end());
        per[s].push_back(ts[reps / 2]);
      }
    }
    std::vector<float> med(specs.size());
    printf("%s", sh.c_str());
    for (size_t s = 0; s < specs.size(); ++s) {
      std::sort(per[s].begin(), per[s].end());
      med[s] = per[s][per[s].size() / 2];
      printf(" %.3f", med[s]);
    }
    printf(" |");
    for (size_t s = 0; s < specs.size(); ++s) printf(" %.3f", med[s] / med[0]);
    printf(" | %s\n", check.c_str());
    fflush(stdout);
    for (auto& x : exec) CK(cudaGraphExecDestroy(x));
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    for (float* x : d) CK(cudaFree(x));
    CK(cudaFree(den));
    if (dst != nullptr) CK(cudaFree(dst));
    CK(cudaFree(dout));
  }
  return 0;
}
