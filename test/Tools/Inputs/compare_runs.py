#!/usr/bin/env python3
"""Compares two moela-run outputs: a multi-rank run against the one-rank run.

usage: compare_runs.py NAME REF.safetensors GOT.safetensors [REF_IDS.json GOT_IDS.json]

Asserts that both --logits-out files have the same shape, that
max |got - ref| <= 1e-4 (docs/parallel.md: the ranks sum partial products in
another order than one rank does, nothing else differs), and, if given, that
the --ids-out files are identical. Prints one summary line.
"""
import json
import sys

from safetensors_read import read_tensor

TOLERANCE = 1e-4


def main():
    name, ref_path, got_path = sys.argv[1:4]
    ref_shape, ref = read_tensor(ref_path, "logits")
    shape, got = read_tensor(got_path, "logits")
    assert shape == ref_shape, "%s: logits shape %s, one rank %s" % (name, shape, ref_shape)
    worst, where = 0.0, 0
    for i, (x, y) in enumerate(zip(got, ref)):
        if abs(x - y) > worst:
            worst, where = abs(x - y), i
    assert worst <= TOLERANCE, "%s: max |logits - one rank| = %.3g at element %d > %g" % (
        name, worst, where, TOLERANCE)
    line = "%s: %s logits within %g of one rank" % (name, "x".join(map(str, shape)), TOLERANCE)
    if len(sys.argv) > 5:
        with open(sys.argv[4]) as f:
            ref_ids = json.load(f)
        with open(sys.argv[5]) as f:
            got_ids = json.load(f)
        assert got_ids == ref_ids, "%s: ids %s, one rank %s" % (name, got_ids, ref_ids)
        line += ", same ids"
    print(line)


if __name__ == "__main__":
    main()
