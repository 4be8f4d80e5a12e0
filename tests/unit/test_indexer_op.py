"""vllm_glm52/indexer_op.py's wiring of the top-k (CPU, the heavy stages replaced by
recorders): each prefill chunk's top-k gets the batch's max_seq_len as its row-length bound,
also for the sort decision, and decode calls get none."""

from __future__ import annotations

from types import SimpleNamespace

import torch


def _patch_step(monkeypatch, iop, meta):
    """The stages both tests replace: forward context (one layer's metadata), layer name,
    workspace, k-cache insert and the decode cache view."""
    monkeypatch.setattr(iop, "get_forward_context",
                        lambda: SimpleNamespace(attn_metadata={"layer": meta}))
    monkeypatch.setattr(iop, "_resolve_layer_name", lambda name: name)
    monkeypatch.setattr(iop, "topk_workspace", lambda device: None)
    monkeypatch.setattr(iop.ops, "indexer_k_quant_and_cache", lambda *a: None)
    monkeypatch.setattr(iop, "kv_cache_as_quant_view", lambda kv, *a: kv)


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
    _patch_step(monkeypatch, iop, meta)
    monkeypatch.setattr(iop, "_gather_workspace_shapes", lambda *a: (None, None))
    monkeypatch.setattr(iop, "current_workspace_manager", lambda: ws)
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


def _run_decode(monkeypatch, decode_lens, seq_lens, requires_padding):
    """Decode-only step of MTP rows (next_n = max(decode_lens)); the recorded top-k writes
    each row's index into its row, so the test can follow rows through pack / unpack."""
    import vllm_glm52.indexer_op as iop

    calls = []
    T = int(sum(decode_lens))
    decode_lens = torch.tensor(decode_lens, dtype=torch.int32)
    meta = SimpleNamespace(slot_mapping=torch.zeros(T, dtype=torch.int64), max_seq_len=40,
                           num_prefills=0, num_decodes=len(decode_lens), num_decode_tokens=T,
                           decode=SimpleNamespace(decode_lens=decode_lens,
                                                  requires_padding=requires_padding,
                                                  seq_lens=seq_lens, block_table=None,
                                                  schedule_metadata=None))
    _patch_step(monkeypatch, iop, meta)

    def pack(x, lens):  # [T, ...] -> [B, max(lens), ...], zero padded (pack_seq_triton's form)
        out = x.new_zeros(len(lens), int(lens.max()), *x.shape[1:])
        ends = torch.cumsum(lens, 0)
        for b, (e, n) in enumerate(zip(ends.tolist(), lens.tolist())):
            out[b, :n] = x[e - n:e]
        return out

    def unpack(x, lens):  # [B, max(lens), ...] -> [T, ...]
        return torch.cat([x[b, :n] for b, n in enumerate(lens.tolist())])

    monkeypatch.setattr(iop, "pack_seq_triton", pack)
    monkeypatch.setattr(iop, "unpack_seq_triton", unpack)

    def paged_logits(q, kv, w, lens, *a, **kw):
        calls.append(("logits", tuple(q[0].shape[:2]), tuple(lens.shape)))
        return torch.randn(q[0].shape[0] * q[0].shape[1], 64)

    def topk_decode(logits, lens, out, k, next_n, ws):
        calls.append(("topk_decode", tuple(lens.shape), next_n, tuple(out.shape)))
        out.copy_(torch.arange(out.shape[0], dtype=torch.int32)[:, None].expand_as(out))

    monkeypatch.setattr(iop, "fp8_fp4_paged_mqa_logits", paged_logits)
    monkeypatch.setattr(iop, "topk_decode", topk_decode)
    monkeypatch.setattr(iop, "writes_sorted", lambda *a, **kw: True)
    buf = torch.full((T + 2, 16), 7, dtype=torch.int32)
    iop.glm52_indexer(torch.zeros(T, 8), "layer", torch.zeros(1), torch.zeros(T, 4, 8),
                      torch.zeros(T, 8), torch.zeros(T, 4), 16, 128, 64, 256, buf, True)
    return calls, buf


def test_mtp_rows_with_per_row_lengths(monkeypatch):
    # native spec decode: seq_lens [B, next_n] -> one length per row, next_n 1 to the kernel
    calls, buf = _run_decode(monkeypatch, [3, 3], torch.tensor([[38, 39, 40], [7, 8, 9]]),
                             requires_padding=False)
    assert calls == [("logits", (2, 3), (2, 3)), ("topk_decode", (2, 3), 1, (6, 16))]
    assert buf[:6].tolist() == [[r] * 16 for r in range(6)]
    assert (buf[6:] == 7).all()  # rows past the step's tokens are not touched


def test_mtp_rows_with_one_length_per_request(monkeypatch):
    # seq_lens [B, 1] with next_n rows per request -> vLLM's 1-D rule (len - next_n + j + 1)
    calls, _ = _run_decode(monkeypatch, [2, 2], torch.tensor([[40], [9]]),
                           requires_padding=False)
    assert calls == [("logits", (2, 2), (2, 1)), ("topk_decode", (2,), 2, (4, 16))]


def test_short_prefills_as_decodes_are_packed_and_unpacked(monkeypatch):
    # a 1-token request among 2-token ones: padded to next_n 2, the padding row dropped after
    calls, buf = _run_decode(monkeypatch, [2, 1, 2], torch.tensor([[8, 9], [5, 5], [3, 4]]),
                             requires_padding=True)
    assert calls == [("logits", (3, 2), (3, 2)), ("topk_decode", (3, 2), 1, (6, 16))]
    # padded rows 0 1 | 2 (3 = pad) | 4 5 -> the buffer's 5 token rows hold 0 1 2 4 5
    assert [row[0] for row in buf[:5].tolist()] == [0, 1, 2, 4, 5]
