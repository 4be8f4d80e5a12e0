"""Offline generate throughput: vllm-glm52 vs vLLM's in-tree GLM-5.2, same GPU, same run.

    python benchmarks/bench_generate.py --model DIR [--batches 1 32 128] [--out-md F]
        [--engines plugin,plugin-vllm-topk,in-tree]

Each engine runs in a fresh subprocess (``VLLM_GLM52_DISABLE=1`` for the in-tree path) with
CUDA graphs and torch.compile on. For every batch size it generates ``--new-tokens`` tokens
per request from random ``--prompt-len``-token prompts (ignore_eos), after one warm-up pass,
``--repeats`` times; the median output tokens/s is reported.
Napkin math: decode is weight-bandwidth-bound at small batch (tiny model: ~0.4 GB of
weights per step, dominated by the 2x154880x1024 embed/lm_head of which only lm_head is read).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def worker(args) -> None:
    import random

    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    sizes = sorted({1, 2, 4, 8, 16, 32, 64, 128, *args.batches})
    llm = LLM(model=args.model, max_model_len=args.prompt_len + args.new_tokens + 64,
              gpu_memory_utilization=args.gpu_mem, kv_cache_dtype=args.kv_cache_dtype,
              enable_prefix_caching=False, seed=0,
              max_num_seqs=max(args.batches),
              compilation_config={"cudagraph_capture_sizes": [s for s in sizes
                                                              if s <= max(args.batches)]})
    rng = random.Random(0)
    sp = SamplingParams(temperature=0.0, max_tokens=args.new_tokens, ignore_eos=True)
    results = {}
    for b in args.batches:
        prompts = [TokensPrompt(prompt_token_ids=[rng.randrange(1000, 150000)
                                                  for _ in range(args.prompt_len)])
                   for _ in range(b)]
        llm.generate(prompts, sp, use_tqdm=False)  # warm-up: JIT, graphs, allocator
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            outs = llm.generate(prompts, sp, use_tqdm=False)
            times.append(time.perf_counter() - t0)
            assert all(len(o.outputs[0].token_ids) == args.new_tokens for o in outs)
        med = statistics.median(times)
        results[b] = {"seconds": med, "tok_s": b * args.new_tokens / med, "all": times}
        print(f"batch {b}: {results[b]['tok_s']:.1f} tok/s", flush=True)
    print("RESULT " + json.dumps(results), flush=True)


#: engine name -> environment it runs with (the plugin's defaults unless set here)
ENGINES = {
    "plugin": {},
    "plugin-vllm-topk": {"VLLM_GLM52_INDEXER_TOPK": "vllm"},  # vLLM's indexer op + row sort
    "in-tree": {"VLLM_GLM52_DISABLE": "1"},
}
TITLES = {"plugin": "vllm-glm52", "plugin-vllm-topk": "vllm-glm52 (vLLM top-k)",
          "in-tree": "vLLM in-tree"}


def run_engine(args, tag: str) -> dict:
    env = dict(os.environ)
    for var in ("VLLM_GLM52_DISABLE", "VLLM_GLM52_INDEXER_TOPK"):
        env.pop(var, None)
    env.update(ENGINES[tag])
    cmd = [sys.executable, __file__, "--worker", "--model", args.model,
           "--kv-cache-dtype", args.kv_cache_dtype, "--gpu-mem", str(args.gpu_mem),
           "--prompt-len", str(args.prompt_len), "--new-tokens", str(args.new_tokens),
           "--repeats", str(args.repeats), "--batches", *map(str, args.batches)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    log = os.path.join(os.environ.get("OUT", "."), f"bench_generate_{tag}.log")
    with open(log, "w") as f:
        f.write(proc.stdout + proc.stderr)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        raise SystemExit(f"{tag} engine failed (rc {proc.returncode}); log: {log}\n"
                         + proc.stderr[-3000:])
    return {int(k): v for k, v in json.loads(line[7:]).items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--kv-cache-dtype", default="auto")
    p.add_argument("--gpu-mem", type=float, default=0.5)
    p.add_argument("--out-md", help="append the markdown table to this file")
    p.add_argument("--engines", default="plugin,in-tree",
                   help="comma-separated, run in this order; the ratio is first / last "
                        f"(of: {', '.join(ENGINES)})")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    names = args.engines.split(",")
    unknown = [n for n in names if n not in ENGINES]
    if unknown or len(names) < 2:
        raise SystemExit(f"--engines {args.engines!r}: give two or more of {', '.join(ENGINES)}")
    res = {n: run_engine(args, n) for n in names}
    first, last = names[0], names[-1]
    rows = ["| batch | " + " | ".join(f"{TITLES[n]} tok/s" for n in names)
            + f" | ratio {TITLES[first]} / {TITLES[last]} |",
            "|---|" + "---|" * (len(names) + 1)]
    for b in args.batches:
        rows.append(f"| {b} | " + " | ".join(f"{res[n][b]['tok_s']:.1f}" for n in names)
                    + f" | {res[first][b]['tok_s'] / res[last][b]['tok_s']:.3f} |")
    table = "\n".join(rows)
    print(table)
    if args.out_md:
        with open(args.out_md, "a") as f:
            f.write(f"\n{os.path.basename(args.model)} kv={args.kv_cache_dtype} "
                    f"prompt={args.prompt_len} new={args.new_tokens}\n\n{table}\n")


if __name__ == "__main__":
    main()
