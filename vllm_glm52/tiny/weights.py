"""Random weights for the tiny GLM-5.2 checkpoint, in the real GLM-5.2-FP8 tensor layout.

Every tensor is drawn from its own generator seeded by ``(seed, name)``, so the FP8 and the
BF16 build of one seed describe the same model: the FP8 build stores block-quantized master
weights, the BF16 build stores exactly those dequantized values rounded to BF16.

Scaling keeps activations O(1) through the network: linear weights have std 1/sqrt(fan_in)
(with a per-128x128-block multiplicative jitter so per-block scales genuinely differ and a
per-tensor-scale bug cannot hide), norms are 1 + N(0, 0.1^2), the embedding has std 1 and the
lm_head std LM_HEAD_STD/sqrt(hidden) so logits have std ~LM_HEAD_STD.

Making cross-implementation comparisons (fp32 reference vs bf16/fp8 vLLM) stable: a random MoE
is chaotic mainly through routing flips (a near-tied 8th/9th expert flips under ~0.3% noise and
moves that token's hidden state by 10-25%). Each MoE layer therefore gets a routing plan
(``routing_plan``) that keeps every routing feature exercised but makes flips continuous:
* ``e_score_correction_bias`` is +1 for k-2 "always" experts and -1 for E-k-2 "never" experts
  (sigmoid scores lie in (0, 1), so these are always / never selected), and +-(0.02..0.03)
  for two "pairs"; all values carry a random jitter (non-zero, not bf16-representable).
  A loader that weights with the biased scores, or selects with unbiased ones, is off by O(1).
* the two experts of a pair have opposite router rows (scores s and 1-s), so each token picks
  exactly one per pair by its own score, and identical weights, so the choice flips only where
  s ~ 0.5 = 1-s and the output is continuous there (up to the 0.02 bias jitter).
* the other routed experts share a common component (``EXPERT_DELTA`` = weight of the
  per-expert part): still distinct (an expert-id mix-up is visible) but not wildly so.
* the DSA top-k of a random indexer is uncorrelated with the attention scores, so a key
  dropped or added at the top-k boundary (near-tied index scores flip under bf16 / fp8-indexer
  noise) can carry a large attention weight. ``Q_B_SCALE`` keeps attention logits at std ~0.6
  so no single key dominates and boundary flips move outputs by ~1/top-k each.
"""

from __future__ import annotations

import math
import re
import zlib
from typing import Any, Iterator

import torch

from ..config import index_share_schedule
from ..weights import dequant_fp8_block
from .config import FP8_BLOCK

FP8_MAX = 448.0  # largest finite float8_e4m3fn
# Logit std. vLLM computes logits in bf16, so two engines can only be told apart down to one
# bf16 ulp of the top logits; at std 0.35 the top logits of a 154k vocabulary lie below 2,
# where one ulp is <= 2^-7 ~ 0.0078, so the parity criterion "a divergence is a near-tie:
# top-2 within 1e-2" is resolvable (at std 8 the top logits sit near 32 and one ulp is 0.25).
# Shrinking the logits does not make flips more frequent: logit noise scales with them.
LM_HEAD_STD = 0.35
ROUTER_STD = 2.0  # router logit std, so sigmoid scores spread and the bias matters
PAIR_BIAS = 0.02  # |bias| of paired experts (non-zero, small)
N_PAIRS = 2  # token-dependent choices per MoE layer
Q_B_SCALE = 0.6  # MLA q_b_proj gain: attention logit std ~0.6 (see module docstring)
EXPERT_DELTA = 0.5  # per-expert share of a routed expert's weights (rest is common)
_EXPERT_RE = re.compile(r"^(.*\.mlp\.)experts\.(\d+)(\.\w+_proj\.weight)$")
_MLP_RE = re.compile(r"^(.*\.mlp\.)gate\.(weight|e_score_correction_bias)$")


def _gen(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63)


def _randn(seed: int, name: str, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=_gen(seed, name), dtype=torch.float32)


def block_jitter(seed: int, name: str, out: int, inp: int) -> torch.Tensor:
    """exp(U(-0.5, 0.5)) per 128x128 block, broadcast to [out, in]."""
    g = _gen(seed, name + "#jitter")
    nb_o, nb_i = math.ceil(out / FP8_BLOCK), math.ceil(inp / FP8_BLOCK)
    j = torch.exp(torch.rand(nb_o, nb_i, generator=g) - 0.5)  # [nb_o, nb_i]
    return j.repeat_interleave(FP8_BLOCK, 0)[:out].repeat_interleave(FP8_BLOCK, 1)[:, :inp]


