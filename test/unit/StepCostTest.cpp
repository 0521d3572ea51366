//===- StepCostTest.cpp - The cost model against hand-computed values -----===//
//
// Bytes and FLOPs of each step family of a compiled tiny FP8 plan against
// numbers worked out here from its config, and the floor of
// models/deepseek-v3-4l against an independent count of the model's
// weights, cache rows and FLOPs (docs/cost-model.md).
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include "moela/Runtime/CostReport.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/StepCost.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

using namespace moela;
using namespace moela::test;

namespace {

const std::string kModels = std::string(MOELA_SOURCE_DIR) + "/models";

GpuSpec h200() {
  GpuSpec gpu;
  EXPECT_EQ(loadGpuSpec("h200", gpu), "");
  return gpu;
}

std::string compileModel(const std::string &model) {
  CompileOptions options;
  options.input = kModels + "/" + model + "/config.json";
  options.target = "host";
  options.kvDtype = "bf16";
  options.maxBatch = 64;
  return compilePlan(options);
}

/// models/tiny-v3-fp8: D 192, Rq 160, R_l 96, Dr 16, Dn = Dv = 32, H 2,
/// E 8, K 2, Fm 96; FP8 weights with one scale per 128 x 128 block; the
/// host plan keeps its activations in F32.
class TinyCost : public testing::Test {
protected:
  static void SetUpTestSuite() {
    plan = new Plan(Plan::load(compileModel("tiny-v3-fp8")));
  }
  static void TearDownTestSuite() { delete plan; }

