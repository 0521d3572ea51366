//===- ConfigTest.cpp - config.json rules and the moela.model attribute ---===//
//
// docs/model.md §1 as a table: starting from a valid config (models/tiny), each
// row applies one mutation and states the one-line error it must produce
// (prefixed by the origin, naming the field, its value and the rule). Then
// the positive cases: every bundled config loads, with spot-checked values,
// the accepted spellings (rope_parameters, null q_lora_rank, unknown keys,
// directories), and ModelConfig -> moela.model -> ModelConfig round trips.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/Config.h"
#include "ConfigTestUtil.h"
#include "moela/Compiler/Importer.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace moela;
using namespace moela::configtest;

namespace {

//===----------------------------------------------------------------------===//
// Rejected configs: one row per rule
//===----------------------------------------------------------------------===//

struct BadConfig {
  const char *name; // the test name
  Mutation mutate;  // applied to kTinyConfig, unless `text` is set
  std::string text; // raw file contents instead of a mutation
  /// Each must appear in the message: the field, its value, the rule.
  std::vector<std::string> expected;
};

/// Keeps ctest's test names short: gtest appends the printed parameter.
void PrintTo(const BadConfig &c, std::ostream *os) { *os << c.name; }

BadConfig missing(const char *name, const char *field) {
  return {
      name, drop(field), "", {std::string(field) + " is required but missing"}};
}

// One row per rule; clang-format would spread each over four lines.
// clang-format off
/// The released FP8 quantization_config, then `m`.
Mutation fp8Then(Mutation m) {
  return all({set("quantization_config", fp8Quantization()), std::move(m)});
}

const BadConfig kBadConfigs[] = {
    // The 14 required fields (docs/model.md §1).
    missing("MissingVocabSize", "vocab_size"),
    missing("MissingHiddenSize", "hidden_size"),
    missing("MissingIntermediateSize", "intermediate_size"),
    missing("MissingMoeIntermediateSize", "moe_intermediate_size"),
    missing("MissingNumHiddenLayers", "num_hidden_layers"),
    missing("MissingNumAttentionHeads", "num_attention_heads"),
    missing("MissingKvLoraRank", "kv_lora_rank"),
    missing("MissingQkNopeHeadDim", "qk_nope_head_dim"),
    missing("MissingQkRopeHeadDim", "qk_rope_head_dim"),
    missing("MissingVHeadDim", "v_head_dim"),
    missing("MissingNRoutedExperts", "n_routed_experts"),
    missing("MissingNumExpertsPerTok", "num_experts_per_tok"),
    missing("MissingRmsNormEps", "rms_norm_eps"),
    missing("MissingRopeTheta", "rope_theta"),
    {"NullRequiredField", set("hidden_size", nullptr), "",
     {"hidden_size is required but missing"}},

    // Wrong types.
    {"StringForInt", set("hidden_size", "64"), "",
     {"hidden_size = \"64\" must be an integer"}},
    {"FractionForInt", set("num_attention_heads", 7.5), "",
     {"num_attention_heads = 7.5 must be an integer"}},
    {"ArrayForBool", set("norm_topk_prob", json::Array{true}), "",
     {"norm_topk_prob = [true] must be true or false"}},
    {"StringForBool", set("tie_word_embeddings", "false"), "",
     {"tie_word_embeddings = \"false\" must be true or false"}},
    {"StringForNumber", set("rms_norm_eps", "1e-6"), "",
     {"rms_norm_eps = \"1e-6\" must be a number"}},
    {"NumberForChoice", set("topk_method", 2), "",
     {"topk_method = 2 must be one of \"greedy\", \"group_limited_greedy\", "
      "\"noaux_tc\""}},
    {"RopeScalingNotObject", set("rope_scaling", "yarn"), "",
     {"rope_scaling = \"yarn\" must be an object or null"}},
    {"QuantizationNotObject", set("quantization_config", "fp8"), "",
     {"quantization_config = \"fp8\" must be an object or null"}},

    // Cross-field rules of docs/model.md §1, each named.
    {"KGreaterThanE", set("num_experts_per_tok", 9), "",
     {"num_experts_per_tok = 9", "must be <= n_routed_experts = 8"}},
    {"GroupsDoNotDivideExperts", set("n_group", 3), "",
     {"n_group = 3", "must divide n_routed_experts = 8", "E % G == 0"}},
    {"TopkGroupAboveNGroup", set("topk_group", 5), "",
     {"topk_group = 5", "must be <= n_group = 4"}},
    {"NoauxTcOneExpertPerGroup", set("n_group", 8), "",
     {"n_group = 8", "leaves 1 expert per group", "noaux_tc", "E / G >= 2"}},
    {"KAboveKeptGroups", set("num_experts_per_tok", 5), "",
     {"num_experts_per_tok = 5",
      "must be <= topk_group * n_routed_experts / n_group = 4"}},
    {"KAboveKeptGroupsGroupLimitedGreedy",
     all({set("topk_method", "group_limited_greedy"), set("topk_group", 1),
          set("num_experts_per_tok", 3)}),
     "",
     {"num_experts_per_tok = 3",
      "must be <= topk_group * n_routed_experts / n_group = 2"}},
    {"OddRopeHeadDim", set("qk_rope_head_dim", 7), "",
     {"qk_rope_head_dim = 7", "must be even"}},
    {"MoeLayerFreq2", set("moe_layer_freq", 2), "",
     {"moe_layer_freq = 2", "is not supported (must be 1)"}},
    {"FirstKDenseAboveLayers", set("first_k_dense_replace", 4), "",
     {"first_k_dense_replace = 4", "must be <= num_hidden_layers = 3"}},
    {"BosTokenOutsideVocab", set("bos_token_id", 129280), "",
     {"bos_token_id = 129280", "must be < vocab_size = 129280"}},
    {"EosTokenOutsideVocab", set("eos_token_id", 200000), "",
     {"eos_token_id = 200000", "must be < vocab_size = 129280"}},

    // Ranges.
    {"ZeroHiddenSize", set("hidden_size", 0), "",
     {"hidden_size = 0 must be >= 1"}},
    {"NegativeKvLoraRank", set("kv_lora_rank", -1), "",
     {"kv_lora_rank = -1 must be >= 1"}},
    {"ZeroLayers", set("num_hidden_layers", 0), "",
     {"num_hidden_layers = 0 must be >= 1"}},
    {"ZeroExperts", set("n_routed_experts", 0), "",
     {"n_routed_experts = 0 must be >= 1"}},
    {"NegativeQLoraRank", set("q_lora_rank", -5), "",
     {"q_lora_rank = -5 must be >= 0"}},
    {"NegativeSharedExperts", set("n_shared_experts", -1), "",
     {"n_shared_experts = -1 must be >= 0"}},
    {"ZeroNGroup", set("n_group", 0), "", {"n_group = 0 must be >= 1"}},
    {"HugeDim", set("vocab_size", int64_t(1) << 40), "",
     {"vocab_size = 1099511627776 must be < 2^31"}},
    {"ZeroRmsNormEps", set("rms_norm_eps", 0), "",
     {"rms_norm_eps = 0 must be > 0"}},
    {"NegativeRmsNormEps", set("rms_norm_eps", -1e-6), "",
     {"rms_norm_eps = -1e-06 must be > 0"}},
    {"NegativeRopeTheta", set("rope_theta", -10000), "",
     {"rope_theta = -10000 must be > 0"}},
    {"ZeroRoutedScalingFactor", set("routed_scaling_factor", 0.0), "",
     {"routed_scaling_factor = 0 must be > 0"}},

    // Unknown enumerators.
    {"UnknownTopkMethod", set("topk_method", "random"), "",
     {"topk_method = \"random\" must be one of \"greedy\", "
      "\"group_limited_greedy\", \"noaux_tc\""}},
    {"UnknownScoringFunc", set("scoring_func", "relu"), "",
     {"scoring_func = \"relu\" must be one of \"softmax\", \"sigmoid\""}},
    {"UnknownHiddenAct", set("hidden_act", "gelu"), "",
     {"hidden_act = \"gelu\" must be one of \"silu\""}},
    {"UnknownTorchDtype", set("torch_dtype", "int8"), "",
     {"torch_dtype = \"int8\" must be one of \"bfloat16\", \"float16\", "
      "\"float32\""}},

    // rope_scaling.
    {"RopeScalingLinear", set("rope_scaling.type", "linear"), "",
     {"rope_scaling.type = \"linear\" is not supported",
      "DeepSeek models use \"yarn\""}},
    {"RopeScalingWithoutType", drop("rope_scaling.type"), "",
     {"rope_scaling.type is required (the rope scaling type)"}},
    {"RopeParametersWithoutRopeType",
     all({drop("rope_scaling"),
          set("rope_parameters", json::Object{{"factor", 4}})}),
     "",
     {"rope_parameters.rope_type is required (the rope scaling type)"}},
    {"RopeParametersLinear",
     all({drop("rope_scaling"),
          set("rope_parameters", json::Object{{"rope_type", "linear"}})}),
     "",
     {"rope_parameters.rope_type = \"linear\" is not supported"}},
    {"YarnZeroBeta", set("rope_scaling.beta_slow", 0), "",
     {"rope_scaling.beta_slow = 0 must be > 0"}},
    // ln(e) = 1, so g(-10) = 0.1 * -10 * 1 + 1 is exactly 0.
    {"YarnMagnitudeDivisorZero",
     all({set("rope_scaling.factor", 2.718281828459045), set("rope_scaling.mscale_all_dim", -10)}),
     "",
     {"rope_scaling.mscale_all_dim = -10 makes 0.1 * mscale_all_dim * "
      "ln(factor) + 1 zero"}},
    {"YarnRopeThetaOne", set("rope_theta", 1), "",
     {"rope_theta = 1 cannot be used with YaRN"}},
    {"YarnMissingFactor", drop("rope_scaling.factor"), "",
     {"rope_scaling.factor is required but missing"}},
    {"YarnZeroFactor", set("rope_scaling.factor", 0), "",
     {"rope_scaling.factor = 0 must be > 0"}},

    // quantization_config.
    {"QuantMethodAwq",
     fp8Then(set("quantization_config.quant_method", "awq")),
     "",
     {"quantization_config.quant_method = \"awq\" is not supported (only "
      "\"fp8\")"}},
    {"QuantMethodMissing",
     fp8Then(drop("quantization_config.quant_method")),
     "",
     {"quantization_config.quant_method is required (\"fp8\")"}},
    {"QuantBlock64",
     fp8Then(set("quantization_config.weight_block_size", json::Array{64, 64})),
     "",
     {"quantization_config.weight_block_size = [64,64] is not supported (only "
      "[128, 128])"}},
    {"QuantBlockMissing",
     fp8Then(drop("quantization_config.weight_block_size")),
     "",
     {"quantization_config.weight_block_size is required ([128, 128])"}},
    {"QuantFmtE5m2",
     fp8Then(set("quantization_config.fmt", "e5m2")),
     "",
     {"quantization_config.fmt = \"e5m2\" is not supported (only \"e4m3\")"}},
    {"QuantActivationStatic",
     fp8Then(set("quantization_config.activation_scheme", "static")),
     "",
     {"quantization_config.activation_scheme = \"static\" is not supported "
      "(only \"dynamic\")"}},
    {"QuantScaleFmtBogus",
     fp8Then(set("quantization_config.scale_fmt", "bogus")),
     "",
     {"quantization_config.scale_fmt = \"bogus\" must be one of \"float\", "
      "\"ue8m0\""}},

    // architectures.
    {"ArchitecturesMissing", drop("architectures"), "",
     {"architectures is required",
      "must name DeepseekV2ForCausalLM or DeepseekV3ForCausalLM"}},
    {"ArchitecturesLlama",
     set("architectures", json::Array{"LlamaForCausalLM"}), "",
     {"architectures = [\"LlamaForCausalLM\"]",
      "must name DeepseekV2ForCausalLM or DeepseekV3ForCausalLM"}},
    {"ArchitecturesNotArray", set("architectures", "DeepseekV3ForCausalLM"), "",
     {"architectures = \"DeepseekV3ForCausalLM\"",
      "must name DeepseekV2ForCausalLM or DeepseekV3ForCausalLM"}},

    // Size limits: far above real models, so compile time and memory stay
    // bounded.
    {"LayersOverLimit", set("num_hidden_layers", 5000), "",
     {"num_hidden_layers = 5000 exceeds moela's limit 1024"}},
    {"MtpLayersOverLimit", set("num_nextn_predict_layers", 262144), "",
     {"num_nextn_predict_layers = 262144 exceeds moela's limit 16"}},
    {"HeadsOverLimit", set("num_attention_heads", 4096), "",
     {"num_attention_heads = 4096 exceeds moela's limit 1024"}},
    {"HiddenOverLimit", set("hidden_size", 1 << 20), "",
     {"hidden_size = 1048576 exceeds moela's limit 32768"}},
    {"RoutedExpertsOverLimit",
     all({set("num_hidden_layers", 1000), set("n_routed_experts", 4096)}), "",
     {"n_routed_experts = 4096 in 1001 layers (num_hidden_layers + "
      "num_nextn_predict_layers) makes 4100096 experts, over moela's limit "
      "65536"}},
    {"LoraRankOverLimit", set("kv_lora_rank", 65536), "",
     {"kv_lora_rank = 65536 exceeds moela's limit 16384"}},
    {"SharedExpertsOverLimit", set("n_shared_experts", 256), "",
     {"n_shared_experts = 256 exceeds moela's limit 64"}},
    {"ExpertsOverLimit", set("n_routed_experts", 100000), "",
     {"n_routed_experts = 100000 exceeds moela's limit 4096"}},
    {"VocabOverLimit", set("vocab_size", 1 << 25), "",
     {"vocab_size = 33554432 exceeds moela's limit 16777216"}},
    {"PositionsOverLimit", set("max_position_embeddings", 1 << 30), "",
     {"max_position_embeddings = 1073741824 exceeds moela's limit 16777216"}},
    {"RopeDimOverLimit", set("qk_rope_head_dim", 8192), "",
     {"qk_rope_head_dim = 8192 exceeds moela's limit 4096"}},
    {"IntermediateOverLimit", set("intermediate_size", 1 << 20), "",
     {"intermediate_size = 1048576 exceeds moela's limit 262144"}},
    {"MoeIntermediateOverLimit", set("moe_intermediate_size", 1 << 20), "",
     {"moe_intermediate_size = 1048576 exceeds moela's limit 65536"}},

    // Nesting deep enough to overflow LLVM's recursive parser.
    {"DeeplyNested", nullptr, "{\"a\": " + std::string(100000, '['),
     {"line 1, column 262: arrays and objects nest deeper than moela's "
      "limit of 256 levels"}},

    // Not a JSON object at all.
    {"TruncatedJson", nullptr, std::string(kTinyConfig).substr(0, 100),
     {"invalid JSON: [4:25, byte=100]"}},
    {"EmptyFile", nullptr, " ", {"invalid JSON"}},
    {"TopLevelArray", nullptr, "[1, 2, 3]",
     {"the top level must be a JSON object"}},
    {"TopLevelString", nullptr, "\"config\"",
     {"the top level must be a JSON object"}},
};
// clang-format on

class BadConfigTest : public testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, FailsWithOneLineNamingFieldAndRule) {
  const BadConfig &row = GetParam();
  std::string text = row.mutate ? mutatedConfig(row.mutate) : row.text;
  llvm::Expected<ModelConfig> config = parseModelConfig(text, kOrigin);
  // (a) Loading fails.
  ASSERT_FALSE(bool(config)) << "accepted: " << text;
  std::string message = llvm::toString(config.takeError());
  // (b) The message is one line.
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  // (c) It names the field, the value and the rule.
  for (const std::string &part : row.expected)
    EXPECT_NE(message.find(part), std::string::npos)
        << "'" << part << "' not in: " << message;
  // (d) It starts with the origin.
  EXPECT_EQ(message.rfind(std::string(kOrigin) + ": ", 0), 0u) << message;
}

