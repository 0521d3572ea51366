#!/usr/bin/env python3
"""Checks --perplexity-out results of the trained model (models/tiny-kjv)
against bounds: the reference run's perplexity at most MAX, and each variant
within its relative bound of the reference (|ppl / ref - 1| <= BOUND) over the
same tokens.

    perplexity_bounds.py REF.json MAX [VARIANT.json BOUND]...

Prints one line per check; exits 1 at the first that fails.
"""
import json
import sys


def main():
    args = sys.argv[1:]
    if len(args) < 2 or len(args) % 2:
        raise SystemExit("usage: perplexity_bounds.py REF.json MAX [VARIANT.json BOUND]...")
    ref = json.load(open(args[0]))
    if ref["ppl"] > float(args[1]):
        print(f"FAIL {args[0]}: perplexity {ref['ppl']:.4f} > {args[1]}")
        sys.exit(1)
    print(f"ok reference: {ref['tokens']} tokens, perplexity <= {args[1]}")
    for path, bound in zip(args[2::2], args[3::2]):
        got = json.load(open(path))
        if got["tokens"] != ref["tokens"]:
            print(f"FAIL {path}: {got['tokens']} tokens scored, the reference {ref['tokens']}")
            sys.exit(1)
        rel = got["ppl"] / ref["ppl"] - 1
        name = path.rsplit("/", 1)[-1]
        if abs(rel) > float(bound):
            print(f"FAIL {name}: perplexity {got['ppl']:.4f} is {rel * 100:+.2f} % from the "
                  f"reference's {ref['ppl']:.4f}, beyond {float(bound) * 100:g} %")
            sys.exit(1)
        print(f"ok {name}: within {float(bound) * 100:g} % of the reference")


if __name__ == "__main__":
    main()
