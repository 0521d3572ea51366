//===- PlanWriter.cpp - Planned kernel IR -> plan.fbs ---------------------===//
//
// Each function of the kernel IR becomes a Program: its buffer table (from
// moela-plan-memory), its inputs and output, and one Step per kernel op with
// the op's parameters, its operands as column views of buffers (slices
// resolved), and its weights, deduplicated across the plan.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/PlanWriter.h"

#include "Kernel/KernelOps.h"
#include "Kernel/KernelPrograms.h"
#include "moela/Runtime/Plan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include "plan_generated.h"

using namespace mlir;
namespace fb = flatbuffers;
namespace p = moela::plan;

namespace moela {
namespace {

FailureOr<p::DType> toDType(Type type) {
  if (type.isF32())
    return p::DType::F32;
  if (type.isBF16())
    return p::DType::BF16;
  if (type.isF16())
    return p::DType::F16;
  if (type.isFloat8E4M3FN())
    return p::DType::F8E4M3;
  if (type.isInteger(32))
    return p::DType::I32;
  if (type.isInteger(64))
    return p::DType::I64;
  return failure();
}

p::DType dtypeOrF32(Type type) {
  return succeeded(toDType(type)) ? *toDType(type) : p::DType::F32;
}

class Writer {
public:
  Writer(const ModelConfig &config, const PlanWriterOptions &options)
      : config(config), options(options) {}

  FailureOr<std::vector<uint8_t>> write(ModuleOp module) {
    std::vector<fb::Offset<p::Program>> programs;
    for (func::FuncOp func : module.getOps<func::FuncOp>()) {
      FailureOr<fb::Offset<p::Program>> program = writeProgram(func);
      if (failed(program))
        return failure();
      programs.push_back(*program);
    }
    auto modelConfig = writeConfig();
    auto weightsVec = fbb.CreateVector(weights);
    std::vector<fb::Offset<p::Kernel>> kernels;
    for (const CompiledKernel &k : options.kernels) {
      auto name = fbb.CreateString(k.name), family = fbb.CreateString(k.family);
      auto arch = fbb.CreateString(k.arch), source = fbb.CreateString(k.source);
      auto cubin = fbb.CreateVector(k.cubin);
      p::KernelBuilder kb(fbb);
      kb.add_name(name);
      kb.add_family(family);
      kb.add_arch(arch);
      kb.add_source(source);
      kb.add_cubin(cubin);
      kb.add_registers(k.registers);
      kb.add_spill_bytes(k.spillBytes);
      kb.add_shared_bytes(k.sharedBytes);
      kb.add_dynamic_shared_bytes(k.dynamicSharedBytes);
      kb.add_threads(k.threads);
      kernels.push_back(kb.Finish());
    }
    auto kernelsVec = fbb.CreateVector(kernels);
    auto programsVec = fbb.CreateVector(programs);
    auto generator = fbb.CreateString(options.generator);
    auto target = fbb.CreateString(options.target);
    auto pipeline = fbb.CreateString(options.pipeline);
    p::KvCacheBuilder cache(fbb);
    cache.add_layers(
        static_cast<int>(kernel::kvCacheLayers(module, config.numHiddenLayers)));
    cache.add_latent_dim(static_cast<int>(config.kvLoraRank));
    cache.add_rope_dim(static_cast<int>(config.qkRopeHeadDim));
    cache.add_dtype(options.kvDtype == "f32" ? p::DType::F32 : p::DType::BF16);
    auto cacheOffset = cache.Finish();

    p::PlanBuilder plan(fbb);
    plan.add_schema_version(kPlanSchemaVersion);
    plan.add_generator(generator);
    plan.add_model(modelConfig);
    plan.add_target(target);
    plan.add_pipeline(pipeline);
    plan.add_programs(programsVec);
    plan.add_weights(weightsVec);
    plan.add_kv_cache(cacheOffset);
    plan.add_kernels(kernelsVec);
    p::FinishPlanBuffer(fbb, plan.Finish());
    return std::vector<uint8_t>(fbb.GetBufferPointer(),
                                fbb.GetBufferPointer() + fbb.GetSize());
  }

private:
  // ---- Model config -------------------------------------------------------

