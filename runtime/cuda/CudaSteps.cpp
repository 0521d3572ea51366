//===- CudaSteps.cpp - One plan step -> kernel arguments -> launches ------===//
//
// For each step family: the operands become Views into the arena (buffer
// offset + column offset, row stride = the buffer's columns), the weights
// the uploaded device copies, the run-time row counts come from the buffers'
// row kinds, and the launch geometry from the family's launch function
// (runtime/kernels/MatmulLaunch.h, OpsLaunch.h). Families that need two
// passes are launched twice with `phase` 0 and 1.
//
//===----------------------------------------------------------------------===//
#include "CudaBackendImpl.h"

#include "kernels/MatmulLaunch.h"
#include "kernels/OpsLaunch.h"
#include "kernels/WgmmaLaunch.h"
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/StepFamily.h"

namespace moela::cuda {

using plan::StepParams;

namespace {

size_t elementSize(plan::DType t) { return dtypeSize(static_cast<DType>(t)); }

kernels::Tile tileOf(const plan::Tile *t) {
  if (!t)
    return kernels::Tile{0, 0, 0, 0, 0};
  return kernels::Tile{t->block_m(), t->block_n(), t->block_k(), t->stages(),
                       t->threads()};
}

} // namespace

kernels::View CudaBackend::view(const plan::Program &program,
                                const plan::Operand &op) const {
  const plan::Buffer &b = *program.buffers()->Get(op.buffer());
  kernels::View v;
  v.ptr = reinterpret_cast<void *>(arena.get() + b.offset() +
                                   op.col_offset() * elementSize(b.dtype()));
  v.ld = b.cols();
  return v;
}

kernels::View CudaBackend::scalesView(const plan::Program &program,
                                      const plan::Operand &op) const {
  const plan::Buffer &b = *program.buffers()->Get(op.buffer());
  if (b.scales() < 0)
    return kernels::View{};
  const plan::Buffer &s =
      *program.buffers()->Get(static_cast<unsigned>(b.scales()));
  kernels::View v;
  v.ptr = reinterpret_cast<void *>(arena.get() + s.offset() +
                                   op.col_offset() / abi::kFp8Block *
                                       sizeof(float));
  v.ld = s.cols();
  return v;
}

int CudaBackend::rowsOf(const plan::Program &program, const plan::Operand &op,
                        int tokens, int logitRows) const {
  return static_cast<int>(
      bufferRows(*program.buffers()->Get(op.buffer()), tokens, logitRows));
}

const DeviceWeight &CudaBackend::weightPart(const plan::Step &step,
                                            uint32_t weight,
                                            size_t part) const {
  const std::vector<DeviceWeight> &parts = weights_.at(weight);
  if (part >= parts.size())
    fail("step '", step.name() ? step.name()->str() : "", "': plan weight ",
         weight, " has no part ", part);
  return parts[part];
}

template <typename Args>
void CudaBackend::launch(CUfunction function, const Args &args,
                         const kernels::Launch &l) {
  // Above 48 KiB a kernel must opt in to its dynamic shared memory.
  if (l.shared_bytes > 48 * 1024) {
    unsigned &limit = sharedLimits[function];
    if (limit < l.shared_bytes) {
      check(driver.cuFuncSetAttribute(
                function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                static_cast<int>(l.shared_bytes)),
            "cuFuncSetAttribute (dynamic shared memory)");
      limit = l.shared_bytes;
    }
  }
  void *params[] = {const_cast<Args *>(&args)};
  check(driver.cuLaunchKernel(function, l.grid_x, l.grid_y, l.grid_z, l.block,
                              1, 1, l.shared_bytes, stream, params, nullptr),
        "cuLaunchKernel");
}

size_t CudaBackend::stepWorkspaceBytes(const plan::Program &program) const {
  size_t bytes = 0;
  const long long tokens = program.max_tokens();
  for (const plan::Step *step : *program.steps()) {
    long long need = 0;
    if (auto *p = step->params_as_MlaLatentAttentionParams()) {
      kernels::LatentAttentionArgs a{};
      a.rows = static_cast<int>(tokens);
      a.heads = p->heads();
      a.latent_dim = p->latent_dim();
      a.rope_dim = p->rope_dim();
      // The splits grow with the context a slot holds: size for this run's
      // (the launch reads the same pages_per_seq, cacheLayer()).
      a.cache.pages_per_seq = kvShape_.pagesPerSequence();
      need = kernels::latentAttentionWorkspaceBytes(a);
    } else if (auto *p = step->params_as_MoeCombineParams()) {
      kernels::CombineArgs a{};
      a.rows = static_cast<int>(tokens);
      a.top_k = p->top_k();
      need = kernels::combineWorkspaceBytes(a);
    }
    need = std::max<long long>(
        need, static_cast<long long>(collectiveWorkspaceBytes(*step, program)));
    bytes = std::max<size_t>(bytes, static_cast<size_t>(need));
  }
  return bytes;
}

void CudaBackend::launchStep(const plan::Step &step,
                             const plan::Program &program, int tokens,
                             int logitRows) {
  using R = Role;
  // The collectives have no kernel (CudaCollectives.cpp).
  if (step.params_type() == StepParams::AllReduceParams ||
      step.params_type() == StepParams::AllGatherParams) {
    launchCollective(step, program, tokens, logitRows);
    return;
  }
  if (step.kernel() < 0 || step.kernel() >= static_cast<int>(functions.size()))
    fail("step '", step.name() ? step.name()->str() : "",
         "' has no CUDA kernel");
  CUfunction fn = functions[step.kernel()];
  const StepOperands ops(step, "CUDA backend");
  auto in = [&](Role r) { return view(program, ops.in(r)); };
  auto out = [&](Role r) { return view(program, ops.out(r)); };
  auto ints = [&](Role r) { return static_cast<int *>(in(r).ptr); };
  auto outInts = [&](Role r) { return static_cast<int *>(out(r).ptr); };
  auto cols = [&](const plan::Operand &o) {
    return static_cast<int>(o.cols());
  };
  auto rows = [&](const plan::Operand &o) {
    return rowsOf(program, o, tokens, logitRows);
  };
  auto weight = [&](Role r, size_t part = 0) {
    return weightPart(step, ops.weight(r), part).view;
  };
  auto cache = [&](int layer) { return cacheLayer(layer); };
  auto *work = static_cast<float *>(workspace.pointer());

  switch (step.params_type()) {
  case StepParams::EmbeddingParams: {
    kernels::EmbeddingArgs a{};
    a.tokens = ints(R::Tokens);
    a.table = weight(R::EmbedTable);
    a.out = out(R::Hidden);
    a.rows = rows(ops.in(R::Tokens));
    // A vocab-parallel table: this rank's rows of the vocabulary.
    const plan::TensorRef &table = *plan_->root()
                                        .weights()
                                        ->Get(ops.weight(R::EmbedTable))
                                        ->parts()
                                        ->Get(0);
    if (table.shard_dim() == 0 && table.shard_parts() > 1) {
      a.first_row = (comm_ ? comm_->rank() : 0) * a.table.rows;
      a.vocab = a.table.rows * table.shard_parts();
    }
    return launch(fn, a, kernels::launchEmbedding(a, {}));
  }
  case StepParams::RmsNormParams: {
    auto *p = step.params_as_RmsNormParams();
    kernels::RmsNormArgs a{};
    a.x = in(R::X);
    a.y = out(R::Y);
    if (p->residual()) {
      a.residual = in(R::Residual);
      a.sum = out(R::Sum);
    }
    a.weight = weight(R::NormWeight);
    a.rows = rows(ops.in(R::X));
    a.cols = cols(ops.in(R::X));
    a.eps = p->eps();
    // An FP8 y (quantize, docs/model.md §3.4) writes its scales to the
    // buffer's companion.
    const kernels::View scales = scalesView(program, ops.out(R::Y));
    a.y_scales = static_cast<float *>(scales.ptr);
    a.y_scale_ld = scales.ld;
    a.ue8m0 = plan_->root().model()->fp8_scale_fmt() == plan::ScaleFmt::Ue8m0;
    return launch(fn, a, kernels::launchRmsNorm(a, {}));
  }
  case StepParams::AddParams: {
    kernels::AddArgs a{in(R::A), in(R::B), out(R::Y), rows(ops.in(R::A)),
                       cols(ops.in(R::A))};
    return launch(fn, a, kernels::launchElementwise(a));
  }
  case StepParams::SiluMulParams: {
    kernels::SiluMulArgs a{in(R::GateAct), in(R::UpAct), out(R::Y),
                           rows(ops.in(R::GateAct)), cols(ops.in(R::GateAct))};
    return launch(fn, a, kernels::launchElementwise(a));
  }
  case StepParams::RopeParams: {
    kernels::RopeArgs a{};
    a.x = in(R::X);
    a.positions = ints(R::Positions);
    a.y = out(R::Y);
    a.rope = rope(step.params_as_RopeParams()->rope());
    a.rows = rows(ops.in(R::X));
    return launch(fn, a, kernels::launchRope(a, {}));
  }
  case StepParams::GemmParams: {
    auto *p = step.params_as_GemmParams();
    kernels::GemmArgs a{};
    a.a = in(R::A);
    const kernels::View aScales =
        scalesView(program, ops.in(R::A)); // W8A8: a is FP8
    a.a_scales = static_cast<const float *>(aScales.ptr);
    a.a_scale_ld = aScales.ld;
    if (p->rope())
      a.positions = ints(R::Positions);
    if (p->residual())
      a.residual = in(R::Residual);
    const size_t parts = weights_.at(ops.weight(R::Matrix)).size();
    if (parts > 4)
      fail("step '", step.name()->str(),
           "': a GEMM takes at most 4 weight parts, got ", parts);
    a.num_parts = static_cast<int>(parts);
    for (size_t i = 0; i < parts; ++i) {
      a.parts[i] = weight(R::Matrix, i);
      a.n += a.parts[i].rows;
    }
    a.k = a.parts[0].cols;
    a.c = out(R::C);
    a.rope = rope(p->rope());
    a.silu_mul = p->silu_mul();
    a.m = rows(ops.in(R::A));
    const kernels::Tile tile = tileOf(p->tile());
    if (p->tile() && p->tile()->engine() == plan::GemmEngine::Wgmma)
      return launch(fn, a, kernels::launchGemmWgmma(a, tile));
    return launch(fn, a, kernels::launchGemm(a, tile));
  }
  case StepParams::KvAppendParams: {
    auto *p = step.params_as_KvAppendParams();
    const plan::KvCache &kv = *plan_->root().kv_cache();
    kernels::KvAppendArgs a{};
    a.latent = in(R::Latent);
    a.k_pe = in(R::KPe);
    a.positions = ints(R::Positions);
    a.seq_ids = ints(R::SeqIds);
    if (p->normalize())
      a.norm = weight(R::KvNorm);
    a.eps = p->eps();
    a.rope = rope(p->rope());
    a.cache = cache(p->layer());
    a.rows = rows(ops.in(R::Latent));
    a.latent_dim = kv.latent_dim();
    a.rope_dim = kv.rope_dim();
    return launch(fn, a, kernels::launchKvAppend(a, {}));
  }
  case StepParams::MlaAttentionParams: {
    auto *p = step.params_as_MlaAttentionParams();
    kernels::MlaAttentionArgs a{};
    a.q = in(R::Q);
    a.positions = ints(R::Positions);
    a.seq_ids = ints(R::SeqIds);
    a.kv_b = weight(R::KvB);
    a.cache = cache(p->layer());
    a.out = out(R::O);
    a.workspace = work;
    a.rows = rows(ops.in(R::Q));
    a.heads = p->heads();
    a.nope_dim = p->nope_dim();
    a.rope_dim = p->rope_dim();
    a.v_dim = p->v_dim();
    a.latent_dim = p->latent_dim();
    a.absorbed = p->form() == plan::AttentionForm::Absorbed;
    a.scale = p->scale();
    return launch(fn, a, kernels::launchMlaAttention(a, tileOf(p->tile())));
  }
  case StepParams::MlaLatentAttentionParams: {
    auto *p = step.params_as_MlaLatentAttentionParams();
    kernels::LatentAttentionArgs a{};
    a.q_lat = in(R::QLat);
    a.q_lat_stride = p->latent_dim(); // packed
    a.q_pe = in(R::QPe);
    a.q_pe_stride = p->q_pe_stride() ? p->q_pe_stride() : p->rope_dim();
    a.positions = ints(R::Positions);
    a.seq_ids = ints(R::SeqIds);
    a.cache = cache(p->layer());
    a.out = out(R::OLat);
    a.rows = rows(ops.in(R::QLat));
    a.heads = p->heads();
    a.latent_dim = p->latent_dim();
    a.rope_dim = p->rope_dim();
    a.scale = p->scale();
    a.workspace = work;
    const int launches = kernels::latentAttentionLaunches(a);
    for (a.phase = 0; a.phase < launches; ++a.phase)
      launch(fn, a, kernels::launchLatentAttention(a, tileOf(p->tile())));
    return;
  }
  case StepParams::KvGatherParams: {
    const plan::KvCache &kv = *plan_->root().kv_cache();
    kernels::KvGatherArgs a{};
    a.cache = cache(step.params_as_KvGatherParams()->layer());
    a.positions = ints(R::Positions);
    a.seq_ids = ints(R::SeqIds);
    a.out = out(R::CacheRows);
    a.rows = rows(ops.in(R::Positions));
    a.latent_dim = kv.latent_dim();
    a.rope_dim = kv.rope_dim();
    return launch(fn, a, kernels::launchKvGather(a, {}));
  }
  case StepParams::MlaPrefillAttentionParams: {
    auto *p = step.params_as_MlaPrefillAttentionParams();
    kernels::MlaPrefillAttentionArgs a{};
    a.q = in(R::Q);
    a.kv = in(R::Kv);
    a.k_pe = in(R::KPe);
    a.positions = ints(R::Positions);
    a.out = out(R::O);
    a.rows = rows(ops.in(R::Q));
    a.heads = p->heads();
    a.nope_dim = p->nope_dim();
    a.rope_dim = p->rope_dim();
    a.v_dim = p->v_dim();
    a.scale = p->scale();
    return launch(fn, a, kernels::launchMlaPrefillAttention(a, {}));
  }
  case StepParams::HeadGemmParams: {
    auto *p = step.params_as_HeadGemmParams();
    kernels::HeadGemmArgs a{};
    a.x = in(R::X);
    a.in_stride = p->in_stride();
    a.w = weight(R::Matrix);
    a.y = out(R::Y);
    a.out_stride = 0; // packed
    a.rows = rows(ops.in(R::X));
    a.heads = p->heads();
    a.head_rows = p->head_rows();
    a.row_offset = p->row_offset();
    a.w_rows = p->rows();
    a.transpose = p->transpose();
    return launch(fn, a, kernels::launchHeadGemm(a, tileOf(p->tile())));
  }
  case StepParams::RouteParams: {
    auto *p = step.params_as_RouteParams();
    const plan::Operand &input = ops.in(p->fused_gate() ? R::X : R::Logits);
    kernels::RouteArgs a{};
    a.input = view(program, input);
    if (p->fused_gate())
      a.gate = weight(R::GateMatrix);
    if (p->has_bias())
      a.bias = static_cast<const float *>(weight(R::GateBias).data);
    a.idx = outInts(R::ExpertIds);
    a.idx_ld = out(R::ExpertIds).ld;
    a.w = out(R::ExpertWeights);
    a.rows = rows(input);
    a.dim = cols(input);
    a.experts = p->experts();
    a.top_k = p->top_k();
    a.groups = p->groups();
    a.topk_groups = p->topk_groups();
    a.sigmoid = p->scoring() == plan::ScoringFunc::Sigmoid;
    a.method = static_cast<int>(p->method());
    a.norm_topk_prob = p->norm_topk_prob();
    a.fused_gate = p->fused_gate();
    a.scaling = p->scaling();
    return launch(fn, a, kernels::launchRoute(a, {}));
  }
  case StepParams::MoeExpertsParams: {
    auto *p = step.params_as_MoeExpertsParams();
    kernels::MoeExpertsArgs a{};
    // Expert parallelism: this rank holds experts [first, first + held).
    const WeightShape &held = plan_->weightShape(ops.weight(R::GateUp));
    a.global_experts = p->experts();
    a.experts = held.expertParts > 1 ? held.experts : p->experts();
    a.first_expert =
        held.expertParts > 1 && comm_ ? comm_->rank() * held.experts : 0;
    a.x = in(R::X);
    a.idx = ints(R::ExpertIds);
    a.idx_ld = in(R::ExpertIds).ld;
    a.gate = weight(R::GateUp, 0);
    a.up = weight(R::GateUp, 1);
    a.down = weight(R::Down);
    a.y = out(R::Y);
    a.workspace = work;
    a.rows = rows(ops.in(R::X));
    a.top_k = p->top_k();
    a.hidden = cols(ops.in(R::X));
    a.intermediate = p->intermediate();
    return launch(fn, a, kernels::launchMoeExperts(a, {}));
  }
  case StepParams::MoeDispatchParams: {
    auto *p = step.params_as_MoeDispatchParams();
    kernels::DispatchArgs a{};
    a.x = in(R::X);
    a.idx = ints(R::ExpertIds);
    a.idx_ld = in(R::ExpertIds).ld;
    a.sorted = out(R::XSorted);
    a.offsets = outInts(R::Offsets);
    a.perm = outInts(R::Perm);
    a.counters = reinterpret_cast<int *>(work);
    a.rows = rows(ops.in(R::X));
    a.cols = cols(ops.in(R::X));
    a.experts = p->experts();
    a.top_k = p->top_k();
    const int launches = kernels::dispatchLaunches(a);
    for (a.phase = 0; a.phase < launches; ++a.phase)
      launch(fn, a, kernels::launchDispatch(a, {}));
    return;
  }
  case StepParams::GroupedGemmParams: {
    auto *p = step.params_as_GroupedGemmParams();
    kernels::GroupedGemmArgs a{};
    a.a = in(R::XSorted);
    a.offsets = ints(R::Offsets);
    a.w = weight(R::Matrix, 0);
    a.n = a.w.rows;
    if (p->silu_mul()) {
      a.up = weight(R::Matrix, 1);
      a.n += a.up.rows;
    }
    a.c = out(R::Y);
    a.m_max = rows(ops.in(R::XSorted));
    a.k = a.w.cols;
    a.experts = p->experts();
    a.silu_mul = p->silu_mul();
    const WeightShape &held = plan_->weightShape(ops.weight(R::Matrix));
    if (held.expertParts > 1) {
      // Expert parallelism: this rank holds experts [first, first + held)
      // of the step's. The kernel sees only their offsets (so local expert
      // e' is global first + e'); the rows routed to other ranks are zeroed,
      // so that the combine adds 0 for them and the AllReduce after it sums
      // the ranks' parts.
      const plan::Operand &y = ops.out(R::Y);
      const plan::Buffer &yb = *program.buffers()->Get(y.buffer());
      if (y.col_offset() != 0 || y.cols() != yb.cols())
        fail("step '", step.name() ? step.name()->str() : "",
             "': expert parallelism zeroes whole rows of y, which is a column "
             "view");
      a.offsets += (comm_ ? comm_->rank() : 0) * held.experts;
      a.experts = held.experts;
      check(driver.cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(a.c.ptr), 0,
                                   size_t(rows(y)) * size_t(yb.cols()) *
                                       elementSize(yb.dtype()),
                                   stream),
            "cuMemsetD8Async (expert rows of other ranks)");
    }
    return launch(fn, a, kernels::launchGroupedGemm(a, tileOf(p->tile())));
  }
  case StepParams::MoeCombineParams: {
    auto *p = step.params_as_MoeCombineParams();
    kernels::CombineArgs a{};
    a.y = in(R::Y);
    a.w = in(R::ExpertWeights);
    if (p->permuted())
      a.perm = ints(R::Perm);
    if (p->shared())
      a.shared = in(R::SharedOut);
    if (p->residual())
      a.residual = in(R::Residual);
    a.out = out(R::Out);
    a.inverse = reinterpret_cast<int *>(work);
    a.rows = rows(ops.out(R::Out));
    a.cols = cols(ops.out(R::Out));
    a.top_k = p->top_k();
    const int launches = kernels::combineLaunches(a);
    for (a.phase = 0; a.phase < launches; ++a.phase)
      launch(fn, a, kernels::launchCombine(a, {}));
    return;
  }
  case StepParams::GatherRowsParams: {
    kernels::GatherRowsArgs a{in(R::X), ints(R::RowIds), out(R::Y),
                              rows(ops.out(R::Y)), cols(ops.in(R::X))};
    return launch(fn, a, kernels::launchElementwise(a));
  }
  case StepParams::ArgmaxParams: {
    kernels::ArgmaxArgs a{in(R::Logits), outInts(R::Ids),
                          rows(ops.in(R::Logits)), cols(ops.in(R::Logits))};
    return launch(fn, a, kernels::launchArgmax(a, {}));
  }
  case StepParams::SampleParams: {
    kernels::SampleArgs a{in(R::Logits),
                          ints(R::Sampling),
                          outInts(R::Ids),
                          static_cast<float *>(out(R::Logprobs).ptr),
                          rows(ops.in(R::Logits)),
                          cols(ops.in(R::Logits)),
                          step.params_as_SampleParams()->candidate_parts()};
    return launch(fn, a, kernels::launchSample(a, {}));
  }
  case StepParams::SampleCandidatesParams: {
    // This rank's logit columns start at vocabulary id rank * columns.
    const int columns = cols(ops.in(R::Logits));
    kernels::SampleCandidatesArgs a{
        in(R::Logits),
        ints(R::Sampling),
        out(R::Candidates),
        rows(ops.in(R::Logits)),
        columns,
        step.params_as_SampleCandidatesParams()->candidates(),
        (comm_ ? comm_->rank() : 0) * columns};
    return launch(fn, a, kernels::launchSampleCandidates(a, {}));
  }
  case StepParams::ConcatParams: {
    kernels::ConcatArgs a{in(R::A),           in(R::B),
                          out(R::AB),         rows(ops.in(R::A)),
                          cols(ops.in(R::A)), cols(ops.out(R::AB))};
    return launch(fn, a, kernels::launchElementwise(a));
  }
  case StepParams::NextTokensParams: {
    kernels::NextTokensArgs a{ints(R::Tokens),
                              ints(R::Positions),
                              ints(R::SeqIds),
                              ints(R::LogitRows),
                              ints(R::Ids),
                              outInts(R::Next),
                              rows(ops.in(R::Tokens)),
                              rows(ops.in(R::LogitRows))};
    return launch(fn, a, kernels::launchNextTokens(a, {}));
  }
  case StepParams::NONE:
    break;
  }
  fail("step '", step.name() ? step.name()->str() : "", "' has no CUDA launch");
}

} // namespace moela::cuda
