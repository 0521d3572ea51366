//===- ConfigAttr.cpp - ModelConfig <-> the module's moela.model attribute ===//
//
// The model IR carries its config as a dictionary attribute, so that a module
// printed by one tool and parsed by another (moela-opt, --dump-ir-dir files)
// still knows everything the plan writer needs. Field names are the HF ones.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/Importer.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace moela {
namespace {

constexpr llvm::StringLiteral kModelAttr = "moela.model";

struct IntField {
  const char *name;
  int64_t ModelConfig::*member;
};
struct FloatField {
  const char *name;
  double ModelConfig::*member;
};
struct BoolField {
  const char *name;
  bool ModelConfig::*member;
};

const IntField kIntFields[] = {
    {"vocab_size", &ModelConfig::vocabSize},
    {"hidden_size", &ModelConfig::hiddenSize},
    {"intermediate_size", &ModelConfig::intermediateSize},
    {"moe_intermediate_size", &ModelConfig::moeIntermediateSize},
    {"num_hidden_layers", &ModelConfig::numHiddenLayers},
    {"num_attention_heads", &ModelConfig::numAttentionHeads},
    {"q_lora_rank", &ModelConfig::qLoraRank},
    {"kv_lora_rank", &ModelConfig::kvLoraRank},
    {"qk_nope_head_dim", &ModelConfig::qkNopeHeadDim},
    {"qk_rope_head_dim", &ModelConfig::qkRopeHeadDim},
    {"v_head_dim", &ModelConfig::vHeadDim},
    {"n_routed_experts", &ModelConfig::nRoutedExperts},
    {"num_experts_per_tok", &ModelConfig::numExpertsPerTok},
    {"n_shared_experts", &ModelConfig::nSharedExperts},
    {"first_k_dense_replace", &ModelConfig::firstKDenseReplace},
    {"n_group", &ModelConfig::nGroup},
    {"topk_group", &ModelConfig::topkGroup},
    {"max_position_embeddings", &ModelConfig::maxPositionEmbeddings},
    {"num_nextn_predict_layers", &ModelConfig::numNextnPredictLayers},
    {"bos_token_id", &ModelConfig::bosTokenId},
    {"eos_token_id", &ModelConfig::eosTokenId},
};
const FloatField kFloatFields[] = {
    {"routed_scaling_factor", &ModelConfig::routedScalingFactor},
    {"rms_norm_eps", &ModelConfig::rmsNormEps},
    {"rope_theta", &ModelConfig::ropeTheta},
};
const BoolField kBoolFields[] = {
    {"norm_topk_prob", &ModelConfig::normTopkProb},
    {"tie_word_embeddings", &ModelConfig::tieWordEmbeddings},
};

} // namespace

/// Attaches `config` to `module` as `moela.model`.
void writeModelConfig(ModuleOp module, const ModelConfig &config) {
  Builder b(module.getContext());
  SmallVector<NamedAttribute> fields;
  auto add = [&](StringRef name, Attribute value) {
    fields.push_back(b.getNamedAttr(name, value));
  };
  add("architecture", b.getStringAttr(config.architecture));
  add("model_type", b.getStringAttr(config.modelType));
  add("torch_dtype", b.getStringAttr(config.torchDtype));
  for (const IntField &f : kIntFields)
    add(f.name, b.getI64IntegerAttr(config.*f.member));
  for (const FloatField &f : kFloatFields)
    add(f.name, b.getF64FloatAttr(config.*f.member));
  for (const BoolField &f : kBoolFields)
    add(f.name, b.getBoolAttr(config.*f.member));
  add("scoring_func", b.getStringAttr(toString(config.scoringFunc)));
  add("topk_method", b.getStringAttr(toString(config.topkMethod)));
  if (config.yarn.enabled)
    add("rope_scaling",
        b.getDictionaryAttr({
            b.getNamedAttr("type", b.getStringAttr("yarn")),
            b.getNamedAttr("factor", b.getF64FloatAttr(config.yarn.factor)),
            b.getNamedAttr(
                "original_max_position_embeddings",
                b.getI64IntegerAttr(config.yarn.originalMaxPositionEmbeddings)),
            b.getNamedAttr("beta_fast",
                           b.getF64FloatAttr(config.yarn.betaFast)),
            b.getNamedAttr("beta_slow",
                           b.getF64FloatAttr(config.yarn.betaSlow)),
            b.getNamedAttr("mscale", b.getF64FloatAttr(config.yarn.mscale)),
            b.getNamedAttr("mscale_all_dim",
                           b.getF64FloatAttr(config.yarn.mscaleAllDim)),
        }));
  if (config.fp8.enabled)
    add("quantization_config",
        b.getDictionaryAttr({
            b.getNamedAttr("quant_method", b.getStringAttr("fp8")),
            b.getNamedAttr("weight_block_size",
                           b.getI64ArrayAttr(
                               {config.fp8.blockRows, config.fp8.blockCols})),
            b.getNamedAttr("scale_fmt", b.getStringAttr(config.fp8.scaleFmt ==
                                                                ScaleFmt::Ue8m0
                                                            ? "ue8m0"
                                                            : "float")),
        }));
  module->setAttr(kModelAttr, b.getDictionaryAttr(fields));
}

