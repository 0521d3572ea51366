//===- WeightsTest.cpp - Weight sources ----------------------------------===//
//
// The v3_a checkpoints through WeightSource, exact FP8 dequantization with
// partial blocks, the checks of tensor specs, and random weights.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Weights.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Safetensors.h"

#include "SafetensorsTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

using namespace moela;
using namespace moela::test;

namespace {

//===----------------------------------------------------------------------===//
// Checkpoint weights: the v3_a fixture
//===----------------------------------------------------------------------===//

TensorSpec spec(const std::string &name, DType dtype,
                std::vector<int64_t> shape, bool scaled = false) {
  TensorSpec s;
  s.name = name;
  s.dtype = dtype;
  s.shape = shape;
  if (scaled) {
    s.scaleName = name + "_scale_inv";
    s.scaleShape = fp8ScaleShape(shape);
  }
  return s;
}

const char *kQb = "model.layers.1.self_attn.q_b_proj.weight"; // [384, 160]

// Tests BF16 and F32 tensors of the bf16 checkpoint, as float and raw.
TEST(CheckpointWeights, LoadsBf16Fixture) {
  auto source = openCheckpoint(kBf16Dir);
  EXPECT_EQ(source->describe(), "checkpoint " + kBf16Dir + " (207 tensors)");
  Checkpoint ckpt = Checkpoint::open(kBf16Dir);

  TensorSpec gate =
      spec("model.layers.0.mlp.gate_proj.weight", DType::BF16, {448, 192});
  std::vector<float> w = source->loadF32(gate);
  TensorView view = ckpt.tensor(gate.name);
  ASSERT_EQ(w.size(), 448u * 192);
  for (size_t i = 0; i < w.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, view.data + 2 * i, 2);
    ASSERT_EQ(w[i], bf16ToFloat(bits)) << i;
  }
  RawTensor raw = source->loadRaw(gate);
  ASSERT_EQ(raw.data.size(), view.bytes);
  EXPECT_EQ(std::memcmp(raw.data.data(), view.data, view.bytes), 0);
  EXPECT_TRUE(raw.scales.empty());
  EXPECT_EQ(toF32(raw), w);

  TensorSpec bias =
      spec("model.layers.1.mlp.gate.e_score_correction_bias", DType::F32, {16});
  std::vector<float> b = source->loadF32(bias);
  TensorView biasView = ckpt.tensor(bias.name);
  ASSERT_EQ(b.size(), 16u);
  EXPECT_EQ(std::memcmp(b.data(), biasView.data, 64), 0);
}

// Tests the FP8 checkpoint against the BF16 one it was quantized from:
// dequantized values within e4m3 precision, scales = amax/448, and every code
// equal to e4m3_rne(w_bf16 / scale_inv).
TEST(CheckpointWeights, Fp8FixtureMatchesBf16) {
  auto bf16 = openCheckpoint(kBf16Dir);
  auto fp8 = openCheckpoint(kFp8Dir);
  EXPECT_EQ(fp8->describe(), "checkpoint " + kFp8Dir + " (383 tensors)");
  for (const char *name : {kQb, "model.layers.0.mlp.down_proj.weight",
                           "model.layers.2.mlp.experts.5.up_proj.weight"}) {
    TensorView shapeOf = Checkpoint::open(kBf16Dir).tensor(name);
    const int64_t rows = shapeOf.shape[0], cols = shapeOf.shape[1];
    std::vector<float> w = bf16->loadF32(spec(name, DType::BF16, {rows, cols}));
    TensorSpec s = spec(name, DType::F8E4M3, {rows, cols}, true);
    std::vector<float> deq = fp8->loadF32(s);
    RawTensor raw = fp8->loadRaw(s);
    ASSERT_EQ(raw.scales.size(), size_t(s.scaleShape[0] * s.scaleShape[1]));
    EXPECT_EQ(toF32(raw), deq);

    const int64_t blockCols = s.scaleShape[1];
    std::vector<float> amax(raw.scales.size(), 0.0f);
    for (int64_t m = 0; m < rows; ++m)
      for (int64_t n = 0; n < cols; ++n) {
        float &a = amax[(m / 128) * blockCols + n / 128];
        a = std::max(a, std::fabs(w[m * cols + n]));
      }
    for (size_t b = 0; b < amax.size(); ++b)
      EXPECT_FLOAT_EQ(raw.scales[b], amax[b] / 448.0f)
          << name << " block " << b;

    int64_t codeMismatches = 0;
    for (int64_t m = 0; m < rows; ++m)
      for (int64_t n = 0; n < cols; ++n) {
        const int64_t i = m * cols + n;
        const float scale = raw.scales[(m / 128) * blockCols + n / 128];
        // Half an e4m3 ulp: 2^-4 relative for normals, 2^-10 * scale below.
        ASSERT_LE(std::fabs(deq[i] - w[i]),
                  std::fabs(w[i]) / 16 + scale / 1024 + 1e-12f)
            << name << " [" << m << ", " << n << "]";
        codeMismatches += raw.data[i] != floatToE4m3(w[i] / scale);
      }
    EXPECT_EQ(codeMismatches, 0) << name;
  }
}

