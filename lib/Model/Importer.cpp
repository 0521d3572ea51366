//===- Importer.cpp - ModelConfig -> model IR (nn, mla, moe) --------------===//
//
// Builds one op per concept of docs/model.md §3, in the order of the forward
// pass, with every weight named by its Hugging Face tensor name (docs/model.md
// §2). Token counts are dynamic, model dims static. Each op's location names
// where it sits in the model ("layers.1.attn"); plan steps inherit these names.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/Importer.h"

#include "MLA/MLAOps.h"
#include "MoE/MoEOps.h"
#include "NN/NNOps.h"
#include "runtime/kernels/Abi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace moela {
namespace {

using nn::WeightAttr;

/// Builds the functions of one model; holds the config-derived types.
class ModelBuilder {
public:
  ModelBuilder(MLIRContext &context, const ModelConfig &config)
      : context(context), config(config), b(&context) {
    f32 = b.getF32Type();
    if (config.torchDtype == "float32")
      plainDtype = b.getF32Type();
    else if (config.torchDtype == "float16")
      plainDtype = b.getF16Type();
    else
      plainDtype = b.getBF16Type();
  }

  /// @prefill or @decode: the main model from tokens to the logits of the
  /// rows in logit_rows.
  void buildMainProgram(ModuleOp module, StringRef name) {
    func::FuncOp func = createFunction(module, name, /*withHidden=*/false);
    Value h = embedding("model.embed_tokens.weight", "embed");
    for (int64_t layer = 0; layer < config.numHiddenLayers; ++layer)
      h = decoderLayer(h, layer);
    Value logits = head(h, "model.norm.weight",
                        config.tieWordEmbeddings ? "model.embed_tokens.weight"
                                                 : "lm_head.weight",
                        "head");
    b.create<func::ReturnOp>(loc("head"), logits);
    (void)func;
  }

  /// @mtp_<k>: MTP module k (docs/model.md §3.3) drafting from the main model's
  /// hidden state h_t [T, D] and the embedding of the next token.
  void buildMtpProgram(ModuleOp module, int64_t k) {
    int64_t layer = config.numHiddenLayers + k;
    std::string p = "model.layers." + std::to_string(layer) + ".";
    std::string tag = "mtp." + std::to_string(k);
    createFunction(module, abi::kMtpPrefix + std::to_string(k),
                   /*withHidden=*/true);
    Value e = embedding(p + "embed_tokens.weight", tag + ".embed");
    Value eNorm =
        rmsNorm(e, plainWeight(p + "enorm.weight", {d()}), tag + ".enorm");
    Value hNorm =
        rmsNorm(hidden, plainWeight(p + "hnorm.weight", {d()}), tag + ".hnorm");
    Value x = b.create<nn::MtpProjOp>(
        loc(tag + ".eh_proj"), eNorm, hNorm,
        plainWeight(p + "eh_proj.weight", {d(), 2 * d()}));
    Value h = decoderLayer(x, layer, /*forceMoe=*/true);
    Value logits = head(h, p + "shared_head.norm.weight",
                        p + "shared_head.head.weight", tag + ".head");
    b.create<func::ReturnOp>(loc(tag + ".head"), logits);
  }

private:
  int64_t d() const { return config.hiddenSize; }

  Location loc(StringRef name) { return NameLoc::get(b.getStringAttr(name)); }

  RankedTensorType activation(ArrayRef<int64_t> trailing) {
    SmallVector<int64_t> shape{ShapedType::kDynamic};
    shape.append(trailing.begin(), trailing.end());
    return RankedTensorType::get(shape, f32);
  }

  /// A weight that is never FP8: embeddings, norms, router, head, MTP glue.
  WeightAttr plainWeight(StringRef name, ArrayRef<int64_t> shape) {
    return WeightAttr::get(&context, name, plainDtype, shape, "", {});
  }

  /// A linear weight inside a decoder layer: FP8 with block scales when the
  /// checkpoint is quantized (docs/model.md §2).
  WeightAttr linearWeight(StringRef name, ArrayRef<int64_t> shape) {
    if (!config.fp8.enabled)
      return plainWeight(name, shape);
    return WeightAttr::get(&context, name, b.getType<Float8E4M3FNType>(), shape,
                           (name + "_scale_inv").str(),
                           nn::fp8ScaleShape(shape));
  }

