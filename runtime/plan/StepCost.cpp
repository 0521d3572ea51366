//===- StepCost.cpp - Bytes, FLOPs and roofline time of one step ----------===//
//
// Generic where the declaration says enough: every operand a step has is
// read or written once at the run's rows, every weight is read once. The
// families then add what their declaration cannot say: the cache rows an
// attention reads, the experts a batch touches, the tile padding of the
// tensor-core FLOPs. docs/cost-model.md lists the assumptions.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/StepCost.h"

#include "kernels/Abi.h"
#include "kernels/OpsLaunch.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/StepFamily.h"

#include <algorithm>
#include <cmath>

namespace moela {

double RunShape::visibleRows() const {
  const double n = double(tokensPerSequence());
  return double(sequences) * (n * double(past) + n * (n + 1) / 2);
}

const char *engineName(ComputeUnit engine) {
  switch (engine) {
  case ComputeUnit::None:
    return "none";
  case ComputeUnit::CudaCore:
    return "cuda-core";
  case ComputeUnit::MmaSync:
    return "mma.sync";
  case ComputeUnit::Wgmma:
    return "wgmma";
  }
  return "?";
}

double expertsTouched(double experts, double topK, double tokens) {
  if (experts <= 0)
    return 0;
  return experts *
         (1 - std::pow(1 - std::min(topK, experts) / experts, tokens));
}

double expectedExpertTiles(double experts, double topK, double tokens,
                           double blockM) {
  const double p = std::min(topK, experts) / experts;
  if (tokens < 1 || p <= 0)
    return 0;
  if (p >= 1)
    return std::ceil(tokens / blockM);
  // The pmf in logs over mean +- 12 sd: underflow-free for any batch.
  const double mean = tokens * p, sd = std::sqrt(tokens * p * (1 - p));
  const double lo = std::max(0.0, std::floor(mean - 12 * sd - 16)),
               hi = std::min(tokens, std::ceil(mean + 12 * sd + 16));
  double tiles = 0;
  for (double x = lo; x <= hi; ++x) {
    const double logPmf = std::lgamma(tokens + 1) - std::lgamma(x + 1) -
                          std::lgamma(tokens - x + 1) + x * std::log(p) +
                          (tokens - x) * std::log1p(-p);
    tiles += std::exp(logPmf) * std::ceil(x / blockM);
  }
  return tiles;
}

double computeSeconds(const GpuSpec &gpu, ComputeUnit engine, bool fp8,
                      double flops) {
  double tflops = 0;
  switch (engine) {
  case ComputeUnit::None:
    return 0;
  case ComputeUnit::CudaCore:
    tflops = gpu.cudaCoreTflops;
    break;
  case ComputeUnit::MmaSync:
    tflops = fp8 ? gpu.mmaFp8Tflops : gpu.mmaBf16Tflops;
    break;
  case ComputeUnit::Wgmma:
    tflops = fp8 ? gpu.wgmmaFp8Tflops : gpu.wgmmaBf16Tflops;
    break;
  }
  return flops / (tflops * 1e12);
}

namespace {

using R = Role;

double product(const flatbuffers::Vector<int64_t> *shape) {
  double n = 1;
  for (int64_t d : *shape)
    n *= double(d);
  return n;
}

/// A checkpoint tensor's bytes as bound: stored dtype plus its block scales.
double tensorBytes(const plan::TensorRef &t) {
  double bytes = product(t.shape()) * dtypeSize(static_cast<DType>(t.dtype()));
  if (t.dtype() == plan::DType::F8E4M3) {
    if (t.scale_shape() && t.scale_shape()->size())
      bytes += product(t.scale_shape()) * sizeof(float);
    else // quantized at load: a scale per 128 x 128 block
      bytes += std::ceil(product(t.shape()) / (128.0 * 128.0)) * sizeof(float);
  }
  return bytes;
}

/// One step's view of the plan, the run and what it has added up.
class Costing {
public:
  Costing(const plan::Plan &plan, const plan::Program &program,
          const plan::Step &step, const RunShape &run)
      : plan(plan), program(program), run(run), ops(step, "cost model") {}

