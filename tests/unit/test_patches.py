"""The compilation patch (vllm_glm52/patches/splitting_ops.py) on the pinned vLLM, in a fresh
process each: its target still exists, and after register() a default CompilationConfig
splits the graph at the plugin's indexer op as it does at vLLM's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SNIPPET = r"""
import json
from vllm.config.compilation import CompilationConfig
before = list(CompilationConfig._attention_ops)
import vllm_glm52
vllm_glm52.register()
vllm_glm52.register()
cfg = CompilationConfig(mode=3)
cfg.set_splitting_ops_for_v1(all2all_backend="", data_parallel_size=1)
print(json.dumps({"before": before, "after": CompilationConfig._attention_ops,
                  "split": cfg.splitting_ops}))
"""


def _run(env_extra: dict) -> dict:
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_indexer_op_becomes_a_splitting_op_once():
    r = _run({})
    assert "vllm::sparse_attn_indexer" in r["before"]  # the target list still exists as assumed
    assert "vllm::glm52_indexer" not in r["before"]
    assert r["after"].count("vllm::glm52_indexer") == 1  # idempotent
    assert "vllm::glm52_indexer" in r["split"]


def test_disabled_plugin_leaves_the_splitting_ops_alone():
    r = _run({"VLLM_GLM52_DISABLE": "1"})
    assert "vllm::glm52_indexer" not in r["after"]
    assert "vllm::glm52_indexer" not in r["split"]
