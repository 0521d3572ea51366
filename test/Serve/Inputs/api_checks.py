"""moela-serve against the official openai client and raw HTTP.

usage: api_checks.py PLAN   (moela-serve and moela-run on PATH)

Greedy answers equal moela-run's for the same prompt; streams carry the same
text as whole answers; stop strings, logprobs, seeds, n, usage, every error
case and a client leaving mid-stream behave as the OpenAI API does; SIGTERM
drains a stream in flight and exits 0. Any mismatch exits non-zero.
"""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server, check, equal, offline_ids  # noqa: E402

import openai  # noqa: E402

plan = sys.argv[1]
weights = ["--random-weights", "--weights-seed", "1", "--backend", "host"]
srv = Server([plan, *weights, "--max-seq-len", "256",
              "--served-model-name", "tiny"])
client = openai.OpenAI(base_url=srv.base + "/v1", api_key="none",
                       max_retries=0)
greedy = {"temperature": 0}
ids_ext = {"return_token_ids": True, "ignore_eos": True}


def tokenize(**body):
    status, out = srv.post("/tokenize", body)
    equal(status, 200, "/tokenize status")
    return out["tokens"]


# /v1/models
equal([m.id for m in client.models.list().data], ["tiny"], "model ids")

# A greedy completion: moela-run's tokens, its text, its usage.
want = offline_ids(plan, ["Hello, world"], 12, weights)[0]
r = client.completions.create(model="tiny", prompt="Hello, world",
                              max_tokens=12, extra_body=ids_ext, **greedy)
choice = r.model_dump()["choices"][0]
equal(choice["token_ids"], want, "greedy completion = moela-run")
equal(choice["finish_reason"], "length", "finish_reason")
status, text = srv.post("/detokenize", {"tokens": want})
equal(choice["text"], text["prompt"], "text = the tokens' text")
prompt_ids = tokenize(prompt="Hello, world")
equal(r.usage.prompt_tokens, len(prompt_ids), "usage.prompt_tokens")
equal(r.usage.completion_tokens, 12, "usage.completion_tokens")
equal(r.usage.total_tokens, len(prompt_ids) + 12, "usage.total_tokens")
full_text = choice["text"]

# Token ids as the prompt give the same answer.
r2 = client.completions.create(model="tiny", prompt=prompt_ids, max_tokens=12,
                               extra_body=ids_ext, **greedy)
equal(r2.model_dump()["choices"][0]["token_ids"], want, "prompt as ids")

# The same, streamed: the chunks add up to it; usage comes last.
chunks = list(client.completions.create(
    model="tiny", prompt="Hello, world", max_tokens=12, stream=True,
    stream_options={"include_usage": True}, extra_body=ids_ext, **greedy))
equal("".join(c.choices[0].text for c in chunks if c.choices), full_text,
      "streamed text")
streamed_ids = [t for c in chunks if c.choices
                for t in c.model_dump()["choices"][0]["token_ids"]]
equal(streamed_ids, want, "streamed token ids")
equal(chunks[-1].choices, [], "usage chunk has no choices")
equal(chunks[-1].usage.completion_tokens, 12, "streamed usage")
equal([c.choices[0].finish_reason for c in chunks if c.choices][-1], "length",
      "streamed finish_reason")

# Chat: the template as moela-run --chat applies it.
want_chat = offline_ids(plan, ["Hi there"], 10, [*weights, "--chat"])[0]
messages = [{"role": "user", "content": "Hi there"}]
c = client.chat.completions.create(model="tiny", messages=messages,
                                   max_tokens=10, extra_body=ids_ext, **greedy)
cd = c.model_dump()["choices"][0]
equal(cd["token_ids"], want_chat, "greedy chat = moela-run --chat")
equal(cd["message"]["role"], "assistant", "chat role")
equal(c.usage.prompt_tokens, len(tokenize(messages=messages)),
      "chat prompt tokens")
chat_chunks = list(client.chat.completions.create(
    model="tiny", messages=messages, max_tokens=10, stream=True,
    extra_body=ids_ext, **greedy))