  const plan::Buffer &buffer(const plan::Operand &op) const {
    return *program.buffers()->Get(op.buffer());
  }
  double rows(const plan::Operand &op) const {
    return double(bufferRows(buffer(op), run.tokens, run.logitRows));
  }
  /// Bytes of `rowCount` rows of an operand, with its FP8 scales.
  double operandBytes(const plan::Operand &op, double rowCount) const {
    const plan::Buffer &b = buffer(op);
    double bytes =
        rowCount * op.cols() * dtypeSize(static_cast<DType>(b.dtype()));
    if (b.scales() >= 0)
      bytes += rowCount * abi::kvFp8Scales(int(op.cols())) * sizeof(float);
    return bytes;
  }
  bool isFp8(const plan::Operand &op) const {
    return buffer(op).dtype() == plan::DType::F8E4M3;
  }

  const plan::Weight &weight(Role role) const {
    return *plan.weights()->Get(ops.weight(role));
  }
  /// Rows of the weight bound to `role` (its parts' rows; one expert's).
  double weightRows(Role role) const {
    double n = 0;
    for (const plan::TensorRef *t : *weight(role).parts())
      n += double(t->shape()->Get(0));
    return n;
  }
  double weightCols(Role role) const {
    const auto *shape = weight(role).parts()->Get(0)->shape();
    return shape->size() > 1 ? double(shape->Get(1)) : 1;
  }
  /// Bytes of the weight bound to `role` (one expert's for an expert set).
  double weightBytes(Role role) const {
    double bytes = 0;
    for (const plan::TensorRef *t : *weight(role).parts())
      bytes += tensorBytes(*t);
    return bytes;
  }
  bool weightFp8(Role role) const {
    return weight(role).parts()->Get(0)->dtype() == plan::DType::F8E4M3;
  }
  std::string weightKey(Role role) const {
    return weight(role).parts()->Get(0)->name()->str();
  }

  double kvRowBytes() const {
    const plan::KvCache &kv = *plan.kv_cache();
    const int width = kv.latent_dim() + kv.rope_dim();
    double bytes = width * dtypeSize(static_cast<DType>(kv.dtype()));
    if (kv.dtype() == plan::DType::F8E4M3)
      bytes += abi::kvFp8Scales(width) * sizeof(float);
    return bytes;
  }

