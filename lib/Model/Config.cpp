//===- Config.cpp - config.json -> ModelConfig with every rule checked ----===//
//
// Reads the Hugging Face config of a DeepSeek-V2/V3-family model with LLVM's
// JSON parser and checks docs/model.md §1: required fields, types, ranges and
// the cross-field rules. The first violation is reported as one line naming
// the file, the field, its value and the rule. Unknown keys are ignored.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/Config.h"
#include "moela/Runtime/JsonDepth.h"
#include "runtime/kernels/Abi.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <optional>

using namespace llvm;

namespace moela {
namespace {

/// Largest accepted dimension: keeps every derived product inside int64.
constexpr int64_t kMaxDim = int64_t(1) << 31;

/// Upper bounds of the size fields, far above any released model (DeepSeek-V3:
/// 61 layers, 128 heads, hidden 7168, 256 experts, 129280 tokens, 163840
/// positions), so that a hostile config cannot make the compiler run for
/// minutes or fill memory: every weight stays under the plan's 2^40 elements
/// and the plan lists at most kMaxRoutedExperts experts' weights.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxMtpLayers = 16;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxHeadDim = 4096;
constexpr int64_t kMaxHidden = 32768;
constexpr int64_t kMaxLoraRank = 16384;
constexpr int64_t kMaxIntermediate = int64_t(1) << 18;
constexpr int64_t kMaxMoeIntermediate = int64_t(1) << 16;
constexpr int64_t kMaxExperts = 4096;
constexpr int64_t kMaxSharedExperts = 64;
constexpr int64_t kMaxRoutedExperts = 65536;        // over all (MTP) layers
constexpr int64_t kMaxVocab = int64_t(1) << 24;     // the tokenizer's id limit
constexpr int64_t kMaxPositions = int64_t(1) << 24; // 16M tokens

/// Reads typed fields of one JSON object, remembering the first error.
/// Field paths are spelled as in the file ("rope_scaling.factor").
class FieldReader {
public:
  FieldReader(const json::Object &object, StringRef origin, StringRef prefix)
      : object(object), origin(origin), prefix(prefix) {}

  bool failed() const { return !firstError.empty(); }
  Error takeError() const {
    return failed() ? createStringError(inconvertibleErrorCode(), firstError)
                    : Error::success();
  }

  /// Records `message` about `field` if no error was recorded yet.
  void fail(StringRef field, const Twine &message) {
    if (!failed())
      firstError = (origin + ": " + prefix + field + " " + message).str();
  }

  /// Shows a JSON value as in the file, for messages.
  static std::string show(const json::Value &value) {
    std::string text;
    raw_string_ostream os(text);
    os << value;
    return text;
  }

  /// Shows a number for messages: "1e-06", "32", "0.707" (formatv's default
  /// would print 1e-06 as "0.00").
  static std::string showNumber(double value) {
    return formatv("{0}", format("%g", value)).str();
  }

  /// Takes over the first error of a reader of a nested object.
  void adopt(const FieldReader &inner) {
    if (!failed())
      firstError = inner.firstError;
  }

  bool has(StringRef field) const {
    const json::Value *v = object.get(field);
    return v && v->kind() != json::Value::Null;
  }

  /// The value of `field`, or null when it is missing or null, which is an
  /// error when the field is `required`.
  const json::Value *lookup(StringRef field, bool required) {
    const json::Value *v = object.get(field);
    if (v && v->kind() != json::Value::Null)
      return v;
    if (required)
      fail(field, "is required but missing");
    return nullptr;
  }

  /// An integer field in [min, max]; `fallback` = std::nullopt makes it
  /// required.
  int64_t integer(StringRef field, std::optional<int64_t> fallback,
                  int64_t min = 0, int64_t max = kMaxDim - 1) {
    const json::Value *v = lookup(field, /*required=*/!fallback);
    if (!v)
      return fallback.value_or(0);
    std::optional<int64_t> i = v->getAsInteger();
    if (!i) {
      // Accept integral floats such as 4096.0, which some exporters write.
      std::optional<double> d = v->getAsNumber();
      if (d && std::isfinite(*d) && *d == std::floor(*d) && std::abs(*d) < 9e15)
        i = static_cast<int64_t>(*d);
    }
    if (!i) {
      fail(field, "= " + show(*v) + " must be an integer");
      return 0;
    }
    if (*i < min) {
      fail(field, formatv("= {0} must be >= {1}", *i, min));
      return 0;
    }
    if (*i >= kMaxDim) {
      fail(field, formatv("= {0} must be < 2^31", *i));
      return 0;
    }
    if (*i > max) {
      fail(field, formatv("= {0} exceeds moela's limit {1}", *i, max));
      return 0;
    }
    return *i;
  }

