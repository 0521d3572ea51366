//===- PlanTest.cpp - Loading, verifying and dumping plans ----------------===//
//
// A small valid plan loads and dumps; each way of breaking it (bytes or
// semantics) gives its one-line error, and no corruption crashes the loader.
//
//===----------------------------------------------------------------------===//
#include "PlanTestUtil.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Weights.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace moela::test {
namespace {

using plan::RowKind;
using plan::StepParams;

constexpr int64_t kVocab = 8, kHidden = 8;

/// The steps of program "decode" (buffers 5 h, 6 y, 7 g):
/// 0 embed, 1 norm, 2 gather, 3 lm_head (kernel 0).
PlanDesc validPlan() {
  PlanDesc d;
  d.config = testConfig(kVocab);
  d.addWeight(
      {{"model.embed_tokens.weight", {kVocab, kHidden}, plan::DType::BF16}});
  d.addWeight({{"model.norm.weight", {kHidden}, plan::DType::BF16}});
  d.addWeight({{"lm_head.weight", {kVocab, kHidden}, plan::DType::BF16}});
  d.addWeight(
      {{"model.layers.1.mlp.experts.{e}.gate_proj.weight", {4, kHidden}},
       {"model.layers.1.mlp.experts.{e}.up_proj.weight", {4, kHidden}}},
      3);
  d.kernels = {"lm_head_gemm"};
  for (const char *name : {"prefill", "decode"}) {
    ProgramDesc p = ProgramDesc::standard(name, 16, 4, kVocab);
    uint32_t h = p.add("h", kHidden), y = p.add("y", kHidden);
    uint32_t g = p.add("g", kHidden, RowKind::PerLogitRow);
    p.steps.push_back(
        {"embed",
         StepParams::EmbeddingParams,
         [](auto &b) { return plan::CreateEmbeddingParams(b).Union(); },
         {p.op(kTokens)},
         {p.op(h)},
         {0}});
    p.steps.push_back(
        {"norm",
         StepParams::RmsNormParams,
         [](auto &b) { return plan::CreateRmsNormParams(b, 1e-6f).Union(); },
         {p.op(h)},
         {p.op(y)},
         {1}});
    p.steps.push_back(
        {"gather",
         StepParams::GatherRowsParams,
         [](auto &b) { return plan::CreateGatherRowsParams(b).Union(); },
         {p.op(y), p.op(kLogitRows)},
         {p.op(g)},
         {}});
    p.steps.push_back(
        {"lm_head",
         StepParams::GemmParams,
         [](auto &b) { return plan::CreateGemmParams(b).Union(); },
         {p.op(g)},
         {p.op(kLogits)},
         {2},
         0});
    d.programs.push_back(p);
  }
  return d;
}

/// The error loading `bytes` gives ("" if it loads).
std::string loadError(const std::vector<uint8_t> &bytes) {
  try {
    Plan::fromBytes(bytes, "model.plan");
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}
std::string loadError(const PlanDesc &d) { return loadError(d.build()); }

StepDesc &decodeStep(PlanDesc &d, size_t i) { return d.programs[1].steps[i]; }

const std::string kStep1 =
    "model.plan: program 'decode' step 1 'norm' (RmsNorm): ";
const std::string kStep3 =
    "model.plan: program 'decode' step 3 'lm_head' (Gemm): ";

TEST(Plan, ValidPlanLoads) {
  Plan plan = Plan::fromBytes(validPlan().build(), "model.plan");
  EXPECT_EQ(plan.config().vocabSize, kVocab);
  EXPECT_EQ(plan.config().architecture, "DeepseekV3ForCausalLM");
  EXPECT_TRUE(plan.hasProgram("decode"));
  EXPECT_FALSE(plan.hasProgram("draft"));
  EXPECT_EQ(plan.program("decode").steps()->size(), 4u);
  try {
    plan.program("draft");
    FAIL();
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "model.plan: no program 'draft' (the plan has: "
                           "prefill, decode)");
  }

  const WeightShape &experts = plan.weightShape(3);
  EXPECT_EQ(experts.rows, 8);
  EXPECT_EQ(experts.cols, kHidden);
  EXPECT_EQ(experts.experts, 3);
  EXPECT_EQ(plan.weightShape(1).rank, 1);
  auto specs = plan.tensorSpecs(3, 2);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "model.layers.1.mlp.experts.2.gate_proj.weight");
  EXPECT_EQ(specs[1].name, "model.layers.1.mlp.experts.2.up_proj.weight");
  EXPECT_EQ(specs[1].shape, (std::vector<int64_t>{4, kHidden}));
  EXPECT_EQ(plan.tensorSpecs(0)[0].dtype, DType::BF16);
  EXPECT_THROW(plan.tensorSpecs(3, 3), Error);
  EXPECT_THROW(plan.tensorSpecs(3), Error);

