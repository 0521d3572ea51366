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
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Weights.h" // kFp8Block

namespace moela::cuda {

using plan::StepParams;

namespace {

size_t elementSize(plan::DType t) { return dtypeSize(static_cast<DType>(t)); }

long long rowsAt(const plan::Buffer &b, long long tokens, long long logitRows) {
  switch (b.row_kind()) {
  case plan::RowKind::PerToken:
    return b.row_factor() * tokens;
  case plan::RowKind::PerLogitRow:
    return b.row_factor() * logitRows;
  case plan::RowKind::Fixed:
    return b.row_factor();
  }
  return 0;
}

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
                                   op.col_offset() / kFp8Block * sizeof(float));
  v.ld = s.cols();
  return v;
}

int CudaBackend::rowsOf(const plan::Program &program, const plan::Operand &op,
                        int tokens, int logitRows) const {
  return static_cast<int>(
      rowsAt(*program.buffers()->Get(op.buffer()), tokens, logitRows));
}

const DeviceWeight &CudaBackend::weightPart(const plan::Step &step,
                                            size_t weight, size_t part) const {
  const std::vector<DeviceWeight> &parts =
      weights_.at(step.weights()->Get(weight));
  if (part >= parts.size())
    fail("step '", step.name() ? step.name()->str() : "", "': weight ", weight,
         " has no part ", part);
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
      a.slot_stride = kvSlotStride;
      need = kernels::latentAttentionWorkspaceBytes(a);
    } else if (auto *p = step->params_as_MoeCombineParams()) {
      kernels::CombineArgs a{};
      a.rows = static_cast<int>(tokens);
      a.top_k = p->top_k();
      need = kernels::combineWorkspaceBytes(a);
    }
    bytes = std::max<size_t>(bytes, static_cast<size_t>(need));
  }
  return bytes;
}