  /// Decode of 4 sequences at 100 cache rows each.
  StepCost cost(const std::string &name, int nth = 0) const {
    const plan::Program &decode = plan->program("decode");
    for (const plan::Step *step : *decode.steps())
      if (step->name()->str() == name && nth-- == 0)
        return stepCost(plan->root(), decode, *step, RunShape{4, 4, 4, 99},
                        h200(), true);
    ADD_FAILURE() << "no step " << name;
    return {};
  }
  static Plan *plan;
};
Plan *TinyCost::plan = nullptr;

TEST_F(TinyCost, Gemm) {
  const StepCost c = cost("layers.0.attn.q_proj");
  // W [160, 192] e4m3 + 2 x 2 f32 scales; a [4, 192] and c [4, 160] f32.
  EXPECT_EQ(c.weightBytes, 160 * 192 + 4 * 4);
  EXPECT_EQ(c.activationBytes, 4 * 192 * 4 + 4 * 160 * 4);
  // Rows padded to the 64-row tile; the floor needs 4.
  EXPECT_EQ(c.tensorFlops, 2.0 * 64 * 160 * 192);
  EXPECT_EQ(c.floorFlops, 2.0 * 4 * 160 * 192);
  EXPECT_EQ(c.engine, ComputeUnit::MmaSync);
  EXPECT_TRUE(c.floorFp8);
  EXPECT_FALSE(c.fp8);
  EXPECT_EQ(c.launches, 1);
  // Memory-bound: bytes / 4.3 TB/s plus a graph launch of 1 us.
  const double bytes = c.weightBytes + c.activationBytes;
  EXPECT_NEAR(c.micros,
              std::max(bytes / 4.3e12, 2.0 * 64 * 160 * 192 / 527e12) * 1e6 +
                  1.0,
              1e-9);
}

TEST_F(TinyCost, HeadGemmReadsItsRowsOfEachHead) {
  // kv_b [2 * 64, 96] e4m3 + 1 scale; the q absorption reads rows 0..31 of
  // each head's 64: half of it.
  const StepCost c = cost("layers.0.attn.core", 1);
  EXPECT_EQ(c.weightBytes, (128 * 96 + 4) / 2.0);
  EXPECT_EQ(c.activationBytes, 4 * 80 * 4 + 4 * 192 * 4);
  EXPECT_EQ(c.tensorFlops, 64 * 2.0 * 2 * 32 * 96);
  EXPECT_EQ(c.floorFlops, 4 * 2.0 * 2 * 32 * 96);
  EXPECT_EQ(c.floorWeights.size(), 1u);
}

TEST_F(TinyCost, LatentAttentionReadsTheCacheOncePerHeadGroup) {
  const StepCost c = cost("layers.0.attn.core", 2);
  // 4 tokens x 100 visible rows of [96 | 16] bf16; the 2 heads fill one
  // group of 16 (LatentAttention.cuh).
  EXPECT_EQ(c.kvBytes, 400 * 112 * 2);
  EXPECT_EQ(c.floorKvBytes, 400 * 112 * 2);
  EXPECT_EQ(c.tensorFlops, 400 * 16 * 2.0 * (2 * 96 + 16));
  EXPECT_EQ(c.floorFlops, 400 * 2 * 2.0 * (2 * 96 + 16));
  EXPECT_EQ(c.weightBytes, 0);
}

TEST_F(TinyCost, KvAppendWritesOneRowPerToken) {
  // The first step named after the attention core: the append.
  const StepCost c = cost("layers.0.attn.core", 0);
  EXPECT_EQ(c.kvBytes, 4 * 112 * 2);
  EXPECT_EQ(c.floorKvBytes, 0); // the floor reads each row once, in attention
  EXPECT_EQ(c.weightBytes, 96 * 2); // kv_a_layernorm, bf16
}

TEST_F(TinyCost, GroupedGemmTouchesTheExpectedExperts) {
  const StepCost c = cost("layers.1.moe.experts", 1);
  // 4 tokens x 2 of 8 experts: 8 (1 - (6/8)^4) = 5.46875 experts touched,
  // each gate;up [2 x 96, 192] e4m3 + 2 x (1 x 2) scales.
  const double touched = 8 * (1 - std::pow(0.75, 4));
  EXPECT_DOUBLE_EQ(touched, 5.46875);
  EXPECT_DOUBLE_EQ(c.weightBytes, touched * (2 * 96 * 192 + 2 * 2 * 4));
  EXPECT_EQ(c.activationBytes, (8 * 192 + 9 + 8 * 96) * 4);
  // Each touched expert runs a whole 64-row tile; the floor: 8 slots.
  EXPECT_DOUBLE_EQ(c.tensorFlops, 2 * touched * 64 * 192 * 192);
  EXPECT_DOUBLE_EQ(c.floorFlops, 2.0 * 8 * 192 * 192);
}

TEST_F(TinyCost, EmbeddingReadsTheTokensRows) {
  const StepCost c = cost("embed");
  EXPECT_EQ(c.weightBytes, 4 * 192 * 2); // bf16 table
  EXPECT_EQ(c.activationBytes, 4 * 4 + 4 * 192 * 4);
}

TEST_F(TinyCost, RouteWithTheFusedGate) {
  const StepCost c = cost("layers.1.moe.route");
  EXPECT_EQ(c.weightBytes, 8 * 192 * 2 + 8 * 4); // bf16 gate, f32 bias
  EXPECT_EQ(c.cudaFlops, 4 * 8 * 8 + 2.0 * 4 * 8 * 192);
  EXPECT_EQ(c.engine, ComputeUnit::CudaCore);
}

TEST_F(TinyCost, CombineInvertsThePermutationFirst) {
  const StepCost c = cost("layers.1.moe.combine");
  EXPECT_EQ(c.launches, 2);
  EXPECT_EQ(c.workspaceBytes, 2 * 4 * 2 * 4);
  // y [8, 192], w [4, 2], perm [8], shared [4, 192] in; out [4, 192].
  EXPECT_EQ(c.activationBytes, (8 * 192 + 4 * 2 + 8 + 4 * 192 + 4 * 192) * 4);
}

/// Step `name` (the nth of that name) of the prefill of a 16-token prompt.
StepCost prefillCost(const Plan &plan, const std::string &name, int nth = 0) {
  const plan::Program &prefill = plan.program("prefill");
  for (const plan::Step *step : *prefill.steps())
    if (step->name()->str() == name && nth-- == 0)
      return stepCost(plan.root(), prefill, *step, RunShape{16, 1, 1, 0},
                      h200(), false);
  ADD_FAILURE() << "no step " << name;
  return {};
}

TEST_F(TinyCost, PrefillFamilies) {
  // KvGather: the 16 rows of [96 | 16] bf16 the step just appended.
  EXPECT_EQ(prefillCost(*plan, "layers.0.attn.core.rows").kvBytes, 16 * 224);
  // Causal attention of 16 tokens in one 64 x 64 tile; the floor counts
  // the 16 * 17 / 2 pairs, 2 heads x (32 + 16 + 32) multiply-adds each.
  // (The first step of that name is the KvAppend.)
  const StepCost att = prefillCost(*plan, "layers.0.attn.core", 1);
  EXPECT_EQ(att.floorFlops, 16 * 17 / 2 * 2.0 * 2 * 80);
  EXPECT_EQ(att.tensorFlops, 64 * 64 * 2.0 * 2 * 80);
  // Dispatch: 2 launches; x [16, 192] in, idx [16, 2]; x_sorted [32, 192],
  // offsets [9], perm [32] out.
  const StepCost dispatch = prefillCost(*plan, "layers.1.moe.experts");
  EXPECT_EQ(dispatch.launches, 2);
  EXPECT_EQ(dispatch.activationBytes,
            (16 * 192 + 16 * 2 + 32 * 192 + 9 + 32) * 4);
  // The head reads one row of the last hidden states; Sample its logits.
  EXPECT_EQ(prefillCost(*plan, "head.rows").activationBytes,
            (192 + 1 + 192) * 4);
  EXPECT_EQ(prefillCost(*plan, "sample").cudaFlops, 10 * 1024);
  const StepCost norm = prefillCost(*plan, "layers.0.input_norm");
  EXPECT_EQ(norm.cudaFlops, 5 * 16 * 192);
  EXPECT_EQ(norm.weightBytes, 192 * 2);
  // Launched one by one: 3 us each.
  EXPECT_NEAR(norm.micros, norm.bytes() / 4.3e12 * 1e6 + 3.0, 1e-9);
}

/// The unfused forms: MoeExperts, MlaAttention and SiluMul.
TEST(StepCost, UnfusedFamilies) {
  CompileOptions options;
  options.input = kModels + "/tiny-v3-fp8/config.json";
  options.target = "host";
  options.kvDtype = "bf16";
  options.disable = {"moela-moe-dispatch", "moela-mla-absorb",
                     "moela-fuse-swiglu"};
  const Plan plan = Plan::load(compilePlan(options));
  const plan::Program &decode = plan.program("decode");
  const RunShape run{4, 4, 4, 99};
  auto cost = [&](plan::StepParams family) {
    for (const plan::Step *step : *decode.steps())
      if (step->params_type() == family)
        return stepCost(plan.root(), decode, *step, run, h200(), true);
    ADD_FAILURE() << "no " << stepFamilyName(family) << " step";
    return StepCost{};
  };
  // 4 tokens x 2 slots, each gate and up [96, 192] and down [192, 96].
  const StepCost experts = cost(plan::StepParams::MoeExpertsParams);
  EXPECT_EQ(experts.cudaFlops, 2.0 * 4 * 2 * (2 * 96 * 192 + 192 * 96));
  EXPECT_DOUBLE_EQ(experts.weightBytes,
                   8 * (1 - std::pow(0.75, 4)) * (3 * 96 * 192 + 3 * 2 * 4));
  // A block per (token, head) reads the token's 100 rows.
  const StepCost mla = cost(plan::StepParams::MlaAttentionParams);
  EXPECT_EQ(mla.kvBytes, 400 * 2 * 224);
  EXPECT_EQ(mla.floorKvBytes, 400 * 224);
  EXPECT_EQ(mla.cudaFlops, 2.0 * 400 * 2 * (96 * (32 + 32) + 32 + 16 + 32));
  EXPECT_EQ(cost(plan::StepParams::SiluMulParams).cudaFlops, 5 * 4 * 320);
}

TEST(StepCost, ExpertsTouched) {
  EXPECT_NEAR(expertsTouched(256, 8, 1), 8, 1e-9);
  EXPECT_NEAR(expertsTouched(256, 8, 64),
              256 * (1 - std::pow(1 - 8.0 / 256, 64)), 1e-9);
  EXPECT_NEAR(expertsTouched(256, 8, 64), 222.4, 0.1);
  EXPECT_EQ(expertsTouched(8, 2, 0), 0);
}

TEST(StepCost, ExpectedExpertTiles) {
  // A few rows: one tile whenever the expert has any.
  EXPECT_NEAR(expectedExpertTiles(8, 2, 4, 64), 1 - std::pow(0.75, 4), 1e-12);
  // 2048 tokens, top-8 of 256: 64 rows on average, but about half the
  // experts get more and run a second 64-row tile. The binomial summed
  // directly, term by term from P(0) = (31/32)^2048.
  double pmf = std::pow(31.0 / 32, 2048), tiles64 = 0, tiles128 = 0;
  for (int x = 0; x <= 2048; ++x) {
    tiles64 += pmf * std::ceil(x / 64.0);
    tiles128 += pmf * std::ceil(x / 128.0);
    pmf *= (2048.0 - x) / (x + 1) / 31;
  }
  EXPECT_NEAR(expectedExpertTiles(256, 8, 2048, 64), tiles64, 1e-9);
  EXPECT_NEAR(expectedExpertTiles(256, 8, 2048, 128), tiles128, 1e-9);
  EXPECT_GT(tiles64, 1.4);
  EXPECT_LT(tiles64 * 64, tiles128 * 128); // fewer padded rows
}

TEST(StepCost, GpuDescriptions) {
  GpuSpec gpu;
  EXPECT_EQ(loadGpuSpec("H100", gpu), "");
  EXPECT_EQ(gpu.memoryTBps, 3.0);
  EXPECT_EQ(gpu.wgmmaFp8Tflops, 1580);
  EXPECT_NE(loadGpuSpec("/nonexistent/gpu.json", gpu).find("neither"),
            std::string::npos);
}

/// models/deepseek-v3-4l counted from its config alone: 4 layers (1 dense),
/// FP8 linear weights with 128 x 128 block scales, bf16 embedding, head,
/// norms and router gate, a bf16 latent cache.
struct V3Floor {
  double D = 7168, V = 129280, Rq = 1536, Rl = 512, Dr = 64, Dn = 128, Dv = 128,
         H = 128, F = 18432, Fm = 2048, E = 256, K = 8;
  static double fp8(double rows, double cols) {
    return rows * cols + std::ceil(rows / 128) * std::ceil(cols / 128) * 4;
  }
  double attention() const {
    return fp8(Rq, D) + fp8(Rl + Dr, D) + fp8(H * (Dn + Dr), Rq) +
           fp8(H * (Dn + Dv), Rl) + fp8(D, H * Dv) +
           2 * (D + Rq + Rl + D); // norms
  }
  double expert(double rows) const { return 2 * fp8(rows, D) + fp8(D, rows); }
  /// Weight and cache bytes of decoding `batch` sequences at `context`.
  double decodeBytes(double batch, double context) const {
    const double touched = E * (1 - std::pow(1 - K / E, batch));
    const double moe = expert(Fm) * (1 + touched) + E * D * 2 + E * 4;
    return batch * D * 2 + 4 * attention() + expert(F) + 3 * moe + D * 2 +
           V * D * 2 + batch * context * 4 * (Rl + Dr) * 2;
  }
  /// FLOP-seconds of a fresh prompt of `n` tokens on `gpu` (one logit row).
  double prefillSeconds(double n, const GpuSpec &gpu) const {
    const double fp8Params = 4 * (Rq * D + (Rl + Dr) * D + H * (Dn + Dr) * Rq +
                                  H * (Dn + Dv) * Rl + D * H * Dv) +
                             3 * F * D + 3 * (1 + K) * 3 * Fm * D;
    const double bf16 = 3 * 2 * n * E * D + 2 * V * D;
    const double causal = 2 * n * (n + 1) / 2 * H * (Dn + Dr + Dv) * 4;
    return 2 * n * fp8Params / (gpu.wgmmaFp8Tflops * 1e12) +
           (bf16 + causal) / (gpu.wgmmaBf16Tflops * 1e12);
  }
};

class V3Cost : public testing::Test {
protected:
  static void SetUpTestSuite() {
    plan = new Plan(Plan::load(compileModel("deepseek-v3-4l")));
  }
  static void TearDownTestSuite() { delete plan; }
  static Plan *plan;
};
Plan *V3Cost::plan = nullptr;

TEST_F(V3Cost, DecodeFloor) {
  const GpuSpec gpu = h200();
  const V3Floor v3;
  for (int batch : {1, 8, 64}) {
    const RunCost c = decodeCost(plan->root(), gpu, batch, 4096);
    EXPECT_NEAR(c.floorMs, v3.decodeBytes(batch, 4096) / 4.3e12 * 1e3,
                1e-6 * c.floorMs)
        << "batch " << batch;
    EXPECT_GT(c.predictedMs, c.floorMs);
  }
  // The figures.
  EXPECT_NEAR(decodeCost(plan->root(), gpu, 1, 4096).floorMs, 0.98, 0.01);
  EXPECT_NEAR(decodeCost(plan->root(), gpu, 64, 4096).floorMs, 7.85, 0.01);
}

TEST_F(V3Cost, PrefillFloorIsItsFlops) {
  const GpuSpec gpu = h200();
  const RunCost c = prefillCost(plan->root(), gpu, 4096);
  EXPECT_NEAR(c.floorMs, V3Floor().prefillSeconds(4096, gpu) * 1e3,
              1e-6 * c.floorMs);
  EXPECT_NEAR(c.floorMs, 15.6, 0.1);
  // The 2048-token plan runs it as prefill + extend.
  EXPECT_EQ(c.runs, (std::vector<std::string>{"prefill", "extend"}));
}

TEST_F(V3Cost, ReportAndJson) {
  const std::vector<RunCost> costs = standardCosts(plan->root(), h200());
  ASSERT_EQ(costs.size(), 4u);
  std::ostringstream text, json;
  printCostReport(costs, h200(), text);
  writeCostJson(costs, h200(), json);
  EXPECT_NE(text.str().find("predicted ms"), std::string::npos);
  EXPECT_NE(json.str().find("\"floor_ms\""), std::string::npos);
  double shares = 0;
  for (const FamilyCost &f : costs[0].families)
    shares += f.micros / 1e3;
  EXPECT_NEAR(shares, costs[0].predictedMs, 1e-9);
}

} // namespace