  std::ostringstream text;
  dumpPlan(plan, text);
  EXPECT_NE(text.str().find("program 'decode': max_tokens 16"),
            std::string::npos)
      << text.str();
  EXPECT_NE(
      text.str().find("3 Gemm lm_head  in: a=g[0:+8]  out: c=logits[0:+8]  "
                      "w: W=lm_head.weight"),
      std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("1 RmsNorm norm  in: x=h[0:+8]  out: y=y[0:+8]  w: "
                            "norm=model.norm.weight  eps="),
            std::string::npos)
      << text.str();

  std::ostringstream js;
  dumpPlanJson(plan, js);
  auto j = nlohmann::json::parse(js.str());
  EXPECT_EQ(j["schema_version"], kPlanSchemaVersion);
  EXPECT_EQ(j["target"], "host");
  EXPECT_EQ(j["model"]["vocab_size"], kVocab);
  EXPECT_EQ(j["programs"][1]["name"], "decode");
  EXPECT_EQ(j["programs"][1]["steps"][3]["family"], "Gemm");
  EXPECT_EQ(j["programs"][1]["steps"][3]["kernel"], 0);
  EXPECT_EQ(j["weights"][3]["experts"], 3);
  EXPECT_EQ(j["kernels"][0]["name"], "lm_head_gemm");
  EXPECT_EQ(j["kernels"][0]["cubin_bytes"], 0);
  EXPECT_TRUE(j["kernels"][0].contains("registers"));
}

/// A string that is not UTF-8 (the pipeline here) is dumped with U+FFFD.
TEST(Plan, DumpJsonReplacesInvalidUtf8) {
  PlanDesc d = validPlan();
  d.programs[1].buffers[5].name = "h\xF6";
  Plan plan = Plan::fromBytes(d.build(), "model.plan");
  std::ostringstream os;
  dumpPlanJson(plan, os);
  nlohmann::json j = nlohmann::json::parse(os.str());
  EXPECT_EQ(j["programs"][1]["buffers"][5]["name"], "h\xEF\xBF\xBD");
}

TEST(Plan, LoadsFromFile) {
  std::string path = ::testing::TempDir() + "moela_plan_test.plan";
  auto bytes = validPlan().build();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char *>(bytes.data()), long(bytes.size()));
  EXPECT_EQ(Plan::load(path).program("prefill").max_tokens(), 16);
  std::remove(path.c_str());
  try {
    Plan::load(path);
    FAIL();
  } catch (const Error &e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": cannot open plan file", 0),
              0u)
        << e.what();
  }
}

TEST(Plan, WrongFileIdentifier) {
  auto bytes = validPlan().build();
  std::memcpy(bytes.data() + 4, "XXXX", 4);
  EXPECT_EQ(
      loadError(bytes),
      "model.plan: not a moela plan (file identifier 'XXXX', expected 'MOEL')");
  EXPECT_EQ(
      loadError(
          std::vector<uint8_t>{'{', '"', 'a', '"', ':', ' ', '1', '}', '\n'}),
      "model.plan: not a moela plan (file identifier ': 1}', expected 'MOEL')");
  EXPECT_EQ(
      loadError(std::vector<uint8_t>{}),
      "model.plan: not a moela plan (0 bytes, too short for a plan header)");
}

