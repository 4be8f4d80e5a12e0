"""tools/profile_indexer.py's compare mode and argument checks (the run mode needs a GPU)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("profile_indexer",
                                              ROOT / "tools" / "profile_indexer.py")
profile_indexer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_indexer)


def _run(env, kernels, ops, outputs, median_s, batch=2):
    return {"env": env, "commit": "x", "device": "d", "batch": batch, "prompt_len": 8,
            "new_tokens": 2, "engine_start_s": 10.0, "round_s": [median_s], "median_s": median_s,
            "profiled_s": 2 * median_s,
            "gpu_busy_us": sum(k["device_us"] for k in kernels.values()),
            "kernels": kernels, "ops": ops, "outputs": outputs}


def _write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(json.dumps(obj))
    return str(p)


def test_compare_orders_by_difference_and_counts_identical_outputs(tmp_path, capsys):
    a = _run({"VLLM_GLM52_INDEXER_TOPK": "vllm"},
             {"top_k_per_row": {"count": 8, "device_us": 5000.0},
              "gemm": {"count": 80, "device_us": 20000.0}},
             {"vllm::sparse_attn_indexer": {"count": 8, "cpu_us": 900.0, "self_cpu_us": 100.0,
                                            "device_us": 7000.0}},
             [[1, 2], [3, 4]], 1.0)
    b = _run({"VLLM_GLM52_INDEXER_TOPK": "glm52"},
             {"topk_regs_kernel": {"count": 8, "device_us": 1000.0},
              "gemm": {"count": 80, "device_us": 20100.0}},
             {"vllm::glm52_indexer": {"count": 8, "cpu_us": 1500.0, "self_cpu_us": 200.0,
                                      "device_us": 3000.0}},
             [[1, 2], [3, 5]], 1.25)
    profile_indexer.main(["compare", _write(tmp_path, "a.json", a),
                          _write(tmp_path, "b.json", b), "--top", "2"])
    out = capsys.readouterr().out
    assert "median_s: A      1.000 s  B      1.250 s  B/A  1.250" in out
    kern = out.split("kernels, summed GPU time")[1].split("ops, host time")[0].splitlines()[2:]
    # the two largest differences (5.0 and 1.0 ms), in that order; gemm's 0.1 ms is cut by --top
    assert "top_k_per_row" in kern[0] and "-5.00" in kern[0]
    assert "topk_regs_kernel" in kern[1] and "+1.00" in kern[1]
    assert len(kern) == 2
    ops = out.split("ops, host time")[1].splitlines()
    assert any("vllm::glm52_indexer" in line and "+1.50" in line for line in ops)
    assert "greedy outputs identical: 1 of 2" in out


def test_compare_refuses_runs_of_different_shapes(tmp_path):
    a = _run({}, {}, {}, [[1]], 1.0, batch=1)
    b = _run({}, {}, {}, [[1]], 1.0, batch=2)
    with pytest.raises(SystemExit, match="differ in batch"):
        profile_indexer.main(["compare", _write(tmp_path, "a.json", a),
                              _write(tmp_path, "b.json", b)])


def test_run_rejects_non_positive_sizes():
    with pytest.raises(SystemExit, match="must be >= 1"):
        profile_indexer.main(["run", "--model", "m", "--out", "o.json", "--batch", "0"])


def test_short_names_keep_their_width():
    assert profile_indexer._short("k" * 200, 20) == "k" * 17 + "..."
    assert profile_indexer._short("kernel", 20) == "kernel"
