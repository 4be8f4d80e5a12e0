"""The indexer's per-step pipeline with vllm-glm52's top-k: ``torch.ops.vllm.glm52_indexer``.

Same stages as vLLM 0.26's ``sparse_attn_indexer`` op (FP8 cache, no DCP/PCP, which
:class:`vllm_glm52.indexer.Glm52Indexer` routes to vLLM's op instead):

1. quantise k (ue8m0 scale per 128) into the paged cache (``indexer_k_quant_and_cache``);
2. ``topk_indices_buffer[:T] = -1``;
3. prefill chunks: gather each request's fp8 K, ``fp8_mqa_logits`` (DeepGEMM) -> fp32
   [rows, N] with row r valid in [ks[r], ke[r]), then our ``topk_prefill`` (planned for rows
   of the batch's longest request, not for N: the chunk's requests' keys together);
4. decode rows: ``fp8_paged_mqa_logits`` -> fp32 [B * next_n, max_model_len], then our
   ``topk_decode`` (vLLM picks cooperative / persistent / per-row kernels here).

Our top-k breaks ties by position (lower wins), so the selection, and therefore the sparse
attention output, is the same from run to run; vLLM's radix kernels pick among tied keys in
whatever order their threads arrive.
"""

from __future__ import annotations

import torch

from vllm import _custom_ops as ops
from vllm.compilation.breakable_cudagraph import eager_break_during_capture
from vllm.forward_context import get_forward_context
from vllm.model_executor.layers.sparse_attn_indexer import (
    _gather_workspace_shapes,
    kv_cache_as_quant_view,
)
from vllm.platforms import current_platform
from vllm.utils.deep_gemm import fp8_fp4_mqa_logits, fp8_fp4_paged_mqa_logits
from vllm.utils.torch_utils import (
    LayerNameType,
    _resolve_layer_name,
    direct_register_custom_op,
)
from vllm.v1.attention.ops.common import pack_seq_triton, unpack_seq_triton
from vllm.v1.worker.workspace import current_workspace_manager

from vllm_glm52.indexer import QUANT_BLOCK
from vllm_glm52.ops.topk import (
    sort_rows_,
    topk_decode,
    topk_prefill,
    topk_workspace,
    writes_sorted,
)


def _prefill(meta, kv_cache, q_fp8, weights, topk_buffer, k, head_dim, total_seq_lens, sort,
             max_len):
    values_spec, scales_spec = _gather_workspace_shapes(
        total_seq_lens, head_dim, current_platform.fp8_dtype(), False)
    k_quant_full, k_scale_full = current_workspace_manager().get_simultaneous(
        values_spec, scales_spec)
    ws = topk_workspace(q_fp8.device)  # grid / slices kernels: chunks of few long rows
    for chunk in meta.chunks:
        k_quant = k_quant_full[: chunk.max_local_total_seq_lens]
        k_scale = k_scale_full[: chunk.max_local_total_seq_lens]
        out = topk_buffer[chunk.token_start: chunk.token_end, :k]
        if chunk.local_total_seq_lens == 0:
            out.fill_(-1)
            continue
        if not chunk.skip_kv_gather:
            ops.cp_gather_indexer_k_quant_cache(kv_cache, k_quant, k_scale, chunk.block_table,
                                                chunk.local_cu_seq_lens)
        logits = fp8_fp4_mqa_logits(
            (q_fp8[chunk.token_start: chunk.token_end], None),
            (k_quant, k_scale.view(torch.float32).squeeze(-1)),
            weights[chunk.token_start: chunk.token_end],
            chunk.cu_seqlen_ks, chunk.cu_seqlen_ke, clean_logits=False)  # [rows, N] fp32
        topk_prefill(logits, chunk.cu_seqlen_ks, chunk.cu_seqlen_ke, out, k, ws, max_len)
        if sort and not writes_sorted(logits, ws, prefill=True, max_len=max_len):
            sort_rows_(out)