INSTANTIATE_TEST_SUITE_P(Rules, BadConfigTest, testing::ValuesIn(kBadConfigs),
                         [](const testing::TestParamInfo<BadConfig> &info) {
                           return info.param.name;
                         });

//===----------------------------------------------------------------------===//
// Accepted configs
//===----------------------------------------------------------------------===//

TEST(ConfigTest, BaseConfigIsTheTinyModel) {
  ModelConfig c = parseOk(kTinyConfig);
  EXPECT_EQ(c.architecture, "DeepseekV3ForCausalLM");
  EXPECT_EQ(c.vocabSize, 129280);
  EXPECT_EQ(c.hiddenSize, 64);
  EXPECT_EQ(c.qLoraRank, 48);
  EXPECT_EQ(c.topkMethod, TopkMethod::NoauxTc);
  EXPECT_EQ(c.scoringFunc, ScoringFunc::Sigmoid);
  EXPECT_TRUE(c.yarn.enabled);
  EXPECT_EQ(c.yarn.factor, 4.0);
  EXPECT_FALSE(c.fp8.enabled);
  // The same as the file in models/.
  ModelConfig file = loadOk(kModels + "/tiny/config.json");
  EXPECT_EQ(file.hiddenSize, c.hiddenSize);
  EXPECT_EQ(file.nGroup, c.nGroup);
  EXPECT_EQ(file.numNextnPredictLayers, c.numNextnPredictLayers);
}

