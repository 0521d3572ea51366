#!/usr/bin/env python3
"""Compares moela-run's outputs with the fp32 truth of a golden fixture.

usage: compare_logits.py GOLDEN.safetensors W.C LOGITS.safetensors [IDS.json]

Asserts, for case W.C (e.g. bf16w.single) of the fixture (README.md,
"Recommended checks"):
  - LOGITS.safetensors (moela-run --logits-out: F32 'logits' [B, 33, V]) has
    the truth's shape, max |logits - W.C.truth_fp32.logits| <= 1e-3, and the
    argmax of every step equals W.C.truth_fp32.tokens;
  - IDS.json, if given (moela-run --ids-out), equals W.C.truth_fp32.tokens.
Prints one summary line. Standard library only (struct + json).
"""
import json
import sys

from safetensors_read import read_tensor

TOLERANCE = 1e-3


def argmax(values):
    """Index of the largest value, the first one on ties (as the runtime)."""
    best = 0
    for i in range(1, len(values)):
        if values[i] > values[best]:
            best = i
    return best


def main():
    golden, case, logits_path = sys.argv[1:4]
    ids_path = sys.argv[4] if len(sys.argv) > 4 else None

    truth_shape, truth = read_tensor(golden, case + ".truth_fp32.logits")
    token_shape, tokens = read_tensor(golden, case + ".truth_fp32.tokens")
    shape, logits = read_tensor(logits_path, "logits")
    assert shape == truth_shape, "logits shape %s, truth %s" % (shape, truth_shape)

    batch, steps, vocab = shape
    worst = (0.0, None)
    for b in range(batch):
        for s in range(steps):
            row = logits[(b * steps + s) * vocab:(b * steps + s + 1) * vocab]
            ref = truth[(b * steps + s) * vocab:(b * steps + s + 1) * vocab]
            diff = max(abs(x - y) for x, y in zip(row, ref))
            if diff > worst[0]:
                worst = (diff, (b, s))
            token = tokens[b * token_shape[1] + s]
            assert argmax(row) == token, (
                "%s: sequence %d step %d: argmax %d, truth token %d"
                % (case, b, s, argmax(row), token))
    assert worst[0] <= TOLERANCE, (
        "%s: max |logits - truth| = %.3g at (sequence, step) %s > %g"
        % (case, worst[0], worst[1], TOLERANCE))

    if ids_path:
        with open(ids_path) as f:
            ids = json.load(f)
        expected = [list(tokens[b * token_shape[1]:(b + 1) * token_shape[1]])
                    for b in range(token_shape[0])]
        assert ids == expected, "%s: ids %s, truth %s" % (case, ids, expected)

    print("%s: %d x %d steps, max |logits - truth| = %.2e <= %g, argmax = truth tokens%s"
          % (case, batch, steps, worst[0], TOLERANCE,
             ", ids = truth tokens" if ids_path else ""))


if __name__ == "__main__":
    main()
