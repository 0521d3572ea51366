//===- ConfigTest.cpp - config.json rules and the moela.model attribute ---===//
//
// Spec section 1 as a table: starting from a valid config (models/tiny), each
// row applies one mutation and states the one-line error it must produce
// (prefixed by the origin, naming the field, its value and the rule). Then
// the positive cases: every bundled config loads, with spot-checked values,
// the accepted spellings (rope_parameters, null q_lora_rank, unknown keys,
// directories), and ModelConfig -> moela.model -> ModelConfig round trips.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/Config.h"
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

#include <functional>
#include <string>
#include <vector>

using namespace moela;
namespace json = llvm::json;

namespace {

const std::string kModels = std::string(MOELA_SOURCE_DIR) + "/models";
constexpr const char *kOrigin = "test/config.json";

/// models/tiny/config.json: V3 features at toy size (q compression, noaux_tc
/// with groups, YaRN, dense + MoE layers, shared expert, MTP).
constexpr const char *kTinyConfig = R"json({
  "architectures": ["DeepseekV3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV3Config",
    "AutoModel": "modeling_deepseek.DeepseekV3Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"
  },
  "bos_token_id": 0,
  "eos_token_id": 1,
  "ep_size": 1,
  "first_k_dense_replace": 1,
  "hidden_act": "silu",
  "hidden_size": 64,
  "initializer_range": 0.02,
  "intermediate_size": 128,
  "kv_lora_rank": 32,
  "max_position_embeddings": 4096,
  "model_type": "deepseek_v3",
  "moe_intermediate_size": 32,
  "moe_layer_freq": 1,
  "n_group": 4,
  "n_routed_experts": 8,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 4,
  "num_experts_per_tok": 2,
  "num_hidden_layers": 3,
  "num_key_value_heads": 4,
  "num_nextn_predict_layers": 1,
  "q_lora_rank": 48,
  "qk_nope_head_dim": 16,
  "qk_rope_head_dim": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 4,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "original_max_position_embeddings": 1024,
    "type": "yarn"
  },
  "rope_theta": 10000,
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "tie_word_embeddings": false,
  "topk_group": 2,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.33.1",
  "use_cache": true,
  "v_head_dim": 16,
  "vocab_size": 129280
})json";

/// The FP8 quantization_config of the released V3 checkpoints.
json::Value fp8Quantization() {
  return json::Object{{"activation_scheme", "dynamic"},
                      {"fmt", "e4m3"},
                      {"quant_method", "fp8"},
                      {"weight_block_size", json::Array{128, 128}}};
}

using Mutation = std::function<void(json::Object &)>;

/// kTinyConfig with `mutate` applied, as JSON text.
std::string mutatedConfig(const Mutation &mutate) {
  llvm::Expected<json::Value> value = json::parse(kTinyConfig);
  if (!value) {
    ADD_FAILURE() << "the base config does not parse: "
                  << llvm::toString(value.takeError());
    return "";
  }
  if (mutate)
    mutate(*value->getAsObject());
  std::string text;
  llvm::raw_string_ostream os(text);
  os << *value;
  return text;
}

/// Sets `path` ("a" or "a.b") to `v`; the parent object must exist.
Mutation set(std::string path, json::Value v) {
  return [path, v](json::Object &o) {
    size_t dot = path.find('.');
    if (dot == std::string::npos) {
      o[path] = v;
      return;
    }
    json::Object *inner = o.getObject(path.substr(0, dot));
    ASSERT_NE(inner, nullptr) << path;
    (*inner)[path.substr(dot + 1)] = v;
  };
}

/// Removes `path` ("a" or "a.b").
Mutation remove(std::string path) {
  return [path](json::Object &o) {
    size_t dot = path.find('.');
    if (dot == std::string::npos) {
      o.erase(path);
      return;
    }
    json::Object *inner = o.getObject(path.substr(0, dot));
    ASSERT_NE(inner, nullptr) << path;
    inner->erase(path.substr(dot + 1));
  };
}