TEST(ConfigTest, EveryBundledConfigLoads) {
  std::vector<std::string> names = bundledModels();
  // The released configs and the tiny ones (models/README.md).
  for (const char *expected :
       {"deepseek-r1", "deepseek-v2", "deepseek-v2-lite", "deepseek-v3",
        "deepseek-v3-4l", "deepseek-v3.1", "tiny", "tiny-v2", "tiny-v2-lite",
        "tiny-v3-fp8"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end())
        << expected;
  for (const std::string &name : names) {
    SCOPED_TRACE(name);
    // Both as a file and as a checkpoint directory.
    llvm::Expected<ModelConfig> file =
        loadModelConfig(kModels + "/" + name + "/config.json");
    ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
    llvm::Expected<ModelConfig> dir = loadModelConfig(kModels + "/" + name);
    ASSERT_TRUE(bool(dir)) << llvm::toString(dir.takeError());
    EXPECT_EQ(file->hiddenSize, dir->hiddenSize);
    EXPECT_EQ(file->numHiddenLayers, dir->numHiddenLayers);
  }
}

TEST(ConfigTest, DeepSeekV3Values) {
  ModelConfig c = loadOk(kModels + "/deepseek-v3/config.json");
  EXPECT_EQ(c.architecture, "DeepseekV3ForCausalLM");
  EXPECT_EQ(c.numHiddenLayers, 61);
  EXPECT_EQ(c.hiddenSize, 7168);
  EXPECT_EQ(c.vocabSize, 129280);
  EXPECT_EQ(c.qLoraRank, 1536);
  EXPECT_EQ(c.nRoutedExperts, 256);
  EXPECT_EQ(c.numExpertsPerTok, 8);
  EXPECT_EQ(c.nGroup, 8);
  EXPECT_EQ(c.topkGroup, 4);
  EXPECT_EQ(c.firstKDenseReplace, 3);
  EXPECT_EQ(c.numNextnPredictLayers, 1);
  EXPECT_EQ(c.topkMethod, TopkMethod::NoauxTc);
  EXPECT_EQ(c.scoringFunc, ScoringFunc::Sigmoid);
  EXPECT_TRUE(c.normTopkProb);
  EXPECT_EQ(c.routedScalingFactor, 2.5);
  EXPECT_TRUE(c.yarn.enabled);
  EXPECT_EQ(c.yarn.factor, 40.0);
  EXPECT_EQ(c.yarn.originalMaxPositionEmbeddings, 4096);
  EXPECT_EQ(c.yarn.betaFast, 32.0);
  EXPECT_EQ(c.yarn.betaSlow, 1.0);
  EXPECT_EQ(c.yarn.mscaleAllDim, 1.0);
  EXPECT_TRUE(c.fp8.enabled);
  EXPECT_EQ(c.fp8.blockRows, 128);
  EXPECT_EQ(c.fp8.blockCols, 128);
  EXPECT_EQ(c.fp8.scaleFmt, ScaleFmt::Float);
  EXPECT_EQ(c.torchDtype, "bfloat16");
  // docs/model.md §3.1: 192^-0.5 * (0.1 ln 40 + 1)^2.
  EXPECT_NEAR(c.softmaxScale(), 0.13523377886088009, 1e-15);
}

TEST(ConfigTest, DeepSeekV31ScaleFmtUe8m0) {
  ModelConfig c = loadOk(kModels + "/deepseek-v3.1/config.json");
  EXPECT_TRUE(c.fp8.enabled);
  EXPECT_EQ(c.fp8.scaleFmt, ScaleFmt::Ue8m0);
}

TEST(ConfigTest, DeepSeekV2LiteNullQLoraRank) {
  ModelConfig c = loadOk(kModels + "/deepseek-v2-lite/config.json");
  EXPECT_EQ(c.architecture, "DeepseekV2ForCausalLM");
  EXPECT_EQ(c.qLoraRank, 0);
  EXPECT_FALSE(c.hasQLora());
  EXPECT_EQ(c.topkMethod, TopkMethod::Greedy);
  EXPECT_EQ(c.scoringFunc, ScoringFunc::Softmax);
  EXPECT_EQ(c.numNextnPredictLayers, 0); // absent: default
  EXPECT_FALSE(c.fp8.enabled);
  EXPECT_EQ(c.yarn.mscale, 0.707);
  EXPECT_EQ(c.bosTokenId, 100000);
}

TEST(ConfigTest, DeepSeekV2GroupLimitedGreedy) {
  ModelConfig c = loadOk(kModels + "/deepseek-v2/config.json");
  EXPECT_EQ(c.topkMethod, TopkMethod::GroupLimitedGreedy);
  EXPECT_EQ(c.nGroup, 8);
  EXPECT_EQ(c.topkGroup, 3);
  EXPECT_EQ(c.routedScalingFactor, 16.0);
  EXPECT_EQ(c.yarn.mscaleAllDim, 0.707);
}

TEST(ConfigTest, OptionalFieldsTakeTheirDefaults) {
  ModelConfig c = parseOk(mutatedConfig(
      all({drop("q_lora_rank"), drop("n_shared_experts"),
           drop("first_k_dense_replace"), drop("moe_layer_freq"),
           drop("n_group"), drop("topk_group"), drop("topk_method"),
           drop("scoring_func"), drop("norm_topk_prob"),
           drop("routed_scaling_factor"), drop("rope_scaling"),
           drop("max_position_embeddings"), drop("num_nextn_predict_layers"),
           drop("tie_word_embeddings"), drop("bos_token_id"),
           drop("eos_token_id"), drop("hidden_act"), drop("torch_dtype")})));
  EXPECT_EQ(c.qLoraRank, 0);
  EXPECT_EQ(c.nSharedExperts, 0);
  EXPECT_EQ(c.firstKDenseReplace, 0);
  EXPECT_EQ(c.nGroup, 1);
  EXPECT_EQ(c.topkGroup, 1);
  EXPECT_EQ(c.topkMethod, TopkMethod::Greedy);
  EXPECT_EQ(c.scoringFunc, ScoringFunc::Softmax);
  EXPECT_FALSE(c.normTopkProb);
  EXPECT_EQ(c.routedScalingFactor, 1.0);
  EXPECT_FALSE(c.yarn.enabled);
  EXPECT_EQ(c.maxPositionEmbeddings, 4096);
  EXPECT_EQ(c.numNextnPredictLayers, 0);
  EXPECT_FALSE(c.tieWordEmbeddings);
  EXPECT_EQ(c.bosTokenId, 0);
  EXPECT_EQ(c.eosTokenId, 1);
  EXPECT_EQ(c.torchDtype, "bfloat16");
  EXPECT_FALSE(c.fp8.enabled);
}

TEST(ConfigTest, NullQLoraRankMeansNoCompression) {
  ModelConfig c = parseOk(mutatedConfig(set("q_lora_rank", nullptr)));
  EXPECT_EQ(c.qLoraRank, 0);
  EXPECT_FALSE(c.hasQLora());
  ModelConfig zero = parseOk(mutatedConfig(set("q_lora_rank", 0)));
  EXPECT_FALSE(zero.hasQLora());
}

TEST(ConfigTest, NullRopeScalingMeansPlainRope) {
  ModelConfig c = parseOk(mutatedConfig(set("rope_scaling", nullptr)));
  EXPECT_FALSE(c.yarn.enabled);
  EXPECT_EQ(c.ropeTheta, 10000.0);
}

TEST(ConfigTest, UnknownKeysAreIgnored) {
  ModelConfig c = parseOk(mutatedConfig(all(
      {set("some_future_field", json::Object{{"nested", json::Array{1, "x"}}}),
       set("rope_scaling.some_future_field", "x"),
       set("quantization_config", fp8Quantization()),
       set("quantization_config.some_future_field", 3)})));
  EXPECT_EQ(c.hiddenSize, 64);
  EXPECT_TRUE(c.fp8.enabled);
}

TEST(ConfigTest, IntegralFloatsAreIntegers) {
  ModelConfig c =
      parseOk(mutatedConfig(set("max_position_embeddings", 4096.0)));
  EXPECT_EQ(c.maxPositionEmbeddings, 4096);
}

TEST(ConfigTest, RopeParametersWithRopeTypeYarn) {
  // Newer transformers: rope_parameters with rope_type (and rope_theta inside).
  json::Object yarn{{"rope_type", "yarn"},
                    {"factor", 40},
                    {"original_max_position_embeddings", 4096},
                    {"beta_fast", 32},
                    {"beta_slow", 1},
                    {"mscale", 1.0},
                    {"mscale_all_dim", 1.0},
                    {"rope_theta", 50000}};
  ModelConfig inside = parseOk(mutatedConfig(
      all({drop("rope_scaling"), drop("rope_theta"),
           set("rope_parameters", json::Value(json::Object(yarn)))})));
  EXPECT_TRUE(inside.yarn.enabled);
  EXPECT_EQ(inside.yarn.factor, 40.0);
  EXPECT_EQ(inside.yarn.originalMaxPositionEmbeddings, 4096);
  EXPECT_EQ(inside.ropeTheta, 50000.0);

  // A top-level rope_theta wins over the one inside.
  ModelConfig top = parseOk(mutatedConfig(
      all({drop("rope_scaling"),
           set("rope_parameters", json::Value(json::Object(yarn)))})));
  EXPECT_TRUE(top.yarn.enabled);
  EXPECT_EQ(top.ropeTheta, 10000.0);

  // A null rope_scaling next to rope_parameters defers to the latter.
  ModelConfig both = parseOk(mutatedConfig(
      all({set("rope_scaling", nullptr),
           set("rope_parameters", json::Value(json::Object(yarn)))})));
  EXPECT_TRUE(both.yarn.enabled);
  EXPECT_EQ(both.yarn.factor, 40.0);

  // rope_type "default" is plain RoPE.
  ModelConfig plain = parseOk(mutatedConfig(
      all({drop("rope_scaling"), drop("rope_theta"),
           set("rope_parameters", json::Object{{"rope_type", "default"},
                                               {"rope_theta", 20000}})})));
  EXPECT_FALSE(plain.yarn.enabled);
  EXPECT_EQ(plain.ropeTheta, 20000.0);
}

TEST(ConfigTest, RopeParametersWithoutThetaAnywhere) {
  llvm::Expected<ModelConfig> c = parseModelConfig(
      mutatedConfig(all(
          {drop("rope_scaling"), drop("rope_theta"),
           set("rope_parameters", json::Object{{"rope_type", "default"}})})),
      kOrigin);
  ASSERT_FALSE(bool(c));
  std::string message = llvm::toString(c.takeError());
  EXPECT_NE(message.find("rope_theta is required but missing"),
            std::string::npos)
      << message;
}

TEST(ConfigTest, DirectoryResolvesToItsConfigJson) {
  std::string dir = kModels + "/tiny";
  llvm::SmallString<256> expected(dir);
  llvm::sys::path::append(expected, "config.json");
  EXPECT_EQ(resolveConfigPath(dir), std::string(expected));
  EXPECT_EQ(resolveConfigPath(std::string(expected)), std::string(expected));
  EXPECT_EQ(loadOk(dir).hiddenSize, 64);
}

TEST(ConfigTest, MissingFileReportsThePath) {
  std::string path = kModels + "/no-such-model/config.json";
  llvm::Expected<ModelConfig> c = loadModelConfig(path);
  ASSERT_FALSE(bool(c));
  std::string message = llvm::toString(c.takeError());
  EXPECT_EQ(message.rfind(path + ": cannot read", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;

  // A directory without a config.json names the file it looked for.
  std::string dir = kModels + "/tokenizer";
  c = loadModelConfig(dir);
  ASSERT_FALSE(bool(c));
  message = llvm::toString(c.takeError());
  EXPECT_NE(message.find("tokenizer/config.json: cannot read"),
            std::string::npos)
      << message;
}

TEST(ConfigTest, FileErrorsArePrefixedByThePath) {
  // loadModelConfig uses the path as the origin of parse errors.
  llvm::SmallString<128> path;
  ASSERT_FALSE(
      llvm::sys::fs::createTemporaryFile("moela-config-test", "json", path));
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    ASSERT_FALSE(ec);
    os << mutatedConfig(set("num_experts_per_tok", 9));
  }
  llvm::Expected<ModelConfig> c = loadModelConfig(path);
  ASSERT_FALSE(bool(c));
  std::string message = llvm::toString(c.takeError());
  EXPECT_EQ(message.rfind(std::string(path) + ": num_experts_per_tok = 9", 0),
            0u)
      << message;
  llvm::sys::fs::remove(path);
}

} // namespace