// Tests that a plan cut anywhere is rejected with an error, never a crash
// (cutting only the zero padding at the very end leaves a valid plan).
TEST(Plan, TruncatedAnywhere) {
  auto bytes = validPlan().build();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + long(cut));
    std::string error = loadError(part);
    if (std::all_of(bytes.begin() + long(cut), bytes.end(),
                    [](uint8_t b) { return b == 0; }))
      continue;
    EXPECT_FALSE(error.empty()) << "cut at " << cut << " loads";
    if (cut >= 8) {
      const std::string prefix = "model.plan: corrupt or truncated plan: the "
                                 "flatbuffers verifier rejects ";
      EXPECT_EQ(error.rfind(prefix, 0), 0u) << "cut at " << cut;
      EXPECT_NE(error.substr(prefix.size(), 3), "it ") << error;
      EXPECT_NE(error.find(" (an offset, size or alignment outside the "
                           "file's " +
                           std::to_string(cut) + " bytes)"),
                std::string::npos)
          << error;
    }
  }
}

// The verifier's failure names the part of the plan it rejects.
TEST(Plan, CorruptionNamesTheSection) {
  std::vector<uint8_t> bytes = validPlan().build();
  const plan::Plan &root = *plan::GetPlan(bytes.data());
  auto lengthAt = [&](const void *vec) {
    return size_t(static_cast<const uint8_t *>(vec) - bytes.data());
  };
  auto corrupt = [&](size_t at) {
    std::vector<uint8_t> bad = bytes;
    const uint32_t huge = 0x7fffffff;
    std::memcpy(bad.data() + at, &huge, 4);
    return loadError(bad);
  };
  const std::string prefix = "model.plan: corrupt or truncated plan: the "
                             "flatbuffers verifier rejects ";
  const std::string suffix = " (an offset, size or alignment outside the "
                             "file's " +
                             std::to_string(bytes.size()) + " bytes)";
  const plan::Program &decode = *root.programs()->Get(1);
  EXPECT_EQ(corrupt(lengthAt(decode.steps()->Get(3)->inputs())),
            prefix + "programs[1] 'decode' steps[3]" + suffix);
  EXPECT_EQ(corrupt(lengthAt(decode.buffers()->Get(2)->name())),
            prefix + "programs[1] 'decode' buffers[2]" + suffix);
  EXPECT_EQ(corrupt(lengthAt(decode.outputs())),
            prefix + "programs[1] 'decode' outputs" + suffix);
  EXPECT_EQ(corrupt(lengthAt(root.weights()->Get(2)->parts())),
            prefix + "weights[2]" + suffix);
  EXPECT_EQ(corrupt(lengthAt(root.target())), prefix + "target" + suffix);
}

// Tests that random byte corruption never crashes the loader (it may load).
TEST(Plan, RandomCorruptionNeverCrashes) {
  auto bytes = validPlan().build();
  std::mt19937 rng(7);
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    auto broken = bytes;
    for (int n = 0; n < 3; ++n)
      broken[rng() % broken.size()] = uint8_t(rng());
    rejected += !loadError(broken).empty();
  }
  EXPECT_GT(rejected, 0);
}

TEST(Plan, WrongSchemaVersion) {
  PlanDesc d = validPlan();
  d.schemaVersion = kPlanSchemaVersion + 1;
  EXPECT_EQ(loadError(d), "model.plan: plan schema version " +
                              std::to_string(kPlanSchemaVersion + 1) +
                              ", but this runtime reads version " +
                              std::to_string(kPlanSchemaVersion) +
                              "; recompile the model with a matching "
                              "moela-compile");
}

/// W8A8 (docs/model.md §3.4): in decode a quantizing norm (step 3) turns the
/// gathered rows g into FP8 buffer 8 with its scales in buffer 9, which lm_head
/// reads.
PlanDesc w8a8Plan() {
  PlanDesc d = validPlan();
  ProgramDesc &p = d.programs[1];
  const uint32_t q =
      p.add("g8", kHidden, RowKind::PerLogitRow, 1, plan::DType::F8E4M3);
  p.buffers[q].scales =
      static_cast<int>(p.add("g8.scales", 1, RowKind::PerLogitRow));
  StepDesc quantize{"quantize",
                    StepParams::RmsNormParams,
                    [](auto &b) {
                      return plan::CreateRmsNormParams(b, 1e-6f, false,
                                                       /*quantize=*/true)
                          .Union();
                    },
                    {p.op(7)},
                    {p.op(q)},
                    {1}};
  p.steps.insert(p.steps.begin() + 3, quantize);
  p.steps[4].inputs[0] = p.op(q);
  return d;
}

