//===- HostModelTest.cpp - Whole DeepSeek-V3 plans against the goldens ----===//
//
// Builds whole-model plans for the v3_a fixture the way a compiler would (in
// several variants: attention expanded, absorbed or HeadGemm + latent; MoE as
// MoeExperts or dispatch + grouped GEMMs; residual in the GEMM or fused into
// RMSNorm), runs prefill and 32 decode steps on the host backend, and checks
// the logits against DeepSeek's fp32 truth (docs/model.md §6: max abs <= 1e-3
// and the same argmax at every step). Skipped when the checkpoint is absent;
// set MOELA_V3A_DIR to a copy of the fixture to run it anyway.
//
//===----------------------------------------------------------------------===//
#include "HostTestHarness.h"

#include "moela/Runtime/Safetensors.h"

#include "host/BufferLayout.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

namespace moela::test {
namespace {

using plan::RowKind;
using plan::StepParams;

std::string fixtureDir() {
  if (const char *env = std::getenv("MOELA_V3A_DIR"))
    return env;
  return std::string(MOELA_TEST_DATA) + "/v3_a";
}

bool exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

ModelConfig readConfig(const std::string &path) {
  std::ifstream in(path);
  auto j = nlohmann::json::parse(in);
  ModelConfig c;
  c.architecture = j["architectures"][0];
  c.vocabSize = j["vocab_size"];
  c.hiddenSize = j["hidden_size"];
  c.intermediateSize = j["intermediate_size"];
  c.moeIntermediateSize = j["moe_intermediate_size"];
  c.numHiddenLayers = j["num_hidden_layers"];
  c.numAttentionHeads = j["num_attention_heads"];
  c.qLoraRank = j.value("q_lora_rank", 0);
  c.kvLoraRank = j["kv_lora_rank"];
  c.qkNopeHeadDim = j["qk_nope_head_dim"];
  c.qkRopeHeadDim = j["qk_rope_head_dim"];
  c.vHeadDim = j["v_head_dim"];
  c.nRoutedExperts = j["n_routed_experts"];
  c.numExpertsPerTok = j["num_experts_per_tok"];
  c.nSharedExperts = j["n_shared_experts"];
  c.firstKDenseReplace = j["first_k_dense_replace"];
  c.nGroup = j["n_group"];
  c.topkGroup = j["topk_group"];
  c.topkMethod = TopkMethod::NoauxTc;
  c.scoringFunc = ScoringFunc::Sigmoid;
  c.normTopkProb = j["norm_topk_prob"];
  c.routedScalingFactor = j["routed_scaling_factor"];
  c.rmsNormEps = j["rms_norm_eps"];
  c.ropeTheta = j["rope_theta"];
  const auto &y = j["rope_scaling"];
  c.yarn.enabled = true;
  c.yarn.factor = y["factor"];
  c.yarn.originalMaxPositionEmbeddings = y["original_max_position_embeddings"];
  c.yarn.betaFast = y["beta_fast"];
  c.yarn.betaSlow = y["beta_slow"];
  c.yarn.mscale = y["mscale"];
  c.yarn.mscaleAllDim = y["mscale_all_dim"];
  c.maxPositionEmbeddings = j["max_position_embeddings"];
  return c;
}

enum class Attention { Expanded, Absorbed, Latent };

struct Variant {
  Attention attention = Attention::Absorbed;
  bool moeDispatch = false;  // MoeDispatch + GroupedGemm instead of MoeExperts
  bool fusedAddNorm = false; // o_proj's residual fused into the next RMSNorm
  bool unfusedKvAppend = false; // kv norm and k_pe rope as steps of their own
};

/// Writes one program of a whole DeepSeek-V3 forward pass into `d`.
class ModelPlanBuilder {
public:
  ModelPlanBuilder(PlanDesc &d, bool fp8) : d_(d), c_(d.config), fp8_(fp8) {}