  const plan::Plan &plan;
  const plan::Program &program;
  const RunShape &run;
  const StepOperands ops;
};

/// Tensor-core FLOPs of an M x N x K product as tiles of block_m rows run it.
double paddedRows(double m, const plan::Tile *tile) {
  const double bm = tile && tile->block_m() > 0 ? tile->block_m() : 64;
  return std::ceil(m / bm) * bm;
}

ComputeUnit engineOf(const plan::Tile *tile) {
  return tile && tile->engine() == plan::GemmEngine::Wgmma
             ? ComputeUnit::Wgmma
             : ComputeUnit::MmaSync;
}

/// Every operand once at the run's rows; every weight whole, once.
void addGeneric(const Costing &c, StepCost &cost) {
  const plan::Step &step = c.ops.step();
  for (const plan::Operand *op : *step.inputs())
    cost.activationBytes += c.operandBytes(*op, c.rows(*op));
  for (const plan::Operand *op : *step.outputs())
    cost.activationBytes += c.operandBytes(*op, c.rows(*op));
  for (const WeightDecl &w : c.ops.family().weights)
    if (c.ops.hasWeight(w.role) && !w.expertSet) {
      const double bytes = c.weightBytes(w.role);
      cost.weightBytes += bytes;
      cost.floorWeights[c.weightKey(w.role)] = bytes;
    }
}

/// Elementwise work: `perElement` CUDA-core FLOPs per element of `op`.
void addElementwise(const Costing &c, StepCost &cost, const plan::Operand &op,
                    double perElement) {
  cost.engine = ComputeUnit::CudaCore;
  cost.cudaFlops += perElement * c.rows(op) * op.cols();
}

void costFamily(const Costing &c, StepCost &cost) {
  const plan::Step &step = c.ops.step();
  const StepOperands &ops = c.ops;
  const RunShape &run = c.run;
  const double tokens = double(run.tokens);
  switch (step.params_type()) {
  case plan::StepParams::EmbeddingParams: {
    // Only the rows of the step's tokens.
    const double bytes =
        c.weightBytes(R::EmbedTable) /
        double(c.weight(R::EmbedTable).parts()->Get(0)->shape()->Get(0)) *
        c.rows(ops.in(R::Tokens));
    cost.weightBytes = bytes;
    cost.floorWeights[c.weightKey(R::EmbedTable)] = bytes;
    return;
  }
  case plan::StepParams::RmsNormParams:
    return addElementwise(c, cost, ops.out(R::Y), 5);
  case plan::StepParams::AddParams:
    return addElementwise(c, cost, ops.out(R::Y), 1);
  case plan::StepParams::SiluMulParams:
    return addElementwise(c, cost, ops.out(R::Y), 5);
  case plan::StepParams::RopeParams:
    return addElementwise(c, cost, ops.out(R::Y), 3);
  case plan::StepParams::GemmParams: {
    auto *p = step.params_as_GemmParams();
    const double m = c.rows(ops.in(R::A)), n = c.weightRows(R::Matrix),
                 k = c.weightCols(R::Matrix);
    cost.engine = engineOf(p->tile());
    cost.fp8 = c.isFp8(ops.in(R::A));
    cost.tensorFlops = 2 * paddedRows(m, p->tile()) * n * k;
    cost.floorFlops = 2 * m * n * k;
    cost.floorFp8 = c.weightFp8(R::Matrix);
    return;
  }
  case plan::StepParams::KvAppendParams:
    cost.engine = ComputeUnit::CudaCore;
    cost.kvBytes = c.rows(ops.in(R::Latent)) * c.kvRowBytes();
    return;
  case plan::StepParams::KvGatherParams:
    cost.kvBytes = c.rows(ops.in(R::Positions)) * c.kvRowBytes();
    cost.floorKvBytes = cost.kvBytes;
    return;
  case plan::StepParams::MlaAttentionParams: {
    // A block per (token, head) reads the token's rows and expands them
    // with kv_b on the CUDA cores.
    auto *p = step.params_as_MlaAttentionParams();
    const double rows = run.visibleRows(), heads = p->heads();
    cost.engine = ComputeUnit::CudaCore;
    cost.kvBytes = rows * heads * c.kvRowBytes();
    cost.floorKvBytes = run.distinctRows() * c.kvRowBytes();
    cost.cudaFlops = 2 * rows * heads *
                     (double(p->latent_dim()) * (p->nope_dim() + p->v_dim()) +
                      p->nope_dim() + p->rope_dim() + p->v_dim());
    cost.floorFlops =
        2 * rows * heads * (p->nope_dim() + p->rope_dim() + p->v_dim());
    return;
  }
  case plan::StepParams::MlaLatentAttentionParams: {
    // LatentAttention.cuh: a block per (token, head group, split) reads each
    // visible row once per head group; splits write partials to the
    // workspace that phase 1 reads back.
    auto *p = step.params_as_MlaLatentAttentionParams();
    kernels::LatentAttentionArgs a{};
    a.rows = int(run.tokens);
    a.heads = p->heads();
    a.latent_dim = p->latent_dim();
    a.rope_dim = p->rope_dim();
    a.cache.pages_per_seq =
        int((run.past + run.tokensPerSequence() + abi::kKvPageTokens - 1) /
            abi::kKvPageTokens);
    const int groups = kernels::latentAttentionGroups(p->heads());
    const double paddedHeads =
        double(groups) * 16 * kernels::latentAttentionMTiles(p->heads());
    const double rows = run.visibleRows();
    const double perHeadRow = 2.0 * (2 * p->latent_dim() + p->rope_dim());
    cost.launches = kernels::latentAttentionLaunches(a);
    cost.engine = ComputeUnit::MmaSync;
    cost.kvBytes = groups * rows * c.kvRowBytes();
    cost.floorKvBytes = run.distinctRows() * c.kvRowBytes();
    cost.tensorFlops = rows * paddedHeads * perHeadRow;
    cost.floorFlops = rows * p->heads() * perHeadRow;
    if (cost.launches > 1)
      cost.workspaceBytes = 2.0 * kernels::latentAttentionSplitsFor(a, a.rows) *
                            tokens * paddedHeads * (p->latent_dim() + 4) *
                            sizeof(float);
    return;
  }
  case plan::StepParams::MlaPrefillAttentionParams: {
    // 64 x 64 tiles of (query, key) on the causal triangle; K and V are
    // read once (the tiles of a head share them through L2).
    auto *p = step.params_as_MlaPrefillAttentionParams();
    const double perPair =
        2.0 * p->heads() * (p->nope_dim() + p->rope_dim() + p->v_dim());
    const double n = double(run.tokensPerSequence());
    const double tiles = std::ceil(n / 64);
    cost.engine = ComputeUnit::MmaSync;
    cost.tensorFlops =
        run.sequences * tiles * (tiles + 1) / 2 * 64 * 64 * perPair;
    cost.floorFlops = run.sequences * n * (n + 1) / 2 * perPair;
    return;
  }
  case plan::StepParams::HeadGemmParams: {
    // Each head reads its `rows` of head_rows rows of W.
    auto *p = step.params_as_HeadGemmParams();
    const double share = double(p->rows()) / p->head_rows();
    const double bytes = c.weightBytes(R::Matrix) * share;
    cost.weightBytes = bytes;
    cost.floorWeights.clear();
    cost.floorWeights[c.weightKey(R::Matrix) + "[" +
                      std::to_string(p->row_offset()) + "+" +
                      std::to_string(p->rows()) + "]"] = bytes;
    const double m = c.rows(ops.in(R::X));
    const double per = 2.0 * p->heads() * p->rows() * c.weightCols(R::Matrix);
    cost.engine = engineOf(p->tile());
    cost.tensorFlops = paddedRows(m, p->tile()) * per;
    cost.floorFlops = m * per;
    cost.floorFp8 = c.weightFp8(R::Matrix);
    return;
  }
  case plan::StepParams::RouteParams: {
    auto *p = step.params_as_RouteParams();
    cost.engine = ComputeUnit::CudaCore;
    cost.cudaFlops = tokens * p->experts() * 8;
    if (p->fused_gate()) {
      const double gate =
          2 * tokens * p->experts() * c.weightCols(R::GateMatrix);
      cost.cudaFlops += gate;
      cost.floorFlops = gate;
      cost.floorFp8 = c.weightFp8(R::GateMatrix);
    }
    return;
  }
  case plan::StepParams::MoeExpertsParams: {
    // One thread block per (token, slot) on the CUDA cores.
    auto *p = step.params_as_MoeExpertsParams();
    const double touched = expertsTouched(p->experts(), p->top_k(), tokens);
    const double perExpert = c.weightBytes(R::GateUp) + c.weightBytes(R::Down);
    const double flops = 2 * tokens * p->top_k() *
                         (c.weightRows(R::GateUp) * c.weightCols(R::GateUp) +
                          c.weightRows(R::Down) * c.weightCols(R::Down));
    cost.engine = ComputeUnit::CudaCore;
    cost.weightBytes = touched * perExpert;
    cost.floorWeights[c.weightKey(R::GateUp)] =
        touched * c.weightBytes(R::GateUp);
    cost.floorWeights[c.weightKey(R::Down)] = touched * c.weightBytes(R::Down);
    cost.cudaFlops = flops;
    cost.floorFlops = flops;
    cost.floorFp8 = c.weightFp8(R::GateUp);
    return;
  }
  case plan::StepParams::MoeDispatchParams:
    cost.launches = 2; // OpsLaunch.h dispatchLaunches
    return;
  case plan::StepParams::GroupedGemmParams: {
    // The experts the batch touches (this rank's share of them), each its
    // rows padded to whole tiles (their expected number: the rows an expert
    // gets vary from expert to expert).
    auto *p = step.params_as_GroupedGemmParams();
    const double slots = c.rows(ops.in(R::XSorted));
    const double topK = slots / tokens;
    const double local =
        double(c.plan.weights()->Get(ops.weight(R::Matrix))->experts());
    const double touched =
        expertsTouched(p->experts(), topK, tokens) * local / p->experts();
    const double n = c.weightRows(R::Matrix), k = c.weightCols(R::Matrix);
    const double bm = paddedRows(1, p->tile());
    const double rowTiles =
        local * expectedExpertTiles(p->experts(), topK, tokens, bm);
    cost.weightBytes = touched * c.weightBytes(R::Matrix);
    cost.floorWeights[c.weightKey(R::Matrix)] = cost.weightBytes;
    cost.engine = engineOf(p->tile());
    cost.fp8 = c.isFp8(ops.in(R::XSorted));
    cost.tensorFlops = 2 * rowTiles * bm * n * k;
    cost.floorFlops = 2 * slots * local / p->experts() * n * k;
    cost.floorFp8 = c.weightFp8(R::Matrix);
    if (local < p->experts())
      cost.launches = 2; // the memset of the other ranks' rows
    return;
  }
  case plan::StepParams::MoeCombineParams: {
    auto *p = step.params_as_MoeCombineParams();
    cost.launches = p->permuted() ? 2 : 1;
    addElementwise(c, cost, ops.out(R::Out), 2.0 * p->top_k() + 2);
    if (p->permuted())
      cost.workspaceBytes = 2.0 * tokens * p->top_k() * sizeof(int32_t);
    return;
  }
  case plan::StepParams::GatherRowsParams:
    // x is read at the gathered rows only.
    cost.activationBytes -= c.operandBytes(ops.in(R::X), c.rows(ops.in(R::X)));
    cost.activationBytes += c.operandBytes(ops.in(R::X), c.rows(ops.out(R::Y)));
    return;
  case plan::StepParams::ArgmaxParams:
    return addElementwise(c, cost, ops.in(R::Logits), 1);
  case plan::StepParams::SampleParams:
  case plan::StepParams::SampleCandidatesParams:
    // log-softmax, a top-k selection and a draw per row (or the rank's
    // candidates and partial sums): a few passes over the row.
    return addElementwise(c, cost, ops.in(R::Logits), 10);
  case plan::StepParams::ConcatParams:
  case plan::StepParams::NextTokensParams:
  case plan::StepParams::AllReduceParams:
  case plan::StepParams::AllGatherParams:
  case plan::StepParams::NONE:
    return;
  }
}

} // namespace

StepCost stepCost(const plan::Plan &plan, const plan::Program &program,
                  const plan::Step &step, const RunShape &run,
                  const GpuSpec &gpu, bool graph) {
  StepCost cost;
  const Costing c(plan, program, step, run);
  cost.launches = 1;
  addGeneric(c, cost);
  costFamily(c, cost);
  const double seconds = std::max(
      {cost.bytes() / (gpu.memoryTBps * 1e12),
       computeSeconds(gpu, cost.engine, cost.fp8, cost.tensorFlops),
       computeSeconds(gpu, ComputeUnit::CudaCore, false, cost.cudaFlops)});
  cost.micros = seconds * 1e6 +
                cost.launches * (graph ? gpu.graphLaunchUs : gpu.launchUs);
  return cost;
}

} // namespace moela
