//===- PlanWriter.cpp - Planned kernel IR -> plan.fbs ---------------------===//
//
// Each function of the kernel IR becomes a Program: its buffer table (from
// moela-plan-memory), its inputs and output, and one Step per kernel op with
// the op's parameters, its operands as column views of buffers (slices
// resolved), and its weights, deduplicated across the plan.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/PlanWriter.h"

#include "PlanWeights.h"

#include "Kernel/KernelOps.h"
#include "Kernel/KernelPrograms.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/StepFamily.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <optional>

#include "plan_generated.h"

using namespace mlir;
namespace fb = flatbuffers;
namespace p = moela::plan;

namespace moela {
namespace {

p::DType dtypeOrF32(Type type) {
  FailureOr<p::DType> dtype = toPlanDType(type);
  return succeeded(dtype) ? *dtype : p::DType::F32;
}

class Writer {
public:
  Writer(const ModelConfig &config, const PlanWriterOptions &options)
      : config(config), options(options) {
    // Every field is stored, zeros too, so that --dump-plan, which lists
    // what the buffer holds, shows every parameter.
    fbb.ForceDefaults(true);
  }

  FailureOr<std::vector<uint8_t>> write(ModuleOp module) {
    std::vector<fb::Offset<p::Program>> programs;
    for (func::FuncOp func : module.getOps<func::FuncOp>()) {
      FailureOr<fb::Offset<p::Program>> program = writeProgram(func);
      if (failed(program))
        return failure();
      programs.push_back(*program);
    }
    auto modelConfig = writeModelConfig(fbb, config);
    auto weightsVec = fbb.CreateVector(weights.table());
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
    cache.add_layers(static_cast<int>(
        kernel::kvCacheLayers(module, config.numHiddenLayers)));
    cache.add_latent_dim(static_cast<int>(config.kvLoraRank));
    cache.add_rope_dim(static_cast<int>(config.qkRopeHeadDim));
    cache.add_dtype(options.kvDtype == "f32"   ? p::DType::F32
                    : options.kvDtype == "fp8" ? p::DType::F8E4M3
                                               : p::DType::BF16);
    cache.add_page_tokens(abi::kKvPageTokens);
    auto cacheOffset = cache.Finish();
    kernel::Layout split = kernel::readLayout(module);
    fb::Offset<p::Layout> layout;
    if (split.ranks > 1)
      layout = p::CreateLayout(fbb, static_cast<int>(split.tp), split.ep,
                               split.vocabParallel, split.logitsSharded);

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
    plan.add_world_size(static_cast<int>(split.ranks));
    if (split.ranks > 1)
      plan.add_layout(layout);
    p::FinishPlanBuffer(fbb, plan.Finish());
    return std::vector<uint8_t>(fbb.GetBufferPointer(),
                                fbb.GetBufferPointer() + fbb.GetSize());
  }

private:
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
    tb.add_engine(t.getEngine() == kernel::GemmEngine::wgmma
                      ? p::GemmEngine::Wgmma
                      : p::GemmEngine::Mma);
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
      yarn = writeYarn(fbb, config);
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

  /// The family and parameters of `op`, and its operands set by role
  /// (runtime/plan/StepFamilies.cpp declares which, and their order).
  struct StepParts {
    p::StepParams type = p::StepParams::NONE;
    fb::Offset<void> params;
  };

