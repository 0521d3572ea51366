//===- HostAttentionTest.cpp - Host backend: KV cache and MLA attention ---===//
//
// One plan appends to the latent cache and then computes MLA attention three
// ways: absorbed, expanded, and HeadGemm + MlaLatentAttention + HeadGemm. All
// must agree with each other and with a direct double computation that keeps
// its own cache, over three runs: a prefill of two interleaved sequences, a
// decode step of both, and a chunk of one sequence at a non-zero start.
// A second plan computes the expanded prefill over a step's own tokens
// (KvGather, the kv_b GEMM, MlaPrefillAttention) for packed fresh sequences
// against the same reference, and refuses a chunk that continues a sequence.
//
//===----------------------------------------------------------------------===//
#include "HostTestHarness.h"

#include <gtest/gtest.h>

#include <map>

namespace moela::test {
namespace {

using plan::StepParams;

// 18 heads: more than one block of 16 heads in the latent kernels.
constexpr int kHeads = 18, kNope = 8, kRope = 6, kV = 5, kLatent = 12;
constexpr int kQHead = kNope + kRope, kKvHead = kNope + kV;
constexpr float kEps = 1e-6f;

/// Gives `h`'s plan an MLA KV cache (latent kLatent, rope kRope) for
/// `layers` layers.
void addKvCache(Harness &h, int layers) {
  h.plan.config.numHiddenLayers = layers;
  h.plan.config.kvLoraRank = kLatent;
  h.plan.config.qkRopeHeadDim = kRope;
  h.plan.hasKvCache = true;
  h.plan.kvLayers = layers;
  h.plan.kvLatent = kLatent;
  h.plan.kvRope = kRope;
}

/// The double-precision reference: its own cache per slot.
struct RefMla {
  RefMla() { rope.dim = rope.headDim = kRope; }

  RopeDesc rope;
  std::vector<float> normW, kvB; // [R_l], [H*(Dn+Dv), R_l]
  double scale = 0;
  std::map<std::pair<int, int>, std::vector<double>>
      cache; // (slot, pos) -> [c | k_pe]

  void append(const float *kv, int slot, int pos) {
    std::vector<double> lat(kv, kv + kLatent),
        pe(kv + kLatent, kv + kLatent + kRope);
    auto c = refRmsNorm(lat, normW, kEps);
    auto freq = refInvFreq(rope.theta, rope.dim, rope.yarn);
    refRope(pe.data(), kRope, pos, freq, 1.0);
    c.insert(c.end(), pe.begin(), pe.end());
    cache[{slot, pos}] = c;
  }

