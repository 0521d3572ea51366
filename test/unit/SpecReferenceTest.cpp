//===- SpecReferenceTest.cpp - The oracle against DeepSeek's goldens ----===//
//
// Proves test/reference's SpecReference (an independent double-precision
// forward pass written from docs/model.md) against the v3_a goldens, which were
// produced by DeepSeek's own model.py in float32: every logit vector of
// prefill + 32 teacher-forced decode steps, the prefill intermediates, MoE
// routing, and free greedy generation. Then runs it on the generated
// tiny-v2-lite checkpoint (q_proj, softmax + greedy routing), which has no
// goldens: that is what the oracle is for.
//
//===----------------------------------------------------------------------===//
#include "SpecReference.h"
#include "CheckpointWriter.h"
#include "SpecConfig.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Safetensors.h"
#include "moela/Runtime/Weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace moela;
using namespace moela::spec;

namespace {

const fs::path kData = MOELA_TEST_DATA;
const fs::path kV3a = kData / "v3_a";

/// An F32 or I64 golden tensor, flattened row-major.
template <typename T> struct Golden {
  std::vector<int64_t> shape;
  std::vector<T> values;
};

template <typename T>
Golden<T> readGolden(const Checkpoint &file, const std::string &name) {
  TensorView view = file.tensor(name);
  DType want = std::is_same_v<T, float> ? DType::F32 : DType::I64;
  if (view.dtype != want)
    fail("golden ", name, " has dtype ", dtypeName(view.dtype));
  Golden<T> g;
  g.shape = view.shape;
  g.values.resize(view.numel());
  std::memcpy(g.values.data(), view.data, view.bytes); // data may be unaligned
  return g;
}

/// The weights of variant "bf16w" or "fp8w" and their config.
fs::path variantDir(const std::string &w) {
  return w == "bf16w" ? kV3a : kV3a / "model-fp8";
}

std::unique_ptr<SpecReference> loadModel(const fs::path &dir) {
  SpecConfig config = loadSpecConfig((dir / "config.json").string());
  std::unique_ptr<WeightSource> weights = openCheckpoint(dir.string());
  return std::make_unique<SpecReference>(config, *weights);
}

/// Prompts of case "single" or "batch3" as [B][P].
std::vector<std::vector<int64_t>> prompts(const Checkpoint &golden,
                                          const std::string &c) {
  Golden<int64_t> p = readGolden<int64_t>(golden, "prompts." + c);
  std::vector<std::vector<int64_t>> out(p.shape[0]);
  for (int64_t b = 0; b < p.shape[0]; ++b)
    out[b].assign(p.values.begin() + b * p.shape[1],
                  p.values.begin() + (b + 1) * p.shape[1]);
  return out;
}

const Checkpoint &golden() {
  static Checkpoint g =
      Checkpoint::open((kV3a / "golden.safetensors").string());
  return g;
}

//===----------------------------------------------------------------------===//
// SpecConfig and specTensors
//===----------------------------------------------------------------------===//

TEST(SpecConfigTest, ParsesEveryShippedConfig) {
  for (const auto &entry :
       fs::directory_iterator(fs::path(MOELA_SOURCE_DIR) / "models")) {
    fs::path file = entry.path() / "config.json";
    if (!fs::exists(file))
      continue;
    SCOPED_TRACE(file.string());
    SpecConfig c = loadSpecConfig(file.string());
    EXPECT_GT(c.vocabSize, 0);
    EXPECT_GT(specTensors(c).size(), 0u);
  }
}

TEST(SpecConfigTest, V3aFields) {
  SpecConfig c = loadSpecConfig((kV3a / "config.json").string());
  EXPECT_EQ(c.qLoraRank, 160);
  EXPECT_EQ(c.topkMethod, "noaux_tc");
  EXPECT_EQ(c.scoringFunc, "sigmoid");
  EXPECT_TRUE(c.yarn);
  EXPECT_FALSE(c.fp8);
  EXPECT_TRUE(loadSpecConfig((kV3a / "model-fp8/config.json").string()).fp8);

  SpecConfig lite = loadSpecConfig(
      (fs::path(MOELA_SOURCE_DIR) / "models/tiny-v2-lite/config.json")
          .string());
  EXPECT_EQ(lite.qLoraRank, 0); // null: q_proj
  EXPECT_EQ(lite.topkMethod, "greedy");
  EXPECT_FALSE(lite.hasRouterBias());
}

TEST(SpecConfigTest, RejectsBrokenConstraints) {
  nlohmann::json base;
  {
    std::ifstream in(kV3a / "config.json");
    in >> base;
  }
  EXPECT_NO_THROW(parseSpecConfig(base));
  auto expectError = [&](const char *field, nlohmann::json value,
                         const std::string &needle) {
    nlohmann::json j = base;
    j[field] = value;
    try {
      parseSpecConfig(j);
      ADD_FAILURE() << field << " = " << value.dump() << " was accepted";
    } catch (const Error &e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << e.what();
    }
  };
  expectError("n_group", 3, "E % n_group == 0");
  expectError("num_experts_per_tok", 17, "K <= n_routed_experts");
  expectError("topk_group", 5, "topk_group <= n_group");
  expectError("moe_layer_freq", 2, "moe_layer_freq");
  expectError("topk_method", "best", "topk_method");
  expectError("scoring_func", "relu", "scoring_func");
  expectError("hidden_size", nullptr, "hidden_size");
}

/// specTensors must name exactly the main-model tensors of the golden
/// checkpoints, with their dtypes and (scale) shapes: the dtype rule.
TEST(SpecConfigTest, SpecTensorsMatchGoldenCheckpoints) {
  for (std::string w : {"bf16w", "fp8w"}) {
    SCOPED_TRACE(w);
    SpecConfig c = loadSpecConfig((variantDir(w) / "config.json").string());
    Checkpoint ckpt = Checkpoint::open(variantDir(w).string());
    std::set<std::string> listed;
    size_t fp8 = 0;
    for (const TensorSpec &t : specTensors(c)) {
      SCOPED_TRACE(t.name);
      listed.insert(t.name);
      const SafetensorsEntry *e = ckpt.find(t.name);
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->dtype, t.dtype);
      EXPECT_EQ(e->shape, t.shape);
      if (!t.scaleName.empty()) {
        ++fp8;
        listed.insert(t.scaleName);
        const SafetensorsEntry *s = ckpt.find(t.scaleName);
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(s->dtype, DType::F32);
        EXPECT_EQ(s->shape, t.scaleShape);
      }
    }
    // Everything else is the MTP module, layer num_hidden_layers.
    const std::string mtp = "model.layers." + std::to_string(c.numLayers) + ".";
    for (const std::string &name : ckpt.names())
      if (!listed.count(name)) {
        EXPECT_EQ(name.rfind(mtp, 0), 0u) << name << " is not listed";
      }
    // 176 FP8 weights in the file, 56 of them in the MTP layer (5 attention,
    // 16x3 experts, 3 shared).
    EXPECT_EQ(fp8, w == "fp8w" ? 176u - 56u : 0u);
  }
}

