"""benchmarks/bench_generate.py: the interleaving driver and its summary, with a fake worker
(no vLLM): the protocol, the round order and the ratio's direction."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("bench_generate",
                                                  ROOT / "benchmarks/bench_generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_summary_ratio_is_first_over_last_per_round():
    bg = _load()
    # plugin twice as fast as in-tree in round 0, equal in rounds 1 and 2
    secs = {"plugin": {8: [1.0, 2.0, 1.0]}, "in-tree": {8: [2.0, 2.0, 1.0]}}
    table, out = bg.summarize(["plugin", "in-tree"], [8], 16, secs)
    assert out[8]["ratio"] == pytest.approx(1.0)
    assert (out[8]["ratio_min"], out[8]["ratio_max"]) == (pytest.approx(1.0), pytest.approx(2.0))
    assert out[8]["tok_s"]["plugin"] == pytest.approx(8 * 16 / 1.0)
    assert out[8]["tok_s"]["in-tree"] == pytest.approx(8 * 16 / 2.0)
    assert "| 8 | 128.0 | 64.0 | 1.000 | 1.000-2.000 |" in table


FAKE = textwrap.dedent('''
    import json, os, sys
    tag = "in-tree" if os.environ.get("VLLM_GLM52_DISABLE") == "1" else "plugin"
    print("some vLLM log line", flush=True)
    print("GLM52BENCH " + json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("quit"):
            break
        with open(os.environ["FAKE_TRACE"], "a") as f:
            f.write(f"{tag} {req['batch']}\\n")
        if int(req["batch"]) == 99:
            sys.exit(3)
        s = 1.0 if tag == "plugin" else 2.0
        print("GLM52BENCH " + json.dumps({"batch": req["batch"], "seconds": s}), flush=True)
''')


def _run_main(bg, monkeypatch, tmp_path, argv):
    fake = tmp_path / "fake_worker.py"
    fake.write_text(FAKE)
    monkeypatch.setattr(bg, "__file__", str(fake))
    monkeypatch.setenv("OUT", str(tmp_path))
    monkeypatch.setenv("FAKE_TRACE", str(tmp_path / "trace.txt"))
    monkeypatch.setattr(sys, "argv", ["bench_generate.py", "--model", "m", *argv])
    bg.main()


def test_engines_take_turns_and_the_table_is_written(tmp_path, monkeypatch, capsys):
    bg = _load()
    md = tmp_path / "t.md"
    _run_main(bg, monkeypatch, tmp_path, ["--batches", "1", "4", "--rounds", "2",
                                          "--out-md", str(md)])
    trace = (tmp_path / "trace.txt").read_text().split("\n")[:-1]
    assert trace == ["plugin 1", "in-tree 1", "plugin 4", "in-tree 4",     # round 1
                     "in-tree 1", "plugin 1", "in-tree 4", "plugin 4"]     # round 2: reversed
    out = capsys.readouterr().out
    result = json.loads(next(l for l in out.splitlines() if l.startswith("RESULT "))[7:])
    assert result["summary"]["4"]["ratio"] == pytest.approx(2.0)  # plugin 1 s vs in-tree 2 s
    assert "| 1 | 128.0 | 64.0 | 2.000 | 2.000-2.000 |" in md.read_text()
    assert "some vLLM log line" in (tmp_path / "bench_generate_plugin.log").read_text()


def test_a_dying_engine_is_reported_with_its_log(tmp_path, monkeypatch):
    bg = _load()
    with pytest.raises(SystemExit, match="plugin engine exited \\(rc 3\\)"):
        _run_main(bg, monkeypatch, tmp_path, ["--batches", "99", "--rounds", "1"])


@pytest.mark.parametrize("argv, msg", [(["--engines", "plugin,plugin"], "distinct"),
                                       (["--engines", "plugin,nope"], "distinct"),
                                       (["--gpu-mem", "0.6"], "share the GPU")])
def test_bad_arguments_name_the_problem(tmp_path, monkeypatch, argv, msg):
    bg = _load()
    with pytest.raises(SystemExit, match=msg):
        _run_main(bg, monkeypatch, tmp_path, argv)


def test_three_engines_get_a_ratio_each_against_the_first():
    bg = _load()
    secs = {"plugin-glm52-topk": {8: [1.0, 1.0, 1.0]}, "plugin": {8: [2.0, 1.0, 1.5]},
            "in-tree": {8: [4.0, 3.0, 3.0]}}
    table, out = bg.summarize(["plugin-glm52-topk", "plugin", "in-tree"], [8], 16, secs)
    assert out[8]["ratios"]["plugin"]["ratio"] == pytest.approx(1.5)
    assert out[8]["ratios"]["in-tree"]["ratio"] == pytest.approx(3.0)
    assert out[8]["ratio"] == pytest.approx(3.0)  # first / last, as with two engines
    header, sep, row = table.splitlines()
    assert header.count("ratio") == 2 and sep.count("---") == 8
    assert row == "| 8 | 128.0 | 85.3 | 42.7 | 1.500 | 1.000-2.000 | 3.000 | 3.000-4.000 |"


def test_engine_captures_powers_of_two_and_every_batch(monkeypatch):
    import vllm

    bg = _load()
    seen = {}
    monkeypatch.setattr(vllm, "LLM", lambda **kw: seen.update(kw) or "llm")
    assert bg.make_engine("m", [1, 32, 128], 100, 20, 0.3) == "llm"
    assert seen["compilation_config"]["cudagraph_capture_sizes"] == [1, 2, 4, 8, 16, 32, 64, 128]
    assert (seen["max_num_seqs"], seen["max_model_len"], seen["enforce_eager"]) == (128, 184, False)
    bg.make_engine("m", [24], 100, 20, 0.3, enforce_eager=True)
    assert seen["compilation_config"]["cudagraph_capture_sizes"] == [1, 2, 4, 8, 16, 24]
    assert seen["max_num_seqs"] == 24 and seen["enforce_eager"] is True


def test_prompts_are_seeded_and_drawn_in_batch_order():
    bg = _load()
    a = bg.make_prompts([2, 3], 5)
    assert a == bg.make_prompts([2, 3], 5)  # the same in every engine
    assert [len(a[b]) for b in (2, 3)] == [2, 3]
    assert all(len(p["prompt_token_ids"]) == 5 and all(1000 <= t < 150000
                                                      for t in p["prompt_token_ids"])
               for b in (2, 3) for p in a[b])
    # a batch's prompts depend on the batches drawn before it (profile_indexer draws [b] only)
    assert bg.make_prompts([3], 5)[3] != a[3]
