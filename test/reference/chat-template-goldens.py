#!/usr/bin/env python3
"""Renders the DeepSeek chat templates with jinja2, as transformers'
apply_chat_template does, for a fixed set of conversations: the goldens that
ChatTemplateTest compares moela's Jinja interpreter with.

    python3 test/reference/chat-template-goldens.py > test/data/chat-templates/goldens.json

transformers compiles a chat template in an ImmutableSandboxedEnvironment with
trim_blocks and lstrip_blocks and the loopcontrols extension, replaces the
tojson filter (json.dumps, ensure_ascii=False), adds raise_exception and
strftime_now, and renders it with messages, tools=None, documents=None,
add_generation_prompt, the special tokens' text and the caller's kwargs. The
same is done here without transformers (jinja2 alone: python3-jinja2).
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = {
    "deepseek-v3": "models/templates/deepseek-v3.jinja",
    "deepseek-r1": "models/templates/deepseek-r1.jinja",
    "deepseek-v3.1": "models/templates/deepseek-v3.1.jinja",
    # Not DeepSeek's: the constructs of other common templates (tools as
    # tojson, indent=4, items, reject, loop lookbehind, raise_exception).
    "tools-style": "test/data/chat-templates/tools-style.jinja",
    "llama-style": "test/data/chat-templates/llama-style.jinja",
}
TOKENIZER_CONFIG = "models/tokenizer/deepseek-v3/tokenizer_config.json"


def environment():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def special_tokens():
    """transformers' special_tokens_map: the text of each special token."""
    with open(os.path.join(ROOT, TOKENIZER_CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    tokens = {}
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = config.get(key)
        if isinstance(value, dict):
            value = value.get("content")
        if isinstance(value, str):
            tokens[key] = value
    return tokens


def tool_call(i, name, arguments):
    return {"id": f"call_{i}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}


CONVERSATIONS = {
    "empty": [],
    "user": [{"role": "user", "content": "Why is the sky blue?"}],
    "system-user": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?"}],
    "multi-turn": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "6"},
        {"role": "user", "content": "Thanks."}],
    "two-system-prompts": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Bye"}],
    "empty-content": [
        {"role": "system", "content": ""},
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": " "}],
    "unicode": [
        {"role": "system", "content": "Réponds en 日本語 🙂\n\tindented"},
        {"role": "user", "content": "naïve café — \"quotes\" and 'apostrophes' \\ backslash"},
        {"role": "assistant", "content": "שלום עולם 👋🏽 e\u0301 \u3000full-width space\u3000"},
        {"role": "user", "content": "{{ not a tag }} {% nor this %} {# nor #}"}],
    "reasoning-in-content": [
        {"role": "user", "content": "What is 7*6?"},
        {"role": "assistant", "content": "<think>\n7*6 = 42\n</think>\n\n42"},
        {"role": "user", "content": "And 6*7?"}],
    "reasoning-content-field": [
        {"role": "user", "content": "What is 7*6?"},
        {"role": "assistant", "content": "42", "reasoning_content": "7*6 = 42"},
        {"role": "user", "content": "Sure?"}],
    "tool-calls": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Paris and Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            tool_call(0, "get_weather", {"city": "Paris"}),
            tool_call(1, "get_weather", {"city": "東京", "unit": "c"})]},
        {"role": "tool", "tool_call_id": "call_0", "content": "{\"temp\": 18}"},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 24}"},
        {"role": "assistant", "content": "Paris 18°C, Tokyo 24°C."},
        {"role": "user", "content": "Thanks"}],
    "tool-call-pending": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            tool_call(0, "get_weather", {"city": "Paris"})]},
        {"role": "tool", "tool_call_id": "call_0", "content": "sunny"}],
    "prefix": [
        {"role": "user", "content": "Write a haiku."},
        {"role": "assistant", "content": "Autumn", "prefix": True}],
    # None where a string belongs: every template fails (TypeError).
    "user-content-none": [{"role": "user", "content": None}],
    "assistant-first": [
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."}],
}

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather — °C",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "default": 3, "minimum": 1.5}},
            "required": ["city"]}}},
    {"type": "function", "function": {"name": "now", "parameters": {}}},
]

# V3.1 reads `thinking` (or `enable_thinking`); the others ignore it.
VARIABLES = {
    "deepseek-v3": [{}],
    "deepseek-r1": [{}],
    "deepseek-v3.1": [{}, {"thinking": True}, {"thinking": False},
                      {"enable_thinking": True}],
    "tools-style": [{}, {"tools": TOOLS}],
    "llama-style": [{}, {"tools": TOOLS}, {"tools": TOOLS, "tools_in_user_message": False,
                                         "builtin_tools": ["code_interpreter", "wolfram"]}],
}


def render(template, messages, add_generation_prompt, variables, tokens):
    context = {"messages": messages, "tools": None, "documents": None,
               "add_generation_prompt": add_generation_prompt, **tokens, **variables}
    return template.render(**context)


def main():
    env = environment()
    tokens = special_tokens()
    cases = []
    for template_name, path in TEMPLATES.items():
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            template = env.from_string(f.read())
        for conversation, messages in CONVERSATIONS.items():
            for variables in VARIABLES[template_name]:
                for add_generation_prompt in (True, False):
                    case = {"template": template_name, "conversation": conversation,
                            "add_generation_prompt": add_generation_prompt,
                            "variables": variables, "messages": messages}
                    try:
                        case["output"] = render(template, messages,
                                                add_generation_prompt, variables, tokens)
                    except Exception as e:  # the template refuses: moela must too
                        case["error"] = f"{type(e).__name__}: {e}"
                    cases.append(case)
    json.dump({"generator": "test/reference/chat-template-goldens.py",
               "jinja2": jinja2.__version__,
               "templates": TEMPLATES,
               "special_tokens": tokens,
               "cases": cases},
              sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