  double number(StringRef field, std::optional<double> fallback) {
    const json::Value *v = lookup(field, /*required=*/!fallback);
    if (!v)
      return fallback.value_or(0.0);
    std::optional<double> d = v->getAsNumber();
    if (!d || !std::isfinite(*d)) {
      fail(field, "= " + show(*v) + " must be a number");
      return 0.0;
    }
    return *d;
  }

  /// A positive number field.
  double positive(StringRef field, std::optional<double> fallback) {
    double d = number(field, fallback);
    if (!failed() && !(d > 0))
      fail(field, "= " + showNumber(d) + " must be > 0");
    return d;
  }

  bool boolean(StringRef field, bool fallback) {
    const json::Value *v = object.get(field);
    if (!v || v->kind() == json::Value::Null)
      return fallback;
    std::optional<bool> b = v->getAsBoolean();
    if (!b) {
      fail(field, "= " + show(*v) + " must be true or false");
      return fallback;
    }
    return *b;
  }

  /// A string field restricted to `allowed`; returns its index in `allowed`.
  size_t choice(StringRef field, ArrayRef<StringRef> allowed, size_t fallback) {
    const json::Value *v = object.get(field);
    if (!v || v->kind() == json::Value::Null)
      return fallback;
    std::optional<StringRef> s = v->getAsString();
    for (size_t i = 0; s && i < allowed.size(); ++i)
      if (*s == allowed[i])
        return i;
    std::string options;
    for (size_t i = 0; i < allowed.size(); ++i)
      options += (i ? ", " : "") + ("\"" + allowed[i] + "\"").str();
    fail(field, "= " + show(*v) + " must be one of " + options);
    return fallback;
  }

