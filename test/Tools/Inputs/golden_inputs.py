#!/usr/bin/env python3
"""Writes moela-run's inputs for one case of a golden fixture (test/data/v3_a).

usage: golden_inputs.py FIXTURE_DIR W.C PROMPT_IDS.json FORCED.json TOKENS.json

W.C is e.g. bf16w.single or fp8w.batch3 (see the fixture's README.md). Writes
  PROMPT_IDS.json  the prompts of case C, from prompts.json ([B][P] ids)
  FORCED.json      W.C.truth_fp32.tokens[:, :32]: the tokens fed one per
                   decode step (token 32 is generated, never fed)
  TOKENS.json      W.C.truth_fp32.tokens, all 33: the greedy path
Standard library only: the safetensors header is JSON, the data little-endian.
"""
import json
import os
import sys

from safetensors_read import read_tensor


def rows(shape, flat):
    """A [B, N] tensor as B lists."""
    b, n = shape
    return [flat[i * n:(i + 1) * n] for i in range(b)]


def main():
    fixture, case, prompt_out, forced_out, tokens_out = sys.argv[1:6]
    weights, name = case.split(".")
    with open(os.path.join(fixture, "prompts.json")) as f:
        prompts = json.load(f)[name]["prompt_token_ids"]
    golden = os.path.join(fixture, "golden.safetensors")
    # The fixture's own copy of the prompts must agree with prompts.json.
    assert rows(*read_tensor(golden, "prompts." + name)) == prompts
    tokens = rows(*read_tensor(golden, case + ".truth_fp32.tokens"))
    for path, value in ((prompt_out, prompts),
                        (forced_out, [t[:32] for t in tokens]),
                        (tokens_out, tokens)):
        with open(path, "w") as f:
            json.dump(value, f)
            f.write("\n")


if __name__ == "__main__":
    main()
