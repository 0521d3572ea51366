#!/usr/bin/env python3
"""YaRN edge cases as Hugging Face's DeepseekV3YarnRotaryEmbedding and DeepSeek's
reference compute them, written out from their formulas (docs/model.md §3.1)
in float64: the expected values of test/unit/YarnTest.cpp.

  python3 yarn_reference.py > edge-cases.json

Defaults of the reference: original_max_position_embeddings 4096, beta_fast 32,
beta_slow 1, mscale 1, mscale_all_dim 0. Rules: a zero-width correction range
is widened by 0.001; g(x) = 0.1 x ln(factor) + 1, or 1 when factor <= 1; cos
and sin are scaled by g(mscale) / g(mscale_all_dim); the softmax scale by
g(mscale_all_dim)^2 when mscale_all_dim is not 0.
"""
import json
import math

DEFAULTS = {"original_max_position_embeddings": 4096, "beta_fast": 32,
            "beta_slow": 1, "mscale": 1, "mscale_all_dim": 0}


def correction_dim(rotations, dim, base, original):
    return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(base))


def expected(case):
    dim, base = case["qk_rope_head_dim"], case["rope_theta"]
    rs = dict(DEFAULTS, **case["rope_scaling"])
    factor = rs["factor"]
    original = rs["original_max_position_embeddings"]
    low = max(math.floor(correction_dim(rs["beta_fast"], dim, base, original)), 0)
    high = min(math.ceil(correction_dim(rs["beta_slow"], dim, base, original)), dim - 1)
    if low == high:
        high += 0.001
    inv_freq = []
    for i in range(dim // 2):
        extra = 1.0 / base ** (2 * i / dim)  # kept as is
        inter = extra / factor               # interpolated
        ramp = min(max((i - low) / (high - low), 0.0), 1.0)
        inv_freq.append(inter * ramp + extra * (1 - ramp))

    def g(x):
        return 1.0 if factor <= 1 else 0.1 * x * math.log(factor) + 1.0

    scale = (case["qk_nope_head_dim"] + dim) ** -0.5
    if rs["mscale_all_dim"]:
        scale *= g(rs["mscale_all_dim"]) ** 2
    return {"low": low, "high": high, "inv_freq": inv_freq,
            "magnitude": g(rs["mscale"]) / g(rs["mscale_all_dim"]),
            "softmax_scale": scale}


V3 = {"factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32,
      "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}


def case(name, rope_scaling, max_positions=163840):
    return {"name": name, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
            "rope_theta": 10000, "max_position_embeddings": max_positions,
            "rope_scaling": rope_scaling}


CASES = [
    case("DeepSeekV3", V3),
    case("FactorOne", dict(V3, factor=1)),
    case("FactorBelowOne", dict(V3, factor=0.5)),
    # Published checkpoints ship equal betas.
    case("EqualBetas", dict(V3, beta_fast=1, beta_slow=1)),
    # Both correction dims in (-1, 0): low == high == 0, widened by 0.001.
    case("ZeroWidthRange", dict(V3, beta_fast=753, beta_slow=753)),
    case("SwappedBetas", dict(V3, beta_fast=1, beta_slow=32)),
    case("MscaleZero", dict(V3, mscale=0)),
    case("MscaleMissing", {k: v for k, v in V3.items() if k != "mscale"}),
    case("MscaleAllDimMissing", {k: v for k, v in V3.items() if k != "mscale_all_dim"}),
    case("BothMscalesMissing", {k: v for k, v in V3.items() if not k.startswith("mscale")}),
    case("OriginalMissing", {k: v for k, v in V3.items()
                             if k != "original_max_position_embeddings"}),
    case("OriginalEqualsMax", dict(V3, factor=4), max_positions=4096),
]

if __name__ == "__main__":
    for c in CASES:
        c["rope_scaling"]["type"] = "yarn"
        c.update(expected(c))
    print(json.dumps({"generator": "test/data/yarn/yarn_reference.py", "cases": CASES}, indent=1))
