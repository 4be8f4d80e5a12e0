"""Where one generate spends its GPU and host time, per kernel and per op: one engine in process.

    python tools/profile_indexer.py run --model DIR --out F.json [--batch 128]
        [--prompt-len 3968] [--new-tokens 64] [--rounds 3]
    python tools/profile_indexer.py compare A.json B.json [--top 25]

``run`` builds one engine with ``benchmarks/bench_generate.py``'s ``make_engine`` and
``make_prompts`` (torch.compile + CUDA graphs, its seeded random prompts, ignore_eos), in
this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``, so the profiler sees the model's kernels),
warms the batch up, times ``--rounds`` unprofiled generates (median), then runs one more under
``torch.profiler`` (CPU + CUDA). The pipeline is whatever the environment selects
(``VLLM_GLM52_INDEXER_TOPK``, ``VLLM_GLM52_DISABLE``): run it once per pipeline, each in its
own process. It writes F.json: the timings, every kernel's count and summed GPU time, the
ops' (``vllm::*``, ``_C*::*``, ``aten::*``) count, host time and GPU time of the kernels they
launched, and the greedy output token ids.

``compare`` prints the two runs' totals (GPU busy time, wall time), the kernels and ops whose
times differ most, and how many output sequences are identical.

Why: end to end the ``glm52`` pipeline measured 0.90-0.95x the default one at batch 128 with
3968-token prompts, inside a round-to-round spread of up to 2.6x (docs/benchmarks.md, session
23). Kernel times under the profiler do not drift with the host the way wall time does, and
the host time of the indexer ops shows what the pipeline costs between kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# Ops whose host and GPU time the summary keeps (besides every kernel).
OP_PREFIXES = ("vllm::", "_C_glm52::", "_C::", "_moe_C::", "aten::")


def _short(name: str, width: int = 110) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."


def run(args) -> None:
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # engine core and worker in process
    import torch
    from torch.profiler import ProfilerActivity, profile

    from vllm import SamplingParams

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_generate import make_engine, make_prompts

    b = args.batch
    t0 = time.perf_counter()
    llm = make_engine(args.model, [b], args.prompt_len, args.new_tokens, args.gpu_mem,
                      enforce_eager=args.eager)
    start_s = time.perf_counter() - t0
    prompts = make_prompts([b], args.prompt_len)[b]  # bench_generate.py --batches b's prompts
    sp = SamplingParams(temperature=0.0, max_tokens=args.new_tokens, ignore_eos=True)
    print(f"engine up in {start_s:.1f} s; warm-up", flush=True)
    llm.generate(prompts, sp, use_tqdm=False)
    secs = []
    for r in range(args.rounds):
        torch.cuda.synchronize()
        t = time.perf_counter()
        llm.generate(prompts, sp, use_tqdm=False)
        secs.append(time.perf_counter() - t)
        print(f"round {r}: {secs[-1]:.3f} s", flush=True)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t = time.perf_counter()
        outs = llm.generate(prompts, sp, use_tqdm=False)
        torch.cuda.synchronize()
        profiled_s = time.perf_counter() - t
    kernels, ops = {}, {}
    for e in prof.key_averages():
        dev_self = float(getattr(e, "self_device_time_total", 0.0))
        if e.key.startswith(OP_PREFIXES):
            ops[e.key] = {"count": int(e.count), "cpu_us": float(e.cpu_time_total),
                          "self_cpu_us": float(e.self_cpu_time_total),
                          "device_us": float(getattr(e, "device_time_total", 0.0))}
        elif dev_self > 0.0 and e.cpu_time_total == 0.0:  # a kernel / memcpy / memset
            kernels[e.key] = {"count": int(e.count), "device_us": dev_self}
    result = {
        "env": {k: v for k, v in os.environ.items() if k.startswith("VLLM_GLM52")},
        "commit": os.environ.get("GLM52_COMMIT", "unknown"),
        "device": torch.cuda.get_device_name(),
        "eager": args.eager, "batch": b, "prompt_len": args.prompt_len,
        "new_tokens": args.new_tokens,
        "engine_start_s": start_s, "round_s": secs, "median_s": statistics.median(secs),
        "profiled_s": profiled_s,
        "gpu_busy_us": sum(k["device_us"] for k in kernels.values()),
        "kernels": kernels, "ops": ops,
        "outputs": [list(o.outputs[0].token_ids) for o in outs],
    }
    with open(args.out, "w") as f:
        json.dump(result, f)
    print(f"median {result['median_s']:.3f} s of {secs}; profiled {profiled_s:.3f} s; "
          f"GPU busy {result['gpu_busy_us'] / 1e3:.1f} ms over {len(kernels)} kernels",
          flush=True)


def _diff_table(a: dict, b: dict, field: str, top: int) -> list[str]:
    names = set(a) | set(b)
    rows = []
    for n in names:
        va = a.get(n, {}).get(field, 0.0)
        vb = b.get(n, {}).get(field, 0.0)
        rows.append((abs(va - vb), n, va, vb, a.get(n, {}).get("count", 0),
                     b.get(n, {}).get("count", 0)))
    rows.sort(reverse=True)
    out = [f"  {'A ms':>9} {'B ms':>9} {'B-A ms':>9} {'A n':>7} {'B n':>7}  name"]
    for _, n, va, vb, ca, cb in rows[:top]:
        out.append(f"  {va / 1e3:9.2f} {vb / 1e3:9.2f} {(vb - va) / 1e3:+9.2f} {ca:7d} {cb:7d}"
                   f"  {_short(n)}")
    return out


def compare(args) -> None:
    with open(args.a) as f:
        a = json.load(f)
    with open(args.b) as f:
        b = json.load(f)
    if (a["batch"], a["prompt_len"], a["new_tokens"]) != (b["batch"], b["prompt_len"],
                                                         b["new_tokens"]):
        raise SystemExit("compare: the runs differ in batch / prompt length / new tokens; "
                         "profile both with the same arguments")
    print(f"A = {args.a} {a['env']}\nB = {args.b} {b['env']}")
    print(f"batch {a['batch']}, prompts {a['prompt_len']}, new tokens {a['new_tokens']}")
    for key, unit, scale in (("median_s", "s", 1), ("profiled_s", "s", 1),
                             ("gpu_busy_us", "ms", 1e-3), ("engine_start_s", "s", 1)):
        va, vb = a[key] * scale, b[key] * scale
        ratio = f"{vb / va:6.3f}" if va else "   n.a."
        print(f"{key:>15}: A {va:10.3f} {unit}  B {vb:10.3f} {unit}  B/A {ratio}")
    print(f"rounds A {[round(x, 3) for x in a['round_s']]} B {[round(x, 3) for x in b['round_s']]}")
    print("kernels, summed GPU time, largest differences:")
    print("\n".join(_diff_table(a["kernels"], b["kernels"], "device_us", args.top)))
    print("ops, host time (incl. children), largest differences:")
    print("\n".join(_diff_table(a["ops"], b["ops"], "cpu_us", args.top)))
    same = sum(x == y for x, y in zip(a["outputs"], b["outputs"]))
    print(f"greedy outputs identical: {same} of {len(a['outputs'])}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="profile one generate of one engine")
    r.add_argument("--model", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--batch", type=int, default=128)
    r.add_argument("--prompt-len", type=int, default=3968)
    r.add_argument("--new-tokens", type=int, default=64)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--gpu-mem", type=float, default=0.5)
    r.add_argument("--eager", action="store_true",
                   help="no torch.compile / CUDA graphs: the pipelines then differ in the "
                        "indexer op alone, so their greedy outputs must match")
    c = sub.add_parser("compare", help="two runs' differences")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    if args.cmd == "run":
        if args.batch < 1 or args.prompt_len < 1 or args.new_tokens < 1 or args.rounds < 1:
            raise SystemExit("run: --batch, --prompt-len, --new-tokens and --rounds must be >= 1")
        run(args)
    else:
        compare(args)


if __name__ == "__main__":
    sys.exit(main())