  /// Sets `params` for a kernel op of family `type`; returns its builder.
  LogicalResult step(Operation *op, StepParts &s,
                     std::optional<StepBuilder> &b) {
    using R = Role;
    auto family = [&](p::StepParams type, fb::Offset<void> params) {
      s.type = type;
      s.params = params;
      b.emplace(*findStepFamily(type));
    };
    auto in = [&](R role, Value v) { b->in(role, operand(v)); };
    auto out = [&](R role, Value v) { b->out(role, operand(v)); };
    return TypeSwitch<Operation *, LogicalResult>(op)
        .Case([&](kernel::EmbeddingOp o) {
          family(p::StepParams::EmbeddingParams,
                 p::CreateEmbeddingParams(fbb).Union());
          in(R::Tokens, o.getTokens());
          out(R::Hidden, o.getResult());
          b->weight(R::EmbedTable, weights.bind({o.getTable()}));
          return success();
        })
        .Case([&](kernel::RmsNormOp o) {
          family(p::StepParams::RmsNormParams,
                 p::CreateRmsNormParams(fbb, o.getEps().convertToDouble(),
                                        /*residual=*/false, o.getQuantize())
                     .Union());
          in(R::X, o.getInput());
          out(R::Y, o.getResult());
          b->weight(R::NormWeight, weights.bind({o.getWeight()}));
          return success();
        })
        .Case([&](kernel::AddRmsNormOp o) {
          family(p::StepParams::RmsNormParams,
                 p::CreateRmsNormParams(fbb, o.getEps().convertToDouble(),
                                        /*residual=*/true, o.getQuantize())
                     .Union());
          in(R::X, o.getInput());
          in(R::Residual, o.getResidual());
          out(R::Y, o.getResult());
          out(R::Sum, o.getSum());
          b->weight(R::NormWeight, weights.bind({o.getWeight()}));
          return success();
        })
        .Case([&](kernel::AddOp o) {
          family(p::StepParams::AddParams, p::CreateAddParams(fbb).Union());
          in(R::A, o.getLhs());
          in(R::B, o.getRhs());
          out(R::Y, o.getResult());
          return success();
        })
        .Case([&](kernel::SiluMulOp o) {
          family(p::StepParams::SiluMulParams,
                 p::CreateSiluMulParams(fbb).Union());
          in(R::GateAct, o.getGate());
          in(R::UpAct, o.getUp());
          out(R::Y, o.getResult());
          return success();
        })
        .Case([&](kernel::RopeOp o) {
          family(p::StepParams::RopeParams,
                 p::CreateRopeParams(fbb, rope(o.getRope())).Union());
          in(R::X, o.getInput());
          in(R::Positions, o.getPositions());
          out(R::Y, o.getResult());
          return success();
        })
        .Case([&](kernel::GemmOp o) {
          SmallVector<nn::WeightAttr> parts;
          for (Attribute w : o.getWeights())
            parts.push_back(cast<nn::WeightAttr>(w));
          const uint32_t w = weights.bind(parts);
          auto r = rope(o.getRopeAttr());
          auto t = tile(o.getTileAttr());
          p::GemmParamsBuilder g(fbb);
          g.add_silu_mul(o.getSiluMul());
          if (o.getRopeAttr())
            g.add_rope(r);
          g.add_residual(static_cast<bool>(o.getResidual()));
          if (o.getTileAttr())
            g.add_tile(t);
          family(p::StepParams::GemmParams, g.Finish().Union());
          in(R::A, o.getInput());
          if (o.getPositions())
            in(R::Positions, o.getPositions());
          if (o.getResidual())
            in(R::Residual, o.getResidual());
          out(R::C, o.getResult());
          b->weight(R::Matrix, w);
          return success();
        })
        .Case([&](kernel::KvAppendOp o) {
          auto r = rope(o.getRopeAttr());
          p::KvAppendParamsBuilder k(fbb);
          k.add_layer(static_cast<int>(o.getLayer()));
          if (o.getEps())
            k.add_eps(o.getEps()->convertToDouble());
          if (o.getRopeAttr())
            k.add_rope(r);
          k.add_normalize(static_cast<bool>(o.getNormAttr()));
          family(p::StepParams::KvAppendParams, k.Finish().Union());
          in(R::Latent, o.getLatent());
          in(R::KPe, o.getKPe());
          in(R::Positions, o.getPositions());
          in(R::SeqIds, o.getSeqIds());
          if (o.getNormAttr())
            b->weight(R::KvNorm, weights.bind({*o.getNorm()}));
          return success();
        })
        .Case([&](kernel::MlaAttentionOp o) {
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
          family(p::StepParams::MlaAttentionParams, a.Finish().Union());
          in(R::Q, o.getQuery());
          in(R::Positions, o.getPositions());
          in(R::SeqIds, o.getSeqIds());
          out(R::O, o.getResult());
          b->weight(R::KvB, weights.bind({o.getKvB()}));
          return success();
        })
        .Case([&](kernel::KvGatherOp o) {
          family(p::StepParams::KvGatherParams,
                 p::CreateKvGatherParams(fbb, static_cast<int>(o.getLayer()))
                     .Union());
          in(R::Positions, o.getPositions());
          in(R::SeqIds, o.getSeqIds());
          out(R::CacheRows, o.getResult());
          return success();
        })
        .Case([&](kernel::MlaPrefillAttentionOp o) {
          family(p::StepParams::MlaPrefillAttentionParams,
                 p::CreateMlaPrefillAttentionParams(
                     fbb, static_cast<int>(o.getHeads()),
                     static_cast<int>(o.getNopeDim()),
                     static_cast<int>(o.getRopeDim()),
                     static_cast<int>(o.getVDim()),
                     static_cast<float>(o.getScale().convertToDouble()))
                     .Union());
          in(R::Q, o.getQuery());
          in(R::Kv, o.getKv());
          in(R::KPe, o.getKPe());
          in(R::Positions, o.getPositions());
          out(R::O, o.getResult());
          return success();
        })
        .Case([&](kernel::NextTokensOp o) {
          family(p::StepParams::NextTokensParams,
                 p::CreateNextTokensParams(fbb).Union());
          in(R::Tokens, o.getTokens());
          in(R::Positions, o.getPositions());
          in(R::SeqIds, o.getSeqIds());
          in(R::LogitRows, o.getLogitRows());
          in(R::Ids, o.getIds());
          out(R::Next, o.getResult());
          return success();
        })
        .Case([&](kernel::ConcatOp o) {
          family(p::StepParams::ConcatParams,
                 p::CreateConcatParams(fbb).Union());
          in(R::A, o.getLhs());
          in(R::B, o.getRhs());
          out(R::AB, o.getResult());
          return success();
        })
        .Case([&](kernel::AllReduceOp o) {
          family(p::StepParams::AllReduceParams,
                 p::CreateAllReduceParams(fbb).Union());
          in(R::X, o.getInput());
          out(R::Y, o.getResult());
          return success();
        })
        .Case([&](kernel::AllGatherOp o) {
          family(p::StepParams::AllGatherParams,
                 p::CreateAllGatherParams(fbb).Union());
          in(R::X, o.getInput());
          out(R::Y, o.getResult());
          return success();
        })
        .Case([&](kernel::MlaLatentAttentionOp o) {
          const int64_t heads = o.getHeads();
          auto t = tile(o.getTileAttr());
          p::MlaLatentAttentionParamsBuilder a(fbb);
          a.add_layer(static_cast<int>(o.getLayer()));
          a.add_heads(static_cast<int>(heads));
          a.add_latent_dim(static_cast<int>(o.getLatentDim()));
          a.add_rope_dim(static_cast<int>(o.getRopeDim()));
          a.add_scale(o.getScale().convertToDouble());
          if (o.getTileAttr())
            a.add_tile(t);
          a.add_q_pe_stride(static_cast<int>(o.getQPeStride()));
          family(p::StepParams::MlaLatentAttentionParams, a.Finish().Union());
          in(R::QLat, o.getQLat());
          b->in(R::QPe,
                strided(o.getQPe(), o.getQPeOffset(),
                        (heads - 1) * o.getQPeStride() + o.getRopeDim()));
          in(R::Positions, o.getPositions());
          in(R::SeqIds, o.getSeqIds());
          out(R::OLat, o.getResult());
          return success();
        })
        .Case([&](kernel::HeadGemmOp o) {
          nn::WeightAttr w = o.getWeight();
          const int64_t inLen = o.getTranspose() ? o.getRows() : w.getDim(1);
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
          family(p::StepParams::HeadGemmParams, h.Finish().Union());
          b->in(R::X, strided(o.getInput(), o.getInOffset(),
                              (o.getHeads() - 1) * o.getInStride() + inLen));
          out(R::Y, o.getResult());
          b->weight(R::Matrix, weights.bind({w}));
          return success();
        })
        .Case([&](kernel::RouteOp o) {
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
          family(p::StepParams::RouteParams, rb.Finish().Union());
          in(o.getGateAttr() ? R::X : R::Logits, o.getInput());
          out(R::ExpertIds, o.getIndices());
          out(R::ExpertWeights, o.getWeights());
          if (o.getGateAttr())
            b->weight(R::GateMatrix, weights.bind({*o.getGate()}));
          if (o.getBiasAttr())
            b->weight(R::GateBias, weights.bind({*o.getBias()}));
          return success();
        })
        .Case([&](kernel::MoeExpertsOp o) {
          moe::ExpertWeightsAttr w = o.getWeights();
          family(p::StepParams::MoeExpertsParams,
                 p::CreateMoeExpertsParams(
                     fbb, static_cast<int>(w.getCount()),
                     static_cast<int>(nn::dimOf(o.getIndices().getType(), 1)),
                     static_cast<int>(w.getIntermediate()))
                     .Union());
          in(R::X, o.getInput());
          in(R::ExpertIds, o.getIndices());
          out(R::Y, o.getResult());
          b->weight(R::GateUp,
                    weights.bindExperts(w, kernel::ExpertProj::gate_up));
          b->weight(R::Down, weights.bindExperts(w, kernel::ExpertProj::down));
          return success();
        })
        .Case([&](kernel::MoeDispatchOp o) {
          family(p::StepParams::MoeDispatchParams,
                 p::CreateMoeDispatchParams(
                     fbb, static_cast<int>(o.getExperts()),
                     static_cast<int>(nn::dimOf(o.getIndices().getType(), 1)))
                     .Union());
          in(R::X, o.getInput());
          in(R::ExpertIds, o.getIndices());
          out(R::XSorted, o.getSorted());
          out(R::Offsets, o.getOffsets());
          out(R::Perm, o.getPerm());
          return success();
        })
        .Case([&](kernel::GroupedGemmOp o) {
          auto t = tile(o.getTileAttr());
          p::GroupedGemmParamsBuilder g(fbb);
          g.add_experts(static_cast<int>(o.getWeights().getCount()));
          g.add_silu_mul(o.getSiluMul());
          if (o.getTileAttr())
            g.add_tile(t);
          family(p::StepParams::GroupedGemmParams, g.Finish().Union());
          in(R::XSorted, o.getInput());
          in(R::Offsets, o.getOffsets());
          out(R::Y, o.getResult());
          b->weight(R::Matrix,
                    weights.bindExperts(o.getWeights(), o.getProj()));
          return success();
        })
        .Case([&](kernel::MoeCombineOp o) {
          family(p::StepParams::MoeCombineParams,
                 p::CreateMoeCombineParams(
                     fbb,
                     static_cast<int>(nn::dimOf(o.getWeights().getType(), 1)),
                     static_cast<bool>(o.getPerm()),
                     static_cast<bool>(o.getShared()),
                     static_cast<bool>(o.getResidual()))
                     .Union());
          in(R::Y, o.getExpertOutputs());
          in(R::ExpertWeights, o.getWeights());
          if (o.getPerm())
            in(R::Perm, o.getPerm());
          if (o.getShared())
            in(R::SharedOut, o.getShared());
          if (o.getResidual())
            in(R::Residual, o.getResidual());
          out(R::Out, o.getResult());
          return success();
        })
        .Case([&](kernel::GatherRowsOp o) {
          family(p::StepParams::GatherRowsParams,
                 p::CreateGatherRowsParams(fbb).Union());
          in(R::X, o.getInput());
          in(R::RowIds, o.getRows());
          out(R::Y, o.getResult());
          return success();
        })
        .Case([&](kernel::ArgmaxOp o) {
          family(p::StepParams::ArgmaxParams,
                 p::CreateArgmaxParams(fbb).Union());
          in(R::Logits, o.getInput());
          out(R::Ids, o.getResult());
          return success();
        })
        .Case([&](kernel::SampleOp o) {
          family(p::StepParams::SampleParams,
                 p::CreateSampleParams(fbb,
                                       static_cast<int>(o.getCandidateParts()))
                     .Union());
          in(R::Logits, o.getLogits());
          in(R::Sampling, o.getSampling());
          out(R::Ids, o.getIds());
          out(R::Logprobs, o.getLogprobs());
          return success();
        })
        .Case([&](kernel::SampleCandidatesOp o) {
          family(p::StepParams::SampleCandidatesParams,
                 p::CreateSampleCandidatesParams(
                     fbb, static_cast<int>(o.getCandidates()))
                     .Union());
          in(R::Logits, o.getLogits());
          in(R::Sampling, o.getSampling());
          out(R::Candidates, o.getResult());
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
      std::optional<StepBuilder> b;
      if (failed(step(&op, s, b)))
        return failure();
      // Every result is a step output, each exactly once.
      if (!b->error().empty() || b->outputs().size() != op.getNumResults())
        return op.emitOpError()
               << "is written against its step family's declaration wrongly "
                  "(a moela bug): "
               << (b->error().empty() ? "not every result has a role"
                                      : b->error());
      int kernelIndex = -1;
      if (auto k = op.getAttrOfType<IntegerAttr>("kernel.kernel"))
        kernelIndex = static_cast<int>(k.getInt());
      auto name = fbb.CreateString(kernel::locationName(op.getLoc()));
      auto ins = fbb.CreateVectorOfStructs(b->inputs());
      auto outs = fbb.CreateVectorOfStructs(b->outputs());
      auto ws = fbb.CreateVector(b->weights());
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
  PlanWeights weights{fbb, options.quantizeWeightsAtLoad};
};

} // namespace

FailureOr<std::vector<uint8_t>> writePlan(ModuleOp module,
                                          const ModelConfig &config,
                                          const PlanWriterOptions &options) {
  FailureOr<std::vector<uint8_t>> bytes = Writer(config, options).write(module);
  if (failed(bytes))
    return failure();
  // What the runtime would refuse is a compiler bug: say so here.
  const std::string error = verifyPlanBytes(*bytes, "the written plan");
  if (!error.empty())
    return module.emitError() << error << " (a moela bug)";
  return bytes;
}

} // namespace moela
