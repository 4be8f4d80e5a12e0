"""Row sort of the indexer's top-k buffer: the Triton kernel vs torch.sort, one GPU.

    python benchmarks/bench_sort_rows.py [--out-md F]

Shapes [n, 2048] int32 (GLM-5.2's index_topk) for decode batches and prefill chunks, 30% -1
padding; each call is captured in a CUDA graph (as in the model's decode graphs) and replayed
100 times after warm-up; the median per call is reported in microseconds. The sorted result of
both paths is checked equal first.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from vllm_glm52.ops import sort_rows as S


def _time(fn, buf: torch.Tensor, src: torch.Tensor, reps: int = 100) -> float:
    buf.copy_(src)
    fn(buf)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn(buf)
    ts = []
    for _ in range(reps):
        buf.copy_(src)  # unsorted input every time
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1e3)
    return statistics.median(ts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--k", type=int, default=2048)
    p.add_argument("--out-md")
    args = p.parse_args()
    rows_list = [1, 32, 128, 2048, 16384]
    lines = [f"GPU {torch.cuda.get_device_name()}, k={args.k}, median us per call (graph replay)",
             "", "| rows | torch.sort path | Triton kernel | speed-up |", "|---|---|---|---|"]
    for n in rows_list:
        src = torch.rand(n, 16384, device="cuda").topk(args.k, dim=1).indices.int()
        src[torch.rand(n, args.k, device="cuda") < 0.3] = -1
        a, b = src.clone(), src.clone()
        S.sort_rows_torch_(a)
        S.sort_rows_triton_(b)
        assert torch.equal(a, b), f"results differ at {n} rows"
        buf = torch.empty_like(src)
        t_torch = _time(S.sort_rows_torch_, buf, src)
        t_tri = _time(S.sort_rows_triton_, buf, src)
        lines.append(f"| {n} | {t_torch:.1f} | {t_tri:.1f} | {t_torch / t_tri:.2f}x |")
    text = "\n".join(lines)
    print(text)
    if args.out_md:
        with open(args.out_md, "a") as f:
            f.write("\n" + text + "\n")


if __name__ == "__main__":
    main()
