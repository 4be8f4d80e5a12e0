"""The GPU parity tool's comparison logic (tests/gpu/greedy_parity.py), on synthetic runs."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "greedy_parity", Path(__file__).parents[1] / "gpu" / "greedy_parity.py")
gp = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gp)


def _scores(tmp_path, name, rows):
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps({"engine": name, "scores": rows}))
    return str(p)


def _run(capsys, argv):
    rc = gp.main(argv)
    return rc, json.loads(capsys.readouterr().out)


def test_compare_scores_counts_disagreements_and_margins(tmp_path, capsys):
    # rows: [top1, logprob of the given token, top-1 logprob, top-2 logprob]
    a = [[[5, -1.0, -1.0, -1.5], [7, -2.0, -0.9, -0.905]], [[3, -0.5, -0.5, -2.0]]]
    b = [[[5, -1.1, -1.1, -1.4], [8, -2.2, -0.901, -0.903]], [[3, -0.5, -0.5, -2.0]]]
    rc, rep = _run(capsys, ["compare-scores", _scores(tmp_path, "A", a),
                            _scores(tmp_path, "B", b), "--min-agreement", "0.6"])
    assert rc == 0 and rep["positions"] == 3
    assert rep["top1_agreement"] == pytest.approx(2 / 3)
    assert rep["max_logprob_diff"] == pytest.approx(0.2)
    (d,) = rep["disagreements"]
    assert (d["prompt"], d["step"], d["top1_a"], d["top1_b"]) == (0, 1, 7, 8)
    assert d["margin_a"] == pytest.approx(0.005) and d["near_tie"]
    assert rep["all_disagreements_near_tie"]


def test_compare_scores_fails_below_min_agreement_and_flags_wide_margins(tmp_path, capsys):
    a = [[[1, -1.0, -1.0, -3.0], [2, -1.0, -1.0, -1.2]]]
    b = [[[4, -3.0, -0.5, -1.0], [2, -1.0, -1.0, -1.2]]]
    rc, rep = _run(capsys, ["compare-scores", _scores(tmp_path, "A", a),
                            _scores(tmp_path, "B", b)])
    assert rc == 1 and not rep["pass"] and rep["top1_agreement"] == 0.5
    assert not rep["all_disagreements_near_tie"]


def test_compare_generations_reports_first_divergence_and_tie(tmp_path, capsys):
    def run(tokens, top2):
        return {"prompt": [1, 2], "tokens": tokens, "top2": top2}
    a = {"engine": "A", "runs": [run([5, 6, 7], [[[5, -1], [9, -2]], [[6, -1], [8, -1.005]],
                                                  [[7, -1], [1, -3]]])]}
    b = {"engine": "B", "runs": [run([5, 8, 1], [[[5, -1], [9, -2]], [[8, -1], [6, -1.004]],
                                                  [[1, -1], [7, -3]]])]}
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    rc, rep = _run(capsys, ["compare", str(pa), str(pb)])
    (p,) = rep["prompts"]
    assert p["first_divergence"] == 1 and p["near_tie"] and rc == 0


def test_engine_name_follows_env(monkeypatch):
    monkeypatch.delenv("VLLM_GLM52_DISABLE", raising=False)
    monkeypatch.delenv(gp.SORT_INTREE_ENV, raising=False)
    assert gp._engine_name() == "vllm-glm52"
    monkeypatch.setenv("VLLM_GLM52_DISABLE", "1")
    assert gp._engine_name() == "vllm-in-tree"
    monkeypatch.setenv(gp.SORT_INTREE_ENV, "1")
    assert gp._engine_name() == "vllm-in-tree-sorted"


def test_sorted_intree_patch_sorts_rows_after_the_indexer_op(monkeypatch):
    """The measurement patch wraps the in-tree indexer's forward_cuda (the symbol must still
    exist in the pinned vLLM) and leaves each valid row ascending with -1 padding last."""
    import torch
    from vllm.model_executor.layers.sparse_attn_indexer import SparseAttnIndexer

    buf = torch.tensor([[5, -1, 2, 9], [7, 3, -1, -1], [4, 1, 0, 2]], dtype=torch.int32)

    def fake_forward_cuda(self, hidden_states, *args):  # the real op fills the buffer
        return "out"

    monkeypatch.setattr(SparseAttnIndexer, "forward_cuda", fake_forward_cuda)
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")  # restored after the test
    gp._sort_intree_topk()
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    layer = SparseAttnIndexer.__new__(SparseAttnIndexer)
    layer.topk_indices_buffer = buf
    assert SparseAttnIndexer.forward_cuda(layer, torch.zeros(2, 8)) == "out"
    assert buf.tolist() == [[2, 5, 9, -1], [3, 7, -1, -1], [4, 1, 0, 2]]  # row 2 not valid
