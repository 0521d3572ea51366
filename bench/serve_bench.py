#!/usr/bin/env python3
"""Serving benchmark: moela-serve under concurrent streaming clients.

    python3 bench/serve_bench.py PLAN [--concurrency 1,4,16,32] [--requests N]
        [--prompt-tokens 64] [--output-tokens 32] [--json FILE] -- SERVER_ARGS

Starts moela-serve PLAN SERVER_ARGS on 127.0.0.1 (any free port), then for
each concurrency runs max(N, 2 x concurrency) greedy streamed completions
(ignore_eos, so every request makes exactly --output-tokens tokens) from that
many client threads, and prints a markdown table: request throughput, output
tokens/s, time to first token and inter-token latency p50/p99. moela-serve
must be on PATH (or give --server).
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "test", "Serve", "Inputs"))
from serve_harness import Server  # noqa: E402


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_request(srv, model, prompt, output_tokens):
    """(time to first token, [inter-token gaps]) of one streamed completion,
    read as server-sent events over plain http.client (no client library, so
    that a bare GPU machine can run it)."""
    body = json.dumps({"model": model, "prompt": prompt,
                       "max_tokens": output_tokens, "temperature": 0,
                       "stream": True, "ignore_eos": True,
                       "return_token_ids": True})
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", "/v1/completions", body=body,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        sys.exit(f"moela-serve answered {resp.status}: {resp.read()!r}")
    last, ttft, gaps = start, None, []
    for line in resp:
        if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
            continue
        event = json.loads(line[6:])
        n = len(event["choices"][0]["token_ids"]) if event["choices"] else 0
        if n == 0:
            continue
        now = time.perf_counter()
        if ttft is None:
            ttft, n = now - start, n - 1
        # A chunk of n tokens: n gaps sharing the time since the last one.
        gaps += [(now - last) / max(n, 1)] * n
        last = now
    conn.close()
    return ttft, gaps


def main():
    argv = sys.argv[1:]
    server_args = []
    if "--" in argv:
        server_args = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan")
    parser.add_argument("--concurrency", default="1,4,16,32")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--output-tokens", type=int, default=32)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--server", default="moela-serve")
    args = parser.parse_args(argv)

    if os.sep in args.server:  # the harness runs "moela-serve" from PATH
        os.environ["PATH"] = os.path.dirname(os.path.abspath(args.server)) + \
            os.pathsep + os.environ["PATH"]
    srv = Server([args.plan, *server_args, "-q"])
    model = json.loads(srv.get("/v1/models")[1])["data"][0]["id"]
    # Distinct prompts of about --prompt-tokens tokens each ("w17 " is ~2).
    def prompt(i):
        return " ".join(f"w{(i * 7919 + k) % 1000}"
                        for k in range(args.prompt_tokens // 2))
    rows = []
    for c in [int(x) for x in args.concurrency.split(",")]:
        count = max(args.requests, 2 * c)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=c) as pool:
            results = list(pool.map(
                lambda i: one_request(srv, model, prompt(i),
                                      args.output_tokens),
                range(count)))
        wall = time.perf_counter() - start
        ttfts = [r[0] for r in results]
        gaps = [g for r in results for g in r[1]]
        tokens = count * args.output_tokens
        rows.append({
            "concurrency": c, "requests": count, "seconds": wall,
            "requests_per_s": count / wall, "output_tokens_per_s": tokens / wall,
            "ttft_p50_ms": 1e3 * percentile(ttfts, 0.5),
            "ttft_p99_ms": 1e3 * percentile(ttfts, 0.99),
            "itl_p50_ms": 1e3 * percentile(gaps, 0.5),
            "itl_p99_ms": 1e3 * percentile(gaps, 0.99)})
    srv.stop()

    print(f"moela-serve {args.plan} {' '.join(server_args)}: prompts ~"
          f"{args.prompt_tokens} tokens, {args.output_tokens} output tokens "
          f"each (greedy, streamed)\n")
    print("| concurrency | requests | req/s | output tok/s | TTFT p50 | "
          "TTFT p99 | ITL p50 | ITL p99 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['concurrency']} | {r['requests']} | "
              f"{r['requests_per_s']:.2f} | {r['output_tokens_per_s']:.0f} | "
              f"{r['ttft_p50_ms']:.0f} ms | {r['ttft_p99_ms']:.0f} ms | "
              f"{r['itl_p50_ms']:.1f} ms | {r['itl_p99_ms']:.1f} ms |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"plan": args.plan, "server_args": server_args,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
