"""VLLM_GLM52_TOPK_ORDER: the optional in-place row sort of the top-k buffer."""

from __future__ import annotations

import pytest
import torch


def test_sort_rows_ascending_padding_last():
    from vllm_glm52.indexer import _sort_topk_rows

    g = torch.Generator().manual_seed(torch.seed() % 2**31)
    rows, k = 7, 64
    buf = torch.full((rows + 3, k), -1, dtype=torch.int32)  # rows past num_rows: untouched
    expect = []
    for r in range(rows):
        n = int(torch.randint(0, k + 1, (1,), generator=g))
        vals = torch.randperm(5000, generator=g)[:n].to(torch.int32)
        buf[r, torch.randperm(k, generator=g)[:n]] = vals
        expect.append(torch.cat([vals.sort().values, torch.full((k - n,), -1, dtype=torch.int32)]))
    tail = torch.randint(-1, 5000, (3, k), generator=g, dtype=torch.int32)
    buf[rows:] = tail
    _sort_topk_rows(buf, rows)
    assert torch.equal(buf[:rows], torch.stack(expect))
    assert torch.equal(buf[rows:], tail)


@pytest.mark.parametrize("value,expect", [("", "sorted"), ("sorted", "sorted"), (" Any ", "any")])
def test_order_env(monkeypatch, value, expect):
    from vllm_glm52.indexer import ORDER_ENV, topk_order

    if value:
        monkeypatch.setenv(ORDER_ENV, value)
    else:
        monkeypatch.delenv(ORDER_ENV, raising=False)
    assert topk_order() == expect


def test_order_env_rejects_unknown(monkeypatch):
    from vllm_glm52.indexer import ORDER_ENV, topk_order

    monkeypatch.setenv(ORDER_ENV, "random")
    with pytest.raises(ValueError, match="VLLM_GLM52_TOPK_ORDER='random'"):
        topk_order()


def test_sort_op_traces_with_dynamic_rows():
    """The custom op (whole buffer + row count) traces under torch.compile with a symbolic row
    count, as in the model's forward, and mutates the buffer as in eager."""
    import vllm_glm52.indexer  # noqa: F401  registers torch.ops.vllm.glm52_sort_topk_rows

    def f(buf, x):
        torch.ops.vllm.glm52_sort_topk_rows(buf, x.shape[0])
        return x + 1

    compiled = torch.compile(f, backend="aot_eager", fullgraph=True, dynamic=True)
    for n in (3, 5):
        buf = torch.randint(-1, 100, (8, 16), dtype=torch.int32)
        ref = buf.clone()
        from vllm_glm52.indexer import _sort_topk_rows

        _sort_topk_rows(ref, n)
        compiled(buf, torch.zeros(n))
        assert torch.equal(buf, ref)
