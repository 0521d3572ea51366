//===- ModelConfig.h - The DeepSeek-V3-family model configuration ---------===//
//
// One plain struct that both halves of moela share: the compiler fills it from
// config.json (lib/Model/Config.cpp, LLVM JSON), the plan stores it, and the
// runtime reads it back from the plan. C++ standard library only.
// Field names follow the Hugging Face config; the shape letters of
// docs/model.md §2 are in the comments (docs/model.md §1).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_MODELCONFIG_H
#define MOELA_RUNTIME_MODELCONFIG_H

#include <cstdint>
#include <string>

namespace moela {

enum class ScoringFunc { Softmax, Sigmoid };
enum class TopkMethod { Greedy, GroupLimitedGreedy, NoauxTc };
/// Activation scale format for FP8 activations (docs/model.md §3.4).
enum class ScaleFmt { Float, Ue8m0 };

/// YaRN rope scaling (docs/model.md §3.1); `enabled` is false when rope_scaling
/// is null.
struct YarnConfig {
  bool enabled = false;
  double factor = 1.0;
  int64_t originalMaxPositionEmbeddings = 0;
  double betaFast = 32.0;
  double betaSlow = 1.0;
  double mscale = 1.0;
  double mscaleAllDim = 0.0;
};

/// FP8 block quantization of the checkpoint's linear weights (docs/model.md
/// §2).
struct Fp8Config {
  bool enabled = false;    // quantization_config present
  int64_t blockRows = 128; // weight_block_size[0]
  int64_t blockCols = 128; // weight_block_size[1]
  ScaleFmt scaleFmt = ScaleFmt::Float;
};

struct ModelConfig {
  std::string architecture; // DeepseekV2ForCausalLM | DeepseekV3ForCausalLM
  std::string modelType;    // model_type, informational

  int64_t vocabSize = 0;           // V
  int64_t hiddenSize = 0;          // D
  int64_t intermediateSize = 0;    // F (dense MLP)
  int64_t moeIntermediateSize = 0; // Fm (one routed expert)
  int64_t numHiddenLayers = 0;
  int64_t numAttentionHeads = 0; // H
  int64_t qLoraRank = 0;         // Rq; 0 = no q compression (q_proj)
  int64_t kvLoraRank = 0;        // R
  int64_t qkNopeHeadDim = 0;     // Dn
  int64_t qkRopeHeadDim = 0;     // Dr
  int64_t vHeadDim = 0;          // Dv
  int64_t nRoutedExperts = 0;    // E
  int64_t numExpertsPerTok = 0;  // K
  int64_t nSharedExperts = 0;
  int64_t firstKDenseReplace = 0;
  int64_t nGroup = 1; // G
  int64_t topkGroup = 1;
  TopkMethod topkMethod = TopkMethod::Greedy;
  ScoringFunc scoringFunc = ScoringFunc::Softmax;
  bool normTopkProb = false;
  double routedScalingFactor = 1.0;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  YarnConfig yarn;
  int64_t maxPositionEmbeddings = 4096;
  int64_t numNextnPredictLayers = 0;
  bool tieWordEmbeddings = false;
  Fp8Config fp8;
  int64_t bosTokenId = 0;
  int64_t eosTokenId = 1;
  /// torch_dtype: the dtype of the tensors that are not FP8-quantized
  /// ("bfloat16", "float16" or "float32").
  std::string torchDtype = "bfloat16";

  // ---- Derived quantities ------------------------------------------------
  bool hasQLora() const { return qLoraRank > 0; }
  bool isMoeLayer(int64_t layer) const { return layer >= firstKDenseReplace; }
  int64_t qkHeadDim() const { return qkNopeHeadDim + qkRopeHeadDim; }
  int64_t sharedIntermediateSize() const {
    return nSharedExperts * moeIntermediateSize;
  }
  /// Softmax scale of the attention scores, including the YaRN mscale^2
  /// (docs/model.md §3.1).
  double softmaxScale() const;
  /// Bytes the KV cache holds per token and layer, in elements: R + Dr.
  int64_t kvCacheElemsPerToken() const { return kvLoraRank + qkRopeHeadDim; }
};

const char *toString(ScoringFunc f);
const char *toString(TopkMethod m);

} // namespace moela

#endif // MOELA_RUNTIME_MODELCONFIG_H