  fb::Offset<p::ModelConfig> writeConfig() {
    const ModelConfig &c = config;
    fb::Offset<p::Yarn> yarn;
    if (c.yarn.enabled)
      yarn = writeYarn(c.yarn);
    auto arch = fbb.CreateString(c.architecture);
    auto type = fbb.CreateString(c.modelType);
    auto torchDtype = fbb.CreateString(c.torchDtype);
    p::ModelConfigBuilder m(fbb);
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
    m.add_topk_method(static_cast<p::TopkMethod>(c.topkMethod));
    m.add_scoring_func(static_cast<p::ScoringFunc>(c.scoringFunc));
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
    m.add_fp8_scale_fmt(static_cast<p::ScaleFmt>(c.fp8.scaleFmt));
    m.add_bos_token_id(c.bosTokenId);
    m.add_eos_token_id(c.eosTokenId);
    m.add_torch_dtype(torchDtype);
    return m.Finish();
  }

  fb::Offset<p::Yarn> writeYarn(const YarnConfig &y) {
    p::YarnBuilder yb(fbb);
    yb.add_factor(y.factor);
    yb.add_original_max_position_embeddings(y.originalMaxPositionEmbeddings);
    yb.add_beta_fast(y.betaFast);
    yb.add_beta_slow(y.betaSlow);
    yb.add_mscale(y.mscale);
    yb.add_mscale_all_dim(y.mscaleAllDim);
    return yb.Finish();
  }

  // ---- Weights ------------------------------------------------------------

  fb::Offset<p::TensorRef> tensorRef(nn::WeightAttr w) {
    auto name = fbb.CreateString(w.getName().str());
    auto shape = fbb.CreateVector(w.getShape().vec());
    fb::Offset<fb::String> scale;
    fb::Offset<fb::Vector<int64_t>> scaleShape;
    if (w.isBlockScaled()) {
      scale = fbb.CreateString(w.getScaleName().str());
      scaleShape = fbb.CreateVector(w.getScaleShape().vec());
    }
    p::TensorRefBuilder t(fbb);
    t.add_name(name);
    t.add_dtype(dtypeOrF32(w.getDtype()));
    t.add_shape(shape);
    if (w.isBlockScaled()) {
      t.add_scale_name(scale);
      t.add_scale_shape(scaleShape);
      t.add_quantize_at_load(options.quantizeWeightsAtLoad);
    }
    return t.Finish();
  }

  /// The index of the plan weight made of `parts` (rows concatenated), or of
  /// an expert set when `experts` > 0. Identical bindings share one index.
  uint32_t weight(ArrayRef<nn::WeightAttr> parts, int experts = 0) {
    std::string key = std::to_string(experts);
    for (nn::WeightAttr w : parts)
      key += "|" + w.getName().str();
    auto it = weightIndex.find(key);
    if (it != weightIndex.end())
      return it->second;
    std::vector<fb::Offset<p::TensorRef>> refs;
    for (nn::WeightAttr w : parts)
      refs.push_back(tensorRef(w));
    auto partsVec = fbb.CreateVector(refs);
    p::WeightBuilder wb(fbb);
    wb.add_parts(partsVec);
    wb.add_experts(experts);
    weights.push_back(wb.Finish());
    uint32_t index = weights.size() - 1;
    weightIndex[key] = index;
    return index;
  }

  uint32_t expertWeight(moe::ExpertWeightsAttr w, kernel::ExpertProj proj) {
    int experts = static_cast<int>(w.getCount());
    if (proj == kernel::ExpertProj::down)
      return weight({w.getWeight(-1, "down_proj")}, experts);
    return weight({w.getWeight(-1, "gate_proj"), w.getWeight(-1, "up_proj")},
                  experts);
  }

  // ---- Programs -------------------------------------------------------------