def _decode(meta, num_decode_tokens, kv_cache, q_fp8, weights, topk_buffer, k, head_dim,
            max_model_len, sort):
    kv_cache = kv_cache_as_quant_view(kv_cache, head_dim, False)  # [blocks, 64, 1, 132]
    decode_lens = meta.decode_lens
    if num_decode_tokens == 0:
        q = q_fp8[:1].reshape(1, 1, *q_fp8.shape[1:])
    elif meta.requires_padding:  # short prefills treated as decodes: pad to next_n
        q = pack_seq_triton(q_fp8[:num_decode_tokens], decode_lens)
    else:
        q = q_fp8[:num_decode_tokens].reshape(decode_lens.shape[0], -1, *q_fp8.shape[1:])
    batch, next_n = q.shape[0], q.shape[1]
    seq_lens = meta.seq_lens[:batch]  # [B, next_n] or [B, 1]
    logits = fp8_fp4_paged_mqa_logits(
        (q, None), kv_cache, weights[: batch * next_n], seq_lens, meta.block_table,
        meta.schedule_metadata, max_model_len=max_model_len, clean_logits=False)
    out = topk_buffer[: batch * next_n, :k]
    ws = topk_workspace(logits.device)  # few long rows: the grid / slices kernels
    if seq_lens.dim() == 2 and seq_lens.shape[1] == next_n:
        topk_decode(logits, seq_lens, out, k, 1, ws)  # per-row lengths
    else:
        topk_decode(logits, seq_lens.reshape(-1), out, k, next_n, ws)
    if sort and not writes_sorted(logits, ws):
        sort_rows_(out)
    if meta.requires_padding:
        unpacked = unpack_seq_triton(out.reshape(batch, -1, out.shape[-1]), decode_lens)
        topk_buffer[: unpacked.shape[0], : unpacked.shape[-1]] = unpacked


@eager_break_during_capture
def glm52_indexer(hidden_states: torch.Tensor, k_cache_prefix: LayerNameType, kv_cache: torch.Tensor,
                  q_fp8: torch.Tensor, k: torch.Tensor, weights: torch.Tensor,
                  topk_tokens: int, head_dim: int, max_model_len: int, total_seq_lens: int,
                  topk_indices_buffer: torch.Tensor, sort_rows: bool) -> torch.Tensor:
    """q_fp8 [T, 32, 128] e4m3, k [T, 128] bf16 (roped), weights [T, 32] fp32 (scales folded
    in); writes topk_indices_buffer[:T, :topk_tokens] (request-local positions, -1 padded).
    sort_rows: rows in ascending order (VLLM_GLM52_TOPK_ORDER=sorted); only the calls that
    did not run a kernel that writes sorted rows itself (radix, regs, grid) pay for a sort."""
    attn_metadata = get_forward_context().attn_metadata
    if not isinstance(attn_metadata, dict):  # profiling / dummy run: reserve the workspaces
        values_spec, scales_spec = _gather_workspace_shapes(
            total_seq_lens, head_dim, current_platform.fp8_dtype(), False)
        current_workspace_manager().get_simultaneous(values_spec, scales_spec)
        topk_workspace(topk_indices_buffer.device)  # allocated here, before any capture
        return topk_indices_buffer
    meta = attn_metadata[_resolve_layer_name(k_cache_prefix)]
    slot_mapping = meta.slot_mapping
    num_tokens = slot_mapping.shape[0]  # k may be padded to a CUDA-graph size
    ops.indexer_k_quant_and_cache(k[:num_tokens], kv_cache, slot_mapping, QUANT_BLOCK, "ue8m0")
    topk_indices_buffer[: hidden_states.shape[0]] = -1
    if meta.num_prefills > 0:
        # A row sees at most its request's keys: max_seq_len (vLLM: "longest context length,
        # may be an upper bound") plans each chunk's top-k for rows that long, not for the
        # chunk's keys of all its requests together (topk_prefill's max_len).
        _prefill(meta.prefill, kv_cache, q_fp8, weights, topk_indices_buffer, topk_tokens,
                 head_dim, total_seq_lens, sort_rows, int(meta.max_seq_len))
    if meta.num_decodes > 0:
        _decode(meta.decode, meta.num_decode_tokens, kv_cache, q_fp8, weights,
                topk_indices_buffer, topk_tokens, head_dim, max_model_len, sort_rows)
    return topk_indices_buffer


def _glm52_indexer_fake(hidden_states, k_cache_prefix, kv_cache, q_fp8, k, weights,
                        topk_tokens, head_dim, max_model_len, total_seq_lens,
                        topk_indices_buffer, sort_rows):
    return topk_indices_buffer


direct_register_custom_op(op_name="glm52_indexer", op_func=glm52_indexer,
                          mutates_args=["topk_indices_buffer"], fake_impl=_glm52_indexer_fake)