  void program(const std::string &name, int maxTokens, int maxLogitRows,
               const Variant &v) {
    p_ = ProgramDesc::standard(name, maxTokens, maxLogitRows, c_.vocabSize);
    const int64_t dim = c_.hiddenSize, heads = c_.numAttentionHeads;
    const int64_t nope = c_.qkNopeHeadDim, rope = c_.qkRopeHeadDim,
                  vdim = c_.vHeadDim, lat = c_.kvLoraRank, rq = c_.qLoraRank;
    const int64_t k = c_.numExpertsPerTok, e = c_.nRoutedExperts;
    const uint32_t h = p_.add("h", dim), x = p_.add("x", dim);
    const uint32_t qkva = p_.add("qkv_a", rq + lat + rope);
    const uint32_t qn = p_.add("q_a_norm", rq);
    const uint32_t q = p_.add("q", heads * (nope + rope));
    const uint32_t attn = p_.add("attn", heads * vdim);
    const uint32_t ao = p_.add("attn_out", dim);
    const uint32_t act = p_.add("act", c_.intermediateSize);
    const uint32_t idx =
        p_.add("idx", k, RowKind::PerToken, 1, plan::DType::I32);
    const uint32_t w = p_.add("w", k);
    const uint32_t ey = p_.add("expert_y", dim, RowKind::PerToken, k);
    const uint32_t sact = p_.add("shared_act", c_.sharedIntermediateSize());
    const uint32_t sh = p_.add("shared_y", dim);
    const uint32_t g = p_.add("last", dim, RowKind::PerLogitRow);

    step("embed", StepParams::EmbeddingParams,
         [](auto &b) { return plan::CreateEmbeddingParams(b).Union(); },
         {op(kTokens)}, {op(h)},
         {weight("model.embed_tokens.weight", {c_.vocabSize, dim})});
    for (int64_t l = 0; l < c_.numHiddenLayers; ++l) {
      const std::string pre = "model.layers." + std::to_string(l) + ".";
      const std::string at = pre + "self_attn.";
      if (l == 0 || !v.fusedAddNorm) // else the previous layer's down did it
        norm(pre + "input_layernorm", h, x, dim);
      step("qkv_a", StepParams::GemmParams,
           [](auto &b) { return plan::CreateGemmParams(b).Union(); }, {op(x)},
           {op(qkva)},
           {weight(
               {linear(at + "q_a_proj.weight", {rq, dim}),
                linear(at + "kv_a_proj_with_mqa.weight", {lat + rope, dim})})});
      step("q_a_norm", StepParams::RmsNormParams, normParams(false),
           {p_.op(qkva, 0, uint32_t(rq))}, {op(qn)},
           {weight(at + "q_a_layernorm.weight", {rq})});
      RopeDesc qRope = ropeDesc(int(heads), int(nope + rope), int(nope));
      step("q_b", StepParams::GemmParams,
           [qRope](auto &b) {
             return plan::CreateGemmParams(b, false, qRope.build(b)).Union();
           },
           {op(qn), op(kPositions)}, {op(q)},
           {weight(
               {linear(at + "q_b_proj.weight", {heads * (nope + rope), rq})})});
      RopeDesc kRope = ropeDesc(1, int(rope), 0);
      const int layer = int(l);
      const float eps = float(c_.rmsNormEps);
      const plan::Operand latentIn = p_.op(qkva, uint32_t(rq), uint32_t(lat));
      const plan::Operand kPeIn =
          p_.op(qkva, uint32_t(rq + lat), uint32_t(rope));
      const uint32_t kvNorm = weight(at + "kv_a_layernorm.weight", {lat});
      if (v.unfusedKvAppend) {
        const uint32_t cBuf = p_.add("c." + std::to_string(l), lat);
        const uint32_t kBuf = p_.add("k_pe." + std::to_string(l), rope);
        step("kv_a_layernorm", StepParams::RmsNormParams, normParams(false),
             {latentIn}, {op(cBuf)}, {kvNorm});
        step("k_rope", StepParams::RopeParams,
             [kRope](auto &b) {
               return plan::CreateRopeParams(b, kRope.build(b)).Union();
             },
             {kPeIn, op(kPositions)}, {op(kBuf)}, {});
        step("kv_append", StepParams::KvAppendParams,
             [=](auto &b) {
               return plan::CreateKvAppendParams(b, layer).Union();
             },
             {op(cBuf), op(kBuf), op(kPositions), op(kSeqIds)}, {}, {});
      } else {
        step("kv_append", StepParams::KvAppendParams,
             [=](auto &b) {
               return plan::CreateKvAppendParams(b, layer, eps, kRope.build(b),
                                                 /*normalize=*/true)
                   .Union();
             },
             {latentIn, kPeIn, op(kPositions), op(kSeqIds)}, {}, {kvNorm});
      }
      const uint32_t kvB = weight(
          {linear(at + "kv_b_proj.weight", {heads * (nope + vdim), lat})});
      const float scale = float(c_.softmaxScale());
      if (v.attention == Attention::Latent) {
        const uint32_t qLat = p_.add("q_lat." + std::to_string(l), heads * lat);
        const uint32_t oLat = p_.add("o_lat." + std::to_string(l), heads * lat);
        const int hi = int(heads), qh = int(nope + rope), kh = int(nope + vdim);
        const int n = int(nope), vd = int(vdim), la = int(lat), r = int(rope);
        step("q_abs", StepParams::HeadGemmParams,
             [=](auto &b) {
               return plan::CreateHeadGemmParams(b, hi, kh, 0, n, true, qh)
                   .Union();
             },
             {p_.op(q, 0, uint32_t((hi - 1) * qh + n))}, {op(qLat)}, {kvB});
        step("latent_attn", StepParams::MlaLatentAttentionParams,
             [=](auto &b) {
               return plan::CreateMlaLatentAttentionParams(b, layer, hi, la, r,
                                                           scale, 0, qh)
                   .Union();
             },
             {op(qLat), p_.op(q, uint32_t(n), uint32_t((hi - 1) * qh + r)),
              op(kPositions), op(kSeqIds)},
             {op(oLat)}, {});
        step("o_v", StepParams::HeadGemmParams,
             [=](auto &b) {
               return plan::CreateHeadGemmParams(b, hi, kh, n, vd, false)
                   .Union();
             },
             {op(oLat)}, {op(attn)}, {kvB});
      } else {
        const auto form = v.attention == Attention::Expanded
                              ? plan::AttentionForm::Expanded
                              : plan::AttentionForm::Absorbed;
        const int hi = int(heads), n = int(nope), r = int(rope), vd = int(vdim),
                  la = int(lat);
        step("mla", StepParams::MlaAttentionParams,
             [=](auto &b) {
               return plan::CreateMlaAttentionParams(b, layer, hi, n, r, vd, la,
                                                     scale, form)
                   .Union();
             },
             {op(q), op(kPositions), op(kSeqIds)}, {op(attn)}, {kvB});
      }
      const uint32_t oProj =
          weight({linear(at + "o_proj.weight", {dim, heads * vdim})});
      if (v.fusedAddNorm) {
        step("o_proj", StepParams::GemmParams,
             [](auto &b) { return plan::CreateGemmParams(b).Union(); },
             {op(attn)}, {op(ao)}, {oProj});
        step("post_attention_layernorm", StepParams::RmsNormParams,
             normParams(true), {op(ao), op(h)}, {op(x), op(h)},
             {weight(pre + "post_attention_layernorm.weight", {dim})});
      } else {
        step("o_proj", StepParams::GemmParams, gemmResidual(),
             {op(attn), op(h)}, {op(h)}, {oProj});
        norm(pre + "post_attention_layernorm", h, x, dim);
      }

      const std::string mlp = pre + "mlp.";
      if (!c_.isMoeLayer(l)) {
        const int64_t f = c_.intermediateSize;
        step("gate_up", StepParams::GemmParams, gemmSilu(), {op(x)},
             {p_.op(act, 0, uint32_t(f))},
             {weight({linear(mlp + "gate_proj.weight", {f, dim}),
                      linear(mlp + "up_proj.weight", {f, dim})})});
        down(mlp + "down_proj.weight", p_.op(act, 0, uint32_t(f)), f, h, x, v,
             l);
        continue;
      }
      const int ei = int(e), ki = int(k), gi = int(c_.nGroup),
                tg = int(c_.topkGroup);
      const bool normTopk = c_.normTopkProb;
      const float scaling = float(c_.routedScalingFactor);
      step("route", StepParams::RouteParams,
           [=](auto &b) {
             return plan::CreateRouteParams(b, plan::ScoringFunc::Sigmoid,
                                            plan::TopkMethod::NoauxTc, ei, ki,
                                            gi, tg, normTopk, scaling, true,
                                            true)
                 .Union();
           },
           {op(x)}, {op(idx), op(w)},
           {weight(mlp + "gate.weight", {e, dim}, bf16()),
            weight(mlp + "gate.e_score_correction_bias", {e},
                   plan::DType::F32)});
      const int64_t fm = c_.moeIntermediateSize;
      const uint32_t gateUp =
          experts({linear(mlp + "experts.{e}.gate_proj.weight", {fm, dim}),
                   linear(mlp + "experts.{e}.up_proj.weight", {fm, dim})});
      const uint32_t downW =
          experts({linear(mlp + "experts.{e}.down_proj.weight", {dim, fm})});
      std::vector<plan::Operand> combineIn = {op(ey), op(w)};
      if (v.moeDispatch) {
        const std::string s = std::to_string(l);
        const uint32_t xs = p_.add("x_sorted." + s, dim, RowKind::PerToken, k);
        const uint32_t offsets =
            p_.add("offsets." + s, 1, RowKind::Fixed, e + 1, plan::DType::I32);
        const uint32_t perm =
            p_.add("perm." + s, 1, RowKind::PerToken, k, plan::DType::I32);
        const uint32_t eh = p_.add("expert_h." + s, fm, RowKind::PerToken, k);
        step("dispatch", StepParams::MoeDispatchParams,
             [=](auto &b) {
               return plan::CreateMoeDispatchParams(b, ei, ki).Union();
             },
             {op(x), op(idx)}, {op(xs), op(offsets), op(perm)}, {});
        step("experts.gate_up", StepParams::GroupedGemmParams,
             [=](auto &b) {
               return plan::CreateGroupedGemmParams(b, ei, true).Union();
             },
             {op(xs), op(offsets)}, {op(eh)}, {gateUp});
        step("experts.down", StepParams::GroupedGemmParams,
             [=](auto &b) {
               return plan::CreateGroupedGemmParams(b, ei, false).Union();
             },
             {op(eh), op(offsets)}, {op(ey)}, {downW});
        combineIn.push_back(op(perm));
      } else {
        const int fi = int(fm);
        step("experts", StepParams::MoeExpertsParams,
             [=](auto &b) {
               return plan::CreateMoeExpertsParams(b, ei, ki, fi).Union();
             },
             {op(x), op(idx)}, {op(ey)}, {gateUp, downW});
      }
      const int64_t fs = c_.sharedIntermediateSize();
      step(
          "shared.gate_up", StepParams::GemmParams, gemmSilu(), {op(x)},
          {op(sact)},
          {weight({linear(mlp + "shared_experts.gate_proj.weight", {fs, dim}),
                   linear(mlp + "shared_experts.up_proj.weight", {fs, dim})})});
      step("shared.down", StepParams::GemmParams,
           [](auto &b) { return plan::CreateGemmParams(b).Union(); },
           {op(sact)}, {op(sh)},
           {weight(
               {linear(mlp + "shared_experts.down_proj.weight", {dim, fs})})});
      combineIn.push_back(op(sh));
      combineIn.push_back(op(h));
      const bool permuted = v.moeDispatch;
      step("combine", StepParams::MoeCombineParams,
           [=](auto &b) {
             return plan::CreateMoeCombineParams(b, ki, permuted, true, true)
                 .Union();
           },
           combineIn, {op(h)}, {});
      if (v.fusedAddNorm && l + 1 < c_.numHiddenLayers)
        norm("model.layers." + std::to_string(l + 1) + ".input_layernorm", h, x,
             dim);
    }
    norm("model.norm", h, x, dim);
    step("last", StepParams::GatherRowsParams,
         [](auto &b) { return plan::CreateGatherRowsParams(b).Union(); },
         {op(x), op(kLogitRows)}, {op(g)}, {});
    step("lm_head", StepParams::GemmParams,
         [](auto &b) { return plan::CreateGemmParams(b).Union(); }, {op(g)},
         {op(kLogits)}, {weight("lm_head.weight", {c_.vocabSize, dim})});
    d_.programs.push_back(p_);
  }

private:
  plan::DType bf16() const { return plan::DType::BF16; }
  plan::Operand op(uint32_t b) const { return p_.op(b); }

