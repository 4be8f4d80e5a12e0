"""Patches to vLLM 0.26.0, one file per patched symbol. Aim: none; each one here is needed.

Ledger (every entry: target symbol, why, how, removal condition; details in the file):

* ``parse_token_ids.py``
  - target: ``vllm.parser.abstract_parser.DelegatingParser.parse``
  - why: one-shot parsing gets the output token ids, as streaming does, so both paths decide
    tags and end-of-sequence the same way
  - how: a marked wrapper sets the ids on this plugin's parsers for the duration of the call
  - removal: when vLLM forwards ``model_output_token_ids`` to the parsers

* ``splitting_ops.py``
  - target: ``vllm.config.compilation.CompilationConfig._attention_ops``
  - why: the plugin's indexer op must split the compiled graph (run eagerly between pieces)
    exactly like vLLM's ``sparse_attn_indexer``, or piecewise CUDA graphs replay a stale
    capture of it
  - how: appends ``vllm::glm52_indexer`` to the class list the default splitting ops copy
  - removal: when vLLM has a hook to register splitting ops

``tests/unit/test_parsers_registration.py`` (parsers) and ``tests/unit/test_patches.py``
(compile) check that each target still exists on the pinned
vLLM, so a vLLM bump that moves one fails CI instead of silently losing the patch.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("vllm.glm52.patches")

#: module name -> dotted target symbol
PATCHES = {
    "parse_token_ids": "vllm.parser.abstract_parser.DelegatingParser.parse",
}
COMPILE_PATCHES = {
    "splitting_ops": "vllm.config.compilation.CompilationConfig._attention_ops",
}


def _apply(modules: dict, targets: dict[str, str], consequence: str) -> dict[str, bool]:
    """Runs each patch module's ``apply()``; one that cannot be applied is logged with what
    that means for the user, and reported False."""
    applied = {}
    for name, module in modules.items():
        try:
            applied[name] = module.apply()
        except (ImportError, AttributeError) as exc:
            logger.warning("vllm-glm52: patch %s on %s not applied (%s); %s", name,
                           targets[name], exc, consequence)
            applied[name] = False
    return applied


def apply_compile_patches() -> dict[str, bool]:
    """Applies the compilation patches (see the ledger). Idempotent. A patch that cannot be
    applied is logged with the two ways to serve correctly without it."""
    from vllm_glm52.patches import splitting_ops

    return _apply({"splitting_ops": splitting_ops}, COMPILE_PATCHES,
                  "the plugin's indexer op is then not a graph-splitting op: serve with "
                  "--enforce-eager or VLLM_GLM52_INDEXER_TOPK=vllm.")


def apply_parser_patches() -> dict[str, bool]:
    """Applies the parser patches (front-end only in effect; harmless elsewhere). Idempotent.

    A patch that cannot be applied is logged and skipped: the parsers then fall back to
    text-only tag detection on the one-shot path, they never fail a request for it.
    """
    from vllm_glm52.patches import parse_token_ids

    return _apply({"parse_token_ids": parse_token_ids}, PATCHES,
                  "one-shot GLM parsing falls back to text-only tag detection.")
