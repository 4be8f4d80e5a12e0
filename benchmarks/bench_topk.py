"""Indexer top-k benchmark: vllm-glm52's CUDA op vs vLLM 0.26's top-k ops vs torch.topk.

    python benchmarks/bench_topk.py            # full table (< 4 min on one H100)
    python benchmarks/bench_topk.py --quick    # a few shapes

All ops run in one process on the same GPU with k = 2048 (GLM-5.2's index_topk):
  decode   [rows, n] logits, every row visible in full (seq_len = n = max_model_len);
  prefill  [M, N] logits of the last M queries of an N-token prompt: row r sees
           [0, N - M + r + 1) (causal, as vLLM's prefill chunk metadata builds it);
  packed   (--packed RxL) one prefill chunk of R whole L-token prompts, as a serving step
           batches them: [R L, R L] logits, row r of prompt i = r // L sees its own keys
           [i L, i L + r % L + 1), so the rows are far shorter than the logits are wide.
Timing: each op is captured N times into a CUDA graph (inputs rotate over enough copies to
exceed 3x L2 when a copy is smaller, at most 16), replays are timed with CUDA events, median
per call. Ours is launched with programmatic dependent launch (its default): its launch
overlaps the previous call's completion as, in the indexer, it overlaps the logits kernel's;
"ours no pdl" is the same op without.
Napkin math: the floor is one read of the visible logits, bytes = 4 * sum(row lengths);
"% copy BW" = (bytes / t_ours) / (device-to-device copy bandwidth, read + write bytes / t).
Writes the markdown table to $OUT/bench_topk.md when OUT is set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

K = 2048
DEV = "cuda"


# ------------------------------------------------------------------------------------------
# Ops under test
# ------------------------------------------------------------------------------------------
def load_vllm_ops() -> tuple[dict, str]:
    try:
        import vllm
        import vllm._custom_ops  # noqa: F401  (loads torch.ops._C)

        have = {name: hasattr(torch.ops._C, name) for name in
                ("top_k_per_row_prefill", "top_k_per_row_decode", "persistent_topk",
                 "cooperative_topk")}
        return have, vllm.__version__
    except Exception as exc:  # benchmark still runs ours vs torch.topk
        print(f"warning: vLLM ops unavailable ({type(exc).__name__}: {exc})", file=sys.stderr)
        return {}, "n/a"


ALGO_NAMES = ["stream", "radix", "regs", "grid", "slices", "cluster"]
REGS_MAX_COLS = 20480  # the regs kernel's widest rows
GRID_VECS = (2, 4)     # the grid kernel's float4 per thread (4096 / 8192 columns per CTA)
CLUSTER_WIDTHS = ((512, 2), (512, 4), (1024, 4))  # the cluster kernel's (threads, float4)


def forced(algo: int, fn, cluster: int = 0, threads: int = 0, vecs: int = 0, sample: int = 1,
           pdl: int = -1, opt: int = -1):
    """fn with our launcher forced to one kernel (0 stream, 1 radix, 2 regs, 3 grid, 4 slices,
    5 cluster) and, if given, a cluster size (radix), CTA size (regs, cluster) or float4 per
    thread (grid, cluster), the slices kernel's sampled bound off (sample=0), programmatic
    dependent launch on / off (pdl=1 / 0) or the regs kernel's kOptScan off / on (opt=0 / 1).
    The choice is made at launch, so a CUDA graph captured through this replays
    it."""
    def run(i):
        torch.ops._C_glm52.topk_force(algo, cluster, threads, vecs, sample, pdl, opt)
        try:
            return fn(i)
        finally:
            torch.ops._C_glm52.topk_force(-1, 0, 0, 0, 1)
    return run


def plan(rows: int, n: int, ws_bytes: int, prefill: bool, algo: int = -1,
         vecs: int = 0, threads: int = 0, max_len: int = 0) -> list[int]:
    """Our launcher's [algo, CTAs per row, size, slices per CTA] for the shape (with `algo` /
    `vecs` / `threads` forced; `max_len`: topk_prefill's row-length bound); the benchmark's
    decode logits are 16-byte aligned, its prefill rows are not taken to be."""
    return [int(x) for x in forced(algo, lambda i: torch.ops._C_glm52.topk_plan(
        rows, n, ws_bytes, not prefill, max_len), 0, threads, vecs)(0)]


def with_variants(ours, rows: int, n: int, ws_bytes: int, prefill: bool) -> dict:
    ops = {"ours": ours, "ours no pdl": forced(-1, ours, pdl=0), "ours radix": forced(1, ours),
           "ours stream": forced(0, ours)}
    if n <= REGS_MAX_COLS:
        ops["ours regs"] = forced(2, ours)
    if plan(rows, n, ws_bytes, prefill, 3)[0] == 3:
        ops["ours grid"] = forced(3, ours)
    if plan(rows, n, ws_bytes, prefill, 5)[0] == 5:
        ops["ours cluster"] = forced(5, ours)
    if plan(rows, n, ws_bytes, prefill, 4)[0] == 4:
        ops["ours slices"] = forced(4, ours)
        if n > REGS_MAX_COLS:  # the same without the sampled bound (two sweeps of each row)
            ops["ours slices exact"] = forced(4, ours, sample=0)
    if n > REGS_MAX_COLS and plan(rows, n, ws_bytes, prefill, 4, 0, 256)[0] == 4:
        ops["ours slices256"] = forced(4, ours, 0, 256)  # one 256-thread CTA per row
    return ops


def decode_ops(logits_list, lens, out, have, major, ws):
    """name -> fn(i) on rotating input i. logits [rows, n]; lens [rows] int32; ws our
    workspace (the grid kernel's)."""
    rows, n = logits_list[0].shape
    ops = with_variants(
        lambda i: torch.ops._C_glm52.topk_decode(logits_list[i], lens, out, K, 1, ws), rows, n,
        ws.numel(), False)
    # vLLM's own workspace (RADIX_TOPK_WORKSPACE_SIZE), never ours: it holds its kernels' state
    vllm_ws = torch.zeros(1024 * 1024, dtype=torch.uint8, device=DEV)
    if have.get("top_k_per_row_decode"):
        ops["vllm top_k_per_row"] = lambda i: torch.ops._C.top_k_per_row_decode(
            logits_list[i], 1, lens, out, rows, logits_list[i].stride(0), 1, K)
    if have.get("persistent_topk"):
        ops["vllm persistent"] = lambda i: torch.ops._C.persistent_topk(
            logits_list[i], lens, out, vllm_ws, K, n)
    # vLLM's own gate for cooperative_topk (sparse_attn_indexer.py)
    if have.get("cooperative_topk") and rows <= 32 and n % 4 == 0 and major >= 9 and major != 12:
        ops["vllm cooperative"] = lambda i: torch.ops._C.cooperative_topk(
            logits_list[i], lens, out, vllm_ws, K, n)
    ops["torch.topk"] = lambda i: torch.topk(logits_list[i], K, dim=1)
    return ops


def prefill_ops(logits_list, ks, ke, out, have, ws, max_len: int = 0):
    """max_len > 0: a packed chunk (rows start inside the logits) whose rows are at most that
    long; "ours" passes it (as the indexer does), "ours no max_len" does not, and vLLM's
    persistent op and torch.topk, which read rows from column 0, are not timed."""
    rows, n = logits_list[0].shape
    ops = with_variants(
        lambda i: torch.ops._C_glm52.topk_prefill(logits_list[i], ks, ke, out, K, ws, max_len),
        rows, n, ws.numel(), True)
    if have.get("top_k_per_row_prefill"):
        ops["vllm top_k_per_row"] = lambda i: torch.ops._C.top_k_per_row_prefill(
            logits_list[i], ks, ke, out, rows, logits_list[i].stride(0), 1, K)
    if max_len:
        ops["ours no max_len"] = lambda i: torch.ops._C_glm52.topk_prefill(
            logits_list[i], ks, ke, out, K, ws)
        return ops
    if have.get("persistent_topk"):  # applies here because every row starts at column 0
        vllm_ws = torch.zeros(1024 * 1024, dtype=torch.uint8, device=DEV)
        ops["vllm persistent"] = lambda i: torch.ops._C.persistent_topk(
            logits_list[i], ke, out, vllm_ws, K, n)
    ops["torch.topk"] = lambda i: torch.topk(logits_list[i], K, dim=1)
    return ops


# ------------------------------------------------------------------------------------------
# Timing
# ------------------------------------------------------------------------------------------
def _events_ms(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        out.append(a.elapsed_time(b))
    return out


def time_op(fn, nbuf: int, budget_ms: float = 25.0) -> tuple[float, str]:
    """Median ms per call; CUDA-graph replays of `iters` calls (eager events if capture fails)."""
    fn(0)
    torch.cuda.synchronize()
    one = statistics.median(_events_ms(lambda: fn(0), 3))
    iters = int(max(nbuf, min(200, budget_ms / max(one, 1e-3))))
    try:
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for i in range(iters):
                fn(i % nbuf)
        graph.replay()
        torch.cuda.synchronize()
        per = [t / iters for t in _events_ms(graph.replay, 7)]
        del graph
        return statistics.median(per), "graph"
    except Exception:  # an op that cannot be captured: time it eagerly
        torch.cuda.synchronize()

        def loop():
            for i in range(iters):
                fn(i % nbuf)

        return statistics.median([t / iters for t in _events_ms(loop, 5)]), "eager"


def copy_bandwidth() -> float:
    """Device-to-device copy bandwidth in bytes/s (read + write), 1 GiB buffers."""
    src = torch.empty(1 << 28, dtype=torch.float32, device=DEV).normal_()
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize()
    ms = statistics.median(_events_ms(lambda: dst.copy_(src), 10))
    return 2 * (1 << 30) / (ms * 1e-3)  # src and dst are freed on return


def launch_floor() -> float:
    """Median ms per call of a one-element kernel timed the same way as the ops (CUDA-graph
    replays): what a call costs before it does any work, the floor of every small shape."""
    x = torch.zeros(1, device=DEV)
    return time_op(lambda i: x.add_(1.0), 1)[0]


ALL_OPTS = (0, 1)  # topk_force opt: the regs kernel's kOptScan off / on


def kernel_opts(ours, rows: int, n: int, ws_bytes: int, phase: str, nbuf: int, logits, starts,
                ends, out) -> dict | None:
    """Where the automatic plan runs the regs kernel at 512 threads x 2-3 float4 (else None):
    that kernel forced without and with kOptScan (opt 0 / 1), median ms of 3 rounds, each
    timing both in turn, and whether both write the same rows bit for bit (sorted rows) with
    values equal to torch.topk's."""
    algo, _, size, per = plan(rows, n, ws_bytes, phase != "decode")
    if not (algo == 2 and size == 512 and per in (2, 3)):
        return None
    opts, kern = ALL_OPTS, f"regs 512x{per}"
    fns = {o: forced(2, ours, 0, 512, per, 1, -1, o) for o in opts}
    times: dict[int, list[float]] = {o: [] for o in opts}
    for _ in range(3):
        for o in opts:
            times[o].append(time_op(fns[o], nbuf)[0])
    same, ref = True, None
    for o in opts:
        out.fill_(-1)
        fns[o](0)
        torch.cuda.synchronize()
        same &= check_values(logits, starts, ends, out, rows_to_check=4)
        if ref is None:
            ref = out.clone()
        else:
            same &= bool(torch.equal(ref, out))
    return {"shape": f"{phase} {rows}x{n}", "kernel": kern,
            **{f"opt {o}": statistics.median(times[o]) for o in opts},
            "same": "yes" if same else "NO"}


def check_values(logits, starts, ends, out, rows_to_check=2) -> bool:
    """Ours vs torch.topk on a few long rows: the selected values must be the top-k values."""
    for r in range(min(rows_to_check, logits.shape[0])):
        r = logits.shape[0] - 1 - r  # the longest rows of a causal chunk
        s, e = int(starts[r]), int(ends[r])
        if e - s <= K:
            continue
        vis = logits[r, s:e]
        want = torch.sort(torch.topk(vis, K).values).values
        have = torch.sort(vis[out[r].long()]).values
        if not torch.equal(want, have):
            return False
    return True


# ------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few shapes only")
    ap.add_argument("--sweep", action="store_true",
                    help="also time the radix kernel at every cluster size (decode shapes)")
    ap.add_argument("--regs-sweep", action="store_true",
                    help="also time the regs kernel at every CTA size (rows it holds)")
    ap.add_argument("--grid-sweep", action="store_true",
                    help="also time the grid kernel at each width (2 / 4 float4 per thread)")
    ap.add_argument("--cluster-sweep", action="store_true",
                    help="also time the cluster kernel at each width (512 x 2, 512 x 4, 1024 x 4)")
    ap.add_argument("--opts", action="store_true",
                    help="also time the regs kernel without / with kOptScan (opt 0 / 1) where "
                         "the automatic plan runs it at 512 x 2-3 float4, 3 alternating rounds")
    ap.add_argument("--extra-decode", default="",
                    help="comma-separated extra decode shapes, e.g. 16x1048576,32x1048576")
    ap.add_argument("--packed", default="",
                    help="comma-separated packed prefill chunks RxL (R prompts of L tokens), "
                         "e.g. 4x4096,16x1024")
    ap.add_argument("--only", default="",
                    help="comma-separated shapes to run, e.g. 1x4096,2048x8192 (default: all)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("bench_topk: needs a CUDA GPU", file=sys.stderr)
        return 2
    from vllm_glm52.ops import topk as T

    if not T.uses_cuda_kernel(torch.empty(1, device=DEV)):
        print(f"bench_topk: the CUDA extension is not usable here ({T.EXTENSION_REASON or 'arch'})",
              file=sys.stderr)
        return 2
    have, vllm_version = load_vllm_ops()
    props = torch.cuda.get_device_properties(0)
    major = props.major
    l2 = getattr(props, "L2_cache_size", 50 << 20)
    free, _ = torch.cuda.mem_get_info()
    bw = copy_bandwidth()
    floor_ms = launch_floor()
    # GLM52_COMMIT first: a copy of the working tree on another machine may carry a stale .git
    # (tools/gpu_run.sh sets it from .device_commit, written before the copy is made).
    commit = os.environ.get("GLM52_COMMIT", "")
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, cwd=Path(__file__).parent).stdout.strip() or "n/a"
        except OSError:
            commit = "n/a"
    head = (f"GPU {props.name} ({props.multi_processor_count} SMs, L2 {l2 >> 20} MiB), "
            f"torch {torch.__version__}, vLLM {vllm_version}, commit {commit}, k={K}; "
            f"D2D copy {bw / 1e9:.0f} GB/s; one-element kernel {floor_ms * 1e3:.1f} us per call")
    print(head, flush=True)

    decode = [(r, n) for r in (1, 8, 64, 256) for n in (4096, 32768, 131072, 1048576)]
    prefill = [(m, n) for m in (2048, 8192) for n in (8192, 65536)]
    if args.quick:
        decode = [(1, 131072), (64, 131072), (256, 1048576)]
        prefill = [(8192, 65536)]
    decode += [tuple(int(v) for v in x.strip().split("x")) for x in args.extra_decode.split(",")
               if x.strip()]
    if args.only:
        keep = {x.strip() for x in args.only.split(",")}
        decode = [s for s in decode if f"{s[0]}x{s[1]}" in keep]
        prefill = [s for s in prefill if f"{s[0]}x{s[1]}" in keep]
    packed = [tuple(int(v) for v in x.strip().split("x")) for x in args.packed.split(",")
              if x.strip()]
    cols = ["vllm top_k_per_row", "vllm persistent", "vllm cooperative", "torch.topk",
            "ours no max_len", "ours no pdl", "ours radix", "ours stream", "ours regs",
            "ours grid", "ours cluster", "ours slices", "ours slices exact", "ours slices256"]
    ws = T.topk_workspace(DEV)  # what the indexer passes (the grid kernel's scratch)
    ws_bytes = ws.numel()
    lines = []
    sweep = []
    regs_sweep = []
    grid_sweep = []
    cluster_sweep = []
    opt_sweep = []
    t_start = time.time()
    for phase, shapes in (("decode", decode), ("prefill", prefill), ("packed", packed)):
        for rows, n in shapes:
            if phase == "packed":  # R prompts of L tokens: [R L, R L]
                req, plen = rows, n
                rows = n = req * plen
            nbytes = rows * n * 4
            if nbytes * 2.5 > free:
                print(f"skip {phase} {rows}x{n}: {nbytes >> 20} MiB does not fit", flush=True)
                continue
            nbuf = max(1, min(16, -(-3 * l2 // nbytes)))
            g = torch.Generator(device=DEV).manual_seed(rows * 7919 + n)
            logits_list = [torch.randn(rows, n, generator=g, device=DEV) for _ in range(nbuf)]
            out = torch.empty(rows, K, dtype=torch.int32, device=DEV)
            if phase == "decode":
                starts = torch.zeros(rows, dtype=torch.int32, device=DEV)
                ends = torch.full((rows,), n, dtype=torch.int32, device=DEV)
                ops = decode_ops(logits_list, ends, out, have, major, ws)
            elif phase == "prefill":
                starts = torch.zeros(rows, dtype=torch.int32, device=DEV)
                ends = (n - rows + 1 + torch.arange(rows, device=DEV)).clamp(min=0).int()
                ops = prefill_ops(logits_list, starts, ends, out, have, ws)
            else:
                r = torch.arange(rows, device=DEV)
                starts = (r // plen * plen).int()
                ends = (starts + r % plen + 1).int()
                ops = prefill_ops(logits_list, starts, ends, out, have, ws, plen)
            visible = int((ends - starts).clamp(min=0).sum()) * 4
            res = {}
            for name, fn in ops.items():
                try:
                    res[name], how = time_op(fn, nbuf)
                except Exception as exc:
                    print(f"  {name} failed: {type(exc).__name__}: {exc}", flush=True)
            if args.sweep and phase == "decode":
                sw = {"shape": f"{phase} {rows}x{n}"}
                for c in (1, 2, 4, 8, 16):
                    if rows * c <= 4 * props.multi_processor_count:
                        sw[f"C={c}"], _ = time_op(forced(1, ops["ours"], c), nbuf)
                sweep.append(sw)
                print("  radix sweep " + " ".join(f"{k} {v:.4f}" for k, v in sw.items()
                                                  if k != "shape"), flush=True)
            if (args.sweep or args.regs_sweep) and n <= REGS_MAX_COLS:
                rw = {"shape": f"{phase} {rows}x{n}"}
                for th in (512, 1024):
                    if plan(rows, n, ws_bytes, phase != "decode", 2, 0, th)[0] == 2:
                        rw[f"T={th}"], _ = time_op(forced(2, ops["ours"], 0, th), nbuf)
                regs_sweep.append(rw)
                print("  regs sweep " + " ".join(f"{k} {v:.4f}" for k, v in rw.items()
                                                 if k != "shape"), flush=True)
            if (args.sweep or args.grid_sweep) and "ours grid" in ops:
                gw = {"shape": f"{phase} {rows}x{n}"}
                for v in GRID_VECS:
                    pl = plan(rows, n, ws_bytes, phase != "decode", 3, v)
                    if pl[0] == 3 and pl[2] == v:  # else the automatic plan would run
                        gw[f"V={v}"], _ = time_op(forced(3, ops["ours"], 0, 0, v), nbuf)
                        gw[f"V={v} CTAs"] = pl[1]
                grid_sweep.append(gw)
                print("  grid sweep " + " ".join(f"{k} {v}" for k, v in gw.items()
                                                 if k != "shape"), flush=True)
            if (args.sweep or args.cluster_sweep) and "ours cluster" in ops:
                cw = {"shape": f"{phase} {rows}x{n}"}
                for th, v in CLUSTER_WIDTHS:
                    pl = plan(rows, n, ws_bytes, phase != "decode", 5, v, th)
                    if pl[0] == 5 and pl[2:4] == [v, th]:  # else the automatic plan would run
                        cw[f"{th}x{v}"], _ = time_op(forced(5, ops["ours"], 0, th, v), nbuf)
                        cw[f"{th}x{v} CTAs"] = pl[1]
                cluster_sweep.append(cw)
                print("  cluster sweep " + " ".join(f"{k} {v}" for k, v in cw.items()
                                                    if k != "shape"), flush=True)
            if args.opts:
                ow = kernel_opts(ops["ours"], rows, n, ws_bytes, phase, nbuf, logits_list[0],
                                 starts, ends, out)
                if ow:
                    opt_sweep.append(ow)
                    print("  opts " + " ".join(f"{k} {v}" for k, v in ow.items()
                                               if k != "shape"), flush=True)
            # correctness of ours, automatic and each kernel forced (fresh call, values check)
            ok = True
            for name in [m for m in ("ours", "ours no max_len", "ours no pdl", "ours radix",
                                     "ours stream", "ours regs", "ours grid", "ours cluster",
                                     "ours slices", "ours slices exact", "ours slices256")
                         if m in ops]:
                out.fill_(-1)
                ops[name](0)
                if not check_values(logits_list[0], starts, ends, out):
                    print(f"  {name} WRONG on {phase} {rows}x{n}", flush=True)
                    ok = False
            t = res.get("ours")
            vl = [res[c] for c in cols[:3] if c in res]
            best = min(vl) if vl else None
            algo, c, res_cap, nsl = plan(rows, n, ws_bytes, phase != "decode",
                                         max_len=plen if phase == "packed" else 0)
            cl = (f"{ALGO_NAMES[algo]} C={c}" + (f" T={res_cap}" if algo == 2 else "")
                  + (f" T={nsl}" if algo == 5 else "")
                  + (f" V={res_cap}" if algo in (3, 4, 5) else "")
                  + (f" S={nsl}" if algo == 4 else ""))
            row = {
                "shape": (f"packed {req}x{plen} ({rows}x{n})" if phase == "packed"
                          else f"{phase} {rows}x{n}"),
                "plan": cl,
                "ours": t,
                **{c: res.get(c) for c in cols},
                "x best vLLM": (best / t) if (best and t) else None,
                "x torch": (res["torch.topk"] / t) if ("torch.topk" in res and t) else None,
                "% copy BW": (100 * visible / (t * 1e-3) / bw) if t else None,
                "ok": "yes" if ok else "NO",
            }
            lines.append(row)
            print(f"  {row['shape']}: ours {t:.5f} ms ({cl}) "
                  + " ".join(f"{c} {res[c]:.5f}" for c in cols if c in res)
                  + f" ok={row['ok']} [{time.time() - t_start:.0f}s]", flush=True)
            del logits_list, ops
            torch.cuda.empty_cache()

    # the grid kernel leaves its workspace zero-filled (the next launch relies on it)
    if int(torch.count_nonzero(ws)) != 0:
        print("workspace NOT left zero-filled", flush=True)
        lines.append({"shape": "workspace left zero-filled", "ok": "NO"})
    hdr = ["shape", "plan", "ours", *cols, "x best vLLM", "x torch", "% copy BW", "ok"]

    def fmt(v, key):
        if v is None:
            return "n.a."
        if isinstance(v, str):
            return v
        if key in ("x best vLLM", "x torch"):
            return f"{v:.2f}x"
        if key == "% copy BW":
            return f"{v:.0f}%"
        return f"{v:.5f}" if v < 0.01 else f"{v:.4f}"  # 10 ns below 10 us

    md = [f"Indexer top-k, median ms per call. {head}.",
          "plan = the kernel and CTAs per row (cluster size; T = regs threads per CTA; V = grid "
          "/ cluster / slices float4 per thread; S = slices per CTA) our launcher chose (ours, with its "
          "workspace; launched with programmatic dependent launch, ours no pdl without); "
          "ours radix / ours stream / ours regs / ours grid / ours cluster / ours slices = each "
          "kernel forced (slices: one CTA per row where several do not fit; slices exact: the "
          "same without the sampled bound; slices256: one 256-thread CTA per row); "
          "packed RxL = one prefill chunk of R whole L-token prompts (ours passes max_len = L, "
          "ours no max_len does not; vLLM's persistent op and torch.topk do not apply); "
          "x best vLLM = best applicable vLLM op time / ours; % copy BW = one read of the visible logits at our speed, as a "
          "share of D2D copy bandwidth.", "",
          "| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    md += ["| " + " | ".join(fmt(r.get(h), h) for h in hdr) + " |" for r in lines]
    if sweep:
        cs = [f"C={c}" for c in (1, 2, 4, 8, 16)]
        md += ["", "Radix kernel forced to each cluster size (CTAs per row), median ms:", "",
               "| shape | " + " | ".join(cs) + " |", "|" + "---|" * (len(cs) + 1)]
        md += ["| " + r["shape"] + " | " + " | ".join(f"{r[c]:.4f}" if c in r else "n.a."
                                                      for c in cs) + " |" for r in sweep]
    if regs_sweep:
        ts = [f"T={t}" for t in (512, 1024)]
        md += ["", "Regs kernel forced to each CTA size (threads), median ms:", "",
               "| shape | " + " | ".join(ts) + " |", "|" + "---|" * (len(ts) + 1)]
        md += ["| " + r["shape"] + " | " + " | ".join(f"{r[t]:.4f}" if t in r else "n.a."
                                                      for t in ts) + " |" for r in regs_sweep]
    if grid_sweep:
        vs = [f"V={v}" for v in GRID_VECS]
        md += ["", "Grid kernel forced to each width (float4 per thread; CTAs per row), median ms:",
               "", "| shape | " + " | ".join(vs) + " |", "|" + "---|" * (len(vs) + 1)]
        md += ["| " + r["shape"] + " | " + " | ".join(
            f"{r[v]:.4f} ({r[v + ' CTAs']})" if v in r else "n.a." for v in vs) + " |"
            for r in grid_sweep]
    if cluster_sweep:
        vs = [f"{th}x{v}" for th, v in CLUSTER_WIDTHS]
        md += ["", "Cluster kernel forced to each width (threads x float4 per thread; CTAs per "
               "row), median ms:", "", "| shape | " + " | ".join(vs) + " |",
               "|" + "---|" * (len(vs) + 1)]
        md += ["| " + r["shape"] + " | " + " | ".join(
            f"{r[v]:.5f} ({r[v + ' CTAs']})" if v in r else "n.a." for v in vs) + " |"
            for r in cluster_sweep]
    if opt_sweep:
        os_ = [f"opt {o}" for o in ALL_OPTS]
        md += ["", "Regs kernel at 512 x 2-3 float4 without / with kOptScan (opt 0 / 1), median "
               "ms of 3 alternating rounds; same = rows bit-identical and values equal to "
               "torch.topk's:",
               "", "| shape | kernel | " + " | ".join(os_) + " | same |",
               "|" + "---|" * (len(os_) + 3)]
        md += ["| " + r["shape"] + " | " + r["kernel"] + " | "
               + " | ".join(f"{r[o]:.5f}" if o in r else "n.a." for o in os_) + " | "
               + r["same"] + " |" for r in opt_sweep]
    text = "\n".join(md)
    print("\n" + text)
    if os.environ.get("OUT"):
        path = Path(os.environ["OUT"]) / "bench_topk.md"
        path.write_text(text + "\n")
        print(f"wrote {path}")
    ok = all(r["ok"] == "yes" for r in lines) and all(r["same"] == "yes" for r in opt_sweep)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