FailureOr<ModelConfig> readModelConfig(ModuleOp module) {
  auto dict = module->getAttrOfType<DictionaryAttr>(kModelAttr);
  if (!dict)
    return module.emitError() << "module has no '" << kModelAttr
                              << "' dictionary (import a config.json first)";
  ModelConfig config;
  std::string missing;
  auto get = [&](DictionaryAttr d, StringRef name) -> Attribute {
    Attribute a = d.get(name);
    if (!a && missing.empty())
      missing = name.str();
    return a;
  };
  auto getInt = [&](DictionaryAttr d, StringRef name) -> int64_t {
    auto a = dyn_cast_or_null<IntegerAttr>(get(d, name));
    return a ? a.getInt() : 0;
  };
  auto getFloat = [&](DictionaryAttr d, StringRef name) -> double {
    auto a = dyn_cast_or_null<FloatAttr>(get(d, name));
    return a ? a.getValueAsDouble() : 0.0;
  };
  auto getString = [&](DictionaryAttr d, StringRef name) -> std::string {
    auto a = dyn_cast_or_null<StringAttr>(get(d, name));
    return a ? a.str() : std::string();
  };
  config.architecture = getString(dict, "architecture");
  config.modelType = getString(dict, "model_type");
  config.torchDtype = getString(dict, "torch_dtype");
  for (const IntField &f : kIntFields)
    config.*f.member = getInt(dict, f.name);
  for (const FloatField &f : kFloatFields)
    config.*f.member = getFloat(dict, f.name);
  for (const BoolField &f : kBoolFields) {
    auto a = dyn_cast_or_null<BoolAttr>(get(dict, f.name));
    config.*f.member = a && a.getValue();
  }
  config.scoringFunc = getString(dict, "scoring_func") == "sigmoid"
                           ? ScoringFunc::Sigmoid
                           : ScoringFunc::Softmax;
  std::string method = getString(dict, "topk_method");
  config.topkMethod = method == "noaux_tc" ? TopkMethod::NoauxTc
                      : method == "group_limited_greedy"
                          ? TopkMethod::GroupLimitedGreedy
                          : TopkMethod::Greedy;
  if (auto yarn = dict.getAs<DictionaryAttr>("rope_scaling")) {
    config.yarn.enabled = true;
    config.yarn.factor = getFloat(yarn, "factor");
    config.yarn.originalMaxPositionEmbeddings =
        getInt(yarn, "original_max_position_embeddings");
    config.yarn.betaFast = getFloat(yarn, "beta_fast");
    config.yarn.betaSlow = getFloat(yarn, "beta_slow");
    config.yarn.mscale = getFloat(yarn, "mscale");
    config.yarn.mscaleAllDim = getFloat(yarn, "mscale_all_dim");
  }
  if (auto quant = dict.getAs<DictionaryAttr>("quantization_config")) {
    config.fp8.enabled = true;
    config.fp8.scaleFmt = getString(quant, "scale_fmt") == "ue8m0"
                              ? ScaleFmt::Ue8m0
                              : ScaleFmt::Float;
  }
  if (!missing.empty())
    return module.emitError()
           << "'" << kModelAttr << "' lacks the field '" << missing << "'";
  return config;
}

} // namespace moela