def quantize_fp8_block(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[out, in] fp32 -> (fp8 e4m3 [out, in], fp32 scale_inv [ceil(out/128), ceil(in/128)]).

    scale_inv = amax(block) / 448, the DeepSeek/GLM recipe; dequant = fp8 * scale_inv."""
    out, inp = w.shape
    nb_o, nb_i = math.ceil(out / FP8_BLOCK), math.ceil(inp / FP8_BLOCK)
    pad = torch.zeros(nb_o * FP8_BLOCK, nb_i * FP8_BLOCK, dtype=torch.float32)
    pad[:out, :inp] = w
    blocks = pad.view(nb_o, FP8_BLOCK, nb_i, FP8_BLOCK)  # [nb_o, 128, nb_i, 128]
    amax = blocks.abs().amax(dim=(1, 3)).clamp_min(1e-12)  # [nb_o, nb_i]
    scale_inv = (amax / FP8_MAX).float()  # [nb_o, nb_i]
    q = (blocks / scale_inv[:, None, :, None]).clamp(-FP8_MAX, FP8_MAX)
    q = q.view(nb_o * FP8_BLOCK, nb_i * FP8_BLOCK)[:out, :inp].to(torch.float8_e4m3fn)
    return q.contiguous(), scale_inv.contiguous()


def dequantize_fp8_block(q: torch.Tensor, scale_inv: torch.Tensor) -> torch.Tensor:
    """fp8 [out, in] x fp32 [ceil(out/128), ceil(in/128)] -> fp32 [out, in]."""
    return dequant_fp8_block(q, scale_inv, torch.float32, FP8_BLOCK)


def tensor_specs(cfg: dict[str, Any]) -> Iterator[tuple[str, tuple[int, ...], str]]:
    """(name, shape, kind) for every checkpoint tensor, in file order.

    kind: "linear" (FP8 in the FP8 build), "dense_bf16" (unquantized matrix), "router",
    "norm", "norm_bias", "bias_fp32" (e_score_correction_bias), "embed", "lm_head"."""
    H, n = cfg["hidden_size"], cfg["num_hidden_layers"]
    nh, nope, rope, vd = (cfg["num_attention_heads"], cfg["qk_nope_head_dim"],
                          cfg["qk_rope_head_dim"], cfg["v_head_dim"])
    ql, kvl = cfg["q_lora_rank"], cfg["kv_lora_rank"]
    ih, idim = cfg["index_n_heads"], cfg["index_head_dim"]
    E, mi, di = cfg["n_routed_experts"], cfg["moe_intermediate_size"], cfg["intermediate_size"]
    sched = index_share_schedule(cfg)

    yield "model.embed_tokens.weight", (cfg["vocab_size"], H), "embed"
    for i in range(n + cfg["num_nextn_predict_layers"]):
        p = f"model.layers.{i}"
        if i >= n:  # MTP head: no embed_tokens / shared_head.head (shares the target's)
            yield f"{p}.enorm.weight", (H,), "norm"
            yield f"{p}.hnorm.weight", (H,), "norm"
            yield f"{p}.eh_proj.weight", (H, 2 * H), "dense_bf16"
            yield f"{p}.shared_head.norm.weight", (H,), "norm"
        yield f"{p}.input_layernorm.weight", (H,), "norm"
        yield f"{p}.post_attention_layernorm.weight", (H,), "norm"
        a = f"{p}.self_attn"
        yield f"{a}.q_a_proj.weight", (ql, H), "linear"
        yield f"{a}.q_a_layernorm.weight", (ql,), "norm"
        yield f"{a}.q_b_proj.weight", (nh * (nope + rope), ql), "linear"
        yield f"{a}.kv_a_proj_with_mqa.weight", (kvl + rope, H), "linear"
        yield f"{a}.kv_a_layernorm.weight", (kvl,), "norm"
        yield f"{a}.kv_b_proj.weight", (nh * (nope + vd), kvl), "linear"
        yield f"{a}.o_proj.weight", (H, nh * vd), "linear"
        if sched.is_full(i):  # indexer only on full layers and the MTP layer
            yield f"{a}.indexer.wq_b.weight", (ih * idim, ql), "linear"
            yield f"{a}.indexer.wk.weight", (idim, H), "linear"
            yield f"{a}.indexer.weights_proj.weight", (ih, H), "dense_bf16"
            yield f"{a}.indexer.k_norm.weight", (idim,), "norm"
            yield f"{a}.indexer.k_norm.bias", (idim,), "norm_bias"
        m = f"{p}.mlp"
        if i < cfg["first_k_dense_replace"]:
            yield f"{m}.gate_proj.weight", (di, H), "linear"
            yield f"{m}.up_proj.weight", (di, H), "linear"
            yield f"{m}.down_proj.weight", (H, di), "linear"
            continue
        yield f"{m}.gate.weight", (E, H), "router"
        yield f"{m}.gate.e_score_correction_bias", (E,), "bias_fp32"
        si = mi * cfg["n_shared_experts"]
        yield f"{m}.shared_experts.gate_proj.weight", (si, H), "linear"
        yield f"{m}.shared_experts.up_proj.weight", (si, H), "linear"
        yield f"{m}.shared_experts.down_proj.weight", (H, si), "linear"
        for e in range(E):
            yield f"{m}.experts.{e}.gate_proj.weight", (mi, H), "linear"
            yield f"{m}.experts.{e}.up_proj.weight", (mi, H), "linear"
            yield f"{m}.experts.{e}.down_proj.weight", (H, mi), "linear"
    yield "model.norm.weight", (H,), "norm"
    yield "lm_head.weight", (cfg["vocab_size"], H), "lm_head"


def routing_plan(seed: int, mlp_prefix: str, n_experts: int,
                 top_k: int) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """(always, never, pairs) expert ids of one MoE layer: len(always) = top_k - N_PAIRS,
    len(pairs) = N_PAIRS, the rest never selected."""
    if not (N_PAIRS <= top_k <= n_experts - N_PAIRS):
        raise ValueError(f"cannot build a routing plan for {n_experts} experts, top-{top_k}")
    perm = torch.randperm(n_experts, generator=_gen(seed, mlp_prefix + "#plan")).tolist()
    na = top_k - N_PAIRS
    pairs = [(perm[na + 2 * j], perm[na + 2 * j + 1]) for j in range(N_PAIRS)]
    return perm[:na], perm[na + 2 * N_PAIRS:], pairs


def _router_tensor(seed: int, name: str, shape: tuple[int, ...], top_k: int) -> torch.Tensor:
    prefix = _MLP_RE.match(name).group(1)
    always, never, pairs = routing_plan(seed, prefix, shape[0], top_k)
    if name.endswith("e_score_correction_bias"):  # fp32 [E]
        b = 0.01 * (2 * torch.rand(shape[0], generator=_gen(seed, name)) - 1)  # random jitter
        b[always] += 1.0
        b[never] -= 1.0
        for a, c in pairs:  # opposite signs: the pair's tie point moves off s = 0.5 a bit
            b[a], b[c] = PAIR_BIAS + b[a].abs(), -PAIR_BIAS - b[c].abs()
        return b  # fp32 [E], random and non-zero
    w = _randn(seed, name, *shape) * (ROUTER_STD / math.sqrt(shape[1]))  # [E, H]
    for a, c in pairs:
        w[c] = -w[a]  # sigmoid(-z) = 1 - sigmoid(z)
    return w.to(torch.bfloat16)


def _expert_source(seed: int, name: str, top_k: int, n_experts: int) -> str:
    """Paired experts share weights: the second of a pair draws the first one's tensor."""
    m = _EXPERT_RE.match(name)
    _, _, pairs = routing_plan(seed, m.group(1), n_experts, top_k)
    e = int(m.group(2))
    for a, c in pairs:
        if e == c:
            return f"{m.group(1)}experts.{a}{m.group(3)}"
    return name


def make_tensors(name: str, shape: tuple[int, ...], kind: str, *, seed: int, quant: str,
                 top_k: int = 8, n_experts: int = 16) -> dict[str, torch.Tensor]:
    """The checkpoint tensor(s) for one spec: ``name`` plus ``name_scale_inv`` for FP8."""
    if kind == "linear":
        out, inp = shape
        m = _EXPERT_RE.match(name)
        src = _expert_source(seed, name, top_k, n_experts) if m else name
        w = _randn(seed, src, out, inp)  # [out, in]
        if m:  # routed expert: common part + per-expert part, unit variance overall
            common = _randn(seed, m.group(1) + "experts.common" + m.group(3), out, inp)
            w = (common + EXPERT_DELTA * w) / math.sqrt(1 + EXPERT_DELTA ** 2)
        w = w / math.sqrt(inp) * block_jitter(seed, src, out, inp)
        if name.endswith("self_attn.q_b_proj.weight"):
            w = w * Q_B_SCALE
        q, s = quantize_fp8_block(w)
        if quant == "fp8":
            return {name: q, name.removesuffix("weight") + "weight_scale_inv": s}
        return {name: dequantize_fp8_block(q, s).to(torch.bfloat16)}
    if kind == "norm":
        return {name: (1.0 + 0.1 * _randn(seed, name, *shape)).to(torch.bfloat16)}
    if kind == "norm_bias":
        return {name: (0.1 * _randn(seed, name, *shape)).to(torch.bfloat16)}
    if kind in ("bias_fp32", "router"):
        return {name: _router_tensor(seed, name, shape, top_k)}
    if kind == "embed":
        return {name: _randn(seed, name, *shape).to(torch.bfloat16)}
    std = {"lm_head": LM_HEAD_STD, "dense_bf16": 1.0}[kind]
    return {name: (_randn(seed, name, *shape) * (std / math.sqrt(shape[1]))).to(torch.bfloat16)}
