"""Greedy-output parity between engines: the plugin, vLLM's in-tree path, the fp32 reference.

Each engine runs in its own process (``generate`` / ``score``); ``compare`` reads their JSON.

    python tests/gpu/greedy_parity.py prompts --out P.json [--long-len 1500]
    python tests/gpu/greedy_parity.py generate --engine vllm --model DIR --prompts P.json --out A.json
    VLLM_GLM52_DISABLE=1 python tests/gpu/greedy_parity.py generate --engine vllm ... --out B.json
    python tests/gpu/greedy_parity.py generate --engine reference --model DIR ... --out R.json
    python tests/gpu/greedy_parity.py score --engine vllm --model DIR --seqs A.json --out SB.json
    python tests/gpu/greedy_parity.py compare A.json B.json [--scores SB.json]
    python tests/gpu/greedy_parity.py compare-scores SA.json SB.json

``generate`` writes, per prompt, the greedy token ids and the top-2 logprobs at every step.
``score`` teacher-forces the sequences of another run (one prefill over prompt + generated
tokens) and records, per generated position, this engine's top-1 token, its logprob of the
given token and its top-2 logprobs. ``compare-scores SA SB`` compares two engines' scores of
the *same* sequences: both ran the prefill path on identical inputs, so top-1 agreement and
logprob differences measure the engines, not prefill-vs-decode or fp8-KV-round-trip effects
(``compare --scores`` mixes A's decode-time logprobs with B's prefill-time ones and is kept
for reference). Every disagreement is listed with both engines' top-2 margins.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time


def make_prompts(long_len: int, seed: int = 0) -> list[list[int]]:
    """Two short prompts and two longer than index_topk (sparse attention really selects)."""
    rng = random.Random(seed)
    words = [rng.randrange(1000, 150000) for _ in range(long_len)]
    return [
        [154822, 154824, 154827, 9707, 11, 1246, 525, 498, 30, 154828, 154841],  # chat-like
        [rng.randrange(1000, 150000) for _ in range(24)],
        words,
        [rng.randrange(1000, 150000) for _ in range(long_len * 2 // 3)],
    ]


#: Measurement aid, not a product feature: with ``VLLM_GLM52_DISABLE=1`` and this set to 1, the
#: in-tree path's top-k rows are sorted after its indexer op, exactly as the plugin's default
#: ``VLLM_GLM52_TOPK_ORDER=sorted`` does. vLLM's top-k kernels fill rows in a run-dependent
#: order and the sparse attention accumulates in buffer order, so the unpatched in-tree path
#: does not agree with itself; sorted, it is deterministic and the two implementations can be
#: compared without that noise. Runs the engine core in this process (TP=1) so the patch holds.
SORT_INTREE_ENV = "GLM52_PARITY_SORT_INTREE"


def _sort_intree_topk() -> None:
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    from vllm.model_executor.layers.sparse_attn_indexer import SparseAttnIndexer

    from vllm_glm52.indexer import _sort_topk_rows

    forward_cuda = SparseAttnIndexer.forward_cuda

    def sorted_forward_cuda(self, hidden_states, *args, **kwargs):
        out = forward_cuda(self, hidden_states, *args, **kwargs)
        _sort_topk_rows(self.topk_indices_buffer, hidden_states.shape[0])
        return out

    SparseAttnIndexer.forward_cuda = sorted_forward_cuda


def _llm(args):
    from vllm import LLM

    if _engine_name() == "vllm-in-tree-sorted":
        if args.tp * args.pp != 1:
            raise SystemExit(f"{SORT_INTREE_ENV}=1 patches this process only; use TP=PP=1")
        _sort_intree_topk()

    kwargs = dict(model=args.model, tensor_parallel_size=args.tp,
                  pipeline_parallel_size=args.pp, max_model_len=args.max_model_len,
                  gpu_memory_utilization=args.gpu_mem, enforce_eager=args.enforce_eager,
                  kv_cache_dtype=args.kv_cache_dtype, seed=0, enable_prefix_caching=False)
    if args.max_num_batched_tokens:
        kwargs["max_num_batched_tokens"] = args.max_num_batched_tokens
    return LLM(**kwargs)


def _top2(step_logprobs) -> list[list[float]]:
    items = sorted(step_logprobs.items(), key=lambda kv: -kv[1].logprob)[:2]
    return [[int(t), float(lp.logprob)] for t, lp in items]


def cmd_generate(args) -> dict:
    prompts = json.load(open(args.prompts))["prompts"]
    t0 = time.time()
    if args.engine == "reference":
        import torch

        from vllm_glm52.reference import ReferenceGLM52

        ref = ReferenceGLM52.from_pretrained(args.model, device="cuda")
        out = []
        for p in prompts:
            ids = list(p)
            steps = []
            for _ in range(args.max_tokens):
                with torch.no_grad():
                    logits = ref.forward(torch.tensor(ids, device="cuda"))[-1]
                lp = torch.log_softmax(logits.double(), -1)
                v, i = lp.topk(2)
                steps.append([[int(i[0]), float(v[0])], [int(i[1]), float(v[1])]])
                ids.append(int(i[0]))
            out.append({"prompt": p, "tokens": ids[len(p):], "top2": steps})
        return {"engine": "reference", "runs": out, "seconds": time.time() - t0}

    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    llm = _llm(args)
    sp = SamplingParams(temperature=0.0, max_tokens=args.max_tokens, logprobs=2,
                        ignore_eos=True)
    res = llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], sp)
    out = []
    for p, r in zip(prompts, res):
        c = r.outputs[0]
        out.append({"prompt": p, "tokens": list(c.token_ids),
                    "top2": [_top2(s) for s in c.logprobs]})
    result = {"engine": _engine_name(), "runs": out, "seconds": time.time() - t0}
    if args.score_out:
        # Teacher-forced scores from the same engine (saves one engine start-up per config):
        # of --score-seqs, or of this run's own sequences when none is given.
        seqs = json.load(open(args.score_seqs))["runs"] if args.score_seqs else out
        t1 = time.time()
        scored = {"engine": _engine_name(), "scores": _score_rows(llm, seqs),
                  "seconds": time.time() - t1}
        json.dump(scored, open(args.score_out, "w"))
        print(f"score {scored['engine']}: {scored['seconds']:.1f}s -> {args.score_out}")
    return result


def _engine_name() -> str:
    if os.environ.get("VLLM_GLM52_DISABLE") != "1":
        return "vllm-glm52"
    return "vllm-in-tree-sorted" if os.environ.get(SORT_INTREE_ENV) == "1" else "vllm-in-tree"


def cmd_score(args) -> dict:
    """Teacher-forced: this engine's logprobs on another run's prompt+generated tokens."""
    seqs = json.load(open(args.seqs))["runs"]
    t0 = time.time()
    if args.engine == "reference":
        import torch

        from vllm_glm52.reference import ReferenceGLM52

        ref = ReferenceGLM52.from_pretrained(args.model, device="cuda")
        rows = []
        for r in seqs:
            ids = r["prompt"] + r["tokens"]
            with torch.no_grad():
                lp = torch.log_softmax(ref.forward(torch.tensor(ids, device="cuda")).double(),
                                       -1)
            n0 = len(r["prompt"])
            row = []
            for j in range(n0, len(ids)):
                v, i = lp[j - 1].topk(2)
                row.append([int(i[0]), float(lp[j - 1, ids[j]]), float(v[0]), float(v[1])])
            rows.append(row)
        return {"engine": "reference", "scores": rows, "seconds": time.time() - t0}

    return {"engine": _engine_name(), "scores": _score_rows(_llm(args), seqs),
            "seconds": time.time() - t0}


def _score_rows(llm, seqs) -> list:
    """Per sequence, per generated position: [top-1 token, logprob of the given token,
    top-1 logprob, top-2 logprob], from one prefill over prompt + generated tokens."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    full = [r["prompt"] + r["tokens"] for r in seqs]
    rows = []
    sp = SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=2)
    res = llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in full], sp)
    for r, ids, out in zip(seqs, full, res):
        n0 = len(r["prompt"])
        row = []
        for j in range(n0, len(ids)):
            d = out.prompt_logprobs[j]  # {token: Logprob}: the given token + top-2
            ranked = sorted(d.items(), key=lambda kv: kv[1].rank)
            top = [lp.logprob for _, lp in ranked if lp.rank in (1, 2)]
            row.append([int(ranked[0][0]), float(d[ids[j]].logprob), float(top[0]),
                        float(top[1] if len(top) > 1 else top[0])])
        rows.append(row)
    return rows


