"""GPU wiring check for the GLM parsers against a running server (random weights are fine).

Start the server first, e.g. on the tiny checkpoint:

    vllm serve <tiny ckpt> --tool-call-parser glm47 --reasoning-parser glm45 \\
        --enable-auto-tool-choice --speculative-config '{"method":"mtp","num_speculative_tokens":3}'

then run ``python tests/gpu/e2e_parsers.py --base-url http://localhost:8000``.

A random-weight model writes arbitrary text, so this checks wiring and the invariants the
parsers guarantee whatever the text: every request succeeds (chat, streamed chat, /v1/responses,
Anthropic /v1/messages), a streamed chat has exactly one terminal chunk, ``tool_calls`` as finish
reason comes with a call, every call names a declared tool and carries a JSON object, and
``tool_choice`` "required"/named (constrained to GLM's native call syntax) always yield a call.
Exit status: 0 all passed, 1 a check failed, 2 the server could not be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

import httpx

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "description": "Current time",
                                         "parameters": {"type": "object", "properties": {}}}}
TOOLS = [WEATHER, TIME]
NAMES = {"get_weather", "get_time"}
NO_THINK = {"chat_template_kwargs": {"enable_thinking": False}}


class CheckFailed(AssertionError):
    pass


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def check_call(name: str | None, arguments: str | None, allowed=NAMES) -> None:
    expect(name in allowed, f"tool call names {name!r}, not one of {sorted(allowed)}")
    try:
        args = json.loads(arguments or "")
    except ValueError as exc:
        raise CheckFailed(f"tool call {name} arguments are not JSON: {arguments!r}") from exc
    expect(isinstance(args, dict), f"tool call {name} arguments are not an object: {args!r}")


def chat(client, model: str, max_tokens: int, **kw):
    resp = client.chat.completions.create(
        model=model, max_tokens=max_tokens, tools=TOOLS,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}], **kw)
    choice = resp.choices[0]
    calls = choice.message.tool_calls or []
    for tc in calls:
        check_call(tc.function.name, tc.function.arguments)
    if choice.finish_reason == "tool_calls":
        expect(bool(calls), "finish_reason tool_calls without tool_calls")
    return choice, calls


def chat_stream(client, model: str, max_tokens: int, **kw):
    stream = client.chat.completions.create(
        model=model, max_tokens=max_tokens, tools=TOOLS, stream=True,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}], **kw)
    finishes, calls = [], {}
    for chunk in stream:
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": None, "args": ""})
                if tc.id:
                    expect(slot["id"] is None, f"call {tc.index}: id sent twice")
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    expect(slot["name"] is None, f"call {tc.index}: name sent twice")
                    slot["name"] = tc.function.name
                slot["args"] += (tc.function.arguments or "") if tc.function else ""
            if choice.finish_reason is not None:
                finishes.append(choice.finish_reason)
    expect(len(finishes) == 1, f"{len(finishes)} chunks carry finish_reason: {finishes}")
    expect(sorted(calls) == list(range(len(calls))), f"call indices {sorted(calls)}")
    expect(len({c["id"] for c in calls.values()}) == len(calls), "duplicate tool call ids")
    for c in calls.values():
        check_call(c["name"], c["args"])
    if finishes[0] == "tool_calls":
        expect(bool(calls), "finish_reason tool_calls without any streamed call")
    return finishes[0], list(calls.values())


def run_checks(base: str, model: str, api_key: str, max_tokens: int, timeout: float):
    import anthropic
    import openai

    oai = openai.OpenAI(base_url=f"{base}/v1", api_key=api_key, timeout=timeout, max_retries=0)
    ant = anthropic.Anthropic(base_url=base, api_key=api_key, timeout=timeout, max_retries=0)
    named = {"type": "function", "function": {"name": "get_weather"}}

    def required_has_call(_):
        _, calls = chat(oai, model, max_tokens, tool_choice="required", extra_body=NO_THINK)
        expect(bool(calls), "tool_choice=required returned no tool call")

    def named_has_call(_):
        choice, calls = chat(oai, model, max_tokens, tool_choice=named, extra_body=NO_THINK)
        expect(bool(calls) and all(c.function.name == "get_weather" for c in calls),
               f"named tool_choice returned {[c.function.name for c in calls]} "
               f"(finish {choice.finish_reason}, content {(choice.message.content or '')[:200]!r})")
        _, streamed = chat_stream(oai, model, max_tokens, tool_choice=named, extra_body=NO_THINK)
        expect(bool(streamed) and all(c["name"] == "get_weather" for c in streamed),
               f"streamed named tool_choice returned {[c['name'] for c in streamed]}")

    def tool_result_list_content(_):
        oai.chat.completions.create(model=model, max_tokens=8, tools=TOOLS, messages=[
            {"role": "user", "content": "time?"},
            {"role": "assistant", "content": "", "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "get_time", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1",
             "content": [{"type": "text", "text": "12:00 UTC"}]}])

    def responses(_):
        tool = {"type": "function", "name": "get_weather", "parameters":
                WEATHER["function"]["parameters"]}
        resp = oai.responses.create(model=model, input="Weather in Paris?", tools=[tool],
                                    max_output_tokens=max_tokens)
        for item in resp.output:
            if item.type == "function_call":
                check_call(item.name, item.arguments, {"get_weather"})
        events = [e.type for e in oai.responses.create(
            model=model, input="Weather in Paris?", tools=[tool], max_output_tokens=max_tokens,
            stream=True)]
        expect("response.completed" in events, f"stream ended without completion: {events[-3:]}")

    def messages(_):
        tools = [{"name": "get_weather", "description": "Weather for a city",
                  "input_schema": WEATHER["function"]["parameters"]}]
        ask = [{"role": "user", "content": "Weather in Paris?"}]
        msg = ant.messages.create(model=model, max_tokens=max_tokens, tools=tools, messages=ask)
        for block in msg.content:
            if block.type == "tool_use":
                expect(block.name == "get_weather" and isinstance(block.input, dict),
                       f"bad tool_use block {block}")
        if msg.stop_reason == "tool_use":
            expect(any(b.type == "tool_use" for b in msg.content), "tool_use stop, no block")
        with ant.messages.stream(model=model, max_tokens=max_tokens, tools=tools,
                                 messages=ask) as stream:
            final = stream.get_final_message()
        expect(final.stop_reason is not None, "streamed message has no stop_reason")

    checks = [
        ("chat, tools, auto", lambda _: chat(oai, model, max_tokens)),
        ("chat, tools, auto, streamed", lambda _: chat_stream(oai, model, max_tokens)),
        ("chat, thinking off, streamed", lambda _: chat_stream(oai, model, max_tokens,
                                                               extra_body=NO_THINK)),
        ("chat, reasoning_effort none/high", lambda _: [
            chat(oai, model, max_tokens, reasoning_effort=e) for e in ("none", "high")]),
        ("chat, tool_choice none, streamed", lambda _: chat_stream(oai, model, max_tokens,
                                                                   tool_choice="none")),
        ("chat, tool_choice required -> a call", required_has_call),
        ("chat, tool_choice named -> that call", named_has_call),
        ("chat, tool result as list of text parts", tool_result_list_content),
        ("/v1/responses with a function tool", responses),
        ("/v1/messages (Anthropic SDK)", messages),
    ]
    failed = 0
    for name, fn in checks:
        try:
            fn(None)
            print(f"PASS  {name}")
        except Exception as exc:  # report every check, then fail the run
            failed += 1
            print(f"FAIL  {name}: {type(exc).__name__}: {exc}")
            traceback.print_exc(limit=3, file=sys.stderr)
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="GLM parser wiring check against a vLLM server.")
    ap.add_argument("--base-url", required=True, help="server root, e.g. http://localhost:8000")
    ap.add_argument("--model", help="served model name (default: the server's first model)")
    ap.add_argument("--api-key", default="EMPTY")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    base = args.base_url.rstrip("/").removesuffix("/v1")
    try:
        models = httpx.get(f"{base}/v1/models", timeout=10,
                           headers={"Authorization": f"Bearer {args.api_key}"})
        models.raise_for_status()
    except httpx.HTTPError as exc:
        print(f"cannot reach a vLLM server at {base} ({type(exc).__name__}: {exc}). Start "
              "`vllm serve ... --tool-call-parser glm47 --reasoning-parser glm45 "
              "--enable-auto-tool-choice` and pass its address with --base-url.",
              file=sys.stderr)
        return 2
    model = args.model or models.json()["data"][0]["id"]
    print(f"server {base}, model {model}")
    failed = run_checks(base, model, args.api_key, args.max_tokens, args.timeout)
    print(f"{failed} check(s) failed" if failed else "all checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
