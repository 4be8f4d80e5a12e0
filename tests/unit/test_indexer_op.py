"""vllm_glm52/indexer_op.py's wiring of the top-k (CPU, the heavy stages replaced by
recorders): each prefill chunk's top-k gets the batch's max_seq_len as its row-length bound,
also for the sort decision, and decode calls get none."""

from __future__ import annotations

from types import SimpleNamespace

import torch


def _run(monkeypatch, num_prefills: int, num_decodes: int):
    import vllm_glm52.indexer_op as iop

    calls = []
    chunk = SimpleNamespace(max_local_total_seq_lens=64, token_start=0, token_end=6,
                            local_total_seq_lens=64, skip_kv_gather=True, block_table=None,
                            local_cu_seq_lens=None,
                            cu_seqlen_ks=torch.tensor([0, 0, 0, 32, 32, 32], dtype=torch.int32),
                            cu_seqlen_ke=torch.tensor([1, 2, 3, 33, 34, 35], dtype=torch.int32))
    meta = SimpleNamespace(slot_mapping=torch.zeros(6, dtype=torch.int64), max_seq_len=40,
                           num_prefills=num_prefills, num_decodes=num_decodes,
                           num_decode_tokens=0, prefill=SimpleNamespace(chunks=[chunk]),
                           decode=SimpleNamespace(decode_lens=torch.ones(2, dtype=torch.int32),
                                                  requires_padding=False,
                                                  seq_lens=torch.tensor([[40], [9]],
                                                                        dtype=torch.int32),
                                                  block_table=None, schedule_metadata=None))
    ws = SimpleNamespace(get_simultaneous=lambda *specs: (torch.zeros(64, 128),
                                                          torch.zeros(64, 4)))
    monkeypatch.setattr(iop, "get_forward_context",
                        lambda: SimpleNamespace(attn_metadata={"layer": meta}))
    monkeypatch.setattr(iop, "_resolve_layer_name", lambda name: name)
    monkeypatch.setattr(iop, "_gather_workspace_shapes", lambda *a: (None, None))
    monkeypatch.setattr(iop, "current_workspace_manager", lambda: ws)
    monkeypatch.setattr(iop, "topk_workspace", lambda device: None)
    monkeypatch.setattr(iop.ops, "indexer_k_quant_and_cache", lambda *a: None)
    monkeypatch.setattr(iop, "kv_cache_as_quant_view", lambda kv, *a: kv)
    monkeypatch.setattr(iop, "fp8_fp4_mqa_logits", lambda *a, **kw: torch.randn(6, 64))
    monkeypatch.setattr(iop, "fp8_fp4_paged_mqa_logits", lambda *a, **kw: torch.randn(2, 64))
    monkeypatch.setattr(iop, "topk_prefill",
                        lambda *a: calls.append(("topk_prefill", a[-1])))
    monkeypatch.setattr(iop, "topk_decode", lambda *a: calls.append(("topk_decode", None)))

    def writes_sorted(logits, ws=None, prefill=False, max_len=0):
        calls.append(("writes_sorted", prefill, max_len))
        return True

    monkeypatch.setattr(iop, "writes_sorted", writes_sorted)
    buf = torch.zeros(6, 16, dtype=torch.int32)
    q = torch.zeros(6, 4, 8)
    iop.glm52_indexer(torch.zeros(6, 8), "layer", torch.zeros(1), q, torch.zeros(6, 8),
                      torch.zeros(6, 4), 16, 128, 64, 256, buf, True)
    return calls, buf


def test_prefill_chunks_get_the_batch_max_seq_len(monkeypatch):
    calls, buf = _run(monkeypatch, num_prefills=2, num_decodes=0)
    assert calls == [("topk_prefill", 40), ("writes_sorted", True, 40)]
    assert (buf == -1).all()  # the buffer's rows were cleared before the (recorded) top-k


def test_decode_rows_get_no_bound(monkeypatch):
    calls, _ = _run(monkeypatch, num_prefills=0, num_decodes=2)
    assert calls == [("topk_decode", None), ("writes_sorted", False, 0)]