  /// The buffer and column range a kernel tensor occupies.
  p::Operand operand(Value v) {
    int64_t offset = 0;
    Value root = v;
    while (auto slice = root.getDefiningOp<kernel::SliceOp>()) {
      offset += slice.getOffset();
      root = slice.getInput();
    }
    auto type = cast<RankedTensorType>(v.getType());
    int64_t cols = type.getRank() == 1 ? 1 : type.getDimSize(1);
    return p::Operand(bufferOf(root), static_cast<uint32_t>(offset),
                      static_cast<uint32_t>(cols));
  }

  /// A per-head strided view: columns from `offset`, `span` wide.
  p::Operand strided(Value v, int64_t offset, int64_t span) {
    p::Operand base = operand(v);
    return p::Operand(base.buffer(), base.col_offset() + offset, span);
  }

  uint32_t bufferOf(Value root) {
    if (auto arg = dyn_cast<BlockArgument>(root)) {
      auto func = cast<func::FuncOp>(arg.getOwner()->getParentOp());
      return func
          .getArgAttrOfType<IntegerAttr>(arg.getArgNumber(),
                                         kernel::kBufferIdsAttr)
          .getInt();
    }
    auto ids = root.getDefiningOp()->getAttrOfType<DenseI64ArrayAttr>(
        kernel::kBufferIdsAttr);
    return ids[cast<OpResult>(root).getResultNumber()];
  }

  fb::Offset<p::Tile> tile(kernel::TileAttr t) {
    if (!t)
      return 0;
    p::TileBuilder tb(fbb);
    tb.add_block_m(t.getBlockM());
    tb.add_block_n(t.getBlockN());
    tb.add_block_k(t.getBlockK());
    tb.add_stages(t.getStages());
    tb.add_threads(t.getThreads());
    return tb.Finish();
  }

  fb::Offset<p::Rope> rope(kernel::HeadRopeAttr r) {
    if (!r)
      return 0;
    mla::RopeAttr spec = r.getRope();
    fb::Offset<p::Yarn> yarn;
    if (mla::YarnAttr y = spec.getYarn()) {
      YarnConfig config;
      config.factor = y.getFactor().convertToDouble();
      config.originalMaxPositionEmbeddings =
          y.getOriginalMaxPositionEmbeddings();
      config.betaFast = y.getBetaFast().convertToDouble();
      config.betaSlow = y.getBetaSlow().convertToDouble();
      config.mscale = y.getMscale().convertToDouble();
      config.mscaleAllDim = y.getMscaleAllDim().convertToDouble();
      yarn = writeYarn(config);
    }
    p::RopeBuilder rb(fbb);
    rb.add_theta(spec.getTheta().convertToDouble());
    rb.add_dim(static_cast<int>(spec.getDim()));
    if (spec.getYarn())
      rb.add_yarn(yarn);
    rb.add_heads(static_cast<int>(r.getHeads()));
    rb.add_head_dim(static_cast<int>(r.getHeadDim()));
    rb.add_offset(static_cast<int>(r.getOffset()));
    return rb.Finish();
  }

  /// One step under construction.
  struct StepParts {
    p::StepParams type = p::StepParams::NONE;
    fb::Offset<void> params;
    std::vector<p::Operand> inputs, outputs;
    std::vector<uint32_t> weights;
  };