  /// A linear weight of a decoder layer: FP8 with block scales in FP8 plans.
  TensorDesc linear(const std::string &name, std::vector<int64_t> shape) const {
    TensorDesc t{name, shape, bf16()};
    if (fp8_) {
      t.dtype = plan::DType::F8E4M3;
      t.scaleName = name + "_scale_inv";
      t.scaleShape = fp8ScaleShape(shape);
    }
    return t;
  }
  uint32_t weight(std::vector<TensorDesc> parts) {
    return d_.addWeight(std::move(parts));
  }
  uint32_t weight(const std::string &name, std::vector<int64_t> shape,
                  plan::DType dtype = plan::DType::BF16) {
    return d_.addWeight({{name, std::move(shape), dtype}});
  }
  uint32_t experts(std::vector<TensorDesc> parts) {
    return d_.addWeight(std::move(parts), int(c_.nRoutedExperts));
  }

  void step(const std::string &name, StepParams type, ParamsFn params,
            std::vector<plan::Operand> in, std::vector<plan::Operand> out,
            std::vector<uint32_t> weights) {
    p_.steps.push_back({name, type, std::move(params), std::move(in),
                        std::move(out), std::move(weights)});
  }
  ParamsFn normParams(bool residual) const {
    const float eps = float(c_.rmsNormEps);
    return [=](auto &b) {
      return plan::CreateRmsNormParams(b, eps, residual).Union();
    };
  }
  static ParamsFn gemmResidual() {
    return [](auto &b) {
      return plan::CreateGemmParams(b, false, 0, true).Union();
    };
  }
  static ParamsFn gemmSilu() {
    return [](auto &b) { return plan::CreateGemmParams(b, true).Union(); };
  }
  void norm(const std::string &name, uint32_t in, uint32_t out, int64_t dim) {
    step(name, StepParams::RmsNormParams, normParams(false), {op(in)},
         {op(out)}, {weight(name + ".weight", {dim})});
  }
  /// The dense MLP's down projection + residual; with fusedAddNorm the
  /// residual add is fused into the next layer's input RMSNorm instead.
  void down(const std::string &name, plan::Operand in, int64_t f, uint32_t h,
            uint32_t x, const Variant &v, int64_t layer) {
    const uint32_t w = weight({linear(name, {c_.hiddenSize, f})});
    if (!v.fusedAddNorm || layer + 1 == c_.numHiddenLayers) {
      step("down", StepParams::GemmParams, gemmResidual(), {in, op(h)}, {op(h)},
           {w});
      return;
    }
    const uint32_t y = p_.add("down_y." + std::to_string(layer), c_.hiddenSize);
    step("down", StepParams::GemmParams,
         [](auto &b) { return plan::CreateGemmParams(b).Union(); }, {in},
         {op(y)}, {w});
    const std::string next =
        "model.layers." + std::to_string(layer + 1) + ".input_layernorm";
    step(next, StepParams::RmsNormParams, normParams(true), {op(y), op(h)},
         {op(x), op(h)}, {weight(next + ".weight", {c_.hiddenSize})});
  }
  RopeDesc ropeDesc(int heads, int headDim, int offset) const {
    RopeDesc r;
    r.theta = c_.ropeTheta;
    r.dim = int(c_.qkRopeHeadDim);
    r.heads = heads;
    r.headDim = headDim;
    r.offset = offset;
    r.yarn = c_.yarn;
    return r;
  }

