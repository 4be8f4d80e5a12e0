"""vllm_glm52/indexer.py's choice of indexer pipeline: the project's (glm52) by default, vLLM's
op where that cannot run (each reason named), a bad value refused with the fix."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import vllm_glm52.indexer as ix
from vllm_glm52.ops import topk


def _config(dcp: int = 1, pcp: int = 1, spec=None):
    return SimpleNamespace(speculative_config=spec, parallel_config=SimpleNamespace(
        decode_context_parallel_size=dcp, prefill_context_parallel_size=pcp))


@pytest.fixture
def gpu_ready(monkeypatch):
    """A machine where every requirement of the glm52 pipeline holds."""
    monkeypatch.setattr(ix.current_platform, "is_cuda", lambda: True)
    monkeypatch.setattr(ix, "has_deep_gemm", lambda: True)
    monkeypatch.setattr(topk, "EXTENSION_LOADED", True)
    monkeypatch.setattr(topk, "_device_supported", lambda index: True)
    monkeypatch.setattr(ix.torch.cuda, "current_device", lambda: 0)
    monkeypatch.delenv(ix.TOPK_ENV, raising=False)


def test_default_is_the_project_pipeline(gpu_ready):
    assert ix.topk_pipeline(_config()) == ("glm52", "default")


def test_explicit_choices(gpu_ready, monkeypatch):
    monkeypatch.setenv(ix.TOPK_ENV, " GLM52 ")
    assert ix.topk_pipeline(_config()) == ("glm52", f"{ix.TOPK_ENV}=glm52")
    monkeypatch.setenv(ix.TOPK_ENV, "vllm")
    assert ix.topk_pipeline(_config()) == ("vllm", f"{ix.TOPK_ENV}=vllm")


@pytest.mark.parametrize("broken, reason", [
    ("cuda", "needs CUDA and DeepGEMM"),
    ("deep_gemm", "needs CUDA and DeepGEMM"),
    ("dcp", "context parallelism"),
    ("pcp", "context parallelism"),
    ("extension", "top-k extension unavailable (no nvcc at build time)"),
    ("arch", "not built for this GPU architecture"),
])
def test_falls_back_to_vllm_naming_why(gpu_ready, monkeypatch, broken, reason):
    cfg = _config()
    if broken == "cuda":
        monkeypatch.setattr(ix.current_platform, "is_cuda", lambda: False)
    elif broken == "deep_gemm":
        monkeypatch.setattr(ix, "has_deep_gemm", lambda: False)
    elif broken == "dcp":
        cfg = _config(dcp=2)
    elif broken == "pcp":
        cfg = _config(pcp=2)
    elif broken == "extension":
        monkeypatch.setattr(topk, "EXTENSION_LOADED", False)
        monkeypatch.setattr(topk, "EXTENSION_REASON", "no nvcc at build time")
    else:
        monkeypatch.setattr(topk, "_device_supported", lambda index: False)
    pipeline, why = ix.topk_pipeline(cfg)
    assert pipeline == "vllm" and reason in why


def test_speculative_decoding_keeps_vllm_unless_asked(gpu_ready, monkeypatch):
    mtp = SimpleNamespace(method="mtp", num_speculative_tokens=3)
    pipeline, why = ix.topk_pipeline(_config(spec=mtp))
    assert pipeline == "vllm" and "speculative decoding" in why and f"{ix.TOPK_ENV}=glm52" in why
    monkeypatch.setenv(ix.TOPK_ENV, "glm52")
    assert ix.topk_pipeline(_config(spec=mtp)) == ("glm52", f"{ix.TOPK_ENV}=glm52")


def test_bad_value_names_both_choices(gpu_ready, monkeypatch):
    monkeypatch.setenv(ix.TOPK_ENV, "glm5")
    with pytest.raises(ValueError, match=r"'glm5'.*'glm52' \(default.*'vllm'"):
        ix.topk_pipeline(_config())


def test_choice_is_logged_once(gpu_ready, monkeypatch):
    lines = []  # vLLM's "vllm" logger does not propagate to pytest's capture: record directly
    monkeypatch.setattr(ix, "logger", SimpleNamespace(info=lambda msg, *a: lines.append(msg % a)))
    monkeypatch.setattr(ix, "_choice_logged", False)
    assert ix._use_glm52_topk(_config()) is True
    assert ix._use_glm52_topk(_config()) is True
    assert len(lines) == 1 and "own pipeline" in lines[0] and "default" in lines[0]