def cmd_compare(args) -> int:
    a, b = json.load(open(args.a)), json.load(open(args.b))
    report = {"a": a["engine"], "b": b["engine"], "prompts": []}
    identical_all = True
    for k, (ra, rb) in enumerate(zip(a["runs"], b["runs"])):
        ta, tb = ra["tokens"], rb["tokens"]
        div = next((i for i, (x, y) in enumerate(zip(ta, tb)) if x != y), None)
        entry = {"prompt_len": len(ra["prompt"]), "identical": div is None,
                 "first_divergence": div}
        if div is not None:
            identical_all = False
            ma = ra["top2"][div][0][1] - ra["top2"][div][1][1]
            mb = rb["top2"][div][0][1] - rb["top2"][div][1][1]
            entry["top2_margin_a"] = ma
            entry["top2_margin_b"] = mb
            entry["near_tie"] = max(ma, mb) < args.tie_tol
        report["prompts"].append(entry)
    ok = all(p["identical"] or p.get("near_tie") for p in report["prompts"])
    if args.scores:
        s = json.load(open(args.scores))
        agree = total = 0
        max_diff = 0.0
        for entry, ra, row in zip(report["prompts"], a["runs"], s["scores"]):
            hits = [int(r[0] == ra["tokens"][j]) for j, r in enumerate(row)]
            diffs = [abs(next(lp for t, lp in ra["top2"][j] if t == ra["tokens"][j]) - lp_b)
                     for j, (_, lp_b, *_) in enumerate(row)]
            entry["tf_agreement"] = sum(hits) / max(len(hits), 1)
            entry["tf_max_logprob_diff"] = max(diffs, default=0.0)
            total += len(hits)
            agree += sum(hits)
            max_diff = max(max_diff, entry["tf_max_logprob_diff"])
        report["teacher_forced"] = {"scorer": s["engine"], "positions": total,
                                    "top1_agreement": agree / max(total, 1),
                                    "max_logprob_diff": max_diff}
        # Teacher-forced agreement decides: once two greedy runs part, their later tokens are
        # not comparable, so the scored positions are the evidence.
        ok = agree / max(total, 1) >= args.min_agreement
    report["identical_all"] = identical_all
    report["pass"] = ok
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