  PlanDesc &d_;
  const ModelConfig &c_;
  bool fp8_;
  ProgramDesc p_;
};

/// A tensor of the golden file as float or int64 values.
template <typename T>
std::vector<T> golden(const SafetensorsFile &file, const std::string &name) {
  TensorView t = file.tensor(name);
  std::vector<T> v(t.bytes / sizeof(T));
  std::memcpy(v.data(), t.data, t.bytes);
  return v;
}

struct Case {
  const char *weights; // "bf16w" or "fp8w"
  const char *prompts; // "single" or "batch3"
  Variant prefill, decode;
};

void runCase(const Case &c) {
  const std::string dir = fixtureDir();
  const std::string ckpt =
      std::string(dir) + (std::string(c.weights) == "fp8w" ? "/model-fp8" : "");
  if (!exists(ckpt + "/model.safetensors") ||
      !exists(dir + "/golden.safetensors"))
    GTEST_SKIP() << "no v3_a checkpoint in " << dir << " (set MOELA_V3A_DIR)";

  PlanDesc d;
  d.config = readConfig(dir + "/config.json");
  d.hasKvCache = true;
  d.kvLayers = int(d.config.numHiddenLayers);
  d.kvLatent = int(d.config.kvLoraRank);
  d.kvRope = int(d.config.qkRopeHeadDim);
  ModelPlanBuilder builder(d, std::string(c.weights) == "fp8w");
  builder.program("prefill", 64, 4, c.prefill);
  builder.program("decode", 4, 4, c.decode);
  Plan plan = Plan::fromBytes(d.build(), "v3_a.plan");
  auto weights = openCheckpoint(ckpt);
  HostBackend backend;
  const KvCacheShape kv = KvCacheShape::contiguous(4, 128);
  backend.prepare(plan, *weights, kv);

  auto gold = SafetensorsFile::open(dir + "/golden.safetensors");
  const std::string pre = std::string(c.weights) + "." + c.prompts;
  auto prompts = golden<int64_t>(*gold, std::string("prompts.") + c.prompts);
  auto truth = golden<float>(*gold, pre + ".truth_fp32.logits");
  auto tokens = golden<int64_t>(*gold, pre + ".truth_fp32.tokens");
  const int64_t v = d.config.vocabSize, steps = 33;
  const int64_t batch = int64_t(tokens.size()) / steps;
  const int64_t p = int64_t(prompts.size()) / batch;

  auto check = [&](const std::vector<float> &logits, int64_t step) {
    ASSERT_EQ(int64_t(logits.size()), batch * v);
    for (int64_t b = 0; b < batch; ++b) {
      const float *got = logits.data() + b * v;
      const float *want = truth.data() + (b * steps + step) * v;
      double worst = 0;
      for (int64_t i = 0; i < v; ++i)
        worst = std::max(worst, double(std::abs(got[i] - want[i])));
      EXPECT_LE(worst, 1e-3) << pre << " sequence " << b << " step " << step;
      const int64_t arg = std::max_element(got, got + v) - got;
      EXPECT_EQ(arg, tokens[size_t(b * steps + step)])
          << pre << " sequence " << b << " step " << step;
    }
  };

  // Prefill: every prompt in its own slot, all in one step.
  StepInputs in;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < p; ++t) {
      in.tokens.push_back(int32_t(prompts[size_t(b * p + t)]));
      in.positions.push_back(int32_t(t));
      in.seqIds.push_back(int32_t(b));
    }
    in.logitRows.push_back(int32_t(b * p + p - 1));
  }
  in.blockTables = contiguousBlockTables(kv);
  check(backend.run("prefill", in).logits, 0);
  // Decode: feed the truth's greedy tokens, one per sequence.
  for (int64_t step = 1; step < steps; ++step) {
    StepInputs dec;
    for (int64_t b = 0; b < batch; ++b) {
      dec.tokens.push_back(int32_t(tokens[size_t(b * steps + step - 1)]));
      dec.positions.push_back(int32_t(p + step - 1));
      dec.seqIds.push_back(int32_t(b));
      dec.logitRows.push_back(int32_t(b));
    }
    dec.blockTables = in.blockTables;
    check(backend.run("decode", dec).logits, step);
  }
}

