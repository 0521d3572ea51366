#!/usr/bin/env python3
"""Checks moela-run's --stop and --logprobs-out on one greedy run.

usage: stop_logprobs.py PLAN OUTDIR

1. A greedy run writes --logprobs-out with --logprobs 5: every line's token
   is the most likely one (its logprob equals the top-1 logprob, the
   maximum), the top list is sorted and 5 long, steps count 0, 1, 2, ...
2. From the token texts it picks a stop string that spans two tokens (last
   character of one, first of the next) and appears nowhere earlier, and
   checks that a run with --stop prints the text exactly up to it, streamed
   and as --output-format jsonl (finish_reason "stop").
"""
import json
import subprocess
import sys

plan, out = sys.argv[1:3]
base = ["moela-run", plan, "--random-weights", "--max-new-tokens", "24",
        "--ignore-eos", "--backend", "host"]


def run(*args, stdin=None):
    return subprocess.run(base + list(args), input=stdin, check=True,
                          capture_output=True, text=True).stdout


full = run("--prompt", "Hello, world", "--logprobs-out", out + "/lp.jsonl",
           "--logprobs", "5")
assert full.endswith("\n"), repr(full)
full = full[:-1]
lines = [json.loads(l) for l in open(out + "/lp.jsonl")]
assert len(lines) == 24, len(lines)
for step, l in enumerate(lines):
    assert l["seq"] == 0 and l["step"] == step, l
    top = l["top"]
    assert len(top) == 5, l
    assert top[0]["token"] == l["token"], l
    assert abs(l["logprob"] - max(t["logprob"] for t in top)) < 1e-9, l
    assert all(a["logprob"] >= b["logprob"] for a, b in zip(top, top[1:])), l
    assert l["logprob"] <= 0, l

# A boundary inside the part of the text the token texts reproduce.
# Special tokens (the tokenizer's "<｜...｜>") print as nothing.
texts = ["" if l["text"].startswith("<｜") and l["text"].endswith("｜>")
         else l["text"] for l in lines]
stop, done = None, ""
for k in range(len(texts) - 1):
    done += texts[k]
    if not full.startswith(done + texts[k + 1]):
        break
    c = len(done)
    candidate = full[c - 1:c + 1] if texts[k] and texts[k + 1] else ""
    if len(candidate) == 2 and full.find(candidate) == c - 1 and c > 1:
        stop = candidate
        break
assert stop, "no stop string spanning two tokens in %r / %r" % (full, texts)
want = full[:full.find(stop)]

got = run("--prompt", "Hello, world", "--stop", stop, "--stop", "never seen")
assert got == want + "\n", (got, want, stop)
rec = json.loads(run("--prompt", "Hello, world", "--stop", stop,
                     "--output-format", "jsonl"))
assert rec["completion"] == want and rec["finish_reason"] == "stop", rec
assert rec["completion_tokens"] < 24, rec
print("stop %r cut %d characters to %d: ok" % (stop, len(full), len(want)))
