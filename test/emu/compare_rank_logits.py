#!/usr/bin/env python3
"""Compares the logits of a multi-rank run with a reference run.

usage: compare_rank_logits.py [--report] NAME REFERENCE.safetensors RUN.safetensors

Both files are moela-run --logits-out ([B, N+1, vocab]). Per sequence and
step the relative L2 error of RUN against REFERENCE, and whether the argmax
agrees. The bounds are PlanGpuTest's for the CUDA backend against the host
(test/gpu/PlanGpuTest.cpp): median rel-L2 <= 0.02, at most a third of the
steps > 0.04 (an expert choice that bf16 activations flip), top-1 >= 0.85.
With --report the numbers are printed without the bounds. Standard library
only.
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "Tools", "Inputs"))
from safetensors_read import read_tensor  # noqa: E402


def steps(path):
    shape, flat = read_tensor(path, "logits")
    b, n, v = shape
    return shape, [flat[i * v:(i + 1) * v] for i in range(b * n)]


def argmax(row):
    return max(range(len(row)), key=row.__getitem__)


def main():
    args = sys.argv[1:]
    report = args[0] == "--report"
    name, ref_path, run_path = args[1:] if report else args
    ref_shape, ref = steps(ref_path)
    run_shape, run = steps(run_path)
    assert ref_shape == run_shape, "%s: shapes %s and %s" % (
        name, ref_shape, run_shape)
    errors, agree = [], 0
    for want, got in zip(ref, run):
        assert all(math.isfinite(x) for x in got), "%s: non-finite logits" % name
        num = sum((g - w) ** 2 for g, w in zip(got, want))
        den = sum(w * w for w in want)
        errors.append(math.sqrt(num / max(den, 1e-30)))
        agree += argmax(got) == argmax(want)
    ordered = sorted(errors)
    median = ordered[len(ordered) // 2]
    far = sum(e > 0.04 for e in errors)
    top1 = agree / len(errors)
    line = ("%s: %d x %d steps, rel-L2 median %.2e (<= 0.02), max %.2e, "
            "%d steps > 0.04 (<= 1/3), top-1 %.3f (>= 0.85)" % (
                name, ref_shape[0], ref_shape[1], median, ordered[-1], far,
                top1))
    if report:
        print(line.replace(" (<= 0.02)", "").replace(" (<= 1/3)", "")
              .replace(" (>= 0.85)", ""))
        return
    print(line)
    assert median <= 0.02 and far * 3 <= len(errors) and top1 >= 0.85, line


if __name__ == "__main__":
    main()