equal(chat_chunks[0].choices[0].delta.role, "assistant", "first delta role")
equal("".join(ch.choices[0].delta.content or "" for ch in chat_chunks),
      cd["message"]["content"], "streamed chat content")
# Content as text parts is the same message.
c_parts = client.chat.completions.create(
    model="tiny", max_tokens=10, extra_body=ids_ext, **greedy,
    messages=[{"role": "user", "content": [{"type": "text", "text": "Hi "},
                                           {"type": "text", "text": "there"}]}])
equal(c_parts.model_dump()["choices"][0]["token_ids"], want_chat,
      "content parts")

# Stop strings: never sent, matched across token boundaries, also streamed.
r = client.completions.create(model="tiny", prompt="Hello, world",
                              max_tokens=24, extra_body=ids_ext, **greedy)
long_text = r.choices[0].text
stop = long_text[7:11]
check(len(stop) == 4, f"a 4-character stop string from {long_text!r}")
expect = long_text[:long_text.index(stop)]
for stream in (False, True):
    out = client.completions.create(model="tiny", prompt="Hello, world",
                                    max_tokens=24, stop=[stop, "\u0000never"],
                                    stream=stream, **greedy)
    if stream:
        parts = list(out)
        got = "".join(p.choices[0].text for p in parts)
        reason = parts[-1].choices[0].finish_reason
    else:
        got, reason = out.choices[0].text, out.choices[0].finish_reason
    equal(got, expect, f"text before the stop string (stream={stream})")
    equal(reason, "stop", f"finish_reason at a stop string (stream={stream})")

# Logprobs: completions (top N as a dict) and chat (a list per token).
r = client.completions.create(model="tiny", prompt="Hello, world",
                              max_tokens=5, logprobs=3, **greedy)
lp = r.choices[0].logprobs
equal(len(lp.tokens), 5, "one logprob per token")
for i in range(5):
    top = lp.top_logprobs[i]
    check(1 <= len(top) <= 3, f"top_logprobs[{i}] has 1..3 entries: {top}")
    check(lp.token_logprobs[i] <= 0, "logprobs are <= 0")
    check(abs(max(top.values()) - lp.token_logprobs[i]) < 1e-6,
          "greedy picks the most likely token")
equal(lp.text_offset[0], 0, "text_offset starts at 0")
c = client.chat.completions.create(model="tiny", messages=messages,
                                   max_tokens=4, logprobs=True,
                                   top_logprobs=2, **greedy)
content = c.choices[0].logprobs.content
equal(len(content), 4, "chat logprobs per token")
for entry in content:
    equal(len(entry.top_logprobs), 2, "chat top_logprobs")
    check(abs(entry.top_logprobs[0].logprob - entry.logprob) < 1e-6,
          "chat greedy logprob is the top one")
    check(entry.bytes is not None, "chat logprob bytes")

# Seeds: the same seed, the same sample; n choices, indexed, counted.
a = client.completions.create(model="tiny", prompt="Once", max_tokens=8,
                              temperature=1.0, seed=7)
b = client.completions.create(model="tiny", prompt="Once", max_tokens=8,
                              temperature=1.0, seed=7)
equal(a.choices[0].text, b.choices[0].text, "seeded sampling repeats")
n = client.completions.create(model="tiny", prompt="Once", max_tokens=6,
                              temperature=1.0, seed=11, n=3)
equal([ch.index for ch in n.choices], [0, 1, 2], "n choices")
equal(n.usage.completion_tokens, 18, "usage over n choices")
check(len({ch.text for ch in n.choices}) > 1, "n choices differ")

# Bad requests: an error object naming the field; the server keeps serving.
def error_case(body, status, param, fragment, path="/v1/completions"):
    got_status, out = srv.post(path, body)
    equal(got_status, status, f"status of {body!r}")
    check(isinstance(out, dict) and "error" in out,
          f"an error object for {body!r}: {out!r}")
    err = out["error"]
    equal(err["param"], param, f"param of {body!r}")
    check(fragment in err["message"],
          f"message of {body!r} mentions {fragment!r}: {err['message']!r}")
    check(err["type"] in ("invalid_request_error", "not_found_error"),
          f"error type {err['type']}")


