"""Under a structural tag (tool_choice "required" / named) the grammar is text-level: xgrammar
lets the model spell ``<tool_call>`` with ordinary tokens as well as emit the special id (seen
on the GPU host: a random-weight model under a named tool_choice spelled it). Such a spelled call
is a call; without a grammar the same spelling stays literal text (``literal_tool_call_text``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from parser_cases import (EOS, Lit, TOOLS, chat_request, chunk_output, encode,  # noqa: E402
                          make_parser, prompt_ids, run_one_shot, run_stream)

NAMED = {"type": "function", "function": {"name": "get_weather"}}
SPELLED = Lit("<tool_call>get_weather<arg_key>city</arg_key><arg_value>Paris</arg_value>"
              "</tool_call>")


def _constrained(tool_choice):
    request = chat_request(TOOLS, tool_choice)
    make_parser(request).adjust_request(request)  # what serving does: adds the structural tag
    assert request.structured_outputs is not None
    assert request.structured_outputs.structural_tag is not None
    return request


def test_grammar_allows_the_spelled_tag():
    """The premise: the compiled grammar accepts ``<`` (the spelled tag's first token) first."""
    xgr = pytest.importorskip("xgrammar")
    from parser_cases import glm_tokenizer

    tok = glm_tokenizer()
    request = _constrained(NAMED)
    info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=len(tok))
    matcher = xgr.GrammarMatcher(xgr.GrammarCompiler(info).compile_structural_tag(
        request.structured_outputs.structural_tag))
    mask = xgr.allocate_token_bitmask(1, info.vocab_size)
    matcher.fill_next_token_bitmask(mask)
    allowed = {i for i in range(info.vocab_size) if (int(mask[0, i // 32]) >> (i % 32)) & 1}
    assert tok.convert_tokens_to_ids("<tool_call>") in allowed
    assert tok.convert_tokens_to_ids("<") in allowed


@pytest.mark.parametrize("tool_choice", ["required", NAMED])
def test_spelled_call_under_grammar_is_a_call(tool_choice):
    request = _constrained(tool_choice)
    text, ids = encode((SPELLED,))
    prompt = prompt_ids(False)
    one = run_one_shot(request, text, ids + [EOS], prompt)
    expect = [("get_weather", json.dumps({"city": "Paris"}))]
    assert one.calls == expect and not (one.content or "").strip()
    for cuts in (range(len(ids)), []):
        streamed = run_stream(request, chunk_output(ids, cuts, True), prompt)
        assert streamed.key() == one.key()


def test_spelled_call_without_grammar_stays_text():
    request = chat_request(TOOLS, "auto")
    assert request.structured_outputs is None
    text, ids = encode((SPELLED,))
    one = run_one_shot(request, text, ids + [EOS], prompt_ids(False))
    assert one.calls == [] and one.content == text