  LogicalResult step(Operation *op, StepParts &s) {
    auto in = [&](Value v) { s.inputs.push_back(operand(v)); };
    return TypeSwitch<Operation *, LogicalResult>(op)
        .Case([&](kernel::EmbeddingOp o) {
          in(o.getTokens());
          s.weights = {weight({o.getTable()})};
          s.type = p::StepParams::EmbeddingParams;
          s.params = p::CreateEmbeddingParams(fbb).Union();
          return success();
        })
        .Case([&](kernel::RmsNormOp o) {
          in(o.getInput());
          s.weights = {weight({o.getWeight()})};
          s.type = p::StepParams::RmsNormParams;
          s.params = p::CreateRmsNormParams(fbb, o.getEps().convertToDouble(),
                                            /*residual=*/false, o.getQuantize())
                         .Union();
          return success();
        })
        .Case([&](kernel::AddRmsNormOp o) {
          in(o.getInput());
          in(o.getResidual());
          s.weights = {weight({o.getWeight()})};
          s.type = p::StepParams::RmsNormParams;
          s.params = p::CreateRmsNormParams(fbb, o.getEps().convertToDouble(),
                                            /*residual=*/true, o.getQuantize())
                         .Union();
          return success();
        })
        .Case([&](kernel::AddOp o) {
          in(o.getLhs());
          in(o.getRhs());
          s.type = p::StepParams::AddParams;
          s.params = p::CreateAddParams(fbb).Union();
          return success();
        })
        .Case([&](kernel::SiluMulOp o) {
          in(o.getGate());
          in(o.getUp());
          s.type = p::StepParams::SiluMulParams;
          s.params = p::CreateSiluMulParams(fbb).Union();
          return success();
        })
        .Case([&](kernel::RopeOp o) {
          in(o.getInput());
          in(o.getPositions());
          auto r = rope(o.getRope());
          s.type = p::StepParams::RopeParams;
          s.params = p::CreateRopeParams(fbb, r).Union();
          return success();
        })
        .Case([&](kernel::GemmOp o) {
          in(o.getInput());
          if (o.getPositions())
            in(o.getPositions());
          if (o.getResidual())
            in(o.getResidual());
          SmallVector<nn::WeightAttr> parts;
          for (Attribute w : o.getWeights())
            parts.push_back(cast<nn::WeightAttr>(w));
          s.weights = {weight(parts)};
          auto r = rope(o.getRopeAttr());
          auto t = tile(o.getTileAttr());
          p::GemmParamsBuilder g(fbb);
          g.add_silu_mul(o.getSiluMul());
          if (o.getRopeAttr())
            g.add_rope(r);
          g.add_residual(static_cast<bool>(o.getResidual()));
          if (o.getTileAttr())
            g.add_tile(t);
          s.type = p::StepParams::GemmParams;
          s.params = g.Finish().Union();
          return success();
        })
        .Case([&](kernel::KvAppendOp o) {
          in(o.getLatent());
          in(o.getKPe());
          in(o.getPositions());
          in(o.getSeqIds());
          if (o.getNormAttr())
            s.weights = {weight({*o.getNorm()})};
          auto r = rope(o.getRopeAttr());
          p::KvAppendParamsBuilder k(fbb);
          k.add_layer(static_cast<int>(o.getLayer()));
          if (o.getEps())
            k.add_eps(o.getEps()->convertToDouble());
          if (o.getRopeAttr())
            k.add_rope(r);
          k.add_normalize(static_cast<bool>(o.getNormAttr()));
          s.type = p::StepParams::KvAppendParams;
          s.params = k.Finish().Union();
          return success();
        })
        .Case([&](kernel::MlaAttentionOp o) {
          in(o.getQuery());
          in(o.getPositions());
          in(o.getSeqIds());
          s.weights = {weight({o.getKvB()})};
          auto t = tile(o.getTileAttr());
          p::MlaAttentionParamsBuilder a(fbb);
          a.add_layer(static_cast<int>(o.getLayer()));
          a.add_heads(static_cast<int>(o.getHeads()));
          a.add_nope_dim(static_cast<int>(o.getNopeDim()));
          a.add_rope_dim(static_cast<int>(o.getRopeDim()));
          a.add_v_dim(static_cast<int>(o.getVDim()));
          a.add_latent_dim(static_cast<int>(o.getLatentDim()));
          a.add_scale(o.getScale().convertToDouble());
          a.add_form(o.getForm() == mla::AttentionForm::absorbed
                         ? p::AttentionForm::Absorbed
                         : p::AttentionForm::Expanded);
          if (o.getTileAttr())
            a.add_tile(t);
          s.type = p::StepParams::MlaAttentionParams;
          s.params = a.Finish().Union();
          return success();
        })
        .Case([&](kernel::KvGatherOp o) {
          in(o.getPositions());
          in(o.getSeqIds());
          s.type = p::StepParams::KvGatherParams;
          s.params =
              p::CreateKvGatherParams(fbb, static_cast<int>(o.getLayer()))
                  .Union();
          return success();
        })
        .Case([&](kernel::MlaPrefillAttentionOp o) {
          in(o.getQuery());
          in(o.getKv());
          in(o.getKPe());
          in(o.getPositions());
          s.type = p::StepParams::MlaPrefillAttentionParams;
          s.params = p::CreateMlaPrefillAttentionParams(
                         fbb, static_cast<int>(o.getHeads()),
                         static_cast<int>(o.getNopeDim()),
                         static_cast<int>(o.getRopeDim()),
                         static_cast<int>(o.getVDim()),
                         static_cast<float>(o.getScale().convertToDouble()))
                         .Union();
          return success();
        })
        .Case([&](kernel::NextTokensOp o) {
          for (Value v : o->getOperands())
            in(v);
          s.type = p::StepParams::NextTokensParams;
          s.params = p::CreateNextTokensParams(fbb).Union();
          return success();
        })
        .Case([&](kernel::ConcatOp o) {
          in(o.getLhs());
          in(o.getRhs());
          s.type = p::StepParams::ConcatParams;
          s.params = p::CreateConcatParams(fbb).Union();
          return success();
        })
        .Case([&](kernel::MlaLatentAttentionOp o) {
          int64_t heads = o.getHeads();
          in(o.getQLat());
          s.inputs.push_back(
              strided(o.getQPe(), o.getQPeOffset(),
                      (heads - 1) * o.getQPeStride() + o.getRopeDim()));
          in(o.getPositions());
          in(o.getSeqIds());
          auto t = tile(o.getTileAttr());
          p::MlaLatentAttentionParamsBuilder a(fbb);
          a.add_layer(static_cast<int>(o.getLayer()));
          a.add_heads(static_cast<int>(heads));
          a.add_latent_dim(static_cast<int>(o.getLatentDim()));
          a.add_rope_dim(static_cast<int>(o.getRopeDim()));
          a.add_scale(o.getScale().convertToDouble());
          if (o.getTileAttr())
            a.add_tile(t);
          a.add_q_lat_stride(0);
          a.add_q_pe_stride(static_cast<int>(o.getQPeStride()));
          s.type = p::StepParams::MlaLatentAttentionParams;
          s.params = a.Finish().Union();
          return success();
        })
        .Case([&](kernel::HeadGemmOp o) {
          nn::WeightAttr w = o.getWeight();
          int64_t in_ = o.getTranspose() ? o.getRows() : w.getDim(1);
          s.inputs.push_back(
              strided(o.getInput(), o.getInOffset(),
                      (o.getHeads() - 1) * o.getInStride() + in_));
          s.weights = {weight({w})};
          auto t = tile(o.getTileAttr());
          p::HeadGemmParamsBuilder h(fbb);
          h.add_heads(static_cast<int>(o.getHeads()));
          h.add_head_rows(static_cast<int>(o.getHeadRows()));
          h.add_row_offset(static_cast<int>(o.getRowOffset()));
          h.add_rows(static_cast<int>(o.getRows()));
          h.add_transpose(o.getTranspose());
          h.add_in_stride(static_cast<int>(o.getInStride()));
          if (o.getTileAttr())
            h.add_tile(t);
          h.add_out_stride(0);
          s.type = p::StepParams::HeadGemmParams;
          s.params = h.Finish().Union();
          return success();
        })
        .Case([&](kernel::RouteOp o) {
          in(o.getInput());
          if (o.getGateAttr())
            s.weights.push_back(weight({*o.getGate()}));
          if (o.getBiasAttr())
            s.weights.push_back(weight({*o.getBias()}));
          moe::RoutingAttr r = o.getRouting();
          p::RouteParamsBuilder rb(fbb);
          rb.add_scoring(static_cast<p::ScoringFunc>(r.getScoring()));
          rb.add_method(static_cast<p::TopkMethod>(r.getMethod()));
          rb.add_experts(static_cast<int>(r.getExperts()));
          rb.add_top_k(static_cast<int>(r.getTopK()));
          rb.add_groups(static_cast<int>(r.getGroups()));
          rb.add_topk_groups(static_cast<int>(r.getTopkGroups()));
          rb.add_norm_topk_prob(r.getNormTopkProb());
          rb.add_scaling(r.getScaling().convertToDouble());
          rb.add_fused_gate(static_cast<bool>(o.getGateAttr()));
          rb.add_has_bias(static_cast<bool>(o.getBiasAttr()));
          s.type = p::StepParams::RouteParams;
          s.params = rb.Finish().Union();
          return success();
        })
        .Case([&](kernel::MoeExpertsOp o) {
          in(o.getInput());
          in(o.getIndices());
          moe::ExpertWeightsAttr w = o.getWeights();
          s.weights = {expertWeight(w, kernel::ExpertProj::gate_up),
                       expertWeight(w, kernel::ExpertProj::down)};
          s.type = p::StepParams::MoeExpertsParams;
          s.params =
              p::CreateMoeExpertsParams(
                  fbb, static_cast<int>(w.getCount()),
                  static_cast<int>(nn::dimOf(o.getIndices().getType(), 1)),
                  static_cast<int>(w.getIntermediate()))
                  .Union();
          return success();
        })
        .Case([&](kernel::MoeDispatchOp o) {
          in(o.getInput());
          in(o.getIndices());
          s.type = p::StepParams::MoeDispatchParams;
          s.params =
              p::CreateMoeDispatchParams(
                  fbb, static_cast<int>(o.getExperts()),
                  static_cast<int>(nn::dimOf(o.getIndices().getType(), 1)))
                  .Union();
          return success();
        })
        .Case([&](kernel::GroupedGemmOp o) {
          in(o.getInput());
          in(o.getOffsets());
          s.weights = {expertWeight(o.getWeights(), o.getProj())};
          auto t = tile(o.getTileAttr());
          p::GroupedGemmParamsBuilder g(fbb);
          g.add_experts(static_cast<int>(o.getWeights().getCount()));
          g.add_silu_mul(o.getSiluMul());
          if (o.getTileAttr())
            g.add_tile(t);
          s.type = p::StepParams::GroupedGemmParams;
          s.params = g.Finish().Union();
          return success();
        })
        .Case([&](kernel::MoeCombineOp o) {
          in(o.getExpertOutputs());
          in(o.getWeights());
          if (o.getPerm())
            in(o.getPerm());
          if (o.getShared())
            in(o.getShared());
          if (o.getResidual())
            in(o.getResidual());
          s.type = p::StepParams::MoeCombineParams;
          s.params =
              p::CreateMoeCombineParams(
                  fbb, static_cast<int>(nn::dimOf(o.getWeights().getType(), 1)),
                  static_cast<bool>(o.getPerm()),
                  static_cast<bool>(o.getShared()),
                  static_cast<bool>(o.getResidual()))
                  .Union();
          return success();
        })
        .Case([&](kernel::GatherRowsOp o) {
          in(o.getInput());
          in(o.getRows());
          s.type = p::StepParams::GatherRowsParams;
          s.params = p::CreateGatherRowsParams(fbb).Union();
          return success();
        })
        .Case([&](kernel::ArgmaxOp o) {
          in(o.getInput());
          s.type = p::StepParams::ArgmaxParams;
          s.params = p::CreateArgmaxParams(fbb).Union();
          return success();
        })
        .Default([&](Operation *other) {
          return other->emitOpError()
                 << "cannot be written to a plan (not a "
                    "kernel op: run the default pipeline first)";
        });
  }