/// --weight-dtype=fp8 on the BF16 checkpoint: quantizing every tensor the
/// FP8 checkpoint has as F8_E4M3 at load gives its codes and scales bit for
/// bit (DeepSeek's recipe: scale_inv = amax/448, e4m3fn round to nearest even).
TEST(CheckpointWeights, QuantizeAtLoadReproducesTheFp8Checkpoint) {
  auto bf16 = openCheckpoint(kBf16Dir);
  auto fp8 = openCheckpoint(kFp8Dir);
  Checkpoint fp8Files = Checkpoint::open(kFp8Dir);
  int quantized = 0;
  for (const std::string &name : fp8Files.names()) {
    TensorView t = fp8Files.tensor(name);
    if (t.dtype != DType::F8E4M3)
      continue;
    TensorSpec s = spec(name, DType::F8E4M3, t.shape, true);
    RawTensor want = fp8->loadRaw(s);
    s.quantizeAtLoad = true;
    RawTensor got = bf16->loadRaw(s);
    ASSERT_EQ(got.data, want.data) << name;
    ASSERT_EQ(got.scales, want.scales) << name;
    EXPECT_EQ(bf16->loadF32(s), toF32(want)) << name;
    ++quantized;
  }
  EXPECT_EQ(quantized, 176); // the fixture README's count
}

/// Only a 2-D FP8 spec over a BF16/F16/F32 tensor of its shape is quantized.
TEST(CheckpointWeights, QuantizeAtLoadErrors) {
  auto fp8 = openCheckpoint(kFp8Dir);
  auto bf16 = openCheckpoint(kBf16Dir);
  const std::string name = "model.layers.0.mlp.gate_proj.weight";
  TensorSpec s = spec(name, DType::F8E4M3, {448, 192}, true);
  s.quantizeAtLoad = true;
  EXPECT_EQ(errorOf([&] { fp8->loadRaw(s); }), // already FP8
            "tensor '" + name + "' in " + kFp8Dir +
                "/model.safetensors: expected BF16, F16 or F32 [448, 192] to "
                "quantize to FP8 at load, found F8_E4M3 [448, 192]");
  s.shape = {192, 448};
  s.scaleShape = fp8ScaleShape(s.shape);
  EXPECT_EQ(errorOf([&] { bf16->loadRaw(s); }),
            "tensor '" + name + "' in " + kBf16Dir +
                "/model.safetensors: expected BF16, F16 or F32 [192, 448] to "
                "quantize to FP8 at load, found BF16 [448, 192]");
}

//===----------------------------------------------------------------------===//
// Checkpoint weights: hand-built files and spec checks
//===----------------------------------------------------------------------===//

class CheckpointErrors : public TempDirTest {
protected:
  // A [130, 260] FP8 weight: partial blocks in both dims, scale [2, 3].
  static constexpr int64_t kRows = 130, kCols = 260;

  static std::vector<uint8_t> codes() {
    std::vector<uint8_t> q(kRows * kCols);
    for (int64_t i = 0; i < kRows * kCols; ++i) {
      uint8_t c = static_cast<uint8_t>((i * 37 + i / kCols) % 256);
      q[i] = (c & 0x7F) == 0x7F ? 0x11 : c; // no NaN codes
    }
    return q;
  }
  static std::vector<float> scales() {
    return {0.5f, 0.25f, 3.0f, 1.0f / 3.0f, 1e-3f, 7.5f}; // [2, 3]
  }

