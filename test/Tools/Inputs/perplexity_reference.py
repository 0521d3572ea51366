#!/usr/bin/env python3
"""Computes the perplexity of moela-run --perplexity independently and
compares it with its --perplexity-out.

usage: perplexity_reference.py CONFIG TEXT CTX STRIDE PPL.json OUT_DIR -- \
           MOELA-RUN-ARGS...

Tokenizes TEXT with moela-tokenize, cuts it into windows as Hugging Face's
"perplexity of fixed-length models" guide does (BOS, then CTX - 1 text
tokens; the next window STRIDE tokens later; each window scores only the
tokens no earlier one did; text token 0 is not scored), runs each group of
equally long windows through moela-run's teacher forcing (--prompt-ids
[[BOS]], --teacher-force the window's text, --logits-out: the decode path,
not the prefill chunks --perplexity runs), and computes the NLL of every
scored token from the logits [B, N + 1, V] (index i: after window position
i). Asserts the token and window counts are equal and the perplexities agree
within 1e-4 relative; prints one line. Standard library only.
"""
import json
import math
import os
import subprocess
import sys

from safetensors_read import read_tensor


def main():
    sep = sys.argv.index("--")
    config, text, ctx, stride, result, out = sys.argv[1:sep]
    run_args = sys.argv[sep + 1:]
    ctx, stride = int(ctx), int(stride)
    with open(config) as f:
        bos = json.load(f)["bos_token_id"]
    with open(text, "rb") as f:
        ids = json.loads(subprocess.check_output(["moela-tokenize"], stdin=f))
    n = len(ids)

    # (begin, end, first scored): text tokens [begin, end) after BOS.
    windows, scored_up_to, begin = [], 1, 0
    while scored_up_to < n:
        end = min(begin + ctx - 1, n)
        windows.append((begin, end, max(begin, scored_up_to)))
        scored_up_to = end
        begin += stride

    nll = []
    groups = {}
    for w in windows:
        groups.setdefault(w[1] - w[0], []).append(w)
    for length, group in sorted(groups.items()):
        prompt = os.path.join(out, "ref-%d.prompt.json" % length)
        forced = os.path.join(out, "ref-%d.forced.json" % length)
        logits_path = os.path.join(out, "ref-%d.safetensors" % length)
        with open(prompt, "w") as f:
            json.dump([[bos]] * len(group), f)
        with open(forced, "w") as f:
            json.dump([ids[b:e] for b, e, _ in group], f)
        subprocess.check_call(["moela-run"] + run_args + [
            "--prompt-ids", prompt, "--teacher-force", forced,
            "--logits-out", logits_path, "-q"])
        shape, logits = read_tensor(logits_path, "logits")
        batch, steps, vocab = shape
        assert batch == len(group) and steps == length + 1, shape
        for k, (b, e, first) in enumerate(group):
            for t in range(first, e):
                # Text token t is window position t - b + 1: predicted by the
                # logits after position t - b.
                at = (k * steps + t - b) * vocab
                row = logits[at:at + vocab]
                top = max(row)
                lse = top + math.log(math.fsum(math.exp(x - top) for x in row))
                nll.append(lse - row[ids[t]])

    with open(result) as f:
        got = json.load(f)
    ppl = math.exp(math.fsum(nll) / len(nll))
    assert got["tokens"] == len(nll) == n - 1, (got["tokens"], len(nll), n)
    assert got["windows"] == len(windows), (got["windows"], len(windows))
    assert got["ctx"] == ctx and got["stride"] == stride, got
    rel = abs(got["ppl"] - ppl) / ppl
    assert rel <= 1e-4, "ppl %r, reference %r: relative %g" % (
        got["ppl"], ppl, rel)
    print("reference: %d tokens, %d windows, ppl within 1e-4 (%s)" % (
        len(nll), len(windows), "batched" if any(
            len(g) > 1 for g in groups.values()) else "single"))


if __name__ == "__main__":
    main()