//===----------------------------------------------------------------------===//
// RoPE / softmax scale constants from the fixture README
//===----------------------------------------------------------------------===//

TEST(SpecReferenceTest, RopeAndScaleConstants) {
  std::unique_ptr<SpecReference> model = loadModel(kV3a);
  // (64+32)^-0.5 * m^2 with m = 0.1 ln 40 + 1 = 1.36888795.
  EXPECT_NEAR(model->softmaxScale(), 0.191249444, 1e-9);
  EXPECT_DOUBLE_EQ(model->ropeMagnitude(), 1.0);
  // low = 0, high = 5: freq[0] keeps its value, freq[i >= 5] is divided by 40.
  const std::vector<double> &f = model->ropeInvFreq();
  ASSERT_EQ(f.size(), 16u);
  EXPECT_DOUBLE_EQ(f[0], 1.0);
  for (int i = 5; i < 16; ++i)
    EXPECT_NEAR(f[i], std::pow(10000.0, -2.0 * i / 32) / 40, 1e-15) << i;
  double ramp2 = 2.0 / 5; // (i - low) / (high - low)
  double base2 = std::pow(10000.0, -4.0 / 32);
  EXPECT_NEAR(f[2], base2 / 40 * ramp2 + base2 * (1 - ramp2), 1e-15);
}