  FailureOr<fb::Offset<p::Program>> writeProgram(func::FuncOp func) {
    auto table = func->getAttrOfType<ArrayAttr>(kernel::kBufferTableAttr);
    if (!table)
      return func.emitError()
             << "has no buffer table: run moela-plan-memory first";
    std::vector<fb::Offset<p::Buffer>> buffers;
    for (Attribute a : table) {
      auto b = cast<kernel::BufferAttr>(a);
      auto name = fbb.CreateString(b.getName().str());
      p::BufferBuilder bb(fbb);
      bb.add_name(name);
      bb.add_dtype(dtypeOrF32(b.getDtype()));
      bb.add_row_kind(
          b.getRows() == kernel::RowKind::token       ? p::RowKind::PerToken
          : b.getRows() == kernel::RowKind::logit_row ? p::RowKind::PerLogitRow
                                                      : p::RowKind::Fixed);
      bb.add_row_factor(b.getRowFactor());
      bb.add_cols(b.getCols());
      bb.add_offset(b.getOffset());
      bb.add_bytes(b.getBytes());
      bb.add_scales(static_cast<int>(b.getScales()));
      buffers.push_back(bb.Finish());
    }

    std::vector<uint32_t> inputs, outputs;
    Block &body = func.getBody().front();
    for (BlockArgument arg : body.getArguments())
      inputs.push_back(bufferOf(arg));
    std::vector<fb::Offset<p::Step>> steps;
    for (Operation &op : body) {
      if (isa<kernel::SliceOp>(op))
        continue;
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        for (Value v : ret.getOperands())
          outputs.push_back(bufferOf(v));
        continue;
      }
      StepParts s;
      if (failed(step(&op, s)))
        return failure();
      for (Value r : op.getResults())
        s.outputs.push_back(operand(r));
      int kernelIndex = -1;
      if (auto k = op.getAttrOfType<IntegerAttr>("kernel.kernel"))
        kernelIndex = static_cast<int>(k.getInt());
      auto name = fbb.CreateString(kernel::locationName(op.getLoc()));
      auto ins = fbb.CreateVectorOfStructs(s.inputs);
      auto outs = fbb.CreateVectorOfStructs(s.outputs);
      auto ws = fbb.CreateVector(s.weights);
      steps.push_back(p::CreateStep(fbb, name, s.type, s.params, ins, outs, ws,
                                    kernelIndex));
    }

