//===- SpecConfig.cpp - The oracle's own reading of config.json -----------===//
#include "SpecConfig.h"

#include "moela/Runtime/Error.h"

#include <fstream>

namespace moela::spec {
namespace {

using json = nlohmann::json;

/// True when `key` is present and not null.
bool has(const json &j, const char *key) {
  return j.contains(key) && !j.at(key).is_null();
}

/// j[key] as a T; it must be present and `isType` (e.g. json::is_number) of
/// it true, or the error says it must be `kind`.
template <typename T>
T required(const json &j, const char *key, bool (json::*isType)() const,
           const char *kind) {
  if (!has(j, key))
    fail("config.json: missing required field '", key, "'");
  if (!(j.at(key).*isType)())
    fail("config.json: field '", key, "' must be ", kind, ", found ",
         j.at(key).dump());
  return j.at(key).get<T>();
}

int64_t requiredInt(const json &j, const char *key) {
  return required<int64_t>(j, key, &json::is_number_integer, "an integer");
}

double requiredNumber(const json &j, const char *key) {
  return required<double>(j, key, &json::is_number, "a number");
}

int64_t optionalInt(const json &j, const char *key, int64_t fallback) {
  return has(j, key) ? requiredInt(j, key) : fallback;
}

double optionalNumber(const json &j, const char *key, double fallback) {
  return has(j, key) ? requiredNumber(j, key) : fallback;
}

std::string optionalString(const json &j, const char *key,
                           const std::string &fallback) {
  return has(j, key)
             ? required<std::string>(j, key, &json::is_string, "a string")
             : fallback;
}

bool optionalBool(const json &j, const char *key, bool fallback) {
  return has(j, key) ? required<bool>(j, key, &json::is_boolean, "a boolean")
                     : fallback;
}

/// `cond` must hold; otherwise names the field, its value and the rule.
template <typename V>
void require(bool cond, const char *field, V value, const char *rule) {
  if (!cond)
    fail("config.json: ", field, " = ", value, " violates ", rule);
}

void parseRopeScaling(const json &j, SpecConfig &c) {
  // Newer files spell it rope_parameters / rope_type.
  const char *key = has(j, "rope_scaling")      ? "rope_scaling"
                    : has(j, "rope_parameters") ? "rope_parameters"
                                                : nullptr;
  if (!key)
    return;
  const json &rs = j.at(key);
  if (!rs.is_object())
    fail("config.json: field '", key, "' must be an object or null");
  std::string type = optionalString(rs, "type", "");
  if (type.empty())
    type = optionalString(rs, "rope_type", "default");
  if (type == "default")
    return; // plain RoPE
  if (type != "yarn")
    fail("config.json: ", key, ".type = '", type,
         "' is not supported (only 'yarn')");
  c.yarn = true;
  c.yarnFactor = requiredNumber(rs, "factor");
  c.yarnOriginalMaxPos =
      optionalNumber(rs, "original_max_position_embeddings", 4096);
  c.yarnBetaFast = optionalNumber(rs, "beta_fast", 32);
  c.yarnBetaSlow = optionalNumber(rs, "beta_slow", 1);
  c.yarnMscale = optionalNumber(rs, "mscale", 1);
  c.yarnMscaleAllDim = optionalNumber(rs, "mscale_all_dim", 0);
  require(c.yarnFactor > 0, "rope_scaling.factor", c.yarnFactor, "factor > 0");
  require(c.yarnOriginalMaxPos > 0,
          "rope_scaling.original_max_position_embeddings", c.yarnOriginalMaxPos,
          "> 0");
  // rope_parameters may carry the base too.
  if (has(rs, "rope_theta"))
    c.ropeTheta = requiredNumber(rs, "rope_theta");
}

void parseQuantization(const json &j, SpecConfig &c) {
  if (!has(j, "quantization_config"))
    return;
  const json &q = j.at("quantization_config");
  std::string method = optionalString(q, "quant_method", "fp8");
  if (method != "fp8")
    fail("config.json: quantization_config.quant_method = '", method,
         "' is not supported (only 'fp8')");
  std::string fmt = optionalString(q, "fmt", "e4m3");
  if (fmt != "e4m3")
    fail("config.json: quantization_config.fmt = '", fmt,
         "' is not supported (only 'e4m3')");
  c.fp8 = true;
  if (has(q, "weight_block_size")) {
    const json &bs = q.at("weight_block_size");
    if (!bs.is_array() || bs.size() != 2)
      fail("config.json: quantization_config.weight_block_size = ", bs.dump(),
           " must be [rows, cols]");
    c.fp8BlockRows = bs.at(0).get<int64_t>();
    c.fp8BlockCols = bs.at(1).get<int64_t>();
    require(c.fp8BlockRows > 0 && c.fp8BlockCols > 0,
            "quantization_config.weight_block_size", bs.dump(), "both > 0");
  }
}

} // namespace

SpecConfig parseSpecConfig(const json &j) {
  if (!j.is_object())
    fail("config.json: the top level must be an object");
  SpecConfig c;
  c.vocabSize = requiredInt(j, "vocab_size");
  c.hiddenSize = requiredInt(j, "hidden_size");
  c.intermediateSize = requiredInt(j, "intermediate_size");
  c.moeIntermediateSize = requiredInt(j, "moe_intermediate_size");
  c.numLayers = requiredInt(j, "num_hidden_layers");
  c.numHeads = requiredInt(j, "num_attention_heads");
  c.kvLoraRank = requiredInt(j, "kv_lora_rank");
  c.qkNopeDim = requiredInt(j, "qk_nope_head_dim");
  c.qkRopeDim = requiredInt(j, "qk_rope_head_dim");
  c.vHeadDim = requiredInt(j, "v_head_dim");
  c.nRoutedExperts = requiredInt(j, "n_routed_experts");
  c.topK = requiredInt(j, "num_experts_per_tok");
  c.rmsNormEps = requiredNumber(j, "rms_norm_eps");
  c.ropeTheta = requiredNumber(j, "rope_theta");

  c.qLoraRank = optionalInt(j, "q_lora_rank", 0); // null or 0: q_proj
  c.nSharedExperts = optionalInt(j, "n_shared_experts", 0);
  c.firstKDenseReplace = optionalInt(j, "first_k_dense_replace", 0);
  c.nGroup = optionalInt(j, "n_group", 1);
  c.topkGroup = optionalInt(j, "topk_group", 1);
  c.topkMethod = optionalString(j, "topk_method", "greedy");
  c.scoringFunc = optionalString(j, "scoring_func", "softmax");
  c.normTopkProb = optionalBool(j, "norm_topk_prob", false);
  c.routedScalingFactor = optionalNumber(j, "routed_scaling_factor", 1.0);
  c.tieWordEmbeddings = optionalBool(j, "tie_word_embeddings", false);
  int64_t moeLayerFreq = optionalInt(j, "moe_layer_freq", 1);
  parseRopeScaling(j, c);
  parseQuantization(j, c);

  std::string torchDtype = optionalString(j, "torch_dtype", "bfloat16");
  if (torchDtype == "bfloat16")
    c.plainDType = DType::BF16;
  else if (torchDtype == "float16")
    c.plainDType = DType::F16;
  else if (torchDtype == "float32")
    c.plainDType = DType::F32;
  else
    fail("config.json: torch_dtype = '", torchDtype,
         "' is not one of bfloat16, float16, float32");

  // The constraints the forward pass relies on.
  for (auto [name, v] : {std::pair{"vocab_size", c.vocabSize},
                         {"hidden_size", c.hiddenSize},
                         {"intermediate_size", c.intermediateSize},
                         {"moe_intermediate_size", c.moeIntermediateSize},
                         {"num_hidden_layers", c.numLayers},
                         {"num_attention_heads", c.numHeads},
                         {"kv_lora_rank", c.kvLoraRank},
                         {"qk_nope_head_dim", c.qkNopeDim},
                         {"qk_rope_head_dim", c.qkRopeDim},
                         {"v_head_dim", c.vHeadDim},
                         {"n_routed_experts", c.nRoutedExperts},
                         {"num_experts_per_tok", c.topK},
                         {"n_group", c.nGroup},
                         {"topk_group", c.topkGroup}})
    require(v > 0, name, v, "> 0");
  require(c.qLoraRank >= 0, "q_lora_rank", c.qLoraRank, ">= 0");
  require(c.nSharedExperts >= 0, "n_shared_experts", c.nSharedExperts, ">= 0");
  require(c.firstKDenseReplace >= 0, "first_k_dense_replace",
          c.firstKDenseReplace, ">= 0");
  require(c.qkRopeDim % 2 == 0, "qk_rope_head_dim", c.qkRopeDim,
          "even (RoPE rotates pairs)");
  require(moeLayerFreq == 1, "moe_layer_freq", moeLayerFreq, "== 1");
  require(c.topK <= c.nRoutedExperts, "num_experts_per_tok", c.topK,
          "K <= n_routed_experts");
  require(c.nRoutedExperts % c.nGroup == 0, "n_routed_experts",
          c.nRoutedExperts, "E % n_group == 0");
  require(c.topkGroup <= c.nGroup, "topk_group", c.topkGroup,
          "topk_group <= n_group");
  require(c.topkMethod == "greedy" || c.topkMethod == "group_limited_greedy" ||
              c.topkMethod == "noaux_tc",
          "topk_method", c.topkMethod,
          "one of greedy, group_limited_greedy, noaux_tc");
  require(c.scoringFunc == "softmax" || c.scoringFunc == "sigmoid",
          "scoring_func", c.scoringFunc, "one of softmax, sigmoid");
  // The kept groups must hold at least K experts.
  if (c.nGroup > 1 && c.topkMethod != "greedy")
    require(c.topkGroup * (c.nRoutedExperts / c.nGroup) >= c.topK, "topk_group",
            c.topkGroup, "topk_group * (E / n_group) >= num_experts_per_tok");
  // noaux_tc scores a group by its top-2 experts.
  if (c.nGroup > 1 && c.topkMethod == "noaux_tc")
    require(c.nRoutedExperts / c.nGroup >= 2, "n_group", c.nGroup,
            "E / n_group >= 2 for noaux_tc");
  return c;
}

SpecConfig loadSpecConfig(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    fail(path, ": cannot open");
  json j;
  try {
    in >> j;
  } catch (const json::exception &e) {
    fail(path, ": invalid JSON: ", e.what());
  }
  try {
    return parseSpecConfig(j);
  } catch (const Error &e) {
    fail(path, ": ", e.what());
  }
}

} // namespace moela::spec