//===----------------------------------------------------------------------===//
// The goldens: 4 cases, 33 logit vectors per sequence, teacher-forced
//===----------------------------------------------------------------------===//

struct GoldenCase {
  std::string weights; // bf16w | fp8w
  std::string batch;   // single | batch3
};

/// Keeps ctest's test names short: gtest appends the printed parameter.
void PrintTo(const GoldenCase &c, std::ostream *os) {
  *os << c.weights + "/" + c.batch;
}

class GoldenTest : public ::testing::TestWithParam<GoldenCase> {};

double maxAbsDiff(const std::vector<double> &ours, const float *truth) {
  double m = 0.0;
  for (size_t i = 0; i < ours.size(); ++i)
    m = std::max(m, std::abs(ours[i] - static_cast<double>(truth[i])));
  return m;
}

TEST_P(GoldenTest, TeacherForcedLogits) {
  const GoldenCase &gc = GetParam();
  const std::string prefix = gc.weights + "." + gc.batch + ".truth_fp32.";
  Golden<float> logits =
      readGolden<float>(golden(), prefix + "logits"); // [B, 33, V]
  Golden<int64_t> tokens =
      readGolden<int64_t>(golden(), prefix + "tokens"); // [B, 33]
  std::vector<std::vector<int64_t>> prompt =
      prompts(golden(), gc.batch); // [B][P]
  const int64_t B = logits.shape[0], steps = logits.shape[1],
                V = logits.shape[2];
  ASSERT_EQ(static_cast<int64_t>(prompt.size()), B);
  ASSERT_EQ(steps, 33);

  std::unique_ptr<SpecReference> model = loadModel(variantDir(gc.weights));
  ASSERT_EQ(model->config().vocabSize, V);
  auto truthAt = [&](int64_t b, int64_t k) {
    return &logits.values[(b * steps + k) * V];
  };

  double worst = 0.0;
  std::vector<std::vector<double>> step = model->prefill(prompt); // [B][V]
  for (int64_t k = 0; k < steps; ++k) {
    if (k > 0) {
      std::vector<int64_t> feed(B); // truth tokens[:, k-1] at position P+k-1
      for (int64_t b = 0; b < B; ++b)
        feed[b] = tokens.values[b * steps + k - 1];
      step = model->decode(feed);
    }
    for (int64_t b = 0; b < B; ++b) {
      ASSERT_EQ(static_cast<int64_t>(step[b].size()), V);
      double diff = maxAbsDiff(step[b], truthAt(b, k));
      worst = std::max(worst, diff);
      EXPECT_LE(diff, 1e-4) << "sequence " << b << " step " << k;
      EXPECT_EQ(SpecReference::argmax(step[b]), tokens.values[b * steps + k])
          << "sequence " << b << " step " << k;
    }
  }
  std::cout << "[ spec-ref ] " << gc.weights << "/" << gc.batch
            << ": max |logit - truth_fp32| over " << B << "x" << steps
            << " steps = " << worst << "\n";
  RecordProperty("max_abs_logit_diff", std::to_string(worst));
}