  /// tiny.safetensors: w (FP8) with scale `scaleDtype` `scaleShape`.
  std::string writeTiny(std::string scaleDtype = "F32",
                        std::vector<int64_t> scaleShape = {2, 3},
                        bool withScale = true) {
    std::vector<TestTensor> tensors = {
        {"w", "F8_E4M3", {kRows, kCols}, codes()}};
    if (withScale) {
      std::vector<uint8_t> s = bytesOf(scales());
      int64_t n = 1;
      for (int64_t d : scaleShape)
        n *= d;
      s.resize(n * (scaleDtype == "F32" ? 4 : 2));
      tensors.push_back({"w_scale_inv", scaleDtype, scaleShape, s});
    }
    tensors.push_back({"mask", "BOOL", {3}, {1, 0, 1}});
    tensors.push_back({"v", "BF16", {2, 3}, std::vector<uint8_t>(12)});
    std::string p = path("tiny.safetensors").string();
    writeSafetensors(p, tensors);
    return p;
  }
  static TensorSpec tinySpec() {
    return spec("w", DType::F8E4M3, {kRows, kCols}, true);
  }
  /// Layer 0's gate_proj in the bf16 fixture (BF16 [448, 192]), and how its
  /// errors begin.
  static inline const std::string kGate = "model.layers.0.mlp.gate_proj.weight";
  static inline const std::string kGateIn =
      "tensor '" + kGate + "' in " + kBf16Dir + "/model.safetensors: ";
  /// The error that loading `s` as F32 from the bf16 fixture throws.
  static std::string bf16LoadError(const TensorSpec &s) {
    auto source = openCheckpoint(kBf16Dir);
    return errorOf([&] { source->loadF32(s); });
  }
};