/// Applies several mutations in order.
Mutation all(std::vector<Mutation> mutations) {
  return [mutations](json::Object &o) {
    for (const Mutation &m : mutations)
      m(o);
  };
}

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
  return {name,
          remove(field),
          "",
          {std::string(field) + " is required but missing"}};
}

// One row per rule; clang-format would spread each over four lines.
// clang-format off
const BadConfig kBadConfigs[] = {
    // The 14 required fields (spec 1).
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

    // Cross-field rules of spec 1, each named.
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
    {"RopeScalingWithoutType", remove("rope_scaling.type"), "",
     {"rope_scaling.type is required (the rope scaling type)"}},
    {"RopeParametersWithoutRopeType",
     all({remove("rope_scaling"),
          set("rope_parameters", json::Object{{"factor", 4}})}),
     "",
     {"rope_parameters.rope_type is required (the rope scaling type)"}},
    {"RopeParametersLinear",
     all({remove("rope_scaling"),
          set("rope_parameters", json::Object{{"rope_type", "linear"}})}),
     "",
     {"rope_parameters.rope_type = \"linear\" is not supported"}},
    {"YarnBetaFastNotAboveBetaSlow",
     all({set("rope_scaling.beta_fast", 1), set("rope_scaling.beta_slow", 32)}),
     "",
     {"rope_scaling.beta_fast = 1", "must be > beta_slow = 32"}},
    {"YarnBetaFastEqualBetaSlow",
     all({set("rope_scaling.beta_fast", 2), set("rope_scaling.beta_slow", 2)}),
     "",
     {"rope_scaling.beta_fast = 2", "must be > beta_slow = 2"}},
    {"YarnMissingFactor", remove("rope_scaling.factor"), "",
     {"rope_scaling.factor is required but missing"}},
    {"YarnZeroFactor", set("rope_scaling.factor", 0), "",
     {"rope_scaling.factor = 0 must be > 0"}},
    {"YarnMissingOriginalMax",
     remove("rope_scaling.original_max_position_embeddings"), "",
     {"rope_scaling.original_max_position_embeddings is required but missing"}},

    // quantization_config.
    {"QuantMethodAwq",
     all({set("quantization_config", fp8Quantization()),
          set("quantization_config.quant_method", "awq")}),
     "",
     {"quantization_config.quant_method = \"awq\" is not supported (only "
      "\"fp8\")"}},
    {"QuantMethodMissing",
     all({set("quantization_config", fp8Quantization()),
          remove("quantization_config.quant_method")}),
     "",
     {"quantization_config.quant_method is required (\"fp8\")"}},
    {"QuantBlock64",
     all({set("quantization_config", fp8Quantization()),
          set("quantization_config.weight_block_size", json::Array{64, 64})}),
     "",
     {"quantization_config.weight_block_size = [64,64] is not supported (only "
      "[128, 128])"}},
    {"QuantBlockMissing",
     all({set("quantization_config", fp8Quantization()),
          remove("quantization_config.weight_block_size")}),
     "",
     {"quantization_config.weight_block_size is required ([128, 128])"}},
    {"QuantFmtE5m2",
     all({set("quantization_config", fp8Quantization()),
          set("quantization_config.fmt", "e5m2")}),
     "",
     {"quantization_config.fmt = \"e5m2\" is not supported (only \"e4m3\")"}},
    {"QuantActivationStatic",
     all({set("quantization_config", fp8Quantization()),
          set("quantization_config.activation_scheme", "static")}),
     "",
     {"quantization_config.activation_scheme = \"static\" is not supported "
      "(only \"dynamic\")"}},
    {"QuantScaleFmtBogus",
     all({set("quantization_config", fp8Quantization()),
          set("quantization_config.scale_fmt", "bogus")}),
     "",
     {"quantization_config.scale_fmt = \"bogus\" must be one of \"float\", "
      "\"ue8m0\""}},

    // architectures.
    {"ArchitecturesMissing", remove("architectures"), "",
     {"architectures is required",
      "must name DeepseekV2ForCausalLM or DeepseekV3ForCausalLM"}},
    {"ArchitecturesLlama",
     set("architectures", json::Array{"LlamaForCausalLM"}), "",
     {"architectures = [\"LlamaForCausalLM\"]",
      "must name DeepseekV2ForCausalLM or DeepseekV3ForCausalLM"}},
    {"ArchitecturesNotArray", set("architectures", "DeepseekV3ForCausalLM"), "",
     {"architectures = \"DeepseekV3ForCausalLM\"",
      "must name DeepseekV2ForCausalLM or DeepseekV3ForCausalLM"}},

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

ModelConfig parseOk(const std::string &text) {
  llvm::Expected<ModelConfig> config = parseModelConfig(text, kOrigin);
  if (!config) {
    ADD_FAILURE() << llvm::toString(config.takeError());
    return ModelConfig();
  }
  return *config;
}

ModelConfig loadOk(const std::string &path) {
  llvm::Expected<ModelConfig> config = loadModelConfig(path);
  if (!config) {
    ADD_FAILURE() << llvm::toString(config.takeError());
    return ModelConfig();
  }
  return *config;
}

/// The folders of models/ that hold a config.json.
std::vector<std::string> bundledModels() {
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(kModels, ec), end; it != end && !ec;
       it.increment(ec)) {
    llvm::SmallString<256> config(it->path());
    llvm::sys::path::append(config, "config.json");
    if (llvm::sys::fs::exists(config))
      names.push_back(llvm::sys::path::filename(it->path()).str());
  }
  std::sort(names.begin(), names.end());
  return names;
}

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
  // Spec 3.1: 192^-0.5 * (0.1 ln 40 + 1)^2.
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
  ModelConfig c = parseOk(mutatedConfig(all(
      {remove("q_lora_rank"), remove("n_shared_experts"),
       remove("first_k_dense_replace"), remove("moe_layer_freq"),
       remove("n_group"), remove("topk_group"), remove("topk_method"),
       remove("scoring_func"), remove("norm_topk_prob"),
       remove("routed_scaling_factor"), remove("rope_scaling"),
       remove("max_position_embeddings"), remove("num_nextn_predict_layers"),
       remove("tie_word_embeddings"), remove("bos_token_id"),
       remove("eos_token_id"), remove("hidden_act"), remove("torch_dtype")})));
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
      all({remove("rope_scaling"), remove("rope_theta"),
           set("rope_parameters", json::Value(json::Object(yarn)))})));
  EXPECT_TRUE(inside.yarn.enabled);
  EXPECT_EQ(inside.yarn.factor, 40.0);
  EXPECT_EQ(inside.yarn.originalMaxPositionEmbeddings, 4096);
  EXPECT_EQ(inside.ropeTheta, 50000.0);

  // A top-level rope_theta wins over the one inside.
  ModelConfig top = parseOk(mutatedConfig(
      all({remove("rope_scaling"),
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
      all({remove("rope_scaling"), remove("rope_theta"),
           set("rope_parameters", json::Object{{"rope_type", "default"},
                                               {"rope_theta", 20000}})})));
  EXPECT_FALSE(plain.yarn.enabled);
  EXPECT_EQ(plain.ropeTheta, 20000.0);
}

TEST(ConfigTest, RopeParametersWithoutThetaAnywhere) {
  llvm::Expected<ModelConfig> c = parseModelConfig(
      mutatedConfig(all(
          {remove("rope_scaling"), remove("rope_theta"),
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

//===----------------------------------------------------------------------===//
// ModelConfig -> importModel -> moela.model -> readModelConfig
//===----------------------------------------------------------------------===//

void expectSameConfig(const ModelConfig &a, const ModelConfig &b) {
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.modelType, b.modelType);
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  EXPECT_EQ(a.hiddenSize, b.hiddenSize);
  EXPECT_EQ(a.intermediateSize, b.intermediateSize);
  EXPECT_EQ(a.moeIntermediateSize, b.moeIntermediateSize);
  EXPECT_EQ(a.numHiddenLayers, b.numHiddenLayers);
  EXPECT_EQ(a.numAttentionHeads, b.numAttentionHeads);
  EXPECT_EQ(a.qLoraRank, b.qLoraRank);
  EXPECT_EQ(a.kvLoraRank, b.kvLoraRank);
  EXPECT_EQ(a.qkNopeHeadDim, b.qkNopeHeadDim);
  EXPECT_EQ(a.qkRopeHeadDim, b.qkRopeHeadDim);
  EXPECT_EQ(a.vHeadDim, b.vHeadDim);
  EXPECT_EQ(a.nRoutedExperts, b.nRoutedExperts);
  EXPECT_EQ(a.numExpertsPerTok, b.numExpertsPerTok);
  EXPECT_EQ(a.nSharedExperts, b.nSharedExperts);
  EXPECT_EQ(a.firstKDenseReplace, b.firstKDenseReplace);
  EXPECT_EQ(a.nGroup, b.nGroup);
  EXPECT_EQ(a.topkGroup, b.topkGroup);
  EXPECT_EQ(a.topkMethod, b.topkMethod);
  EXPECT_EQ(a.scoringFunc, b.scoringFunc);
  EXPECT_EQ(a.normTopkProb, b.normTopkProb);
  EXPECT_EQ(a.routedScalingFactor, b.routedScalingFactor);
  EXPECT_EQ(a.rmsNormEps, b.rmsNormEps);
  EXPECT_EQ(a.ropeTheta, b.ropeTheta);
  EXPECT_EQ(a.yarn.enabled, b.yarn.enabled);
  if (a.yarn.enabled && b.yarn.enabled) {
    EXPECT_EQ(a.yarn.factor, b.yarn.factor);
    EXPECT_EQ(a.yarn.originalMaxPositionEmbeddings,
              b.yarn.originalMaxPositionEmbeddings);
    EXPECT_EQ(a.yarn.betaFast, b.yarn.betaFast);
    EXPECT_EQ(a.yarn.betaSlow, b.yarn.betaSlow);
    EXPECT_EQ(a.yarn.mscale, b.yarn.mscale);
    EXPECT_EQ(a.yarn.mscaleAllDim, b.yarn.mscaleAllDim);
  }
  EXPECT_EQ(a.maxPositionEmbeddings, b.maxPositionEmbeddings);
  EXPECT_EQ(a.numNextnPredictLayers, b.numNextnPredictLayers);
  EXPECT_EQ(a.tieWordEmbeddings, b.tieWordEmbeddings);
  EXPECT_EQ(a.fp8.enabled, b.fp8.enabled);
  EXPECT_EQ(a.fp8.blockRows, b.fp8.blockRows);
  EXPECT_EQ(a.fp8.blockCols, b.fp8.blockCols);
  EXPECT_EQ(a.fp8.scaleFmt, b.fp8.scaleFmt);
  EXPECT_EQ(a.bosTokenId, b.bosTokenId);
  EXPECT_EQ(a.eosTokenId, b.eosTokenId);
  EXPECT_EQ(a.torchDtype, b.torchDtype);
  EXPECT_EQ(a.softmaxScale(), b.softmaxScale());
}

/// Imports `config`, checks that the module verifies, and reads the config
/// back from its moela.model attribute.
void expectRoundTrip(const ModelConfig &config) {
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module = importModel(context, config);
  ASSERT_TRUE(module);
  EXPECT_TRUE(mlir::succeeded(mlir::verify(*module)));
  mlir::FailureOr<ModelConfig> back = readModelConfig(*module);
  ASSERT_TRUE(mlir::succeeded(back));
  expectSameConfig(config, *back);
}

TEST(ConfigAttrTest, EveryBundledConfigRoundTrips) {
  for (const std::string &name : bundledModels()) {
    SCOPED_TRACE(name);
    expectRoundTrip(loadOk(kModels + "/" + name));
  }
}

TEST(ConfigAttrTest, NonDefaultValuesRoundTrip) {
  // Every field away from the tiny config's value (and from its default).
  ModelConfig c = parseOk(mutatedConfig(all({
      set("architectures", json::Array{"DeepseekV2ForCausalLM"}),
      set("model_type", "custom"),
      set("vocab_size", 1000),
      set("intermediate_size", 96),
      set("moe_intermediate_size", 24),
      set("num_hidden_layers", 2),
      set("num_attention_heads", 2),
      set("q_lora_rank", nullptr),
      set("kv_lora_rank", 24),
      set("qk_nope_head_dim", 12),
      set("qk_rope_head_dim", 6),
      set("v_head_dim", 10),
      set("n_routed_experts", 12),
      set("num_experts_per_tok", 3),
      set("n_shared_experts", 0),
      set("first_k_dense_replace", 2),
      set("n_group", 3),
      set("topk_group", 2),
      set("topk_method", "group_limited_greedy"),
      set("scoring_func", "softmax"),
      set("norm_topk_prob", false),
      set("routed_scaling_factor", 1.25),
      set("rms_norm_eps", 1e-5),
      set("rope_theta", 12345.5),
      set("rope_scaling.factor", 8.5),
      set("rope_scaling.original_max_position_embeddings", 512),
      set("rope_scaling.beta_fast", 24.5),
      set("rope_scaling.beta_slow", 2.5),
      set("rope_scaling.mscale", 0.707),
      set("rope_scaling.mscale_all_dim", 0.5),
      set("max_position_embeddings", 8192),
      set("num_nextn_predict_layers", 2),
      set("tie_word_embeddings", true),
      set("bos_token_id", 5),
      set("eos_token_id", 7),
      set("torch_dtype", "float16"),
      set("quantization_config", fp8Quantization()),
      set("quantization_config.scale_fmt", "ue8m0"),
  })));
  EXPECT_EQ(c.architecture, "DeepseekV2ForCausalLM");
  EXPECT_EQ(c.topkMethod, TopkMethod::GroupLimitedGreedy);
  EXPECT_EQ(c.fp8.scaleFmt, ScaleFmt::Ue8m0);
  EXPECT_TRUE(c.tieWordEmbeddings);
  expectRoundTrip(c);

  // And the other way round: plain RoPE, no FP8, noaux_tc.
  ModelConfig plain = parseOk(mutatedConfig(
      all({set("rope_scaling", nullptr), set("torch_dtype", "float32")})));
  EXPECT_FALSE(plain.yarn.enabled);
  expectRoundTrip(plain);
}

TEST(ConfigAttrTest, ModuleWithoutTheAttributeFails) {
  mlir::MLIRContext context;
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> empty =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  EXPECT_TRUE(mlir::failed(readModelConfig(*empty)));
  EXPECT_NE(diagnostics.find("module has no 'moela.model' dictionary"),
            std::string::npos)
      << diagnostics;

  // A moela.model dictionary that lacks a field is named in the error.
  diagnostics.clear();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      importModel(context, parseOk(kTinyConfig));
  auto dict = (*module)->getAttrOfType<mlir::DictionaryAttr>("moela.model");
  ASSERT_TRUE(dict);
  llvm::SmallVector<mlir::NamedAttribute> fields;
  for (mlir::NamedAttribute field : dict)
    if (field.getName() != "kv_lora_rank")
      fields.push_back(field);
  (*module)->setAttr("moela.model",
                     mlir::DictionaryAttr::get(&context, fields));
  EXPECT_TRUE(mlir::failed(readModelConfig(*module)));
  EXPECT_NE(diagnostics.find("'moela.model' lacks the field 'kv_lora_rank'"),
            std::string::npos)
      << diagnostics;
}

TEST(ImporterTest, ModelsWithoutSharedExpertsVerify) {
  // n_shared_experts = 0 (the default): moe.combine without `shared`.
  ModelConfig c = parseOk(mutatedConfig(remove("n_shared_experts")));
  EXPECT_EQ(c.nSharedExperts, 0);
  expectRoundTrip(c);
}

} // namespace
