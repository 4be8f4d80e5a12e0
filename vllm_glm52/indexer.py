"""GLM-5.2 lightning indexer (DeepSeek Sparse Attention) and its fp8 key cache.

Only IndexShare *full* layers (and the MTP layer) own an indexer; *shared* layers reuse the
top-k indices the last full layer wrote into the model-wide ``topk_indices_buffer``.

Math (per token t, key s; HF ``GlmMoeDsaIndexer``):
    qI[t]  = (q_a_layernorm(x) @ Wq_b^T).view(32, 128)     rope on dims [0, 64), interleaved
    kI[s]  = LayerNorm_eps1e-6(x @ Wk^T)                    [128], rope on dims [0, 64)
    w[t]   = (x @ Wweights_proj^T) * 32^-0.5 * 128^-0.5     [32]
    I[t,s] = sum_h w[t,h] * relu(qI[t,h] . kI[s])           causal (s <= t)
    topk[t] = request-local positions of the min(index_topk, t+1) largest I[t, :]
On the GPU q and k are quantised to fp8 e4m3 with one power-of-two (ue8m0) scale per
128-wide vector; the q scale is folded into ``w``.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

from vllm.config import CacheConfig, VllmConfig, get_current_vllm_config
from vllm.model_executor.layers.attention_layer_base import AttentionLayerBase
from vllm.model_executor.layers.layernorm import LayerNorm
from vllm.model_executor.layers.linear import MergedColumnParallelLinear, ReplicatedLinear
from vllm.model_executor.layers.quantization import QuantizationConfig
from vllm.model_executor.layers.quantization.utils.fp8_utils import per_token_group_quant_fp8
from vllm.model_executor.layers.rotary_embedding import get_rope
from vllm.model_executor.layers.sparse_attn_indexer import (
    SparseAttnIndexer,
    fused_indexer_q_rope_quant,
)
from vllm.platforms import current_platform
from vllm.utils.deep_gemm import has_deep_gemm
from vllm.utils.torch_utils import _encode_layer_name, direct_register_custom_op
from vllm.v1.attention.backend import AttentionBackend
from vllm.v1.attention.backends.mla.indexer import (
    DeepseekV32IndexerBackend,
    get_max_prefill_buffer_size,
)
from vllm.v1.kv_cache_interface import KVCacheSpec, MLAAttentionSpec

from vllm_glm52.ops.sort_rows import sort_rows_

logger = logging.getLogger("vllm.glm52")

#: ``glm52`` (default): our indexer pipeline with the project's ``_C_glm52`` top-k kernel,
#: whose kernels write rows already sorted (the row sort below is skipped for them); ``vllm``:
#: vLLM's ``sparse_attn_indexer`` op and its top-k kernels. Without CUDA, DeepGEMM or the
#: built extension, or with context parallelism, ``glm52`` falls back to ``vllm`` (logged once
#: with the reason); with speculative decoding it is used only when set explicitly
#: (``topk_pipeline``). Why the default (docs/benchmarks.md, session 24; tiny BF16
#: checkpoint, batch 128 of 3968-token prompts, one H100): two runs of the ``vllm`` pipeline
#: agreed on 122 of 128 greedy outputs, two of ``glm52`` on 128 of 128 (the pipelines share
#: every other kernel; vLLM's top-k picks among tied keys in no fixed order, ours the lower
#: position); a generate's GPU time was 1-2.5% lower with ``glm52`` (top-k 20.6 ms against
#: 29.3 ms plus a 12.5 ms row sort), its op's host time equal (graphs) or 7-13% lower (eager).
TOPK_ENV = "VLLM_GLM52_INDEXER_TOPK"

#: ``sorted`` (default): each row of the top-k buffer is sorted ascending (``-1`` padding last)
#: before attention reads it; ``any``: the top-k kernel's own order. The sparse attention
#: kernels accumulate the selected keys in buffer order, and every top-k kernel (vLLM's and
#: ours) fills rows through atomic slot counters, so their order, and with it the attention
#: output, changes from run to run at the ulp level. Measured on one H100 (tiny BF16 and FP8
#: checkpoints, prompts longer than index_topk): with ``any`` two runs of the same engine part
#: within 3-10 greedy steps; with ``sorted`` they are identical (docs/benchmarks.md).
ORDER_ENV = "VLLM_GLM52_TOPK_ORDER"

#: The fp8 quantisation group of the indexer key; DeepGEMM's paged MQA-logits kernel and
#: vLLM's ``indexer_k_quant_and_cache`` both assume one scale per 128 values.
QUANT_BLOCK = 128


def topk_order() -> str:
    order = os.environ.get(ORDER_ENV, "sorted").strip().lower()
    if order not in ("any", "sorted"):
        raise ValueError(f"{ORDER_ENV}={order!r}; use 'sorted' (default, run-to-run "
                         "deterministic attention) or 'any' (skips one sort per full layer).")
    return order


def _sort_topk_rows(buf: torch.Tensor, num_rows: int) -> None:
    """buf int32 [max_tokens, k]; rows [0, num_rows) in place: ascending, -1 padding last.
    (The whole buffer is the op's argument, as for vLLM's indexer op, so torch.compile sees
    the mutation of the model buffer itself rather than of a view.)"""
    sort_rows_(buf[:num_rows])


def _sort_topk_rows_fake(buf: torch.Tensor, num_rows: int) -> None:
    return None


direct_register_custom_op(op_name="glm52_sort_topk_rows", op_func=_sort_topk_rows,
                          mutates_args=["buf"], fake_impl=_sort_topk_rows_fake)


def indexer_cache_bytes_per_token(index_head_dim: int) -> int:
    """fp8 values plus one fp32 scale per ``QUANT_BLOCK`` values (132 B for GLM-5.2)."""
    return index_head_dim + index_head_dim // QUANT_BLOCK * 4


class IndexerKCache(nn.Module, AttentionLayerBase):
    """Paged fp8 key cache of one full layer's indexer.

    Allocated by vLLM as ``uint8 [num_blocks, block_size, 132]`` but laid out *per page*
    (block) as ``block_size * 128`` fp8 e4m3 key bytes, token-major, followed by
    ``block_size`` fp32 scales (``scale = 2^ceil(log2(max(amax(k), 1e-4) / 448))``,
    ``k_fp8 = k / scale``). DeepGEMM's paged MQA-logits kernel reads exactly this layout
    (scale pointer = page base + block_size * 128). Shared layers have no such cache.
    """

    def __init__(self, head_dim: int, prefix: str, cache_config: CacheConfig):
        super().__init__()
        self.kv_cache = torch.tensor([])
        self.head_dim = head_dim
        self.prefix = prefix
        self.cache_config = cache_config
        self.dtype = torch.uint8
        forward_context = get_current_vllm_config().compilation_config.static_forward_context
        if prefix in forward_context:
            raise ValueError(f"Duplicate layer name: {prefix}")
        forward_context[prefix] = self

    def get_kv_cache_spec(self, vllm_config: VllmConfig) -> KVCacheSpec:
        # One 132-byte vector per token: an MLA-style spec with a single "head".
        return MLAAttentionSpec(
            block_size=self.cache_config.block_size,
            num_kv_heads=1,
            head_size=self.head_dim,
            dtype=self.dtype,
        )

    def forward(self):  # the cache is written and read inside the indexer op
        raise RuntimeError("IndexerKCache is a cache holder and is never called.")

    def get_attn_backend(self) -> type[AttentionBackend]:
        return DeepseekV32IndexerBackend


class Glm52Indexer(nn.Module):
    """The lightning indexer of one full layer; writes ``topk_indices_buffer[:T]``.

    Parameters (checkpoint names): ``wq_b`` [32*128, q_lora_rank] (FP8 block-quantised in the
    FP8 checkpoint), ``wk`` [128, hidden] + ``weights_proj`` [32, hidden] fused into one BF16
    GEMM ``wk_weights_proj`` [160, hidden] (an FP8 ``wk`` is dequantised at load), ``k_norm``
    LayerNorm(128, eps 1e-6) with bias. All replicated across TP ranks (they are small).
    """

    def __init__(
        self,
        *,
        vllm_config: VllmConfig,
        topk_indices_buffer: torch.Tensor,
        quant_config: QuantizationConfig | None,
        prefix: str,
    ):
        super().__init__()
        config = vllm_config.model_config.hf_config
        self.topk_tokens: int = config.index_topk  # 2048
        self.n_head: int = config.index_n_heads  # 32
        self.head_dim: int = config.index_head_dim  # 128
        self.rope_dim: int = config.qk_rope_head_dim  # 64
        if self.head_dim % QUANT_BLOCK:
            raise ValueError(
                f"index_head_dim={self.head_dim} must be a multiple of {QUANT_BLOCK} "
                f"(the indexer key cache stores one fp8 scale per {QUANT_BLOCK} values).")
        self.topk_indices_buffer = topk_indices_buffer

        self.wq_b = ReplicatedLinear(
            config.q_lora_rank, self.n_head * self.head_dim, bias=False,
            quant_config=quant_config, prefix=f"{prefix}.wq_b")
        self.wk_weights_proj = MergedColumnParallelLinear(
            config.hidden_size, [self.head_dim, self.n_head], bias=False,
            quant_config=None, disable_tp=True, prefix=f"{prefix}.wk_weights_proj")
        self.k_norm = LayerNorm(self.head_dim, eps=1e-6)
        self.softmax_scale = self.head_dim**-0.5
        self.n_head_scale = self.n_head**-0.5
        # GLM-5.2 rotates interleaved pairs (indexer_rope_interleave=true), DeepSeek-V3.2 NeoX.
        self.rotary_emb = get_rope(
            self.rope_dim,
            max_position=config.max_position_embeddings,
            rope_parameters=config.rope_parameters,
            is_neox_style=not getattr(config, "indexer_rope_interleave", False),
        )

        cache_config = vllm_config.cache_config
        self.k_cache = IndexerKCache(
            indexer_cache_bytes_per_token(self.head_dim), f"{prefix}.k_cache", cache_config)
        self.max_model_len = vllm_config.model_config.max_model_len
        self.max_total_seq_len = get_max_prefill_buffer_size(vllm_config)
        if _use_glm52_topk(vllm_config):
            import vllm_glm52.indexer_op  # noqa: F401  registers torch.ops.vllm.glm52_indexer

            self.indexer_op = None
        else:
            self.indexer_op = SparseAttnIndexer(
                self.k_cache, QUANT_BLOCK, "ue8m0", self.topk_tokens, self.head_dim,
                self.max_model_len, self.max_total_seq_len, topk_indices_buffer)
        self.sort_topk = topk_order() == "sorted"
        self.use_fused_q = (
            current_platform.is_cuda() and self.head_dim == 128 and self.rope_dim == 64)

    def forward(
        self, hidden_states: torch.Tensor, q_c: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        """hidden_states [T, hidden] (post input_layernorm), q_c [T, q_lora] (normalised)."""
        q, _ = self.wq_b(q_c)
        q = q.view(-1, self.n_head, self.head_dim)  # [T, 32, 128]
        kw, _ = self.wk_weights_proj(hidden_states)  # [T, 128 + 32]
        k = self.k_norm(kw[:, : self.head_dim])  # [T, 128]
        weights = kw[:, self.head_dim:]  # [T, 32]
        k_pe, k_nope = k.split([self.rope_dim, self.head_dim - self.rope_dim], dim=-1)

        if self.use_fused_q and q.dtype == torch.bfloat16:
            # One Triton pass: q rope + per-(token, head) ue8m0 fp8 quant, scales folded in w.
            q_fp8, weights = fused_indexer_q_rope_quant(
                positions, q, self.rotary_emb.cos_sin_cache, weights,
                self.softmax_scale, self.n_head_scale, self.rotary_emb.is_neox_style)
            _, k_pe = self.rotary_emb(positions, torch.empty_like(k_pe.unsqueeze(1)),
                                      k_pe.unsqueeze(1))
        else:
            q_pe, q_nope = q.split([self.rope_dim, self.head_dim - self.rope_dim], dim=-1)
            q_pe, k_pe = self.rotary_emb(positions, q_pe, k_pe.unsqueeze(1))
            q = torch.cat([q_pe.reshape(-1, self.n_head, self.rope_dim), q_nope], dim=-1)
            q_fp8, q_scale = per_token_group_quant_fp8(
                q.reshape(-1, self.head_dim), QUANT_BLOCK, column_major_scales=False,
                use_ue8m0=True)
            q_fp8 = q_fp8.view(-1, self.n_head, self.head_dim)
            weights = (weights * q_scale.view(-1, self.n_head)
                       * self.softmax_scale * self.n_head_scale)
        k = torch.cat([k_pe.reshape(-1, self.rope_dim), k_nope], dim=-1)  # [T, 128]
        # Inserts k into the paged cache, computes logits (DeepGEMM) and writes top-k.
        if self.indexer_op is None:  # our pipeline sorts the rows the radix kernel did not
            return torch.ops.vllm.glm52_indexer(
                hidden_states, _encode_layer_name(self.k_cache.prefix), self.k_cache.kv_cache,
                q_fp8, k, weights, self.topk_tokens, self.head_dim, self.max_model_len,
                self.max_total_seq_len, self.topk_indices_buffer, self.sort_topk)
        out = self.indexer_op(hidden_states, q_fp8, k, weights)
        if self.sort_topk:  # buffer width == index_topk (Glm52Model allocates it)
            torch.ops.vllm.glm52_sort_topk_rows(self.topk_indices_buffer, hidden_states.shape[0])
        return out


_choice_logged = False


def topk_pipeline(vllm_config: VllmConfig) -> tuple[str, str]:
    """The indexer pipeline this engine runs, ``("glm52" | "vllm", why)``.

    ``glm52`` (the default) needs CUDA, DeepGEMM, the built top-k kernel for this GPU and no
    DCP/PCP; where one is missing the engine serves with vLLM's op and ``why`` names it. With
    speculative decoding (MTP) the default is still vLLM's op (not yet verified end to end on
    a GPU); ``VLLM_GLM52_INDEXER_TOPK=glm52`` selects ours there too."""
    choice = os.environ.get(TOPK_ENV, "glm52").strip().lower()
    if choice not in ("glm52", "vllm"):
        raise ValueError(f"{TOPK_ENV}={choice!r}; use 'glm52' (default: the project's top-k "
                         "kernel) or 'vllm' (vLLM's sparse_attn_indexer op).")
    if choice == "vllm":
        return "vllm", f"{TOPK_ENV}=vllm"
    explicit = TOPK_ENV in os.environ
    if not explicit and getattr(vllm_config, "speculative_config", None) is not None:
        # The kernel's MTP rows (next_n > 1, both seq_lens forms) pass the GPU tests and the
        # pipeline's MTP wiring the CPU ones, but no MTP engine has run this pipeline end to
        # end on a GPU yet (session 24's run was cut off): until one has, the default keeps
        # vLLM's op for speculative decoding. Remove once `gpu_run.sh e2e-parsers` passes with
        # VLLM_GLM52_INDEXER_TOPK=glm52.
        return "vllm", (f"speculative decoding: not yet verified end to end with the project's "
                        f"pipeline; {TOPK_ENV}=glm52 selects it")
    if not current_platform.is_cuda() or not has_deep_gemm():
        return "vllm", "the project's pipeline needs CUDA and DeepGEMM"
    if (vllm_config.parallel_config.decode_context_parallel_size > 1
            or vllm_config.parallel_config.prefill_context_parallel_size > 1):
        return "vllm", "context parallelism needs vLLM's DCP/PCP top-k merge"
    from vllm_glm52.ops import topk

    if not topk.EXTENSION_LOADED:
        return "vllm", f"top-k extension unavailable ({topk.EXTENSION_REASON})"
    if not topk._device_supported(torch.cuda.current_device()):
        return "vllm", "top-k extension not built for this GPU architecture"
    return "glm52", f"{TOPK_ENV}=glm52" if explicit else "default"


def _use_glm52_topk(vllm_config: VllmConfig) -> bool:
    """True where the indexer runs our pipeline; logs the choice once per process."""
    global _choice_logged
    pipeline, why = topk_pipeline(vllm_config)
    if not _choice_logged:
        _choice_logged = True
        if pipeline == "glm52":
            logger.info("vllm-glm52 indexer: own pipeline with the _C_glm52 top-k kernel (%s; "
                        "%s=vllm selects vLLM's op)", why, TOPK_ENV)
        else:
            logger.info("vllm-glm52 indexer: vLLM's sparse_attn_indexer op (%s)", why)
    return pipeline == "glm52"