  func::FuncOp createFunction(ModuleOp module, StringRef name,
                              bool withHidden) {
    b.setInsertionPointToEnd(module.getBody());
    Type ids = nn::getIndexVectorType(&context);
    SmallVector<Type> inputs{ids, ids, ids, ids};
    if (withHidden)
      inputs.push_back(activation({d()}));
    auto type = b.getFunctionType(inputs, {activation({config.vocabSize})});
    auto func = b.create<func::FuncOp>(loc(name), name, type);
    Block *entry = func.addEntryBlock();
    tokens = entry->getArgument(0);
    positions = entry->getArgument(1);
    seqIds = entry->getArgument(2);
    logitRows = entry->getArgument(3);
    hidden = withHidden ? entry->getArgument(4) : Value();
    func.setArgAttr(0, "moela.name", b.getStringAttr("tokens"));
    func.setArgAttr(1, "moela.name", b.getStringAttr("positions"));
    func.setArgAttr(2, "moela.name", b.getStringAttr("seq_ids"));
    func.setArgAttr(3, "moela.name", b.getStringAttr("logit_rows"));
    if (withHidden)
      func.setArgAttr(4, "moela.name", b.getStringAttr("hidden"));
    b.setInsertionPointToStart(entry);
    return func;
  }

  Value embedding(StringRef name, StringRef where) {
    return b.create<nn::EmbeddingOp>(
        loc(where), activation({d()}), tokens,
        plainWeight(name, {config.vocabSize, d()}));
  }

  Value rmsNorm(Value x, WeightAttr weight, StringRef where) {
    return b.create<nn::RmsNormOp>(loc(where), x, weight,
                                   b.getF64FloatAttr(config.rmsNormEps));
  }

  Value head(Value h, StringRef normName, StringRef headName, StringRef where) {
    Value last = b.create<nn::GatherRowsOp>(loc(where.str() + ".rows"),
                                            h.getType(), h, logitRows);
    Value normed =
        rmsNorm(last, plainWeight(normName, {d()}), where.str() + ".norm");
    return b.create<nn::LmHeadOp>(
        loc(where), activation({config.vocabSize}), normed,
        plainWeight(headName, {config.vocabSize, d()}));
  }

  mla::RopeAttr ropeAttr() {
    mla::YarnAttr yarn;
    const YarnConfig &y = config.yarn;
    if (y.enabled)
      yarn = mla::YarnAttr::get(&context, APFloat(y.factor),
                                y.originalMaxPositionEmbeddings,
                                APFloat(y.betaFast), APFloat(y.betaSlow),
                                APFloat(y.mscale), APFloat(y.mscaleAllDim));
    return mla::RopeAttr::get(&context, APFloat(config.ropeTheta),
                              config.qkRopeHeadDim, yarn);
  }

  /// One decoder block: h + Attn(norm(h)), then + FFN(norm(.)).
  Value decoderLayer(Value h, int64_t layer, bool forceMoe = false) {
    std::string p = "model.layers." + std::to_string(layer) + ".";
    std::string tag = "layers." + std::to_string(layer);
    Value x = rmsNorm(h, plainWeight(p + "input_layernorm.weight", {d()}),
                      tag + ".input_norm");
    Value attn = attention(x, layer, p + "self_attn.", tag + ".attn");
    Value h1 = b.create<nn::AddOp>(loc(tag + ".attn_residual"), h, attn);
    Value x2 =
        rmsNorm(h1, plainWeight(p + "post_attention_layernorm.weight", {d()}),
                tag + ".post_attn_norm");
    Value ffn = forceMoe || config.isMoeLayer(layer)
                    ? moeBlock(x2, p + "mlp.", tag + ".moe")
                    : denseMlp(x2, p + "mlp.", tag + ".mlp");
    return b.create<nn::AddOp>(loc(tag + ".ffn_residual"), h1, ffn);
  }

  /// MLA (docs/model.md §3.1) up to and including o_proj.
  Value attention(Value x, int64_t layer, const std::string &p,
                  const std::string &tag) {
    const int64_t h = config.numAttentionHeads, dq = config.qkHeadDim();
    const int64_t r = config.kvLoraRank, dr = config.qkRopeHeadDim;
    const int64_t dv = config.vHeadDim;
    Type qType = RankedTensorType::get({ShapedType::kDynamic, h, dq}, f32);
    Value q;
    if (config.hasQLora()) {
      const int64_t rq = config.qLoraRank;
      q = b.create<mla::QProjOp>(
          loc(tag + ".q_proj"), qType, x,
          linearWeight(p + "q_a_proj.weight", {rq, d()}),
          plainWeight(p + "q_a_layernorm.weight", {rq}),
          linearWeight(p + "q_b_proj.weight", {h * dq, rq}),
          b.getF64FloatAttr(config.rmsNormEps), WeightAttr());
    } else {
      q = b.create<mla::QProjOp>(
          loc(tag + ".q_proj"), qType, x, WeightAttr(), WeightAttr(),
          WeightAttr(), FloatAttr(),
          linearWeight(p + "q_proj.weight", {h * dq, d()}));
    }
    auto kv = b.create<mla::KvProjOp>(
        loc(tag + ".kv_proj"), activation({r}), activation({dr}), x,
        linearWeight(p + "kv_a_proj_with_mqa.weight", {r + dr, d()}),
        plainWeight(p + "kv_a_layernorm.weight", {r}),
        b.getF64FloatAttr(config.rmsNormEps));
    mla::RopeAttr rope = ropeAttr();
    Value qRot =
        b.create<mla::RopeOp>(loc(tag + ".q_rope"), q, positions, rope);
    Value kRot = b.create<mla::RopeOp>(loc(tag + ".k_rope"), kv.getKPe(),
                                       positions, rope);
    Value o = b.create<mla::AttentionOp>(
        loc(tag + ".core"), activation({h * dv}), qRot, kv.getLatent(), kRot,
        positions, seqIds,
        linearWeight(p + "kv_b_proj.weight",
                     {h * (config.qkNopeHeadDim + dv), r}),
        b.getI64IntegerAttr(layer), b.getF64FloatAttr(config.softmaxScale()),
        mla::AttentionFormAttr());
    return b.create<nn::LinearOp>(
        loc(tag + ".o_proj"), activation({d()}), o,
        linearWeight(p + "o_proj.weight", {d(), h * dv}));
  }