TEST_P(GoldenTest, GreedyGenerationReproducesTruthTokens) {
  const GoldenCase &gc = GetParam();
  Golden<int64_t> tokens = readGolden<int64_t>(
      golden(), gc.weights + "." + gc.batch + ".truth_fp32.tokens"); // [B, 33]
  std::unique_ptr<SpecReference> model = loadModel(variantDir(gc.weights));
  std::vector<std::vector<int64_t>> generated =
      model->generateGreedy(prompts(golden(), gc.batch), 33); // [B][33]
  ASSERT_EQ(static_cast<int64_t>(generated.size()), tokens.shape[0]);
  for (int64_t b = 0; b < tokens.shape[0]; ++b) {
    std::vector<int64_t> truth(tokens.values.begin() + b * 33,
                               tokens.values.begin() + (b + 1) * 33);
    EXPECT_EQ(generated[b], truth) << "sequence " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(V3a, GoldenTest,
                         ::testing::Values(GoldenCase{"bf16w", "single"},
                                           GoldenCase{"bf16w", "batch3"},
                                           GoldenCase{"fp8w", "single"},
                                           GoldenCase{"fp8w", "batch3"}),
                         [](const ::testing::TestParamInfo<GoldenCase> &info) {
                           return info.param.weights + "_" + info.param.batch;
                         });

//===----------------------------------------------------------------------===//
// Prefill intermediates of `single`
//===----------------------------------------------------------------------===//

/// Max |ours - truth| relative to max |truth| over a [1, T, D] tensor.
double relativeDiff(const std::vector<std::vector<double>> &ours, // [T][D]
                    const Golden<float> &truth) {
  const int64_t T = truth.shape[1], D = truth.shape[2];
  EXPECT_EQ(static_cast<int64_t>(ours.size()), T);
  double maxMag = 0.0, maxDiff = 0.0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) {
      double g = truth.values[t * D + d];
      maxMag = std::max(maxMag, std::abs(g));
      maxDiff = std::max(maxDiff, std::abs(ours[t][d] - g));
    }
  return maxDiff / maxMag;
}

class IntermediatesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(IntermediatesTest, PrefillMatchesTruth) {
  const std::string w = GetParam();
  const std::string prefix = w + ".single.truth_fp32.prefill.";
  std::unique_ptr<SpecReference> model = loadModel(variantDir(w));
  model->prefill(prompts(golden(), "single"));
  const SequenceTrace &tr = model->trace().at(0);
  const SpecConfig &c = model->config();

  double worst = 0.0;
  auto check = [&](const std::vector<std::vector<double>> &ours,
                   const std::string &name) {
    double rel = relativeDiff(ours, readGolden<float>(golden(), prefix + name));
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-4) << name;
  };
  check(tr.embed, "embed");
  for (int64_t i = 0; i < c.numLayers; ++i) {
    const std::string l = "layer" + std::to_string(i) + ".";
    const LayerTrace &lt = tr.layers[i];
    check(lt.attnOut, l + "attn_out");
    check(lt.ffnOut, l + "ffn_out");
    check(lt.out, l + "out");
    if (!c.isMoeLayer(i)) {
      EXPECT_TRUE(lt.topkIdx.empty());
      continue;
    }
    Golden<int64_t> idx =
        readGolden<int64_t>(golden(), prefix + l + "moe_topk_idx"); // [T, K]
    Golden<float> wt =
        readGolden<float>(golden(), prefix + l + "moe_topk_weight"); // [T, K]
    const int64_t T = idx.shape[0], K = idx.shape[1];
    ASSERT_EQ(static_cast<int64_t>(lt.topkIdx.size()), T);
    for (int64_t t = 0; t < T; ++t) {
      // Compare as sets: expert id -> weight.
      std::map<int64_t, double> truth, ours;
      for (int64_t k = 0; k < K; ++k) {
        truth[idx.values[t * K + k]] = wt.values[t * K + k];
        ours[lt.topkIdx[t][k]] = lt.topkWeight[t][k];
      }
      ASSERT_EQ(ours.size(), truth.size()) << l << " token " << t;
      for (auto [e, weight] : truth) {
        ASSERT_TRUE(ours.count(e)) << l << " token " << t << " expert " << e;
        EXPECT_NEAR(ours[e], weight, 1e-4)
            << l << " token " << t << " expert " << e;
      }
    }
  }
  check(tr.finalNorm, "final_norm");
  std::cout << "[ spec-ref ] " << w
            << "/single prefill: max relative intermediate diff = " << worst
            << "\n";
}

INSTANTIATE_TEST_SUITE_P(V3a, IntermediatesTest,
                         ::testing::Values("bf16w", "fp8w"));

//===----------------------------------------------------------------------===//
// tiny-v2-lite: generated checkpoint, no goldens (q_proj, softmax + greedy)
//===----------------------------------------------------------------------===//

double maxAbsDiffVec(const std::vector<double> &x,
                     const std::vector<double> &y) {
  EXPECT_EQ(x.size(), y.size());
  double m = 0.0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i)
    m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

double stddev(const std::vector<double> &v) {
  double mean = 0.0, sq = 0.0;
  for (double x : v)
    mean += x;
  mean /= v.size();
  for (double x : v)
    sq += (x - mean) * (x - mean);
  return std::sqrt(sq / v.size());
}

