//===- ConfigAttrTest.cpp - ModelConfig through the moela.model attribute -===//
//
// ModelConfig -> importModel -> moela.model -> readModelConfig gives the same
// config back, for every bundled config and for non-default values; the
// importer's output verifies.
//
//===----------------------------------------------------------------------===//
#include "ConfigTestUtil.h"
#include "moela/Compiler/Config.h"
#include "moela/Compiler/Importer.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace moela;
using namespace moela::configtest;

namespace {

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
  ModelConfig c = parseOk(mutatedConfig(drop("n_shared_experts")));
  EXPECT_EQ(c.nSharedExperts, 0);
  expectRoundTrip(c);
}

} // namespace