    auto attrInt = [&](StringRef name) {
      auto a = func->getAttrOfType<IntegerAttr>(name);
      return a ? a.getInt() : 0;
    };
    auto name = fbb.CreateString(func.getSymName().str());
    auto buffersVec = fbb.CreateVector(buffers);
    auto inputsVec = fbb.CreateVector(inputs);
    auto outputsVec = fbb.CreateVector(outputs);
    auto stepsVec = fbb.CreateVector(steps);
    p::ProgramBuilder pb(fbb);
    pb.add_name(name);
    pb.add_max_tokens(static_cast<int>(attrInt(kernel::kMaxTokensAttr)));
    pb.add_max_logit_rows(static_cast<int>(attrInt(kernel::kMaxLogitRowsAttr)));
    pb.add_buffers(buffersVec);
    pb.add_inputs(inputsVec);
    pb.add_outputs(outputsVec);
    pb.add_steps(stepsVec);
    pb.add_arena_bytes(attrInt(kernel::kArenaBytesAttr));
    pb.add_fresh_sequences(func->hasAttr(kernel::kFreshSequencesAttr));
    return pb.Finish();
  }

  const ModelConfig &config;
  const PlanWriterOptions &options;
  fb::FlatBufferBuilder fbb{1 << 16};
  std::vector<fb::Offset<p::Weight>> weights;
  llvm::StringMap<uint32_t> weightIndex;
};

} // namespace

FailureOr<std::vector<uint8_t>> writePlan(ModuleOp module,
                                          const ModelConfig &config,
                                          const PlanWriterOptions &options) {
  return Writer(config, options).write(module);
}

} // namespace moela