TEST(Plan, Fp8ActivationsNeedScales) {
  EXPECT_EQ(loadError(w8a8Plan()), "");
  const std::string where = "model.plan: program 'decode': ";
  PlanDesc d = w8a8Plan();
  d.programs[1].buffers[8].scales = -1;
  EXPECT_EQ(loadError(d), where + "F8 buffer 8 'g8' needs a scales buffer, got "
                                  "index -1 (program has 10 buffers)");
  d = w8a8Plan();
  d.programs[1].buffers[9].cols = 2;
  EXPECT_EQ(loadError(d), where + "scales buffer 9 'g8.scales' of F8 buffer 8 "
                                  "'g8' must be F32 with its rows and 1 "
                                  "columns (one per 128), got F32, R rows and "
                                  "2 columns");
  d = w8a8Plan();
  d.programs[1].buffers[9].kind = RowKind::PerToken;
  EXPECT_EQ(loadError(d), where + "scales buffer 9 'g8.scales' of F8 buffer 8 "
                                  "'g8' must be F32 with its rows and 1 "
                                  "columns (one per 128), got F32, T rows and "
                                  "1 columns");
  d = w8a8Plan();
  d.programs[1].buffers[5].scales = 9;
  EXPECT_EQ(loadError(d),
            where + "buffer 5 'h' is not F8 but names scales buffer 9");
}

TEST(Plan, Fp8ActivationsOnlyFromQuantizingNormsIntoGemms) {
  const std::string step3 =
      "model.plan: program 'decode' step 3 'quantize' (RmsNorm): ";
  PlanDesc d = w8a8Plan();
  decodeStep(d, 3).inputs[0] = d.programs[1].op(8);
  EXPECT_EQ(loadError(d), step3 + "input 0 (x) is FP8, which only a GEMM's a "
                                  "and an RmsNorm's y may be");
  d = w8a8Plan();
  decodeStep(d, 3).params = [](auto &b) {
    return plan::CreateRmsNormParams(b, 1e-6f).Union();
  };
  EXPECT_EQ(loadError(d),
            step3 + "output 0 (y) is FP8 but the step does not quantize");
  // A view of FP8 data starts at a 128-column scale block.
  d = w8a8Plan();
  decodeStep(d, 4).inputs[0] = plan::Operand(8, 4, 4);
  EXPECT_EQ(loadError(d),
            "model.plan: program 'decode' step 4 'lm_head' (Gemm): input 0 "
            "starts at column 4 of F8 buffer 'g8', not at a 128-column "
            "scale block");
}

TEST(Plan, BufferIndexOutOfRange) {
  PlanDesc d = validPlan();
  decodeStep(d, 1).inputs[0] = plan::Operand(99, 0, kHidden);
  EXPECT_EQ(loadError(d), kStep1 + "input 0 buffer index 99 out of range "
                                   "(program has 8 buffers)");
}

TEST(Plan, OperandOutsideBuffer) {
  PlanDesc d = validPlan();
  decodeStep(d, 1).outputs[0] = plan::Operand(6, 4, kHidden);
  EXPECT_EQ(loadError(d), kStep1 +
                              "output 0 columns [4, 12) outside buffer 'y' "
                              "of 8 columns");
}

TEST(Plan, MissingOperandsForFamily) {
  PlanDesc d = validPlan();
  decodeStep(d, 3).params = [](auto &b) {
    return plan::CreateGemmParams(b, false, 0, /*residual=*/true).Union();
  };
  EXPECT_EQ(loadError(d), kStep3 + "expects 2 inputs [a, r], got 1");
  d = validPlan();
  decodeStep(d, 1).weights.clear();
  EXPECT_EQ(loadError(d), kStep1 + "expects 1 weight [norm], got 0");
  d = validPlan();
  decodeStep(d, 1).params = [](auto &b) {
    return plan::CreateRmsNormParams(b, 1e-6f, /*residual=*/true).Union();
  };
  EXPECT_EQ(loadError(d), kStep1 + "expects 2 inputs [x, r], got 1");
  d = validPlan();
  decodeStep(d, 1).params = nullptr;
  EXPECT_EQ(loadError(d), kStep1 + "has no parameters");
}