  Value denseMlp(Value x, const std::string &p, const std::string &tag) {
    const int64_t f = config.intermediateSize;
    return b.create<nn::MlpOp>(loc(tag), x,
                               linearWeight(p + "gate_proj.weight", {f, d()}),
                               linearWeight(p + "up_proj.weight", {f, d()}),
                               linearWeight(p + "down_proj.weight", {d(), f}));
  }

  /// MoE (docs/model.md §3.2): router logits, selection, experts, shared
  /// expert, combine.
  Value moeBlock(Value x, const std::string &p, const std::string &tag) {
    const int64_t e = config.nRoutedExperts, k = config.numExpertsPerTok;
    Value logits =
        b.create<nn::LinearOp>(loc(tag + ".gate"), activation({e}), x,
                               plainWeight(p + "gate.weight", {e, d()}));
    auto routing = moe::RoutingAttr::get(
        &context, static_cast<moe::ScoringFunc>(config.scoringFunc),
        static_cast<moe::TopkMethod>(config.topkMethod), e, k, config.nGroup,
        config.topkGroup, config.normTopkProb,
        APFloat(config.routedScalingFactor));
    WeightAttr bias;
    if (config.topkMethod == TopkMethod::NoauxTc)
      bias = WeightAttr::get(&context, p + "gate.e_score_correction_bias", f32,
                             {e}, "", {});
    auto idxType =
        RankedTensorType::get({ShapedType::kDynamic, k}, b.getI32Type());
    auto route = b.create<moe::RouteOp>(loc(tag + ".route"), idxType,
                                        activation({k}), logits, routing, bias);
    Type expertsDtype =
        config.fp8.enabled ? Type(b.getType<Float8E4M3FNType>()) : plainDtype;
    auto weights =
        moe::ExpertWeightsAttr::get(&context, p + "experts", e, d(),
                                    config.moeIntermediateSize, expertsDtype);
    Value y = b.create<moe::ExpertsOp>(
        loc(tag + ".experts"),
        RankedTensorType::get({ShapedType::kDynamic, k, d()}, f32), x,
        route.getIndices(), weights);
    Value shared;
    if (config.nSharedExperts > 0) {
      const int64_t fs = config.sharedIntermediateSize();
      std::string s = p + "shared_experts.";
      shared = b.create<moe::SharedExpertOp>(
          loc(tag + ".shared"), x,
          linearWeight(s + "gate_proj.weight", {fs, d()}),
          linearWeight(s + "up_proj.weight", {fs, d()}),
          linearWeight(s + "down_proj.weight", {d(), fs}));
    }
    return b.create<moe::CombineOp>(loc(tag + ".combine"), activation({d()}), y,
                                    route.getWeights(), shared);
  }

  MLIRContext &context;
  const ModelConfig &config;
  OpBuilder b;
  Type f32, plainDtype;
  // The arguments of the function being built.
  Value tokens, positions, seqIds, logitRows, hidden;
};

} // namespace

OwningOpRef<ModuleOp> importModel(MLIRContext &context,
                                  const ModelConfig &config) {
  context.loadDialect<func::FuncDialect, nn::NNDialect, mla::MLADialect,
                      moe::MoEDialect>();
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(NameLoc::get(StringAttr::get(&context, "model")));
  writeModelConfig(*module, config);
  ModelBuilder builder(context, config);
  builder.buildMainProgram(*module, abi::kPrefill);
  builder.buildMainProgram(*module, abi::kDecode);
  for (int64_t k = 0; k < config.numNextnPredictLayers; ++k)
    builder.buildMtpProgram(*module, k);
  return module;
}

} // namespace moela
