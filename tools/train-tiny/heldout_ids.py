#!/usr/bin/env python3
"""The sequences the CI test compares moela's logits on: two stretches of the
held-out text, each BOS followed by 23 tokens.

    heldout_ids.py TOKENIZER_DIR HELDOUT.txt OUT.json
"""
import json
import os
import sys

from tokenizers import Tokenizer

SEQUENCES, TOKENS = 2, 24


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: heldout_ids.py TOKENIZER_DIR HELDOUT.txt OUT.json")
    tok = Tokenizer.from_file(os.path.join(sys.argv[1], "tokenizer.json"))
    with open(sys.argv[2], encoding="utf-8") as f:
        ids = tok.encode(f.read()).ids
    stride = len(ids) // SEQUENCES
    seqs = [[0] + ids[s * stride:s * stride + TOKENS - 1] for s in range(SEQUENCES)]
    with open(sys.argv[3], "w") as f:
        json.dump(seqs, f)
        f.write("\n")


if __name__ == "__main__":
    main()
