"""vllm-glm52: an out-of-tree vLLM plugin serving Z.ai GLM-5.2.

vLLM calls :func:`register` (the ``vllm.general_plugins`` entry point) in every process it
starts: the CLI / API server, the engine core, each worker and the model-inspection
subprocess. It must therefore be idempotent, cheap, and must never initialise CUDA: it only
records lazy ``"module:Class"`` strings and parser names.
"""

from __future__ import annotations

import logging
import os

__version__ = "0.1.0"

#: The one vLLM release this plugin is written and tested against.
PINNED_VLLM = "0.26.0"

#: Set to 1 to keep vLLM's in-tree GLM-5.2 implementation (the reference path).
DISABLE_ENV = "VLLM_GLM52_DISABLE"

MODEL_ARCH = "GlmMoeDsaForCausalLM"
MODEL_CLASS = "vllm_glm52.model:GlmMoeDsaForCausalLM"

logger = logging.getLogger("vllm.glm52")

_registered = False


class UnsupportedVLLMVersion(RuntimeError):
    """The installed vLLM is not the release this plugin was built for."""


def _disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "0").strip().lower() in ("1", "true", "yes", "on")


def _check_vllm_version() -> str:
    import vllm

    version = getattr(vllm, "__version__", "unknown")
    # Accept local build tags of the same release ("0.26.0+cu130"), nothing else.
    if version.split("+")[0] != PINNED_VLLM:
        raise UnsupportedVLLMVersion(
            f"vllm-glm52 {__version__} supports vLLM {PINNED_VLLM} only, found vLLM {version}. "
            f"Install the pinned release (`pip install vllm=={PINNED_VLLM}`) or set "
            f"{DISABLE_ENV}=1 to serve GLM-5.2 with vLLM's in-tree implementation."
        )
    return version


def register() -> None:
    """Register the GLM-5.2 model, its sparse-attention pieces and the GLM parsers with vLLM."""
    global _registered
    if _registered:
        return
    if _disabled():
        _registered = True
        logger.info("vllm-glm52 %s disabled by %s=1; vLLM's in-tree GLM-5.2 serves.",
                    __version__, DISABLE_ENV)
        return
    # Refuse before touching any registry, so a wrong vLLM never ends half-registered.
    vllm_version = _check_vllm_version()

    from vllm import ModelRegistry

    ModelRegistry.register_model(MODEL_ARCH, MODEL_CLASS)

    from vllm_glm52.patches import apply_compile_patches

    apply_compile_patches()  # the indexer op splits compiled graphs like vLLM's own

    from vllm_glm52.parsers import register_parsers

    register_parsers()

    _registered = True
    logger.info("vllm-glm52 %s registered on vLLM %s: %s -> %s",
                __version__, vllm_version, MODEL_ARCH, MODEL_CLASS)
