"""Dissect our top-k kernels on one GPU: time them over input distributions, or make one
launch for Nsight Compute.

    python tools/profile_topk.py dists                 # radix / stream x distributions x shapes
    python tools/profile_topk.py one --rows 1 --cols 32768 --algo radix --cluster 1
    ncu --clock-control none -k regex:topk --launch-skip 1 --launch-count 1 --set full \\
        python tools/profile_topk.py one ...           # the second launch is the profiled one

Why distributions: the kernels' shared-memory histogram atomics serialise when lanes of a warp
hit the same bin, and how often they do depends on the values. "bits" (uniform random fp32
bit patterns, no NaN) spreads keys over every bin: the time without atomic conflicts. "randn"
is what benchmarks/bench_topk.py uses; "ramp" adds a recency ramp as indexer scores have.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_topk  # noqa: E402  (time_op, K)

K = bench_topk.K
ALGOS = {"stream": 0, "radix": 1, "regs": 2, "grid": 3, "slices": 4, "slices256": 4,
         "cluster": 5}
THREADS = {"slices256": 256}  # topk_force's CTA size for the kernel (0: the planner's)


def make(dist: str, rows: int, cols: int) -> torch.Tensor:
    g = torch.Generator(device="cuda").manual_seed(1234)
    if dist == "randn":
        return torch.randn(rows, cols, device="cuda", generator=g)
    if dist == "bits":
        b = torch.randint(0, 1 << 31, (rows, cols), device="cuda", generator=g, dtype=torch.int64)
        b = b | (torch.randint(0, 2, (rows, cols), device="cuda", generator=g) << 31)
        x = b.to(torch.int64).to(torch.int32).view(torch.float32)
        return torch.where(torch.isnan(x), torch.zeros_like(x), x)
    if dist == "ramp":
        pos = torch.arange(cols, device="cuda", dtype=torch.float32) / cols
        return torch.randn(rows, cols, device="cuda", generator=g) + 2.0 * pos
    if dist == "uniform":
        return torch.rand(rows, cols, device="cuda", generator=g)
    raise SystemExit(f"unknown --dist {dist!r}: use randn, bits, ramp or uniform")


def call(x: torch.Tensor, out: torch.Tensor, lens: torch.Tensor, algo: str, cluster: int):
    from vllm_glm52.ops.topk import topk_workspace

    torch.ops._C_glm52.topk_force(ALGOS[algo], cluster, THREADS.get(algo, 0))
    try:  # the workspace the indexer passes (the grid kernel needs it)
        torch.ops._C_glm52.topk_decode(x, lens, out, K, 1, topk_workspace(x.device))
    finally:
        torch.ops._C_glm52.topk_force(-1, 0, 0)


def time_one(dist, rows, cols, algo, cluster, nbuf=4) -> float:
    xs = [make(dist, rows, cols) for _ in range(nbuf)]
    out = torch.empty(rows, K, dtype=torch.int32, device="cuda")
    lens = torch.full((rows,), cols, dtype=torch.int32, device="cuda")
    ms, _ = bench_topk.time_op(lambda i: call(xs[i], out, lens, algo, cluster), nbuf)
    ref = torch.topk(xs[0], K, dim=1).values.sort(dim=1).values
    call(xs[0], out, lens, algo, cluster)
    got = torch.gather(xs[0], 1, out.long()).sort(dim=1).values
    if not torch.equal(ref, got):
        raise SystemExit(f"wrong result: {dist} {rows}x{cols} {algo} C={cluster}")
    return ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["dists", "one"])
    ap.add_argument("--rows", type=int, default=1)
    ap.add_argument("--cols", type=int, default=32768)
    ap.add_argument("--algo", choices=list(ALGOS), default="radix")
    ap.add_argument("--cluster", type=int, default=0, help="CTAs per row (0: the planner's)")
    ap.add_argument("--dist", default="randn")
    ap.add_argument("--shapes", default="",
                    help="dists mode: ';'-separated rows,cols,algo,cluster (default: a fixed set)")
    args = ap.parse_args()
    import vllm_glm52.ops.topk  # noqa: F401  (loads torch.ops._C_glm52)

    if args.mode == "one":
        x = make(args.dist, args.rows, args.cols)
        out = torch.empty(args.rows, K, dtype=torch.int32, device="cuda")
        lens = torch.full((args.rows,), args.cols, dtype=torch.int32, device="cuda")
        for _ in range(3):
            call(x, out, lens, args.algo, args.cluster)
        torch.cuda.synchronize()
        return 0
    shapes = [(1, 32768, "radix", 1), (1, 131072, "radix", 0), (64, 32768, "radix", 0),
              (64, 131072, "radix", 2), (64, 131072, "stream", 0), (256, 32768, "radix", 0),
              (2048, 8192, "radix", 0), (256, 131072, "stream", 0)]
    if args.shapes:
        shapes = [(int(r), int(c), a, int(k)) for r, c, a, k in
                  (x.split(",") for x in args.shapes.split(";") if x.strip())]
    dists = ["randn", "bits", "ramp", "uniform"]
    print("| shape | kernel | C | " + " | ".join(dists) + " |")
    print("|---|---|---|" + "---|" * len(dists))
    for rows, cols, algo, c in shapes:
        ms = [time_one(d, rows, cols, algo, c) for d in dists]
        print(f"| {rows}x{cols} | {algo} | {c or 'plan'} | " +
              " | ".join(f"{m * 1e3:.1f}" for m in ms) + " |", flush=True)
    print("(us, median of CUDA-graph replays)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
