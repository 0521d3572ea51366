"""Prefix caching in moela-serve: a shared system prompt is prefilled once.

usage: prefix_checks.py PLAN   (moela-serve on PATH)

Six chat requests share a system prompt of a few hundred tokens. The first
runs alone; the other five then run together. With the prefix cache every
later request takes the shared prompt's whole pages from the cache:
/metrics counts exactly those tokens as saved, each usage reports them as
cached_tokens, and every answer equals, token for token, the answer of a
server started with --no-prefix-caching.
"""
import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server, check, equal  # noqa: E402

plan = sys.argv[1]
common = [plan, "--random-weights", "--weights-seed", "5", "--backend", "host",
          "--max-seq-len", "512"]
system = "You are a careful assistant. " + " ".join(
    f"Rule {i}: answer about topic {i * 13 % 97} briefly." for i in range(30))
questions = [f"Question {k}: what is {k} times {k + 3}?" for k in range(6)]


def messages(q):
    return [{"role": "system", "content": system}, {"role": "user", "content": q}]


def ask(srv, q):
    status, out = srv.post("/v1/chat/completions", {
        "messages": messages(q), "max_tokens": 8, "temperature": 0,
        "ignore_eos": True, "return_token_ids": True})
    equal(status, 200, f"status of {q!r}: {out}")
    return out["choices"][0]["token_ids"], out["usage"]


def run(extra):
    srv = Server([*common, *extra])
    first = ask(srv, questions[0])
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        rest = list(pool.map(lambda q: ask(srv, q), questions[1:]))
    saved = srv.metrics()["moela_prefix_cache_tokens_saved_total"]
    # The tokens every prompt shares: the system turn and what follows it.
    _, a = srv.post("/tokenize", {"messages": messages(questions[0])})
    _, b = srv.post("/tokenize", {"messages": messages(questions[1])})
    shared = 0
    while a["tokens"][shared] == b["tokens"][shared]:
        shared += 1
    srv.stop()
    return [first, *rest], saved, shared


cached, saved, shared = run([])
plain, plain_saved, _ = run(["--no-prefix-caching"])
pages = shared // 64
check(pages >= 3, f"the shared prompt spans {shared} tokens: at least 3 pages")
equal(saved, 5.0 * pages * 64, "tokens saved by the prefix cache")
equal(plain_saved, 0.0, "nothing saved without the cache")
for k in range(6):
    equal(cached[k][0], plain[k][0], f"answer {k} with and without the cache")
    want = 0 if k == 0 else pages * 64
    equal(cached[k][1]["prompt_tokens_details"]["cached_tokens"], want,
          f"usage.cached_tokens of request {k}")
print(f"prefix checks passed: {shared} shared tokens, {pages} pages reused by "
      f"5 requests ({int(saved)} tokens not prefilled)")