TEST(HostModel, Bf16SingleExpandedThenAbsorbed) {
  runCase({"bf16w", "single", {Attention::Expanded}, {Attention::Absorbed}});
}

TEST(HostModel, Bf16Batch3LatentWithDispatchAndFusedNorms) {
  Variant v{Attention::Latent, true, true};
  runCase({"bf16w", "batch3", v, v});
}

TEST(HostModel, Fp8Batch3AbsorbedPrefillExpandedDecode) {
  Variant prefill{Attention::Absorbed, true, false};
  Variant decode{Attention::Expanded, false, true};
  runCase({"fp8w", "batch3", prefill, decode});
}

TEST(HostModel, Fp8SingleLatentUnfusedKvAppend) {
  Variant v{Attention::Latent, true, false, true};
  runCase({"fp8w", "single", v, v});
}

} // namespace
} // namespace moela::test

namespace moela::test {
namespace {

// Prints decode tokens/s of the v3_a model (batch 1, and 4 sequences at once)
// for each attention form; run with --gtest_also_run_disabled_tests.
TEST(HostModel, DISABLED_DecodeSpeed) {
  const std::string dir = fixtureDir();
  if (!exists(dir + "/model.safetensors"))
    GTEST_SKIP() << "no v3_a checkpoint in " << dir;
  for (Attention form :
       {Attention::Absorbed, Attention::Latent, Attention::Expanded}) {
    PlanDesc d;
    d.config = readConfig(dir + "/config.json");
    d.hasKvCache = true;
    d.kvLayers = int(d.config.numHiddenLayers);
    d.kvLatent = int(d.config.kvLoraRank);
    d.kvRope = int(d.config.qkRopeHeadDim);
    ModelPlanBuilder builder(d, false);
    builder.program("decode", 4, 4, {form});
    Plan plan = Plan::fromBytes(d.build(), "v3_a.plan");
    auto weights = openCheckpoint(dir);
    HostBackend backend;
    const KvCacheShape kv = KvCacheShape::contiguous(4, 512);
    backend.prepare(plan, *weights, kv);
    for (int batch : {1, 4}) {
      const int steps = 256;
      auto start = std::chrono::steady_clock::now();
      for (int s = 0; s < steps; ++s) {
        StepInputs in;
        for (int b = 0; b < batch; ++b) {
          in.tokens.push_back((s * 7 + b) % 1000);
          in.positions.push_back(s);
          in.seqIds.push_back(b);
          in.logitRows.push_back(b);
        }
        in.blockTables = contiguousBlockTables(kv);
        backend.run("decode", in);
      }
      double seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      std::printf("attention %d batch %d: %.0f tokens/s (%.1f us/step, "
                  "positions 0..%d)\n",
                  int(form), batch, steps * batch / seconds,
                  seconds / steps * 1e6, steps - 1);
    }
  }
}

} // namespace
} // namespace moela::test