void CudaBackend::launchStep(const plan::Step &step,
                             const plan::Program &program, int tokens,
                             int logitRows) {
  if (step.kernel() < 0 || step.kernel() >= static_cast<int>(functions.size()))
    fail("step '", step.name() ? step.name()->str() : "",
         "' has no CUDA kernel");
  CUfunction fn = functions[step.kernel()];
  auto input = [&](size_t i) -> const plan::Operand & {
    return *step.inputs()->Get(i);
  };
  auto output = [&](size_t i) -> const plan::Operand & {
    return *step.outputs()->Get(i);
  };
  auto in = [&](size_t i) { return view(program, input(i)); };
  auto out = [&](size_t i) { return view(program, output(i)); };
  auto ints = [&](size_t i) { return static_cast<int *>(in(i).ptr); };
  auto rowsIn = [&](size_t i) {
    return rowsOf(program, input(i), tokens, logitRows);
  };
  auto rowsOut = [&](size_t i) {
    return rowsOf(program, output(i), tokens, logitRows);
  };
  auto weight = [&](size_t i, size_t part = 0) {
    return weightPart(step, i, part).view;
  };
  auto cache = [&](int layer) { return cacheLayer(layer); };
  auto *work = static_cast<float *>(workspace.pointer());

  switch (step.params_type()) {
  case StepParams::EmbeddingParams: {
    kernels::EmbeddingArgs a{};
    a.tokens = ints(0);
    a.table = weight(0);
    a.out = out(0);
    a.rows = rowsIn(0);
    return launch(fn, a, kernels::launchEmbedding(a, {}));
  }
  case StepParams::RmsNormParams: {
    auto *p = step.params_as_RmsNormParams();
    kernels::RmsNormArgs a{};
    a.x = in(0);
    a.y = out(0);
    if (p->residual()) {
      a.residual = in(1);
      a.sum = out(1);
    }
    a.weight = weight(0);
    a.rows = rowsIn(0);
    a.cols = static_cast<int>(input(0).cols());
    a.eps = p->eps();
    // An FP8 y (quantize, spec 3.4) writes its scales to the buffer's
    // companion.
    const kernels::View scales = scalesView(program, output(0));
    a.y_scales = static_cast<float *>(scales.ptr);
    a.y_scale_ld = scales.ld;
    a.ue8m0 = plan_->root().model()->fp8_scale_fmt() == plan::ScaleFmt::Ue8m0;
    return launch(fn, a, kernels::launchRmsNorm(a, {}));
  }
  case StepParams::AddParams: {
    kernels::AddArgs a{in(0), in(1), out(0), rowsIn(0),
                       static_cast<int>(input(0).cols())};
    return launch(fn, a, kernels::launchAdd(a, {}));
  }
  case StepParams::SiluMulParams: {
    kernels::SiluMulArgs a{in(0), in(1), out(0), rowsIn(0),
                           static_cast<int>(input(0).cols())};
    return launch(fn, a, kernels::launchSiluMul(a, {}));
  }
  case StepParams::RopeParams: {
    kernels::RopeArgs a{};
    a.x = in(0);
    a.positions = ints(1);
    a.y = out(0);
    a.rope = rope(step.params_as_RopeParams()->rope());
    a.rows = rowsIn(0);
    return launch(fn, a, kernels::launchRope(a, {}));
  }
  case StepParams::GemmParams: {
    auto *p = step.params_as_GemmParams();
    kernels::GemmArgs a{};
    a.a = in(0);
    const kernels::View aScales =
        scalesView(program, input(0)); // W8A8: a is FP8
    a.a_scales = static_cast<const float *>(aScales.ptr);
    a.a_scale_ld = aScales.ld;
    size_t next = 1;
    if (p->rope())
      a.positions = ints(next++);
    if (p->residual())
      a.residual = in(next++);
    const size_t parts = weights_.at(step.weights()->Get(0)).size();
    if (parts > 4)
      fail("step '", step.name()->str(),
           "': a GEMM takes at most 4 weight parts, got ", parts);
    a.num_parts = static_cast<int>(parts);
    for (size_t i = 0; i < parts; ++i) {
      a.parts[i] = weight(0, i);
      a.n += a.parts[i].rows;
    }
    a.k = a.parts[0].cols;
    a.c = out(0);
    a.rope = rope(p->rope());
    a.silu_mul = p->silu_mul();
    a.m = rowsIn(0);
    const kernels::Tile tile = tileOf(p->tile());
    // gemmWgmma (GemmWgmma.cuh) when the tiler gave the step its thread count.
    if (kernels::isWgmmaTile(tile))
      return launch(fn, a, kernels::launchGemmWgmma(a, tile));
    return launch(fn, a, kernels::launchGemm(a, tile));
  }
  case StepParams::KvAppendParams: {
    auto *p = step.params_as_KvAppendParams();
    const plan::KvCache &kv = *plan_->root().kv_cache();
    kernels::KvAppendArgs a{};
    a.latent = in(0);
    a.k_pe = in(1);
    a.positions = ints(2);
    a.seq_ids = ints(3);
    if (p->normalize())
      a.norm = weight(0);
    a.eps = p->eps();
    a.rope = rope(p->rope());
    a.cache = cache(p->layer());
    a.slot_stride = kvSlotStride;
    a.rows = rowsIn(0);
    a.latent_dim = kv.latent_dim();
    a.rope_dim = kv.rope_dim();
    return launch(fn, a, kernels::launchKvAppend(a, {}));
  }
  case StepParams::MlaAttentionParams: {
    auto *p = step.params_as_MlaAttentionParams();
    kernels::MlaAttentionArgs a{};
    a.q = in(0);
    a.positions = ints(1);
    a.seq_ids = ints(2);
    a.kv_b = weight(0);
    a.cache = cache(p->layer());
    a.slot_stride = kvSlotStride;
    a.out = out(0);
    a.workspace = work;
    a.rows = rowsIn(0);
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
    a.q_lat = in(0);
    a.q_lat_stride = p->q_lat_stride() ? p->q_lat_stride() : p->latent_dim();
    a.q_pe = in(1);
    a.q_pe_stride = p->q_pe_stride() ? p->q_pe_stride() : p->rope_dim();
    a.positions = ints(2);
    a.seq_ids = ints(3);
    a.cache = cache(p->layer());
    a.slot_stride = kvSlotStride;
    a.out = out(0);
    a.rows = rowsIn(0);
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
    a.slot_stride = kvSlotStride;
    a.positions = ints(0);
    a.seq_ids = ints(1);
    a.out = out(0);
    a.rows = rowsIn(0);
    a.latent_dim = kv.latent_dim();
    a.rope_dim = kv.rope_dim();
    return launch(fn, a, kernels::launchKvGather(a, {}));
  }
  case StepParams::MlaPrefillAttentionParams: {
    auto *p = step.params_as_MlaPrefillAttentionParams();
    kernels::MlaPrefillAttentionArgs a{};
    a.q = in(0);
    a.kv = in(1);
    a.k_pe = in(2);
    a.positions = ints(3);
    a.out = out(0);
    a.rows = rowsIn(0);
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
    a.x = in(0);
    a.in_stride = p->in_stride();
    a.w = weight(0);
    a.y = out(0);
    a.out_stride = p->out_stride();
    a.rows = rowsIn(0);
    a.heads = p->heads();
    a.head_rows = p->head_rows();
    a.row_offset = p->row_offset();
    a.w_rows = p->rows();
    a.transpose = p->transpose();
    return launch(fn, a, kernels::launchHeadGemm(a, tileOf(p->tile())));
  }
  case StepParams::RouteParams: {
    auto *p = step.params_as_RouteParams();
    kernels::RouteArgs a{};
    a.input = in(0);
    size_t next = 0;
    if (p->fused_gate())
      a.gate = weight(next++);
    if (p->has_bias())
      a.bias = static_cast<const float *>(weight(next++).data);
    a.idx = static_cast<int *>(out(0).ptr);
    a.idx_ld = out(0).ld;
    a.w = out(1);
    a.rows = rowsIn(0);
    a.dim = static_cast<int>(input(0).cols());
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
    a.x = in(0);
    a.idx = ints(1);
    a.idx_ld = in(1).ld;
    a.gate = weight(0, 0);
    a.up = weight(0, 1);
    a.down = weight(1, 0);
    a.y = out(0);
    a.workspace = work;
    a.rows = rowsIn(0);
    a.top_k = p->top_k();
    a.hidden = static_cast<int>(input(0).cols());
    a.intermediate = p->intermediate();
    return launch(fn, a, kernels::launchMoeExperts(a, {}));
  }
  case StepParams::MoeDispatchParams: {
    auto *p = step.params_as_MoeDispatchParams();
    kernels::DispatchArgs a{};
    a.x = in(0);
    a.idx = ints(1);
    a.idx_ld = in(1).ld;
    a.sorted = out(0);
    a.offsets = static_cast<int *>(out(1).ptr);
    a.perm = static_cast<int *>(out(2).ptr);
    a.counters = reinterpret_cast<int *>(work);
    a.rows = rowsIn(0);
    a.cols = static_cast<int>(input(0).cols());
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
    a.a = in(0);
    a.offsets = ints(1);
    a.w = weight(0, 0);
    a.n = a.w.rows;
    if (p->silu_mul()) {
      a.up = weight(0, 1);
      a.n += a.up.rows;
    }
    a.c = out(0);
    a.m_max = rowsIn(0);
    a.k = a.w.cols;
    a.experts = p->experts();
    a.silu_mul = p->silu_mul();
    return launch(fn, a, kernels::launchGroupedGemm(a, tileOf(p->tile())));
  }
  case StepParams::MoeCombineParams: {
    auto *p = step.params_as_MoeCombineParams();
    kernels::CombineArgs a{};
    a.y = in(0);
    a.w = in(1);
    size_t next = 2;
    if (p->permuted())
      a.perm = ints(next++);
    if (p->shared())
      a.shared = in(next++);
    if (p->residual())
      a.residual = in(next++);
    a.out = out(0);
    a.inverse = reinterpret_cast<int *>(work);
    a.rows = rowsOut(0);
    a.cols = static_cast<int>(output(0).cols());
    a.top_k = p->top_k();
    const int launches = kernels::combineLaunches(a);
    for (a.phase = 0; a.phase < launches; ++a.phase)
      launch(fn, a, kernels::launchCombine(a, {}));
    return;
  }
  case StepParams::GatherRowsParams: {
    kernels::GatherRowsArgs a{in(0), ints(1), out(0), rowsOut(0),
                              static_cast<int>(input(0).cols())};
    return launch(fn, a, kernels::launchGatherRows(a, {}));
  }
  case StepParams::ArgmaxParams: {
    kernels::ArgmaxArgs a{in(0), static_cast<int *>(out(0).ptr), rowsIn(0),
                          static_cast<int>(input(0).cols())};
    return launch(fn, a, kernels::launchArgmax(a, {}));
  }
  case StepParams::ConcatParams: {
    kernels::ConcatArgs a{in(0),
                          in(1),
                          out(0),
                          rowsIn(0),
                          static_cast<int>(input(0).cols()),
                          static_cast<int>(output(0).cols())};
    return launch(fn, a, kernels::launchConcat(a, {}));
  }
  case StepParams::NextTokensParams: {
    kernels::NextTokensArgs a{ints(0),   ints(1),
                              ints(2),   ints(3),
                              ints(4),   static_cast<int *>(out(0).ptr),
                              rowsIn(0), rowsIn(3)};
    return launch(fn, a, kernels::launchNextTokens(a, {}));
  }
  case StepParams::NONE:
    break;
  }
  fail("step '", step.name() ? step.name()->str() : "", "' has no CUDA launch");
}

} // namespace moela::cuda