// Tests exact FP8 dequantization with partial blocks against the formula.
TEST_F(CheckpointErrors, Fp8ExactWithPartialBlocks) {
  auto source = openCheckpoint(writeTiny());
  std::vector<float> got = source->loadF32(tinySpec());
  std::vector<uint8_t> q = codes();
  std::vector<float> s = scales();
  ASSERT_EQ(got.size(), size_t(kRows * kCols));
  for (int64_t m = 0; m < kRows; ++m)
    for (int64_t n = 0; n < kCols; ++n) {
      const float want = static_cast<float>(refE4m3(q[m * kCols + n])) *
                         s[(m / 128) * 3 + n / 128];
      ASSERT_EQ(got[m * kCols + n], want) << "[" << m << ", " << n << "]";
    }
  RawTensor raw = source->loadRaw(tinySpec());
  EXPECT_EQ(raw.data, q);
  EXPECT_EQ(raw.scales, s);
  EXPECT_EQ(raw.spec.scaleShape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(toF32(raw), got);
  // Without a scale name the codes load unscaled.
  TensorSpec unscaled = spec("w", DType::F8E4M3, {kRows, kCols});
  EXPECT_EQ(source->loadF32(unscaled)[1], static_cast<float>(refE4m3(q[1])));
}

// Tests "tensor 'X' not found in checkpoint P".
TEST_F(CheckpointErrors, MissingTensor) {
  std::string msg = bf16LoadError(
      spec("model.layers.9.mlp.gate_proj.weight", DType::BF16, {448, 192}));
  EXPECT_EQ(msg, "tensor 'model.layers.9.mlp.gate_proj.weight' not found in "
                 "checkpoint " +
                     kBf16Dir);
}

// Tests a shape mismatch: names tensor, file, expected and found.
TEST_F(CheckpointErrors, WrongShape) {
  EXPECT_EQ(bf16LoadError(spec(kGate, DType::BF16, {448, 193})),
            kGateIn + "expected BF16 [448, 193], found BF16 [448, 192]");
  auto source = openCheckpoint(kBf16Dir);
  EXPECT_CONTAINS(errorOf([&] {
                    source->loadRaw(
                        spec("model.norm.weight", DType::BF16, {192, 1}));
                  }),
                  "expected BF16 [192, 1], found BF16 [192]");
}

// Tests a dtype mismatch, for F32 vs BF16 and for a dtype moela does not read.
TEST_F(CheckpointErrors, WrongDtype) {
  EXPECT_EQ(bf16LoadError(spec(kGate, DType::F32, {448, 192})),
            kGateIn + "expected F32 [448, 192], found BF16 [448, 192]");
  auto tiny = openCheckpoint(writeTiny());
  EXPECT_CONTAINS(
      errorOf([&] { tiny->loadF32(spec("mask", DType::F32, {3})); }),
      "tensor 'mask' in " + path("tiny.safetensors").string() +
          ": expected F32 [3], found BOOL [3]");
  // An FP8 spec for a BF16 tensor.
  EXPECT_CONTAINS(
      errorOf([&] { tiny->loadRaw(spec("v", DType::F8E4M3, {2, 3}, true)); }),
      "expected F8_E4M3 [2, 3], found BF16 [2, 3]");
}

// Tests an FP8 tensor whose _scale_inv sibling is missing.
TEST_F(CheckpointErrors, MissingScale) {
  auto source = openCheckpoint(writeTiny("F32", {2, 3}, false));
  std::string msg = errorOf([&] { source->loadF32(tinySpec()); });
  EXPECT_EQ(msg, "scale tensor 'w_scale_inv' of 'w' not found in checkpoint " +
                     path("tiny.safetensors").string());
  EXPECT_CONTAINS(errorOf([&] { source->loadRaw(tinySpec()); }),
                  "'w_scale_inv'");
}

// Tests a scale of the wrong shape and of the wrong dtype.
TEST_F(CheckpointErrors, IllShapedScale) {
  auto source = openCheckpoint(writeTiny("F32", {2, 2}));
  std::string msg = errorOf([&] { source->loadF32(tinySpec()); });
  EXPECT_CONTAINS(msg, "scale tensor 'w_scale_inv' in " +
                           path("tiny.safetensors").string());
  EXPECT_CONTAINS(msg, "expected F32 [2, 3], found F32 [2, 2]");
}

TEST_F(CheckpointErrors, ScaleWrongDtype) {
  auto source = openCheckpoint(writeTiny("BF16", {2, 3}));
  EXPECT_CONTAINS(errorOf([&] { source->loadRaw(tinySpec()); }),
                  "expected F32 [2, 3], found BF16 [2, 3]");
}

// Tests specs that cannot be right whatever the checkpoint holds.
TEST_F(CheckpointErrors, InconsistentSpec) {
  auto source = openCheckpoint(writeTiny());
  TensorSpec badScale = tinySpec();
  badScale.scaleShape = {1, 3};
  EXPECT_CONTAINS(errorOf([&] { source->loadF32(badScale); }),
                  "tensor 'w': spec scale shape [1, 3] is not the 128x128 "
                  "blocks of [130, 260] (expected [2, 3])");
  TensorSpec scaledBf16 = spec("v", DType::BF16, {2, 3}, true);
  EXPECT_CONTAINS(errorOf([&] { source->loadF32(scaledBf16); }),
                  "needs an F8_E4M3 matrix");
  EXPECT_CONTAINS(
      errorOf([&] { source->loadF32(spec("v", DType::BF16, {-2, 3})); }),
      "negative dimension");
  EXPECT_CONTAINS(
      errorOf([&] { source->loadF32(spec("v", DType::I32, {2, 3})); }), "I32");
}

// Tests loading through a sharded checkpoint's index.
TEST_F(CheckpointErrors, ShardedThroughIndex) {
  Checkpoint full = Checkpoint::open(kBf16Dir);
  const std::vector<std::string> names = {"model.norm.weight",
                                          "lm_head.weight"};
  nlohmann::json index;
  for (size_t i = 0; i < names.size(); ++i) {
    TensorView v = full.tensor(names[i]);
    const std::string shard = "s" + std::to_string(i) + ".safetensors";
    writeSafetensors(path(shard),
                     {{names[i], "BF16", v.shape,
                       std::vector<uint8_t>(v.data, v.data + v.bytes)}});
    index["weight_map"][names[i]] = shard;
  }
  std::ofstream(path("model.safetensors.index.json")) << index.dump();
  auto sharded = openCheckpoint(path("model.safetensors.index.json").string());
  auto single = openCheckpoint(kBf16Dir);
  EXPECT_CONTAINS(sharded->describe(), "(2 tensors)");
  TensorSpec head = spec("lm_head.weight", DType::BF16, {1280, 192});
  EXPECT_EQ(sharded->loadF32(head), single->loadF32(head));
  EXPECT_CONTAINS(errorOf([&] {
                    sharded->loadF32(spec("model.embed_tokens.weight",
                                          DType::BF16, {1280, 192}));
                  }),
                  "tensor 'model.embed_tokens.weight' not found in checkpoint");
}

//===----------------------------------------------------------------------===//
// Random weights
//===----------------------------------------------------------------------===//

std::vector<TensorSpec> modelSpecs() {
  return {
      spec("model.embed_tokens.weight", DType::BF16, {1280, 192}),
      spec("model.layers.0.input_layernorm.weight", DType::BF16, {192}),
      spec("model.layers.1.mlp.gate.e_score_correction_bias", DType::F32, {16}),
      spec("model.layers.1.mlp.gate.weight", DType::BF16, {16, 192}),
      spec(kQb, DType::F8E4M3, {384, 160}, true),
      spec("model.layers.1.mlp.experts.3.down_proj.weight", DType::F8E4M3,
           {192, 64}, true),
      spec("model.layers.1.self_attn.o_proj.weight", DType::F32, {192, 192}),
      spec("lm_head.weight", DType::BF16, {1280, 192}),
      spec("odd", DType::F16, {3, 5})};
}

// Tests that the same (seed, name) gives the same bytes whatever the order of
// loading, and that seeds and names change them.
TEST(RandomWeights, DeterministicPerSeedAndName) {
  auto a = makeRandomWeights(7), b = makeRandomWeights(7),
       c = makeRandomWeights(8);
  EXPECT_EQ(a->describe(), "random weights (seed 7)");
  std::vector<TensorSpec> specs = modelSpecs();
  std::vector<RawTensor> forward, backward(specs.size());
  for (const TensorSpec &s : specs)
    forward.push_back(a->loadRaw(s));
  for (size_t i = specs.size(); i-- > 0;)
    backward[i] = b->loadRaw(specs[i]);
  for (size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(forward[i].data, backward[i].data) << specs[i].name;
    EXPECT_EQ(forward[i].scales, backward[i].scales) << specs[i].name;
    EXPECT_EQ(forward[i].data.size(),
              specs[i].numel() * dtypeSize(specs[i].dtype));
    EXPECT_NE(forward[i].data, c->loadRaw(specs[i]).data) << specs[i].name;
    EXPECT_EQ(a->loadF32(specs[i]), b->loadF32(specs[i])) << specs[i].name;
  }
  // Same shape, different name: different values.
  TensorSpec other = specs[6];
  other.name = "model.layers.2.self_attn.o_proj.weight";
  EXPECT_NE(a->loadF32(other), a->loadF32(specs[6]));
}

// Tests that loadF32 is exactly the conversion of loadRaw, that BF16 values
// are the bf16 rounding of the F32 stream, and FP8 block scales are amax/448.
TEST(RandomWeights, DtypesAreConsistent) {
  auto source = makeRandomWeights(11);
  for (const TensorSpec &s : modelSpecs())
    EXPECT_EQ(toF32(source->loadRaw(s)), source->loadF32(s)) << s.name;

  TensorSpec f32 = spec("lm_head.weight", DType::F32, {1280, 192});
  TensorSpec bf16 = spec("lm_head.weight", DType::BF16, {1280, 192});
  std::vector<float> exact = source->loadF32(f32),
                     rounded = source->loadF32(bf16);
  for (size_t i = 0; i < exact.size(); ++i)
    ASSERT_EQ(rounded[i], bf16ToFloat(floatToBf16(exact[i])));

  // F16: within half an f16 ulp of the F32 stream (normal range here).
  std::vector<float> half =
      source->loadF32(spec("lm_head.weight", DType::F16, {1280, 192}));
  for (size_t i = 0; i < exact.size(); ++i) {
    const double x = exact[i];
    const double ulp = std::ldexp(1.0, std::max(-14, std::ilogb(x)) - 10);
    ASSERT_LE(std::fabs(half[i] - x), ulp / 2) << x;
  }

  // [200, 300]: partial blocks; scale [2, 3].
  TensorSpec fp8 = spec("model.layers.0.mlp.up_proj.weight", DType::F8E4M3,
                        {200, 300}, true);
  TensorSpec plain = fp8;
  plain.dtype = DType::F32;
  plain.scaleName.clear();
  plain.scaleShape.clear();
  std::vector<float> w = source->loadF32(plain);
  RawTensor raw = source->loadRaw(fp8);
  ASSERT_EQ(raw.scales.size(), 6u);
  std::vector<float> amax(6, 0.0f);
  std::vector<bool> hitsMax(6, false);
  for (int64_t m = 0; m < 200; ++m)
    for (int64_t n = 0; n < 300; ++n) {
      const int64_t b = (m / 128) * 3 + n / 128;
      amax[b] = std::max(amax[b], std::fabs(w[m * 300 + n]));
      hitsMax[b] = hitsMax[b] || (raw.data[m * 300 + n] & 0x7F) == 0x7E;
      ASSERT_EQ(raw.data[m * 300 + n],
                floatToE4m3(w[m * 300 + n] / raw.scales[b]));
    }
  for (int b = 0; b < 6; ++b) {
    EXPECT_EQ(raw.scales[b], amax[b] / 448.0f) << b;
    EXPECT_TRUE(hitsMax[b]) << b;
  }
}

struct Moments {
  double mean = 0, std = 0, min = 1e30, max = -1e30, withinOneStd = 0;
};

Moments momentsOf(const std::vector<float> &v) {
  Moments m;
  for (float x : v) {
    m.mean += x;
    m.min = std::min<double>(m.min, x);
    m.max = std::max<double>(m.max, x);
  }
  m.mean /= v.size();
  for (float x : v)
    m.std += (x - m.mean) * (x - m.mean);
  m.std = std::sqrt(m.std / v.size());
  for (float x : v)
    m.withinOneStd += std::fabs(x - m.mean) <= m.std;
  m.withinOneStd /= v.size();
  return m;
}

// Tests the per-role magnitudes of the goldens' generator.
TEST(RandomWeights, MagnitudesPerRole) {
  auto source = makeRandomWeights(1001);
  auto load = [&](const std::string &name, std::vector<int64_t> shape) {
    return momentsOf(source->loadF32(spec(name, DType::F32, shape)));
  };
  Moments embed = load("model.embed_tokens.weight", {1280, 192});
  EXPECT_NEAR(embed.mean, 0.0, 0.01);
  EXPECT_NEAR(embed.std, 1.0, 0.01);
  EXPECT_NEAR(embed.withinOneStd, 0.6827, 0.005); // a normal, not a uniform

  for (const char *norm :
       {"model.layers.0.input_layernorm.weight", "model.norm.weight",
        "model.layers.3.enorm.weight", "model.layers.3.hnorm.weight",
        "model.layers.3.shared_head.norm.weight",
        "model.layers.0.self_attn.kv_a_layernorm.weight"}) {
    Moments m = load(norm, {4096});
    EXPECT_GE(m.min, 0.75) << norm;
    EXPECT_LT(m.max, 1.25) << norm;
    EXPECT_NEAR(m.mean, 1.0, 0.01) << norm;
    EXPECT_NEAR(m.std, 0.5 / std::sqrt(12.0), 0.005) << norm;
  }
  Moments bias =
      load("model.layers.1.mlp.gate.e_score_correction_bias", {8192});
  EXPECT_NEAR(bias.std, 0.05, 0.002);
  Moments router = load("model.layers.1.mlp.gate.weight", {256, 192});
  EXPECT_NEAR(router.std, 1.5 / std::sqrt(192.0),
              0.02 * 1.5 / std::sqrt(192.0));
  for (const char *head :
       {"lm_head.weight", "model.layers.3.shared_head.head.weight"}) {
    Moments m = load(head, {1280, 192});
    EXPECT_NEAR(m.std, 3.0 / std::sqrt(192.0), 0.01 * 3.0 / std::sqrt(192.0))
        << head;
  }
  Moments linear = load("model.layers.0.mlp.down_proj.weight", {192, 448});
  EXPECT_NEAR(linear.std, 1.0 / std::sqrt(448.0), 0.01 / std::sqrt(448.0));
  Moments gateProj = load("model.layers.0.mlp.gate_proj.weight", {448, 192});
  EXPECT_NEAR(gateProj.std, 1.0 / std::sqrt(192.0), 0.01 / std::sqrt(192.0));
}

// Tests a large FP8 tensor (fast, linear time) and non-float specs.
TEST(RandomWeights, LargeTensorsAndBadSpecs) {
  auto source = makeRandomWeights(3);
  TensorSpec big = spec("model.layers.5.mlp.experts.0.gate_proj.weight",
                        DType::F8E4M3, {2048, 7168}, true);
  RawTensor raw = source->loadRaw(big);
  EXPECT_EQ(raw.data.size(), 2048u * 7168);
  EXPECT_EQ(raw.scales.size(), 16u * 56);
  EXPECT_CONTAINS(
      errorOf([&] { source->loadF32(spec("ids", DType::I64, {4})); }),
      "tensor 'ids'");
  EXPECT_CONTAINS(
      errorOf([&] { source->loadRaw(spec("v", DType::BF16, {4, 4}, true)); }),
      "needs an F8_E4M3 matrix");
}

} // namespace
