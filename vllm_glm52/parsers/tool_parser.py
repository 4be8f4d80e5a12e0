"""GLM-5.x tool-call parser (``--tool-call-parser glm47`` / ``glm45`` / ``glm52``).

A thin vLLM adapter around :class:`~vllm_glm52.parsers.tool_calls.ToolCallMachine`: it picks
the request's tools and ``tool_choice``, feeds the machine through a
:class:`~vllm_glm52.parsers.tags.TagScanner`, and turns the machine's operations into vLLM's
``DeltaMessage`` / ``ExtractedToolCallInformation``.

``engine_based_streaming`` is set so vLLM's ``DelegatingParser`` hands this parser only the new
text of each chunk and calls :meth:`finish_streaming` at the end of the stream (that is where an
unterminated call is closed and held-back text is released).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from openai.types.responses import ToolChoiceFunction
from vllm.entrypoints.chat_utils import make_tool_call_id
from vllm.entrypoints.openai.chat_completion.protocol import (
    ChatCompletionNamedToolChoiceParam, ChatCompletionRequest, ChatCompletionToolsParam)
from vllm.entrypoints.openai.engine.protocol import (DeltaFunctionCall, DeltaMessage,
                                                     DeltaToolCall,
                                                     ExtractedToolCallInformation,
                                                     FunctionCall, ToolCall)
from vllm.entrypoints.openai.responses.protocol import ResponsesRequest
from vllm.sampling_params import StructuredOutputsParams
from vllm.tool_parsers.abstract_tool_parser import ToolParser
from vllm.tool_parsers.utils import iter_response_function_tool_info

from vllm_glm52.parsers.arguments import ToolSchemas
from vllm_glm52.parsers.tags import TagScanner, resolve_tag_ids
from vllm_glm52.parsers.tool_calls import ToolCallMachine

logger = logging.getLogger("vllm.glm52.parsers")

#: xgrammar's builtin structural tag for the GLM-4.7 / GLM-5 call syntax.
STRUCTURAL_TAG_MODEL = "glm_4_7"


def iter_tool_specs(tools: Iterable[Any] | None) -> Iterable[tuple[str, Any]]:
    """(name, parameter schema) of chat-completions, Responses and plain-dict tools."""
    for tool in tools or ():
        if isinstance(tool, ChatCompletionToolsParam):
            yield tool.function.name, tool.function.parameters
        elif isinstance(tool, dict):
            fn = tool.get("function") if isinstance(tool.get("function"), dict) else tool
            if tool.get("type", "function") == "function" and isinstance(fn.get("name"), str):
                yield fn["name"], fn.get("parameters")
        else:
            yield from iter_response_function_tool_info(tool)


def named_tool_choice(tool_choice: Any) -> str | None:
    if isinstance(tool_choice, ChatCompletionNamedToolChoiceParam):
        return tool_choice.function.name
    if isinstance(tool_choice, ToolChoiceFunction):
        return tool_choice.name
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "function":
        fn = tool_choice.get("function")
        return fn.get("name") if isinstance(fn, dict) else tool_choice.get("name")
    return None


def grammar_constrained(request: Any) -> bool:
    """True when generation runs under a structural tag (ours for "required"/named, or the
    client's own): then the output's structure follows the grammar's text, not token ids."""
    so = getattr(request, "structured_outputs", None)
    return so is not None and getattr(so, "structural_tag", None) is not None


def ops_to_delta(ops: list[tuple]) -> DeltaMessage | None:
    """Machine operations -> one DeltaMessage (one DeltaToolCall per call index, id and name
    only on the delta that opens the call)."""
    if not ops:
        return None
    content: list[str] = []
    calls: dict[int, DeltaToolCall] = {}
    for op in ops:
        if op[0] == "content":
            content.append(op[1])
        elif op[0] == "call":
            calls[op[1]] = DeltaToolCall(index=op[1], id=op[2], type="function",
                                         function=DeltaFunctionCall(name=op[3], arguments=""))
        else:
            tc = calls.get(op[1])
            if tc is None:
                calls[op[1]] = DeltaToolCall(index=op[1],
                                             function=DeltaFunctionCall(arguments=op[2]))
            else:
                tc.function.arguments += op[2]
    text = "".join(content)
    if not text and not calls:
        return None
    if not calls:
        return DeltaMessage(content=text)
    return DeltaMessage(content=text or None, tool_calls=list(calls.values()))


class _Run:
    """One parse of one output: scanner + machine, or plain pass-through."""

    __slots__ = ("scanner", "machine", "done")

    def __init__(self, parser: Glm52ToolParser, request: Any, id_mode: bool) -> None:
        if id_mode and grammar_constrained(request):
            # The structural tag's grammar is text-level: it lets the model spell a tag with
            # ordinary tokens ("<", "tool", "_call", ">") as well as emit its special id, and
            # either spelling is a grammar-valid call (a random-weight model picks the spelled
            # one about half the time). The grammar also keeps tag text out of free text and
            # ends a value at the first </arg_value>, so tags are recognised by text here.
            id_mode = False
        tools = getattr(request, "tools", None) or parser.tools
        schemas = ToolSchemas(iter_tool_specs(tools))
        tool_choice = getattr(request, "tool_choice", None)
        self.done = False
        self.scanner: TagScanner | None = None
        self.machine: ToolCallMachine | None = None
        if not schemas or tool_choice == "none":
            return  # no tools, or tools forbidden: the text is the answer, untouched
        named = named_tool_choice(tool_choice)
        self.scanner = TagScanner(parser.tag_ids, id_mode, decode=parser.decode)
        self.machine = ToolCallMachine(schemas, frozenset((named,)) if named else None,
                                       make_tool_call_id,
                                       keep_blank=not named and tool_choice != "required")

    def feed(self, text: str, ids: Sequence[int] | None) -> list[tuple]:
        if self.machine is None:
            return [("content", text)] if text else []
        self.machine.feed(self.scanner.feed(text, ids))
        return self.machine.take()

    def finish(self) -> list[tuple]:
        if self.done or self.machine is None:
            self.done = True
            return []
        self.done = True
        self.machine.feed(self.scanner.flush())
        self.machine.finish()
        return self.machine.take()


class Glm52ToolParser(ToolParser):
    """GLM-4.7 / GLM-5.x ``<tool_call>`` parser with schema-typed, streamed arguments."""

    # vLLM's JSON-array decoding for "required"/named would fight GLM's XML syntax; the XML is
    # parsed here and constrained by an xgrammar GLM structural tag instead (adjust_request).
    supports_required_and_named = False
    structural_tag_model = None
    engine_based_streaming = True

    def __init__(self, tokenizer, tools=None, **kwargs) -> None:
        super().__init__(tokenizer, tools)
        self.tag_ids = resolve_tag_ids(tokenizer)
        self._run: _Run | None = None
        # Set by vllm_glm52.patches.parse_token_ids around DelegatingParser.parse, so the
        # one-shot path sees token ids too (vLLM 0.26 passes them to parse() and drops them).
        self.glm52_output_token_ids: list[int] | None = None
        self.glm52_reasoning_peer: Any = None

    def decode(self, ids: list[int]) -> str:
        return self.model_tokenizer.decode(ids, skip_special_tokens=False)

    # -- request --------------------------------------------------------------------------------
    def adjust_request(self, request: ChatCompletionRequest | ResponsesRequest):
        if not request.tools:
            return request
        request.skip_special_tokens = False  # tags must reach the text
        existing = getattr(request, "structured_outputs", None)
        if existing is not None and existing.structural_tag is not None:
            return request
        if request.tool_choice == "none":
            return request
        from vllm.tool_parsers.structural_tag_registry import get_model_structural_tag

        # "required"/named: constrain generation to native GLM calls (auto: only strict tools).
        try:
            tag = get_model_structural_tag(model=STRUCTURAL_TAG_MODEL, tools=request.tools,
                                           tool_choice=request.tool_choice, reasoning=False)
        except (ValueError, TypeError, KeyError) as exc:
            # Parsing still works unconstrained; only the guarantee of a call is lost.
            logger.warning("GLM tool parser: no %s structural tag for tool_choice=%r (%s); "
                           "generation is not constrained to a tool call.",
                           STRUCTURAL_TAG_MODEL, request.tool_choice, exc)
            return request
        if tag is None:
            return request
        request.structured_outputs = StructuredOutputsParams(
            structural_tag=json.dumps(tag.model_dump()))
        if isinstance(request, ResponsesRequest):
            request.text = None
        else:
            request.response_format = None
        return request

    # -- one-shot ---------------------------------------------------------------------------------
    def _one_shot_ids(self) -> list[int] | None:
        ids = self.glm52_output_token_ids
        if ids is None:
            return None
        peer = self.glm52_reasoning_peer
        if peer is None:
            return ids
        return getattr(peer, "glm52_content_token_ids", None)  # None: a foreign reasoning parser

    def extract_tool_calls(self, model_output: str, request) -> ExtractedToolCallInformation:
        ids = self._one_shot_ids()
        run = _Run(self, request, id_mode=ids is not None)
        ops = run.feed(model_output, ids) + run.finish()
        content: list[str] = []
        names: dict[int, tuple[str, str]] = {}
        args: dict[int, list[str]] = {}
        for op in ops:
            if op[0] == "content":
                content.append(op[1])
            elif op[0] == "call":
                names[op[1]] = (op[2], op[3])
                args[op[1]] = []
            else:
                args[op[1]].append(op[2])
        calls = [ToolCall(id=cid, type="function",
                          function=FunctionCall(name=name, arguments="".join(args[i])))
                 for i, (cid, name) in names.items()]
        return ExtractedToolCallInformation(tools_called=bool(calls), tool_calls=calls,
                                            content="".join(content) or None)

    # -- streaming ------------------------------------------------------------------------------
    def extract_tool_calls_streaming(self, previous_text: str, current_text: str,
                                     delta_text: str, previous_token_ids: Sequence[int],
                                     current_token_ids: Sequence[int],
                                     delta_token_ids: Sequence[int],
                                     request) -> DeltaMessage | None:
        if self._run is None:
            self._run = _Run(self, request, id_mode=True)
        return ops_to_delta(self._run.feed(delta_text, delta_token_ids))

    def finish_streaming(self) -> DeltaMessage | None:
        if self._run is None:
            return None
        return ops_to_delta(self._run.finish())