TEST(SpecReferenceTest, TinyV2LiteRunsEndToEnd) {
  const fs::path dir = kData / "tiny-v2-lite";
  std::unique_ptr<SpecReference> model = loadModel(dir);
  const SpecConfig &c = model->config();
  ASSERT_EQ(c.qLoraRank, 0);
  ASSERT_EQ(c.scoringFunc, "softmax");
  ASSERT_EQ(c.topkMethod, "greedy");

  std::vector<int64_t> prompt = {0,    17, 923, 5,   311, 64,
                                 1000, 2,  88,  512, 7,   230}; // [12]
  std::vector<std::vector<double>> step = model->prefill({prompt});

  // Routing over the prompt: softmax + greedy must spread over the experts,
  // and without norm_topk_prob the weights are raw softmax probabilities.
  for (int64_t i = c.firstKDenseReplace; i < c.numLayers; ++i) {
    const LayerTrace &lt = model->trace()[0].layers[i];
    ASSERT_EQ(lt.topkIdx.size(), prompt.size());
    std::set<int64_t> used;
    for (size_t t = 0; t < prompt.size(); ++t) {
      std::set<int64_t> distinct(lt.topkIdx[t].begin(), lt.topkIdx[t].end());
      EXPECT_EQ(static_cast<int64_t>(distinct.size()), c.topK);
      used.insert(distinct.begin(), distinct.end());
      double sum = 0.0;
      for (int64_t k = 0; k < c.topK; ++k) {
        EXPECT_GT(lt.topkWeight[t][k], 0.0);
        if (k > 0) { // descending order of score
          EXPECT_LE(lt.topkWeight[t][k], lt.topkWeight[t][k - 1]);
        }
        sum += lt.topkWeight[t][k];
      }
      EXPECT_LT(sum, 1.0);
    }
    EXPECT_GE(static_cast<int64_t>(used.size()), c.nRoutedExperts / 2)
        << "layer " << i << " uses only " << used.size() << " experts";
    std::cout << "[ spec-ref ] tiny-v2-lite layer " << i << ": " << used.size()
              << "/" << c.nRoutedExperts << " experts used over the prompt\n";
  }

  std::vector<int64_t> generated;
  for (int n = 0; n <= 8; ++n) {
    ASSERT_EQ(static_cast<int64_t>(step[0].size()), c.vocabSize);
    for (double x : step[0])
      ASSERT_TRUE(std::isfinite(x));
    EXPECT_GT(stddev(step[0]), 0.1) << "step " << n;
    generated.push_back(SpecReference::argmax(step[0]));
    if (n < 8)
      step = model->decode({generated.back()});
  }
  std::cout << "[ spec-ref ] tiny-v2-lite last logits std " << stddev(step[0])
            << "\n";
  EXPECT_EQ(model->length(0), 12 + 8);
  std::set<int64_t> distinct(generated.begin(), generated.end());
  EXPECT_GT(distinct.size(), 1u) << "greedy path is one repeated token";
}

TEST(SpecReferenceTest, TinyV2LiteConstants) {
  std::unique_ptr<SpecReference> model = loadModel(kData / "tiny-v2-lite");
  // (32+16)^-0.5 * m^2 with m = 0.1 * 0.707 * ln 8 + 1.
  EXPECT_NEAR(model->softmaxScale(), 0.18989727156301534, 1e-12);
  EXPECT_DOUBLE_EQ(model->ropeMagnitude(), 1.0); // mscale == mscale_all_dim
  // Dr 16, original 128: low = 0, high = ceil(2.618) = 3.
  const std::vector<double> &f = model->ropeInvFreq();
  ASSERT_EQ(f.size(), 8u);
  EXPECT_DOUBLE_EQ(f[0], 1.0);
  for (int i = 3; i < 8; ++i)
    EXPECT_NEAR(f[i], std::pow(10000.0, -2.0 * i / 16) / 8, 1e-15) << i;
}