TEST(Plan, WeightIndexOutOfRange) {
  PlanDesc d = validPlan();
  decodeStep(d, 3).weights = {42};
  EXPECT_EQ(loadError(d), kStep3 + "weight 0 index 42 out of range (plan has "
                                   "4 weights)");
}

TEST(Plan, KernelIndexOutOfRange) {
  PlanDesc d = validPlan();
  decodeStep(d, 3).kernel = 1;
  EXPECT_EQ(loadError(d), kStep3 + "kernel index 1 out of range (plan has 1 "
                                   "kernels)");
}

TEST(Plan, WidthsMustMatchWeights) {
  PlanDesc d = validPlan();
  d.weights[2].parts[0].shape = {kVocab, kHidden + 1}; // fails in prefill first
  EXPECT_EQ(loadError(d), "model.plan: program 'prefill' step 3 'lm_head' "
                          "(Gemm): input 0 (a) has 8 columns, expected 9 "
                          "(weight columns K)");
  d = validPlan();
  decodeStep(d, 3).weights = {3};
  EXPECT_EQ(loadError(d), kStep3 + "weight 0 (W) must not be an expert set");
}

TEST(Plan, OperandKindsAndRows) {
  PlanDesc d = validPlan();
  decodeStep(d, 0).inputs[0] = plan::Operand(5, 0, 1); // tokens from float h
  EXPECT_EQ(loadError(d), "model.plan: program 'decode' step 0 'embed' "
                          "(Embedding): input 0 (tokens) must be an I32 "
                          "buffer, 'h' is F32");
  d = validPlan();
  decodeStep(d, 3).inputs[0] =
      plan::Operand(6, 0, kHidden); // [T] rows into [R]
  EXPECT_EQ(loadError(d), kStep3 + "output 0 (c) has R rows, expected rows of "
                                   "input 0 (a) = T");
  d = validPlan();
  decodeStep(d, 1).outputs[0] = plan::Operand(5, 0, kHidden); // in place: fine
  EXPECT_EQ(loadError(d), "");
  d = validPlan();
  decodeStep(d, 2).outputs[0] = plan::Operand(6, 0, kHidden); // y rows T != R
  EXPECT_NE(
      loadError(d).find("has T rows, expected rows of input 1 (rows) = R"),
      std::string::npos);
}

TEST(Plan, AliasingOutsideElementwiseFamilies) {
  PlanDesc d = validPlan();
  // Gemm output over its own input (no residual): it would read what it writes.
  d.programs[1].buffers[7].cols = 2 * kHidden;
  d.programs[1].buffers[4].cols = kVocab;
  decodeStep(d, 2).outputs[0] = plan::Operand(7, 0, kHidden);
  decodeStep(d, 3).inputs[0] = plan::Operand(7, 0, kHidden);
  decodeStep(d, 3).outputs[0] = plan::Operand(7, 4, kVocab);
  EXPECT_EQ(loadError(d), kStep3 + "output 0 (c) overlaps input 0 (a)");
}

TEST(Plan, ProgramInputsAndOutputs) {
  PlanDesc d = validPlan();
  d.programs[1].inputs.pop_back();
  EXPECT_EQ(loadError(d), "model.plan: program 'decode': needs 4 inputs "
                          "(tokens, positions, seq_ids, logit_rows) or 5 "
                          "(and sampling), got 3");
  d = validPlan();
  d.programs[1].buffers[kLogits].cols = kVocab + 1;
  EXPECT_EQ(loadError(d).rfind("model.plan: program 'decode': output buffer "
                               "'logits' must be F32 with PerLogitRow rows",
                               0),
            0u);
  d = validPlan();
  d.programs[1].maxTokens = 0;
  EXPECT_EQ(loadError(d),
            "model.plan: program 'decode': max_tokens 0 must be >= 1");
  d = validPlan();
  d.programs[1].name = "prefill";
  EXPECT_EQ(loadError(d), "model.plan: two programs are called 'prefill'");
}