namespace moela::test {
namespace {

/// A small DeepSeek-V3-shaped config for plans run on random weights.
ModelConfig fuzzConfig() {
  ModelConfig c = testConfig(64);
  c.hiddenSize = 32;
  c.intermediateSize = 48;
  c.moeIntermediateSize = 16;
  c.numHiddenLayers = 2;
  c.numAttentionHeads = 2;
  c.qLoraRank = 16;
  c.kvLoraRank = 16;
  c.qkNopeHeadDim = 8;
  c.qkRopeHeadDim = 4;
  c.vHeadDim = 8;
  c.nRoutedExperts = 4;
  c.numExpertsPerTok = 2;
  c.nSharedExperts = 1;
  c.firstKDenseReplace = 1;
  c.nGroup = 2;
  c.topkGroup = 1;
  c.normTopkProb = true;
  c.routedScalingFactor = 2.0;
  c.yarn.enabled = true;
  c.yarn.factor = 4;
  c.yarn.originalMaxPositionEmbeddings = 16;
  return c;
}

// Tests that plans with random byte corruption either fail to load or
// prepare, or run (possibly failing with moela::Error): never a crash.
TEST(HostFuzz, CorruptedPlansNeverCrash) {
  PlanDesc d;
  d.config = fuzzConfig();
  d.hasKvCache = true;
  d.kvLayers = 2;
  d.kvLatent = 16;
  d.kvRope = 4;
  ModelPlanBuilder builder(d, false);
  builder.program("prefill", 16, 2, {Attention::Expanded, true, true});
  builder.program("decode", 2, 2, {Attention::Latent, false, false, true});
  const std::vector<uint8_t> bytes = d.build();
  auto weights = makeRandomWeights(7);
  std::mt19937 rng(11);
  int loaded = 0, ran = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> broken = bytes;
    if (i > 0) // iteration 0 checks that the intact plan runs
      for (int n = 0; n < 2; ++n)
        broken[rng() % broken.size()] = uint8_t(rng());
    try {
      Plan plan = Plan::fromBytes(broken, "fuzz.plan");
      ++loaded;
      double elements = 0; // keep clear of allocations that would swap
      for (const plan::Program *p : *plan.root().programs())
        for (const plan::Buffer *b : *p->buffers())
          elements += double(host::maxRows(*p, *b)) * double(b->cols());
      for (uint32_t w = 0; w < plan.root().weights()->size(); ++w) {
        const WeightShape &shape = plan.weightShape(w);
        elements += double(shape.rows) * double(shape.cols) *
                    std::max(1, shape.experts);
      }
      if (elements > 5e7)
        continue;
      HostBackend backend;
      const KvCacheShape kv = KvCacheShape::contiguous(2, 32);
      backend.prepare(plan, *weights, kv);
      const std::vector<int32_t> tables = contiguousBlockTables(kv);
      StepInputs prefill{
          {1, 2, 3, 4, 5}, {0, 1, 2, 0, 1}, {0, 0, 0, 1, 1}, {2, 4}, tables};
      backend.run("prefill", prefill);
      backend.run("decode", StepInputs{{6, 7}, {3, 2}, {0, 1}, {0, 1}, tables});
      ++ran;
    } catch (const Error &) {
    }
  }
  std::printf("fuzz: %d of 300 plans loaded, %d ran\n", loaded, ran);
  EXPECT_GT(loaded, 1);
  EXPECT_GT(ran, 0);
}

} // namespace
} // namespace moela::test