error_case("{bad json", 400, None, "not valid JSON")
# Tens of thousands of '[' crashed the server; now a 400, and it keeps serving.
deep = "[" * 100000 + "]" * 100000
error_case('{"prompt": ' + deep + '}', 400, None,
           "nest deeper than moela's limit of 256 levels")
error_case('{"messages": ' + deep + '}', 400, None,
           "nest deeper than moela's limit of 256 levels",
           path="/v1/chat/completions")
error_case('{"prompt": "x", "temperature": 1e400}', 400, None,
           "number overflow parsing '1e400'")
error_case("[1, 2]", 400, None, "must be a JSON object")
error_case({"prompt": "x", "max_tokens": "a"}, 400, "max_tokens",
           "must be an integer")
error_case({"prompt": "x", "temperature": 5}, 400, "temperature",
           "must be in [0, 2]")
error_case({"prompt": "x", "top_p": 0}, 400, "top_p", "must be in (0")
error_case({"prompt": list(range(5, 305))}, 400, "prompt",
           "maximum context length is 256")
error_case({"prompt": "x", "max_tokens": 1000}, 400, "max_tokens",
           "at most 254")
error_case({"prompt": "x", "model": "gpt-4"}, 404, "model", "does not exist")
error_case({"prompt": 5}, 400, "prompt", "must be a string")
error_case({"prompt": [1, -3]}, 400, "prompt", "prompt[1] = -3")
error_case({"prompt": "x", "stop": 3}, 400, "stop", "string or an array")
error_case({"prompt": "x", "n": 0}, 400, "n", "must be in [1, 16]")
error_case({"prompt": "x", "stream_options": {"include_usage": True}}, 400,
           "stream_options", "needs \"stream\": true")
error_case({"prompt": "x", "echo": True}, 400, "echo", "not supported")
error_case({"prompt": "x", "logprobs": 50}, 400, "logprobs", "[0, 20]")
error_case({}, 400, "prompt", "required")
error_case({"messages": []}, 400, "messages", "non-empty array",
           "/v1/chat/completions")
error_case({"messages": [{"role": "wizard", "content": "x"}]}, 400,
           "messages[0].role", "must be one of", "/v1/chat/completions")
error_case({"messages": [{"role": "user"}]}, 400, "messages[0].content",
           "required", "/v1/chat/completions")
error_case({"messages": [{"role": "user", "content": "x"}],
            "top_logprobs": 2}, 400, "top_logprobs", "needs \"logprobs\"",
           "/v1/chat/completions")
error_case({"tokens": [1, 10**9]}, 400, "tokens", "not a token id",
           "/detokenize")
status, out = srv.get("/v1/nothing")
equal(status, 404, "unknown route")
check("no route GET /v1/nothing" in out, f"unknown route message: {out}")
try:
    client.completions.create(model="other", prompt="x", max_tokens=2)
    check(False, "the openai client raises for an unknown model")
except openai.NotFoundError as e:
    equal(e.status_code, 404, "openai NotFoundError")
try:
    client.completions.create(model="tiny", prompt="x", max_tokens=-1)
    check(False, "the openai client raises for max_tokens -1")
except openai.BadRequestError as e:
    equal(e.body["param"], "max_tokens", "openai BadRequestError param")
# Unknown fields are ignored.
status, out = srv.post("/v1/completions", {"prompt": "x", "max_tokens": 2,
                                           "frobnicate": {"a": 1}})
equal(status, 200, "unknown fields are ignored")
equal(srv.get("/health")[0], 200, "healthy after the bad requests")

# Nothing a client sends ends the server: 300 mutated bodies (seeded), each
# answered with a JSON object (an answer or an error object) and a 200/4xx.
import random  # noqa: E402

rng = random.Random(1234)
values = [None, True, -1, 0, 1, 2**31, 2**64, -2**63, 1e308, -0.5, "", "x" * 300,
          "\u0000", "\ud800", [], [1, -1], [[]], {}, {"a": {"b": []}},
          [0] * 300, "<｜begin▁of▁sentence｜>"]