/// writeCheckpoint (moela-gen-checkpoint) round-trips makeRandomWeights
/// exactly, FP8 weights and their scale_inv included; the committed
/// tiny-v2-lite checkpoint holds exactly the tensors of specTensors.
TEST(SpecReferenceTest, GeneratedCheckpointRoundTrips) {
  for (std::string name : {"tiny-v2-lite", "tiny-v3-fp8"}) {
    SCOPED_TRACE(name);
    const fs::path config =
        fs::path(MOELA_SOURCE_DIR) / "models" / name / "config.json";
    const fs::path dir =
        fs::temp_directory_path() /
        ("moela-spec-ref-" + name + "-" + std::to_string(::getpid()));
    std::unique_ptr<WeightSource> random = makeRandomWeights(5);
    writeCheckpoint(config.string(), *random, dir.string());
    std::unique_ptr<WeightSource> file = openCheckpoint(dir.string());
    SpecConfig c = loadSpecConfig((dir / "config.json").string());
    size_t scales = 0;
    for (const TensorSpec &t : specTensors(c)) {
      RawTensor a = file->loadRaw(t), b = random->loadRaw(t);
      EXPECT_EQ(a.data, b.data) << t.name;
      EXPECT_EQ(a.scales, b.scales) << t.name;
      scales += !t.scaleName.empty();
    }
    EXPECT_EQ(scales > 0, c.fp8);
    fs::remove_all(dir);
  }
  SpecConfig lite =
      loadSpecConfig((kData / "tiny-v2-lite" / "config.json").string());
  EXPECT_EQ(Checkpoint::open((kData / "tiny-v2-lite").string()).size(),
            specTensors(lite).size());
}

/// Every tiny config runs on random weights (no checkpoint): sigmoid + bias +
/// groups, group_limited_greedy, FP8 with plain RoPE, softmax + greedy.
TEST(SpecReferenceTest, EveryTinyConfigOnRandomWeights) {
  for (std::string name : {"tiny", "tiny-v2", "tiny-v2-lite", "tiny-v3-fp8"}) {
    SCOPED_TRACE(name);
    SpecConfig c = loadSpecConfig(
        (fs::path(MOELA_SOURCE_DIR) / "models" / name / "config.json")
            .string());
    std::unique_ptr<WeightSource> weights = makeRandomWeights(7);
    SpecReference model(c, *weights);
    std::vector<std::vector<int64_t>> prompts = {{0, 11, 500, 42, 999, 3},
                                                 {0, 7, 8}}; // [2][6], [2][3]
    std::vector<std::vector<double>> step = model.prefill(prompts);
    for (const SequenceTrace &tr : model.trace())
      for (int64_t i = c.firstKDenseReplace; i < c.numLayers; ++i)
        for (const std::vector<int64_t> &idx : tr.layers[i].topkIdx) {
          std::set<int64_t> experts(idx.begin(), idx.end()), groups;
          EXPECT_EQ(static_cast<int64_t>(experts.size()), c.topK);
          for (int64_t e : idx)
            groups.insert(e / (c.nRoutedExperts / c.nGroup));
          if (c.topkMethod != "greedy") {
            EXPECT_LE(static_cast<int64_t>(groups.size()), c.topkGroup);
          }
        }
    for (int n = 0; n < 3; ++n) {
      std::vector<int64_t> next;
      for (const std::vector<double> &logits : step) {
        for (double x : logits)
          ASSERT_TRUE(std::isfinite(x));
        EXPECT_GT(stddev(logits), 0.1);
        next.push_back(SpecReference::argmax(logits));
      }
      step = model.decode(next);
    }
    EXPECT_EQ(model.length(0), 6 + 3);
    EXPECT_EQ(model.length(1), 3 + 3);
  }
}

/// Prefill is causal and batching is per sequence: a batch of two prompts
/// gives each the same logits as running it alone, and a prompt prefilled in
/// one call equals the same tokens fed by decode.
TEST(SpecReferenceTest, BatchAndDecodeConsistency) {
  std::unique_ptr<SpecReference> model = loadModel(kData / "tiny-v2-lite");
  std::vector<int64_t> a = {0, 5, 9, 200, 31}, b = {0, 77, 3};
  std::vector<std::vector<double>> both = model->prefill({a, b});
  std::vector<double> aloneB = model->prefill({b})[0];
  EXPECT_LE(maxAbsDiffVec(both[1], aloneB), 1e-12);

  model->prefill({{a[0]}});
  std::vector<double> last;
  for (size_t i = 1; i < a.size(); ++i)
    last = model->decode({a[i]})[0];
  EXPECT_LE(maxAbsDiffVec(both[0], last), 1e-12);
}

} // namespace