  const json::Object &object;
  StringRef origin;
  StringRef prefix;
  std::string firstError;
};

/// Reads `rope_scaling` (or the newer `rope_parameters`) into `yarn`.
void readRopeScaling(const json::Object &root, StringRef origin,
                     FieldReader &top, YarnConfig &yarn, double &ropeTheta) {
  // A null rope_scaling next to rope_parameters defers to the latter.
  const json::Value *scaling = root.get("rope_scaling");
  StringRef key = scaling && scaling->kind() != json::Value::Null
                      ? "rope_scaling"
                      : "rope_parameters";
  const json::Value *value = root.get(key);
  if (!value || value->kind() == json::Value::Null)
    return;
  const json::Object *object = value->getAsObject();
  if (!object) {
    top.fail(key,
             "= " + FieldReader::show(*value) + " must be an object or null");
    return;
  }
  std::string prefix = (key + ".").str();
  FieldReader r(*object, origin, prefix);
  // Newer transformers keep rope_theta inside rope_parameters.
  if (r.has("rope_theta") && !top.has("rope_theta"))
    ropeTheta = r.positive("rope_theta", std::nullopt);
  // rope_scaling spells it "type", rope_parameters "rope_type".
  StringRef typeKey = object->get("type")        ? "type"
                      : object->get("rope_type") ? "rope_type"
                      : key == "rope_scaling"    ? "type"
                                                 : "rope_type";
  const json::Value *type = object->get(typeKey);
  std::optional<StringRef> typeName = type ? type->getAsString() : std::nullopt;
  if (!typeName) {
    r.fail(typeKey, "is required (the rope scaling type)");
  } else if (*typeName == "default") {
    // rope_parameters without scaling.
  } else if (*typeName != "yarn") {
    r.fail(typeKey, "= \"" + *typeName +
                        "\" is not supported (DeepSeek models use \"yarn\")");
  } else {
    // Defaults and rules as Hugging Face's DeepseekV3YarnRotaryEmbedding and
    // DeepSeek's reference: what they compute, moela computes
    // (docs/model.md §3.1); equal or even swapped betas are computed as they
    // are (the ramp widens a zero-width range by 0.001).
    yarn.enabled = true;
    yarn.factor = r.positive("factor", std::nullopt);
    yarn.originalMaxPositionEmbeddings =
        r.integer("original_max_position_embeddings", 4096, 1, kMaxPositions);
    yarn.betaFast = r.positive("beta_fast", 32.0);
    yarn.betaSlow = r.positive("beta_slow", 1.0);
    yarn.mscale = r.number("mscale", 1.0);
    yarn.mscaleAllDim = r.number("mscale_all_dim", 0.0);
    // cos and sin are scaled by g(mscale) / g(mscale_all_dim), where the
    // reference divides by zero.
    double g = 0.1 * yarn.mscaleAllDim * std::log(yarn.factor) + 1.0;
    if (!r.failed() && yarn.factor > 1.0 && g == 0.0)
      r.fail("mscale_all_dim",
             "= " + FieldReader::showNumber(yarn.mscaleAllDim) +
                 " makes 0.1 * mscale_all_dim * ln(factor) + 1 zero, the "
                 "divisor of the rope magnitude");
  }
  top.adopt(r);
}

/// Reads `quantization_config` into `fp8`.
void readQuantization(const json::Object &root, StringRef origin,
                      FieldReader &top, Fp8Config &fp8) {
  const json::Value *value = root.get("quantization_config");
  if (!value || value->kind() == json::Value::Null)
    return;
  const json::Object *object = value->getAsObject();
  if (!object) {
    top.fail("quantization_config",
             "= " + FieldReader::show(*value) + " must be an object or null");
    return;
  }
  FieldReader r(*object, origin, "quantization_config.");
  fp8.enabled = true;
  auto requireString = [&](StringRef field, StringRef expected, bool required) {
    const json::Value *v = object->get(field);
    if (!v || v->kind() == json::Value::Null) {
      if (required)
        r.fail(field, "is required (\"" + expected + "\")");
      return;
    }
    std::optional<StringRef> s = v->getAsString();
    if (!s || *s != expected)
      r.fail(field, "= " + FieldReader::show(*v) +
                        " is not supported (only \"" + expected + "\")");
  };
  requireString("quant_method", "fp8", true);
  requireString("fmt", "e4m3", false);
  requireString("activation_scheme", "dynamic", false);
  // DeepSeek's FP8 checkpoints, and moela's kernels, use square blocks.
  const std::string kBlock = formatv("[{0}, {0}]", abi::kFp8Block).str();
  if (const json::Value *block = object->get("weight_block_size")) {
    const json::Array *dims = block->getAsArray();
    bool ok = dims && dims->size() == 2 &&
              (*dims)[0].getAsInteger() == abi::kFp8Block &&
              (*dims)[1].getAsInteger() == abi::kFp8Block;
    if (!ok)
      r.fail("weight_block_size", "= " + FieldReader::show(*block) +
                                      " is not supported (only " + kBlock +
                                      ")");
  } else {
    r.fail("weight_block_size", "is required (" + kBlock + ")");
  }
  fp8.blockRows = fp8.blockCols = abi::kFp8Block;
  if (r.choice("scale_fmt", {"float", "ue8m0"}, 0) == 1)
    fp8.scaleFmt = ScaleFmt::Ue8m0;
  top.adopt(r);
}

/// The architectures moela compiles; derived models keep these class names.
bool isSupportedArchitecture(StringRef name) {
  return name == "DeepseekV2ForCausalLM" || name == "DeepseekV3ForCausalLM";
}

} // namespace

std::string resolveConfigPath(StringRef path) {
  if (sys::fs::is_directory(path)) {
    SmallString<256> file(path);
    sys::path::append(file, "config.json");
    return std::string(file);
  }
  return path.str();
}

Expected<ModelConfig> loadModelConfig(StringRef path) {
  std::string file = resolveConfigPath(path);
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(file);
  if (!buffer)
    return createStringError(buffer.getError(), "%s: cannot read: %s",
                             file.c_str(), buffer.getError().message().c_str());
  return parseModelConfig((*buffer)->getBuffer(), file);
}

Expected<ModelConfig> parseModelConfig(StringRef text, StringRef origin) {
  // LLVM's parser recurses once per nesting level.
  if (std::string deep = jsonDepthError(text); !deep.empty())
    return createStringError(inconvertibleErrorCode(), "%s: %s",
                             origin.str().c_str(), deep.c_str());
  Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return createStringError(inconvertibleErrorCode(), "%s: invalid JSON: %s",
                             origin.str().c_str(),
                             toString(parsed.takeError()).c_str());
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return createStringError(inconvertibleErrorCode(),
                             "%s: the top level must be a JSON object",
                             origin.str().c_str());

  FieldReader r(*root, origin, "");
  ModelConfig c;

  // Architecture: derived models reuse these classes under their own names.
  const json::Value *archs = root->get("architectures");
  const json::Array *archList = archs ? archs->getAsArray() : nullptr;
  if (archList)
    for (const json::Value &a : *archList)
      if (std::optional<StringRef> s = a.getAsString();
          s && isSupportedArchitecture(*s) && c.architecture.empty())
        c.architecture = s->str();
  if (c.architecture.empty())
    r.fail("architectures",
           (archs ? "= " + FieldReader::show(*archs)
                  : std::string("is required and")) +
               " must name DeepseekV2ForCausalLM or DeepseekV3ForCausalLM");
  if (std::optional<StringRef> type = root->getString("model_type"))
    c.modelType = type->str();

  // Required dimensions (docs/model.md §1).
  c.vocabSize = r.integer("vocab_size", std::nullopt, 1, kMaxVocab);
  c.hiddenSize = r.integer("hidden_size", std::nullopt, 1, kMaxHidden);
  c.intermediateSize =
      r.integer("intermediate_size", std::nullopt, 1, kMaxIntermediate);
  c.moeIntermediateSize =
      r.integer("moe_intermediate_size", std::nullopt, 1, kMaxMoeIntermediate);
  c.numHiddenLayers =
      r.integer("num_hidden_layers", std::nullopt, 1, kMaxLayers);
  c.numAttentionHeads =
      r.integer("num_attention_heads", std::nullopt, 1, kMaxHeads);
  c.kvLoraRank = r.integer("kv_lora_rank", std::nullopt, 1, kMaxLoraRank);
  c.qkNopeHeadDim = r.integer("qk_nope_head_dim", std::nullopt, 1, kMaxHeadDim);
  c.qkRopeHeadDim = r.integer("qk_rope_head_dim", std::nullopt, 1, kMaxHeadDim);
  c.vHeadDim = r.integer("v_head_dim", std::nullopt, 1, kMaxHeadDim);
  c.nRoutedExperts =
      r.integer("n_routed_experts", std::nullopt, 1, kMaxExperts);
  c.numExpertsPerTok =
      r.integer("num_experts_per_tok", std::nullopt, 1, kMaxExperts);
  c.rmsNormEps = r.positive("rms_norm_eps", std::nullopt);
  c.ropeTheta = r.has("rope_theta") || !root->get("rope_parameters")
                    ? r.positive("rope_theta", std::nullopt)
                    : 0.0;

  // Optional fields with their defaults.
  c.qLoraRank = r.integer("q_lora_rank", 0, 0, kMaxLoraRank);
  c.nSharedExperts = r.integer("n_shared_experts", 0, 0, kMaxSharedExperts);
  c.firstKDenseReplace = r.integer("first_k_dense_replace", 0, 0, kMaxLayers);
  int64_t moeLayerFreq = r.integer("moe_layer_freq", 1, 1, kMaxLayers);
  c.nGroup = r.integer("n_group", 1, 1, kMaxExperts);
  c.topkGroup = r.integer("topk_group", 1, 1, kMaxExperts);
  c.topkMethod = static_cast<TopkMethod>(r.choice(
      "topk_method", {"greedy", "group_limited_greedy", "noaux_tc"}, 0));
  c.scoringFunc = static_cast<ScoringFunc>(
      r.choice("scoring_func", {"softmax", "sigmoid"}, 0));
  c.normTopkProb = r.boolean("norm_topk_prob", false);
  c.routedScalingFactor = r.positive("routed_scaling_factor", 1.0);
  c.maxPositionEmbeddings =
      r.integer("max_position_embeddings", 4096, 1, kMaxPositions);
  c.numNextnPredictLayers =
      r.integer("num_nextn_predict_layers", 0, 0, kMaxMtpLayers);
  c.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
  c.bosTokenId = r.integer("bos_token_id", 0, 0, kMaxVocab);
  c.eosTokenId = r.integer("eos_token_id", 1, 0, kMaxVocab);
  r.choice("hidden_act", {"silu"}, 0);
  static const StringRef kTorchDtypes[] = {"bfloat16", "float16", "float32"};
  c.torchDtype = kTorchDtypes[r.choice("torch_dtype", kTorchDtypes, 0)].str();
  if (!r.failed())
    readRopeScaling(*root, origin, r, c.yarn, c.ropeTheta);
  if (!r.failed() && c.ropeTheta <= 0)
    r.fail("rope_theta", "is required but missing");
  // YaRN's correction dims divide by ln(rope_theta).
  if (!r.failed() && c.yarn.enabled && c.ropeTheta == 1.0)
    r.fail("rope_theta", "= 1 cannot be used with YaRN (it divides by "
                         "ln(rope_theta) = 0)");
  if (!r.failed())
    readQuantization(*root, origin, r, c.fp8);
  if (r.failed())
    return r.takeError();

  // Cross-field rules.
  auto rule = [&](bool ok, StringRef field, const Twine &message) {
    if (!ok)
      r.fail(field, message);
  };
  rule(c.qkRopeHeadDim % 2 == 0, "qk_rope_head_dim",
       formatv("= {0} must be even (RoPE rotates pairs)", c.qkRopeHeadDim));
  rule(c.numExpertsPerTok <= c.nRoutedExperts, "num_experts_per_tok",
       formatv("= {0} must be <= n_routed_experts = {1}", c.numExpertsPerTok,
               c.nRoutedExperts));
  rule(moeLayerFreq == 1, "moe_layer_freq",
       formatv("= {0} is not supported (must be 1)", moeLayerFreq));
  // Each layer's experts are separate tensors of the checkpoint and the plan.
  int64_t routedExperts =
      (c.numHiddenLayers + c.numNextnPredictLayers) * c.nRoutedExperts;
  rule(routedExperts <= kMaxRoutedExperts, "n_routed_experts",
       formatv("= {0} in {1} layers (num_hidden_layers + "
               "num_nextn_predict_layers) makes {2} experts, over moela's "
               "limit {3}",
               c.nRoutedExperts, c.numHiddenLayers + c.numNextnPredictLayers,
               routedExperts, kMaxRoutedExperts));
  rule(c.firstKDenseReplace <= c.numHiddenLayers, "first_k_dense_replace",
       formatv("= {0} must be <= num_hidden_layers = {1}", c.firstKDenseReplace,
               c.numHiddenLayers));
  rule(c.nRoutedExperts % c.nGroup == 0, "n_group",
       formatv("= {0} must divide n_routed_experts = {1} (E % G == 0)",
               c.nGroup, c.nRoutedExperts));
  rule(c.topkGroup <= c.nGroup, "topk_group",
       formatv("= {0} must be <= n_group = {1}", c.topkGroup, c.nGroup));
  bool grouped = c.nGroup > 1 && c.topkMethod != TopkMethod::Greedy;
  if (!r.failed() && grouped) {
    int64_t perGroup = c.nRoutedExperts / c.nGroup;
    rule(c.topkMethod != TopkMethod::NoauxTc || perGroup >= 2, "n_group",
         formatv("= {0} leaves {1} expert per group, but noaux_tc scores a "
                 "group by its top 2 (E / G >= 2)",
                 c.nGroup, perGroup));
    rule(c.numExpertsPerTok <= c.topkGroup * perGroup, "num_experts_per_tok",
         formatv(
             "= {0} must be <= topk_group * n_routed_experts / n_group = {1}",
             c.numExpertsPerTok, c.topkGroup * perGroup));
  }
  rule(c.bosTokenId < c.vocabSize, "bos_token_id",
       formatv("= {0} must be < vocab_size = {1}", c.bosTokenId, c.vocabSize));
  rule(c.eosTokenId < c.vocabSize, "eos_token_id",
       formatv("= {0} must be < vocab_size = {1}", c.eosTokenId, c.vocabSize));
  if (r.failed())
    return r.takeError();
  return c;
}

} // namespace moela