fields = ["prompt", "messages", "max_tokens", "temperature", "top_p", "top_k",
          "seed", "stop", "n", "logprobs", "top_logprobs", "stream",
          "stream_options", "ignore_eos", "model", "echo", "tools",
          "chat_template_kwargs", "return_token_ids", "max_completion_tokens"]
for trial in range(300):
    chat = trial % 2 == 1
    body = ({"messages": [{"role": "user", "content": "hi"}]} if chat
            else {"prompt": "hi"})
    body["max_tokens"] = 2
    for _ in range(rng.randint(1, 3)):
        body[rng.choice(fields)] = rng.choice(values)
    if chat and rng.random() < 0.3:
        body["messages"] = [{"role": rng.choice(["user", "tool", "x", 5]),
                             "content": rng.choice(values)}]
    text = json.dumps(body)
    if rng.random() < 0.2:  # and some broken JSON
        cut = rng.randint(0, len(text))
        text = text[:cut] + rng.choice(["", "}", "\\", "\u00ff"]) + text[cut:]
    path = "/v1/chat/completions" if chat else "/v1/completions"
    status, out = srv.request("POST", path, text,
                              {"Content-Type": "application/json"})
    check(status == 200 or 400 <= status < 500,
          f"status {status} for {text[:200]!r}: {out[:300]}")
    if status == 200 and body.get("stream") is True:
        check("data: [DONE]" in out, f"a stream ends with [DONE]: {text[:200]!r}")
    else:
        parsed = json.loads(out)
        check(("error" in parsed) == (status != 200),
              f"an error object exactly for the 4xx: {out[:300]}")
equal(srv.get("/health")[0], 200, "healthy after the mutated bodies")

# /tokenize and /detokenize round trip.
ids = tokenize(prompt="Hello there", add_special_tokens=False)
status, out = srv.post("/detokenize", {"tokens": ids})
equal(out["prompt"], "Hello there", "detokenize(tokenize(text))")

# A client leaving mid-stream: its request ends at once, its pages are free.
aborted_before = srv.metrics().get('moela_requests_total{finish_reason="abort"}', 0)
sock = socket.create_connection((srv.host, srv.port))
body = json.dumps({"prompt": "Hello", "max_tokens": 200, "ignore_eos": True,
                   "stream": True, **greedy})
sock.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
              f"Content-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
seen = b""
while seen.count(b"data:") < 3:
    seen += sock.recv(4096)
sock.close()
deadline = time.time() + 10
while True:
    m = srv.metrics()
    if (m["moela_running_sequences"] == 0 and m["moela_kv_pages_used"] == 0
            and m['moela_requests_total{finish_reason="abort"}'] ==
            aborted_before + 1):
        break
    check(time.time() < deadline,
          f"the abandoned stream was not freed within 10 s: {m}")
    time.sleep(0.05)
equal(m["moela_kv_pages_free"], m["moela_kv_pages_total"], "every page free")

# Metrics: histograms and counters add up.
m = srv.metrics()
check(m["moela_time_to_first_token_seconds_count"] > 10, "TTFT observed")
check(m["moela_inter_token_latency_seconds_count"] > 50, "ITL observed")
check(m['moela_http_errors_total{status="400"}'] >= 18, "400s counted")
check(m["moela_generation_tokens_total"] > 100, "tokens counted")

# SIGTERM drains: the stream in flight ends complete, with [DONE].
result = {}


def long_stream():
    parts = list(client.completions.create(
        model="tiny", prompt="Hello", max_tokens=120, stream=True,
        extra_body=ids_ext, **greedy))
    result["tokens"] = sum(len(p.model_dump()["choices"][0]["token_ids"])
                           for p in parts if p.choices)
    result["reason"] = parts[-1].choices[0].finish_reason


t = threading.Thread(target=long_stream)
t.start()
while srv.metrics()["moela_running_sequences"] == 0:
    time.sleep(0.01)
err = srv.stop()
t.join(timeout=60)
equal(result.get("tokens"), 120, "the drained stream's tokens")
equal(result.get("reason"), "length", "the drained stream's finish")
check("draining" in err, f"the drain is announced: {err!r}")
print("api checks passed")
