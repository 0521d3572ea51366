//===- PlanConfig.cpp - The model config in the plan, both ways -----------===//
//
// The one mapping between moela::ModelConfig and the plan's ModelConfig and
// Yarn tables: the plan writer, the runtime and the tests' hand-made plans all
// go through it, so a config field is added in one place (plus plan.fbs).
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Plan.h"

namespace moela {
namespace {

std::string str(const flatbuffers::String *s) {
  return s ? s->str() : std::string();
}

} // namespace

flatbuffers::Offset<plan::ModelConfig>
writeModelConfig(flatbuffers::FlatBufferBuilder &fbb, const ModelConfig &c) {
  flatbuffers::Offset<plan::Yarn> yarn;
  if (c.yarn.enabled)
    yarn = writeYarn(fbb, c.yarn);
  auto arch = fbb.CreateString(c.architecture);
  auto type = fbb.CreateString(c.modelType);
  auto torchDtype = fbb.CreateString(c.torchDtype);
  plan::ModelConfigBuilder m(fbb);
  m.add_architecture(arch);
  m.add_model_type(type);
  m.add_vocab_size(c.vocabSize);
  m.add_hidden_size(c.hiddenSize);
  m.add_intermediate_size(c.intermediateSize);
  m.add_moe_intermediate_size(c.moeIntermediateSize);
  m.add_num_hidden_layers(c.numHiddenLayers);
  m.add_num_attention_heads(c.numAttentionHeads);
  m.add_q_lora_rank(c.qLoraRank);
  m.add_kv_lora_rank(c.kvLoraRank);
  m.add_qk_nope_head_dim(c.qkNopeHeadDim);
  m.add_qk_rope_head_dim(c.qkRopeHeadDim);
  m.add_v_head_dim(c.vHeadDim);
  m.add_n_routed_experts(c.nRoutedExperts);
  m.add_num_experts_per_tok(c.numExpertsPerTok);
  m.add_n_shared_experts(c.nSharedExperts);
  m.add_first_k_dense_replace(c.firstKDenseReplace);
  m.add_n_group(c.nGroup);
  m.add_topk_group(c.topkGroup);
  m.add_topk_method(static_cast<plan::TopkMethod>(c.topkMethod));
  m.add_scoring_func(static_cast<plan::ScoringFunc>(c.scoringFunc));
  m.add_norm_topk_prob(c.normTopkProb);
  m.add_routed_scaling_factor(c.routedScalingFactor);
  m.add_rms_norm_eps(c.rmsNormEps);
  m.add_rope_theta(c.ropeTheta);
  if (c.yarn.enabled)
    m.add_yarn(yarn);
  m.add_max_position_embeddings(c.maxPositionEmbeddings);
  m.add_num_nextn_predict_layers(c.numNextnPredictLayers);
  m.add_tie_word_embeddings(c.tieWordEmbeddings);
  m.add_fp8(c.fp8.enabled);
  m.add_fp8_block_rows(c.fp8.blockRows);
  m.add_fp8_block_cols(c.fp8.blockCols);
  m.add_fp8_scale_fmt(static_cast<plan::ScaleFmt>(c.fp8.scaleFmt));
  m.add_bos_token_id(c.bosTokenId);
  m.add_eos_token_id(c.eosTokenId);
  m.add_torch_dtype(torchDtype);
  return m.Finish();
}

flatbuffers::Offset<plan::Yarn> writeYarn(flatbuffers::FlatBufferBuilder &fbb,
                                          const YarnConfig &y) {
  plan::YarnBuilder yb(fbb);
  yb.add_factor(y.factor);
  yb.add_original_max_position_embeddings(y.originalMaxPositionEmbeddings);
  yb.add_beta_fast(y.betaFast);
  yb.add_beta_slow(y.betaSlow);
  yb.add_mscale(y.mscale);
  yb.add_mscale_all_dim(y.mscaleAllDim);
  return yb.Finish();
}

ModelConfig toModelConfig(const plan::ModelConfig &m) {
  ModelConfig c;
  c.architecture = str(m.architecture());
  c.modelType = str(m.model_type());
  c.vocabSize = m.vocab_size();
  c.hiddenSize = m.hidden_size();
  c.intermediateSize = m.intermediate_size();
  c.moeIntermediateSize = m.moe_intermediate_size();
  c.numHiddenLayers = m.num_hidden_layers();
  c.numAttentionHeads = m.num_attention_heads();
  c.qLoraRank = m.q_lora_rank();
  c.kvLoraRank = m.kv_lora_rank();
  c.qkNopeHeadDim = m.qk_nope_head_dim();
  c.qkRopeHeadDim = m.qk_rope_head_dim();
  c.vHeadDim = m.v_head_dim();
  c.nRoutedExperts = m.n_routed_experts();
  c.numExpertsPerTok = m.num_experts_per_tok();
  c.nSharedExperts = m.n_shared_experts();
  c.firstKDenseReplace = m.first_k_dense_replace();
  c.nGroup = m.n_group();
  c.topkGroup = m.topk_group();
  c.topkMethod = m.topk_method() == plan::TopkMethod::NoauxTc
                     ? TopkMethod::NoauxTc
                 : m.topk_method() == plan::TopkMethod::GroupLimitedGreedy
                     ? TopkMethod::GroupLimitedGreedy
                     : TopkMethod::Greedy;
  c.scoringFunc = m.scoring_func() == plan::ScoringFunc::Sigmoid
                      ? ScoringFunc::Sigmoid
                      : ScoringFunc::Softmax;
  c.normTopkProb = m.norm_topk_prob();
  c.routedScalingFactor = m.routed_scaling_factor();
  c.rmsNormEps = m.rms_norm_eps();
  c.ropeTheta = m.rope_theta();
  c.yarn = toYarnConfig(m.yarn());
  c.maxPositionEmbeddings = m.max_position_embeddings();
  c.numNextnPredictLayers = m.num_nextn_predict_layers();
  c.tieWordEmbeddings = m.tie_word_embeddings();
  c.fp8.enabled = m.fp8();
  c.fp8.blockRows = m.fp8_block_rows();
  c.fp8.blockCols = m.fp8_block_cols();
  c.fp8.scaleFmt = m.fp8_scale_fmt() == plan::ScaleFmt::Ue8m0 ? ScaleFmt::Ue8m0
                                                              : ScaleFmt::Float;
  c.bosTokenId = m.bos_token_id();
  c.eosTokenId = m.eos_token_id();
  if (m.torch_dtype())
    c.torchDtype = m.torch_dtype()->str();
  return c;
}

YarnConfig toYarnConfig(const plan::Yarn *y) {
  YarnConfig yarn;
  if (!y)
    return yarn;
  yarn.enabled = true;
  yarn.factor = y->factor();
  yarn.originalMaxPositionEmbeddings = y->original_max_position_embeddings();
  yarn.betaFast = y->beta_fast();
  yarn.betaSlow = y->beta_slow();
  yarn.mscale = y->mscale();
  yarn.mscaleAllDim = y->mscale_all_dim();
  return yarn;
}

} // namespace moela