  /// o [H*Dv] for query q [H*(Dn+Dr)] at (slot, pos).
  std::vector<double> attend(const float *q, int slot, int pos) const {
    std::vector<double> o;
    for (int h = 0; h < kHeads; ++h) {
      std::vector<double> scores;
      for (int j = 0; j <= pos; ++j) {
        const auto &row = cache.at({slot, j});
        double s = 0;
        for (int i = 0; i < kNope; ++i) { // q_nope . (Wuk c_j)
          double k = 0;
          for (int r = 0; r < kLatent; ++r)
            k += kvB[size_t((h * kKvHead + i) * kLatent + r)] * row[size_t(r)];
          s += q[h * kQHead + i] * k;
        }
        for (int i = 0; i < kRope; ++i)
          s += q[h * kQHead + kNope + i] * row[size_t(kLatent + i)];
        scores.push_back(s * scale);
      }
      double max = *std::max_element(scores.begin(), scores.end()), sum = 0;
      for (double &s : scores)
        sum += (s = std::exp(s - max));
      for (int v = 0; v < kV; ++v) {
        double acc = 0;
        for (int j = 0; j <= pos; ++j) {
          double val = 0; // (Wuv c_j)[v]
          for (int r = 0; r < kLatent; ++r)
            val += kvB[size_t((h * kKvHead + kNope + v) * kLatent + r)] *
                   cache.at({slot, j})[size_t(r)];
          acc += scores[size_t(j)] / sum * val;
        }
        o.push_back(acc);
      }
    }
    return o;
  }
};

TEST(HostAttention, AbsorbedExpandedLatentAgree) {
  const int maxTokens = 8, slots = 2, maxSeqLen = 32;
  Harness h(maxTokens, /*tableRows=*/16);
  addKvCache(h, 2);

  RefMla ref;
  ref.rope.yarn.enabled = true;
  ref.rope.yarn.factor = 40;
  ref.rope.yarn.originalMaxPositionEmbeddings = 16;
  ref.rope.yarn.betaFast = 32;
  ref.rope.yarn.betaSlow = 1;
  ref.rope.yarn.mscale = ref.rope.yarn.mscaleAllDim = 1;
  ref.scale = 0.3;

  uint32_t q = h.input("q", kHeads * kQHead);
  uint32_t kv = h.input("kv", kLatent + kRope);
  uint32_t wNorm = h.plan.addWeight({{"kv_norm", {kLatent}}});
  ref.normW.resize(kLatent);
  for (int i = 0; i < kLatent; ++i)
    ref.normW[size_t(i)] = 0.8f + 0.03f * float(i);
  h.weights.set("kv_norm", {kLatent}, ref.normW);
  uint32_t wKvB = h.weight("kv_b", {kHeads * kKvHead, kLatent}, 0.3f);
  ref.kvB = h.weights.get("kv_b");

  const int layer = 1; // the second layer's cache, to check layer indexing
  RopeDesc rope = ref.rope;
  // Fused: KvAppend normalises and rotates (layer 1).
  h.step({"kv_append",
          StepParams::KvAppendParams,
          [rope](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateKvAppendParams(b, layer, kEps, rope.build(b),
                                              /*normalize=*/true)
                .Union();
          },
          {h.op(kv, 0, kLatent), h.op(kv, kLatent, kRope), h.op(kPositions),
           h.op(kSeqIds)},
          {},
          {wNorm}});
  // Unfused: RmsNorm and Rope steps, then a plain KvAppend (layer 0).
  uint32_t c = h.buffer("c", kLatent), kPe = h.buffer("k_pe", kRope);
  h.step({"kv_norm",
          StepParams::RmsNormParams,
          [](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateRmsNormParams(b, kEps).Union();
          },
          {h.op(kv, 0, kLatent)},
          {h.op(c)},
          {wNorm}});
  h.step({"k_rope",
          StepParams::RopeParams,
          [rope](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateRopeParams(b, rope.build(b)).Union();
          },
          {h.op(kv, kLatent, kRope), h.op(kPositions)},
          {h.op(kPe)},
          {}});
  h.step({"kv_append.unfused",
          StepParams::KvAppendParams,
          [](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateKvAppendParams(b, 0).Union();
          },
          {h.op(c), h.op(kPe), h.op(kPositions), h.op(kSeqIds)},
          {},
          {}});
  auto mla = [&](const std::string &name, int cacheLayer,
                 plan::AttentionForm form, uint32_t out) {
    h.step({name,
            StepParams::MlaAttentionParams,
            [=, scale = float(ref.scale)](flatbuffers::FlatBufferBuilder &b) {
              return plan::CreateMlaAttentionParams(b, cacheLayer, kHeads,
                                                    kNope, kRope, kV, kLatent,
                                                    scale, form)
                  .Union();
            },
            {h.op(q), h.op(kPositions), h.op(kSeqIds)},
            {h.op(out)},
            {wKvB}});
  };
  uint32_t oAbs = h.buffer("o_abs", kHeads * kV);
  uint32_t oExp = h.buffer("o_exp", kHeads * kV);
  mla("mla", layer, plan::AttentionForm::Absorbed, oAbs);
  mla("mla", layer, plan::AttentionForm::Expanded, oExp);
  uint32_t oUnfused = h.buffer("o_unfused", kHeads * kV);
  mla("mla.layer0", 0, plan::AttentionForm::Absorbed, oUnfused);

  // q_lat = Wuk_h^T q_nope_h; latent attention reading q_pe in place inside
  // q (stride Dn+Dr); o = Wuv_h o_lat_h.
  uint32_t qLat = h.buffer("q_lat", kHeads * kLatent);
  uint32_t oLat = h.buffer("o_lat", kHeads * kLatent);
  uint32_t oLatV = h.buffer("o_latent_path", kHeads * kV);
  h.step({"q_abs",
          StepParams::HeadGemmParams,
          [](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateHeadGemmParams(b, kHeads, kKvHead, 0, kNope,
                                              true, kQHead)
                .Union();
          },
          {h.op(q, 0, (kHeads - 1) * kQHead + kNope)},
          {h.op(qLat)},
          {wKvB}});
  h.step({"latent_attn",
          StepParams::MlaLatentAttentionParams,
          [scale = float(ref.scale)](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateMlaLatentAttentionParams(
                       b, layer, kHeads, kLatent, kRope, scale, 0, kQHead)
                .Union();
          },
          {h.op(qLat), h.op(q, kNope, (kHeads - 1) * kQHead + kRope),
           h.op(kPositions), h.op(kSeqIds)},
          {h.op(oLat)},
          {}});
  h.step({"o_v",
          StepParams::HeadGemmParams,
          [](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateHeadGemmParams(b, kHeads, kKvHead, kNope, kV,
                                              false)
                .Union();
          },
          {h.op(oLat)},
          {h.op(oLatV)},
          {wKvB}});
  h.prepare(slots, maxSeqLen, /*shuffled=*/true);

  struct Run {
    std::vector<int32_t> tokens, positions, seqIds;
  };
  const std::vector<Run> runs = {
      // Prefill: slot 0 positions 0..4 and slot 1 positions 0..2, interleaved.
      {{0, 1, 2, 3, 4, 5, 6, 7},
       {0, 1, 0, 2, 1, 3, 4, 2},
       {0, 0, 1, 0, 1, 0, 0, 1}},
      // Decode: one token of each slot.
      {{8, 9}, {5, 3}, {0, 1}},
      // A chunk of slot 1 at a non-zero start position.
      {{10, 11, 12}, {4, 5, 6}, {1, 1, 1}},
  };
  const auto &qTable = h.table("q"), &kvTable = h.table("kv");
  for (size_t n = 0; n < runs.size(); ++n) {
    const Run &run = runs[n];
    h.run(run.tokens, run.positions, run.seqIds);
    std::vector<double> expected;
    for (size_t t = 0; t < run.tokens.size(); ++t)
      ref.append(&kvTable[size_t(run.tokens[t]) * (kLatent + kRope)],
                 run.seqIds[t], run.positions[t]);
    for (size_t t = 0; t < run.tokens.size(); ++t) {
      auto o = ref.attend(&qTable[size_t(run.tokens[t]) * kHeads * kQHead],
                          run.seqIds[t], run.positions[t]);
      expected.insert(expected.end(), o.begin(), o.end());
    }
    const std::string which = "run " + std::to_string(n);
    auto absorbed = h.read("o_abs");
    expectClose(absorbed, expected, 1e-5, which + " absorbed vs double");
    expectClose(h.read("o_exp"), expected, 1e-5, which + " expanded vs double");
    expectClose(h.read("o_exp"), absorbed, 1e-5,
                which + " expanded vs absorbed");
    expectClose(h.read("o_unfused"), absorbed, 1e-6,
                which + " unfused KvAppend vs fused");
    expectClose(h.read("o_latent_path"), absorbed, 1e-5,
                which + " HeadGemm+MlaLatentAttention vs absorbed");
  }
}

/// The expanded prefill of moela-mla-expand-prefill, on the host.
TEST(HostAttention, PrefillOverOwnTokens) {
  const int maxTokens = 12, slots = 3, maxSeqLen = 16;
  Harness h(maxTokens, /*tableRows=*/16);
  addKvCache(h, 1);
  h.program.freshSequences = true;

  RefMla ref;
  ref.scale = 0.3;
  uint32_t q = h.input("q", kHeads * kQHead);
  uint32_t kv = h.input("kv", kLatent + kRope);
  uint32_t wNorm = h.plan.addWeight({{"kv_norm", {kLatent}}});
  ref.normW.assign(kLatent, 1.1f);
  h.weights.set("kv_norm", {kLatent}, ref.normW);
  uint32_t wKvB = h.weight("kv_b", {kHeads * kKvHead, kLatent}, 0.3f);
  ref.kvB = h.weights.get("kv_b");

  RopeDesc rope = ref.rope;
  h.step({"kv_append",
          StepParams::KvAppendParams,
          [rope](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateKvAppendParams(b, 0, kEps, rope.build(b),
                                              /*normalize=*/true)
                .Union();
          },
          {h.op(kv, 0, kLatent), h.op(kv, kLatent, kRope), h.op(kPositions),
           h.op(kSeqIds)},
          {},
          {wNorm}});
  uint32_t rows = h.buffer("rows", kLatent + kRope);
  h.step({"kv_gather",
          StepParams::KvGatherParams,
          [](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateKvGatherParams(b, 0).Union();
          },
          {h.op(kPositions), h.op(kSeqIds)},
          {h.op(rows)},
          {}});
  uint32_t kvx = h.buffer("kvx", kHeads * kKvHead);
  h.step({"kv_b",
          StepParams::GemmParams,
          [](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateGemmParams(b).Union();
          },
          {h.op(rows, 0, kLatent)},
          {h.op(kvx)},
          {wKvB}});
  uint32_t o = h.buffer("o", kHeads * kV);
  h.step({"attn",
          StepParams::MlaPrefillAttentionParams,
          [scale = float(ref.scale)](flatbuffers::FlatBufferBuilder &b) {
            return plan::CreateMlaPrefillAttentionParams(b, kHeads, kNope,
                                                         kRope, kV, scale)
                .Union();
          },
          {h.op(q), h.op(kvx), h.op(rows, kLatent, kRope), h.op(kPositions)},
          {h.op(o)},
          {}});
  h.prepare(slots, maxSeqLen, /*shuffled=*/true);

  // Three fresh sequences packed in order: 5, 1 and 6 tokens.
  const std::vector<int32_t> tokens = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
  const std::vector<int32_t> positions = {0, 1, 2, 3, 4, 0, 0, 1, 2, 3, 4, 5};
  const std::vector<int32_t> seqIds = {0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2};
  h.run(tokens, positions, seqIds);
  const auto &qTable = h.table("q"), &kvTable = h.table("kv");
  std::vector<double> expected;
  for (size_t t = 0; t < tokens.size(); ++t)
    ref.append(&kvTable[size_t(tokens[t]) * (kLatent + kRope)], seqIds[t],
               positions[t]);
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto ot = ref.attend(&qTable[size_t(tokens[t]) * kHeads * kQHead],
                         seqIds[t], positions[t]);
    expected.insert(expected.end(), ot.begin(), ot.end());
  }
  expectClose(h.read("o"), expected, 1e-5, "prefill attention vs double");

  // A chunk whose sequence started in an earlier step: a one-line error.
  try {
    h.run({7, 7}, {6, 7}, {2, 2});
    ADD_FAILURE() << "a continuing chunk ran";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find(
                  "token 0 is at position 6 but its sequence does not start "
                  "in this step"),
              std::string::npos)
        << e.what();
  }
}

} // namespace
} // namespace moela::test