def cmd_compare_scores(args) -> int:
    """Top-1 agreement of two engines scoring the same sequences; margins at disagreements."""
    a, b = json.load(open(args.a)), json.load(open(args.b))
    agree = total = 0
    diffs = []
    disagreements = []
    per_prompt = []
    for k, (ra, rb) in enumerate(zip(a["scores"], b["scores"])):
        hits = 0
        for j, (pa, pb) in enumerate(zip(ra, rb)):
            diffs.append(abs(pa[1] - pb[1]))
            if pa[0] == pb[0]:
                hits += 1
                continue
            ma, mb = pa[2] - pa[3], pb[2] - pb[3]
            disagreements.append({"prompt": k, "step": j, "top1_a": pa[0], "top1_b": pb[0],
                                  "margin_a": ma, "margin_b": mb,
                                  "near_tie": max(ma, mb) < args.tie_tol})
        per_prompt.append({"positions": len(ra), "top1_agreement": hits / max(len(ra), 1)})
        agree += hits
        total += len(ra)
    rate = agree / max(total, 1)
    diffs.sort()
    # The spread of |logprob diff| over all positions sizes the numerical gap between the two
    # engines; disagreements are expected only where a margin is below it.
    q = lambda f: diffs[min(int(f * len(diffs)), len(diffs) - 1)] if diffs else 0.0  # noqa: E731
    report = {"a": a["engine"], "b": b["engine"], "positions": total, "top1_agreement": rate,
              "max_logprob_diff": q(1.0), "median_logprob_diff": q(0.5),
              "p90_logprob_diff": q(0.9), "prompts": per_prompt,
              "disagreements": disagreements,
              "all_disagreements_near_tie": all(d["near_tie"] for d in disagreements),
              "pass": rate >= args.min_agreement}
    print(json.dumps(report, indent=1))
    return 0 if report["pass"] else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prompts")
    pp.add_argument("--out", required=True)
    pp.add_argument("--long-len", type=int, default=1500)
    for name in ("generate", "score"):
        g = sub.add_parser(name)
        g.add_argument("--engine", choices=["vllm", "reference"], default="vllm")
        g.add_argument("--model", required=True)
        g.add_argument("--out", required=True)
        g.add_argument("--tp", type=int, default=1)
        g.add_argument("--pp", type=int, default=1)
        g.add_argument("--max-model-len", type=int, default=4096)
        g.add_argument("--max-num-batched-tokens", type=int, default=0)
        g.add_argument("--gpu-mem", type=float, default=0.5)
        g.add_argument("--kv-cache-dtype", default="auto")
        g.add_argument("--enforce-eager", action="store_true")
        g.add_argument("--max-tokens", type=int, default=64)
        if name == "generate":
            g.add_argument("--prompts", required=True)
            g.add_argument("--score-out", help="also score (teacher-forced) in this engine")
            g.add_argument("--score-seqs", help="runs JSON to score (default: this run's)")
        else:
            g.add_argument("--seqs", required=True)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--scores", help="score JSON of engine b on a's sequences")
    c.add_argument("--tie-tol", type=float, default=1e-2)
    c.add_argument("--min-agreement", type=float, default=0.99)
    cs = sub.add_parser("compare-scores")
    cs.add_argument("a", help="score JSON of engine A")
    cs.add_argument("b", help="score JSON of engine B, on the same sequences")
    cs.add_argument("--tie-tol", type=float, default=1e-2)
    cs.add_argument("--min-agreement", type=float, default=0.99)
    args = p.parse_args(argv)
    if args.cmd == "prompts":
        json.dump({"prompts": make_prompts(args.long_len)}, open(args.out, "w"))
        return 0
    if args.cmd == "compare":
        return cmd_compare(args)
    if args.cmd == "compare-scores":
        return cmd_compare_scores(args)
    result = cmd_generate(args) if args.cmd == "generate" else cmd_score(args)
    json.dump(result, open(args.out, "w"))
    print(f"{args.cmd} {result['engine']}: {result['seconds']:.1f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
