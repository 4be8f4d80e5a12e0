"""Offline generate throughput: vllm-glm52 vs vLLM's in-tree GLM-5.2, same GPU, same run.

    python benchmarks/bench_generate.py --model DIR [--batches 1 32 128] [--out-md F]
        [--engines plugin,plugin-vllm-topk,in-tree] [--rounds 7]

Each engine is a fresh subprocess (``VLLM_GLM52_DISABLE=1`` for the in-tree path) with CUDA
graphs and torch.compile on, started one after the other and then kept alive side by side on
the GPU (``--gpu-mem`` each). For every batch size the same random ``--prompt-len``-token
prompts (ignore_eos, ``--new-tokens`` each) are warmed up once per engine; then ``--rounds``
rounds time one generate per engine and batch, the engines taking turns (order reversed every
other round), so drift of the machine hits all engines alike. Reported: the median output
tokens/s per engine, and the median (with min-max) over rounds of the per-round ratio
first engine / each other engine.

Why interleaved: the tiny model's steps are launch- and host-bound, and on the GPU host the
same engine's figure moved by up to 2.5x between runs minutes apart (docs/benchmarks.md);
back-to-back engine runs compared those drifts, not the engines.
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

MSG = "GLM52BENCH "  # prefix of protocol lines on the worker's stdout (vLLM logs there too)


def _say(obj: dict) -> None:
    print(MSG + json.dumps(obj), flush=True)


def make_engine(model: str, batches: list[int], prompt_len: int, new_tokens: int,
                gpu_mem: float, kv_cache_dtype: str = "auto", enforce_eager: bool = False):
    """The benchmark's engine (also tools/profile_indexer.py's): room for the prompts and new
    tokens, up to max(batches) sequences, CUDA graphs captured for the powers of two up to it
    and for every batch size, no prefix caching."""
    from vllm import LLM

    top = max(batches)
    sizes = sorted(s for s in {1, 2, 4, 8, 16, 32, 64, 128, *batches} if s <= top)
    return LLM(model=model, max_model_len=prompt_len + new_tokens + 64,
               gpu_memory_utilization=gpu_mem, kv_cache_dtype=kv_cache_dtype,
               enable_prefix_caching=False, seed=0, max_num_seqs=top,
               enforce_eager=enforce_eager,
               compilation_config={"cudagraph_capture_sizes": sizes})


def make_prompts(batches: list[int], prompt_len: int) -> dict:
    """{b: b random prompts of prompt_len token ids} for each batch size, drawn in this order
    from one seeded generator: the same prompts in every engine given the same batches."""
    import random

    from vllm.inputs import TokensPrompt

    rng = random.Random(0)
    return {b: [TokensPrompt(prompt_token_ids=[rng.randrange(1000, 150000)
                                               for _ in range(prompt_len)])
                for _ in range(b)] for b in batches}


def worker(args) -> None:
    """Builds the engine, warms every batch up, then serves {"batch": b} requests from stdin
    with {"batch": b, "seconds": s} (one timed generate each) until {"quit": true}."""
    from vllm import SamplingParams

    llm = make_engine(args.model, args.batches, args.prompt_len, args.new_tokens, args.gpu_mem,
                      args.kv_cache_dtype)
    sp = SamplingParams(temperature=0.0, max_tokens=args.new_tokens, ignore_eos=True)
    prompts = make_prompts(args.batches, args.prompt_len)
    for b in args.batches:
        llm.generate(prompts[b], sp, use_tqdm=False)  # warm-up: JIT, graphs, allocator
    _say({"ready": True})
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("quit"):
            break
        b = int(req["batch"])
        t0 = time.perf_counter()
        outs = llm.generate(prompts[b], sp, use_tqdm=False)
        dt = time.perf_counter() - t0
        if not all(len(o.outputs[0].token_ids) == args.new_tokens for o in outs):
            raise SystemExit(f"batch {b}: a request stopped before {args.new_tokens} tokens")
        _say({"batch": b, "seconds": dt})


ENGINES = {
    "plugin": {},  # the default: our indexer pipeline + _C_glm52 top-k
    "plugin-glm52-topk": {"VLLM_GLM52_INDEXER_TOPK": "glm52"},  # the same, named explicitly
    "plugin-vllm-topk": {"VLLM_GLM52_INDEXER_TOPK": "vllm"},  # vLLM's indexer op + the row sort
    "in-tree": {"VLLM_GLM52_DISABLE": "1"},
}
TITLES = {"plugin": "vllm-glm52", "plugin-glm52-topk": "vllm-glm52 (glm52 top-k)",
          "plugin-vllm-topk": "vllm-glm52 (vLLM top-k)", "in-tree": "vLLM in-tree"}


class Engine:
    """One worker subprocess; its stdout (vLLM logs and protocol lines) and stderr go to
    $OUT/bench_generate_<tag>.log."""

    def __init__(self, args, tag: str):
        env = dict(os.environ)
        for var in ("VLLM_GLM52_DISABLE", "VLLM_GLM52_INDEXER_TOPK"):
            env.pop(var, None)
        env.update(ENGINES[tag])
        cmd = [sys.executable, __file__, "--worker", "--model", args.model,
               "--kv-cache-dtype", args.kv_cache_dtype, "--gpu-mem", str(args.gpu_mem),
               "--prompt-len", str(args.prompt_len), "--new-tokens", str(args.new_tokens),
               "--batches", *map(str, args.batches)]
        self.tag = tag
        self.log_path = os.path.join(os.environ.get("OUT", "."), f"bench_generate_{tag}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1)

    def read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MSG):
                return json.loads(line[len(MSG):])
            self.log.write(line)
        self.log.flush()
        rc = self.proc.wait()
        with open(self.log_path) as f:
            tail = f.read()[-3000:]
        raise SystemExit(f"{self.tag} engine exited (rc {rc}); log: {self.log_path}\n{tail}")

    def time(self, batch: int) -> float:
        self.proc.stdin.write(json.dumps({"batch": batch}) + "\n")
        self.proc.stdin.flush()
        return float(self.read()["seconds"])

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=120)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.log.close()


def summarize(names: list[str], batches: list[int], new_tokens: int,
              secs: dict[str, dict[int, list[float]]]) -> tuple[str, dict]:
    """Markdown table and JSON of the medians; ratio = first engine / each other engine, per
    round (``ratio`` / ``ratio_min`` / ``ratio_max``: first / last; ``ratios``: every one)."""
    first, others = names[0], names[1:]
    rows = ["| batch | " + " | ".join(f"{TITLES[n]} tok/s" for n in names) + " | "
            + " | ".join(f"ratio {TITLES[first]} / {TITLES[n]} (median of rounds) | min-max"
                         for n in others) + " |",
            "|---|" + "---|" * (len(names) + 2 * len(others))]
    out = {}
    for b in batches:
        tok_s = {n: statistics.median(b * new_tokens / t for t in secs[n][b]) for n in names}
        ratios = {}
        for n in others:
            r = [tn / tf for tf, tn in zip(secs[first][b], secs[n][b])]
            ratios[n] = {"ratio": statistics.median(r), "ratio_min": min(r), "ratio_max": max(r)}
        out[b] = {"tok_s": tok_s, **ratios[names[-1]], "ratios": ratios}
        rows.append(f"| {b} | " + " | ".join(f"{tok_s[n]:.1f}" for n in names) + " | "
                    + " | ".join(f"{ratios[n]['ratio']:.3f} | {ratios[n]['ratio_min']:.3f}-"
                                 f"{ratios[n]['ratio_max']:.3f}" for n in others) + " |")
    return "\n".join(rows), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--kv-cache-dtype", default="auto")
    p.add_argument("--gpu-mem", type=float, default=0.3,
                   help="per engine; the engines share the GPU")
    p.add_argument("--out-md", help="append the markdown table to this file")
    p.add_argument("--engines", default="plugin,in-tree",
                   help="comma-separated, started in this order; the ratios are first / each "
                        f"(of: {', '.join(ENGINES)})")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    names = args.engines.split(",")
    unknown = [n for n in names if n not in ENGINES]
    if unknown or len(names) < 2 or len(set(names)) != len(names):
        raise SystemExit(f"--engines {args.engines!r}: give two or more distinct of "
                         f"{', '.join(ENGINES)}")
    if args.rounds < 1 or args.gpu_mem * len(names) > 0.95:
        raise SystemExit(f"--rounds {args.rounds} / --gpu-mem {args.gpu_mem}: need >= 1 round "
                         f"and {len(names)} x gpu-mem <= 0.95 (the engines share the GPU)")
    engines = []
    try:
        for n in names:  # one at a time: each profiles memory while the others sit idle
            t0 = time.time()
            engines.append(Engine(args, n))
            engines[-1].read()
            print(f"{n}: ready in {time.time() - t0:.0f} s", flush=True)
        secs = {n: {b: [] for b in args.batches} for n in names}
        for r in range(args.rounds):
            order = engines if r % 2 == 0 else engines[::-1]
            for b in args.batches:
                for e in order:
                    secs[e.tag][b].append(e.time(b))
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        for e in engines:
            e.close()
    table, out = summarize(names, args.batches, args.new_tokens, secs)
    print(table)
    print("RESULT " + json.dumps({"seconds": secs, "summary": out}))
    if args.out_md:
        with open(args.out_md, "a") as f:
            f.write(f"\n{os.path.basename(args.model)} kv={args.kv_cache_dtype} "
                    f"prompt={args.prompt_len} new={args.new_tokens} rounds={args.rounds}, "
                    f"engines interleaved\n\n{table}\n")


if __name__ == "__main__":
    main()