/// A prefill that attends only over its own tokens (fresh sequences) needs
/// an "extend" program for the rest, and only such a program may hold
/// MlaPrefillAttention.
TEST(Plan, FreshSequences) {
  PlanDesc d = validPlan();
  d.programs[0].freshSequences = true;
  EXPECT_EQ(loadError(d), "model.plan: program 'prefill' has fresh_sequences "
                          "but the plan has no 'extend' program for chunks "
                          "that continue a sequence");
  ProgramDesc extend = d.programs[0];
  extend.name = "extend";
  extend.freshSequences = false;
  d.programs.push_back(extend);
  EXPECT_EQ(loadError(d), "");

  // Heads 2, Dn 4, Dr 2, Dv 4: q [T, 12], kv [T, 16], k_pe [T, 2], o [T, 8].
  d = validPlan();
  ProgramDesc &decode = d.programs[1];
  uint32_t q = decode.add("q", 12), kv = decode.add("kv", 16),
           kPe = decode.add("k_pe", 2), o = decode.add("o", 8);
  decode.steps.push_back(
      {"attn",
       StepParams::MlaPrefillAttentionParams,
       [](auto &b) {
         return plan::CreateMlaPrefillAttentionParams(b, 2, 4, 2, 4, 0.5f)
             .Union();
       },
       {decode.op(q), decode.op(kv), decode.op(kPe), decode.op(kPositions)},
       {decode.op(o)},
       {}});
  const std::string attn =
      "model.plan: program 'decode' step 4 'attn' (MlaPrefillAttention): ";
  EXPECT_EQ(loadError(d), attn + "attends over the step's own tokens only, so "
                                 "its program must have fresh_sequences");
  decode.freshSequences = true;
  d.programs.push_back(extend); // `decode` dangles from here
  EXPECT_EQ(loadError(d), "");
  d.programs[1].steps.back().inputs[1] = d.programs[1].op(kv, 0, 12);
  EXPECT_EQ(loadError(d).rfind(attn + "input 1 (kv)", 0), 0u) << loadError(d);
}

/// MTP drafts: a second output, I32 [R, 1], in every program or none.
TEST(Plan, DraftOutputs) {
  PlanDesc d = validPlan();
  for (ProgramDesc &p : d.programs)
    p.outputs.push_back(
        p.add("drafts", 1, RowKind::PerLogitRow, 1, plan::DType::I32));
  EXPECT_EQ(loadError(d), "");
  d.programs[1].buffers[d.programs[1].outputs[1]].dtype = plan::DType::F32;
  EXPECT_EQ(loadError(d),
            "model.plan: program 'decode': output 1 (drafts) buffer "
            "'drafts' must be I32 with 1 column, PerLogitRow rows "
            "and row_factor 1");
  d = validPlan();
  d.programs[1].outputs.push_back(d.programs[1].add(
      "drafts", 1, RowKind::PerLogitRow, 1, plan::DType::I32));
  EXPECT_EQ(loadError(d),
            "model.plan: program 'decode' has 2 outputs but program "
            "'prefill' has 1 (MTP drafts come from all programs or "
            "none)");
  d.programs[1].outputs.push_back(d.programs[1].outputs[1]);
  EXPECT_EQ(loadError(d),
            "model.plan: program 'decode': needs 1 output (logits) "
            "or 2 (logits, MTP drafts), got 3");
}

