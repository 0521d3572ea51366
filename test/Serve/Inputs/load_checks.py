"""A bounded load test of moela-serve on the host backend (loopback only).

usage: load_checks.py PLAN   (moela-serve and moela-run on PATH)

32 streaming openai clients send 64 greedy requests of mixed prompt and
output lengths (prompts up to ~150 tokens, prefilled in chunks of 32 between
decode steps) while 8 more clients leave mid-stream. Every request completes;
every output equals moela-run's for the same prompt, token for token; the
page pool ends exactly as full as it began; /health answers within a second
throughout. Any failure exits non-zero.
"""
import concurrent.futures
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
weights = ["--random-weights", "--weights-seed", "3", "--backend", "host"]
srv = Server([plan, *weights, "--max-seq-len", "256", "--max-step-tokens",
              "32"])
before = srv.metrics()
check(before["moela_kv_pages_used"] == 0, "an empty pool at the start")

words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
prompts = [" ".join(words[i % 8:] + words[:i % 8]) * (1 + 3 * i) for i in
           range(8)]
lengths = [4, 9, 17, 33]
want = {L: offline_ids(plan, prompts, L, weights) for L in lengths}
jobs = [(p, L) for p in range(8) for L in lengths] * 2  # 64 requests

health_worst = [0.0]
stop_health = threading.Event()


def watch_health():
    while not stop_health.is_set():
        start = time.time()
        status, _ = srv.get("/health")
        health_worst[0] = max(health_worst[0], time.time() - start)
        check(status == 200, f"/health answered {status}")
        time.sleep(0.05)


def stream(job):
    p, L = job
    client = openai.OpenAI(base_url=srv.base + "/v1", api_key="none",
                           max_retries=0, timeout=120)
    ids = []
    reason = None
    for chunk in client.completions.create(
            model="tiny", prompt=prompts[p], max_tokens=L, temperature=0,
            stream=True,
            extra_body={"return_token_ids": True, "ignore_eos": True}):
        c = chunk.model_dump()["choices"][0]
        ids += c["token_ids"]
        reason = c["finish_reason"] or reason
    return job, ids, reason


def leave_midway(i):
    body = json.dumps({"prompt": prompts[i % 3], "max_tokens": 100,
                       "ignore_eos": True, "stream": True, "temperature": 0})
    sock = socket.create_connection((srv.host, srv.port), timeout=60)
    sock.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                  f"Content-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
    seen = b""
    while seen.count(b"data:") < 2:
        data = sock.recv(4096)
        check(data and not (seen + data).startswith(b"HTTP/1.1 4"),
              f"the leaving client's request failed: {(seen + data)[:300]!r}")
        seen += data
    sock.close()


watcher = threading.Thread(target=watch_health)
watcher.start()
started = time.time()
with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
    leavers = [pool.submit(leave_midway, i) for i in range(8)]
    results = list(pool.map(stream, jobs))
    for f in leavers:
        f.result()
elapsed = time.time() - started
stop_health.set()
watcher.join()

for (p, L), ids, reason in results:
    equal(ids, want[L][p], f"prompt {p}, {L} tokens: moela-serve = moela-run")
    equal(reason, "length", f"prompt {p}, {L} tokens: finish_reason")
check(health_worst[0] < 1.0,
      f"/health took {health_worst[0]:.3f} s at worst (limit 1 s)")

deadline = time.time() + 10
while True:
    m = srv.metrics()
    if m["moela_running_sequences"] == 0 and m["moela_kv_pages_used"] == 0:
        break
    check(time.time() < deadline, f"pages still held after the load: {m}")
    time.sleep(0.05)
equal(m["moela_kv_pages_free"], before["moela_kv_pages_free"],
      "the page pool is as full as before")
equal(m['moela_requests_total{finish_reason="length"}'], 64.0,
      "completed requests")
equal(m['moela_requests_total{finish_reason="abort"}'], 8.0,
      "requests of clients that left")
srv.stop()
print(f"load checks passed: 64 requests + 8 abandoned in {elapsed:.1f} s, "
      f"/health worst {health_worst[0] * 1000:.0f} ms")
