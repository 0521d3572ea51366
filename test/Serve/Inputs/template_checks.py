"""moela-serve's chat prompts against jinja2, the oracle of transformers.

usage: template_checks.py PLAN SOURCE_ROOT   (moela-serve on PATH)

For the R1 and V3.1 templates (--chat-template) and conversations with a
system prompt, earlier turns, reasoning and tool output, the ids moela-serve
builds from `messages` (and `chat_template_kwargs`, e.g. V3.1's thinking)
equal the ids of the text jinja2 renders the way transformers'
apply_chat_template does, and a chat completion's usage counts them.
"""
import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server, check, equal  # noqa: E402

plan, root = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location(
    "goldens", os.path.join(root, "test/reference/chat-template-goldens.py"))
goldens = importlib.util.module_from_spec(spec)
spec.loader.exec_module(goldens)
env, tokens = goldens.environment(), goldens.special_tokens()

conversations = [
    [{"role": "user", "content": "Hi there"}],
    [{"role": "system", "content": "Be brief."},
     {"role": "user", "content": "2 + 2?"},
     {"role": "assistant", "content": "4"},
     {"role": "user", "content": "And 3 + 3? \u00e9\u00e8 \u4f60\u597d"}],
    [{"role": "user", "content": "Weather?"},
     {"role": "assistant", "content": "",
      "tool_calls": [{"type": "function", "function": {
          "name": "weather", "arguments": "{\"city\": \"Paris\"}"}}]},
     {"role": "tool", "content": "sunny"}],
]
cases = {"deepseek-r1.jinja": [{}],
         "deepseek-v3.1.jinja": [{"thinking": True}, {"thinking": False}, {}]}
checked = 0
for name, variable_sets in cases.items():
    path = os.path.join(root, "models/templates", name)
    template = env.from_string(open(path, encoding="utf-8").read())
    srv = Server([plan, "--random-weights", "--backend", "host",
                  "--max-seq-len", "512", "--chat-template", path])
    for messages in conversations:
        for variables in variable_sets:
            text = goldens.render(template, messages, True, variables, tokens)
            _, want = srv.post("/tokenize", {"prompt": text,
                                             "add_special_tokens": False})
            status, got = srv.post("/tokenize", {
                "messages": messages, "chat_template_kwargs": variables})
            equal(status, 200, f"{name} {variables}: /tokenize {got}")
            equal(got["tokens"], want["tokens"],
                  f"{name} {variables} {messages[-1]['content']!r}: ids")
            status, out = srv.post("/v1/chat/completions", {
                "messages": messages, "chat_template_kwargs": variables,
                "max_tokens": 2, "temperature": 0})
            equal(status, 200, f"{name}: chat status {out}")
            equal(out["usage"]["prompt_tokens"], len(want["tokens"]),
                  f"{name} {variables}: prompt tokens of the chat")
            checked += 1
    srv.stop()
# The thinking switch reaches the template.
check(checked == 12, f"12 cases, checked {checked}")
print(f"template checks passed: {checked} conversations equal to jinja2")