TEST(Plan, Weights) {
  PlanDesc d = validPlan();
  d.weights[3].parts[1].name = "model.layers.1.mlp.experts.0.up_proj.weight";
  EXPECT_EQ(loadError(d), "model.plan: weight 3 "
                          "'model.layers.1.mlp.experts.{e}.gate_proj.weight': "
                          "part 'model.layers.1.mlp.experts.0.up_proj.weight' "
                          "of an expert set must contain \"{e}\"");
  d = validPlan();
  d.weights[0].parts.clear();
  EXPECT_EQ(loadError(d), "model.plan: weight 0 '': has no parts");
  d = validPlan();
  d.weights[0].parts[0].shape = {};
  EXPECT_EQ(loadError(d), "model.plan: weight 0 'model.embed_tokens.weight': "
                          "part 'model.embed_tokens.weight' must have a shape "
                          "of 1 or 2 dimensions");
  // Only FP8 block-scaled tensors are quantized at load (--weight-dtype=fp8).
  d = validPlan();
  d.weights[2].parts[0].quantizeAtLoad = true;
  EXPECT_EQ(loadError(d), "model.plan: weight 2 'lm_head.weight': part "
                          "'lm_head.weight' is quantized at load but is not a "
                          "2-D FP8 tensor with a scale name");
}

} // namespace
} // namespace moela::test

namespace moela::test {
namespace {

TEST(Plan, AllArenasTogetherAreBounded) {
  // 40 GiB of activations per program passes alone, not twice.
  PlanDesc d = validPlan();
  for (ProgramDesc &p : d.programs)
    p.add("big", int64_t(40) << 30 >> 6); // [16 tokens, 2^30*40/64] F32
  const std::string error = loadError(d);
  EXPECT_EQ(error.rfind("model.plan: the programs' arenas take 85899", 0), 0u)
      << error;
  EXPECT_NE(error.find(" bytes together, more than the limit of 68719476736 "
                       "bytes of activations"),
            std::string::npos)
      << error;
  d.programs.pop_back();
  d.programs.push_back(validPlan().programs[1]);
  EXPECT_EQ(loadError(d), "");
}

TEST(Plan, WeightSizesCannotWrap) {
  // 3 experts of 2^39 + 2^39 elements: each part fits, the set does not.
  PlanDesc d = validPlan();
  d.weights[3].parts[0].shape = {int64_t(1) << 31, 256};
  d.weights[3].parts[1].shape = {int64_t(1) << 31, 256};
  EXPECT_EQ(loadError(d), "model.plan: weight 3 "
                          "'model.layers.1.mlp.experts.{e}.gate_proj.weight': "
                          "3 x 1099511627776 elements is more than 2^40");
  d.weights[3].parts[0].shape = {int64_t(1) << 62, 4};
  EXPECT_EQ(loadError(d), "model.plan: weight 3 "
                          "'model.layers.1.mlp.experts.{e}.gate_proj.weight': "
                          "part 'model.layers.1.mlp.experts.{e}.gate_proj."
                          "weight' of shape [4611686018427387904, 4] is "
                          "larger than 2^40 elements");
}

TEST(Plan, KvCacheMustMatchModel) {
  PlanDesc d = validPlan();
  d.config.kvLoraRank = 16;
  d.config.qkRopeHeadDim = 4;
  d.hasKvCache = true;
  d.kvLayers = 1;
  d.kvLatent = 16;
  d.kvRope = 4;
  EXPECT_EQ(loadError(d), "");
  d.kvLatent = 32;
  EXPECT_EQ(loadError(d), "model.plan: kv_cache latent_dim 32 and rope_dim 4 "
                          "must equal the model's kv_lora_rank 16 and "
                          "qk_rope_head_dim 4");
  d.kvLatent = 16;
  d.kvLayers = 2;
  EXPECT_EQ(loadError(d), "model.plan: kv_cache has 2 layers, more than the "
                          "model's num_hidden_layers + "
                          "num_nextn_predict_layers = 1");
  d.kvLayers = 1;
  d.kvDtype = plan::DType::BF16;
  EXPECT_EQ(loadError(d), "");
  d.kvDtype = plan::DType::F8E4M3;
  EXPECT_EQ(loadError(d), "");
  d.kvDtype = plan::DType::I32;
  EXPECT_EQ(loadError(d), "model.plan: kv_cache dtype I32 is not supported "
                          "(F32, BF16, F8E4M3)");
  d.kvDtype = plan::DType::BF16;
  d.kvPageTokens = 128; // another runtime's pages
  EXPECT_EQ(loadError(d), "model.plan: kv_cache page_tokens 128 is not this "
                          "runtime's page size 64 (recompile the model)");
}

} // namespace
} // namespace moela::test
