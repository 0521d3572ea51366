//===- SpecConfig.h - The oracle's own reading of config.json -------------===//
//
// Test-only. A minimal, independent parse of a Hugging Face DeepSeek
// config.json (docs/model.md §1) for the reference forward pass. It
// deliberately shares no code with moela's ModelConfig: the oracle must not
// inherit its bugs.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_REFERENCE_SPECCONFIG_H
#define MOELA_TEST_REFERENCE_SPECCONFIG_H

#include "moela/Runtime/DType.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace moela::spec {

/// The fields of docs/model.md §1 that the forward pass needs, with
/// docs/model.md's shape letters in the comments.
struct SpecConfig {
  int64_t vocabSize = 0;           // V
  int64_t hiddenSize = 0;          // D
  int64_t intermediateSize = 0;    // F, dense MLP
  int64_t moeIntermediateSize = 0; // Fm, one routed expert
  int64_t numLayers = 0;           // num_hidden_layers (MTP layers excluded)
  int64_t numHeads = 0;            // H
  int64_t qLoraRank = 0;           // Rq; 0 = q_proj (no q compression)
  int64_t kvLoraRank = 0;          // R
  int64_t qkNopeDim = 0;           // Dn
  int64_t qkRopeDim = 0;           // Dr
  int64_t vHeadDim = 0;            // Dv
  int64_t nRoutedExperts = 0;      // E
  int64_t topK = 0;                // K, num_experts_per_tok
  int64_t nSharedExperts = 0;
  int64_t firstKDenseReplace = 0;
  int64_t nGroup = 1;                // G
  int64_t topkGroup = 1;             // groups kept
  std::string topkMethod = "greedy"; // greedy | group_limited_greedy | noaux_tc
  std::string scoringFunc = "softmax"; // softmax | sigmoid
  bool normTopkProb = false;
  double routedScalingFactor = 1.0;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  bool tieWordEmbeddings = false;

  // YaRN (rope_scaling / rope_parameters with type "yarn"); HF's defaults.
  bool yarn = false;
  double yarnFactor = 1.0;
  double yarnOriginalMaxPos = 4096;
  double yarnBetaFast = 32.0;
  double yarnBetaSlow = 1.0;
  double yarnMscale = 1.0;
  double yarnMscaleAllDim = 0.0;

  // FP8 checkpoint (quantization_config present).
  bool fp8 = false;
  int64_t fp8BlockRows = 128; // weight_block_size[0]
  int64_t fp8BlockCols = 128; // weight_block_size[1]

  /// dtype of every tensor that is neither FP8 nor the F32 router bias:
  /// torch_dtype (bfloat16 by default, as in every released config).
  DType plainDType = DType::BF16;

  bool isMoeLayer(int64_t layer) const { return layer >= firstKDenseReplace; }
  bool hasRouterBias() const { return topkMethod == "noaux_tc"; }
  /// dtype of a linear weight inside a decoder layer.
  DType linearDType() const { return fp8 ? DType::F8E4M3 : plainDType; }
};

/// Parses and validates; throws moela::Error naming the field, value and rule.
SpecConfig parseSpecConfig(const nlohmann::json &json);
/// Reads the file at `path` and parses it.
SpecConfig loadSpecConfig(const std::string &path);

} // namespace moela::spec

#endif // MOELA_TEST_REFERENCE_SPECCONFIG_H
