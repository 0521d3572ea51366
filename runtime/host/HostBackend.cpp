//===- HostBackend.cpp - The CPU backend: every step in fp32 --------------===//
#include "HostBackend.h"

#include "BufferLayout.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/Rope.h"
#include "moela/Runtime/ThreadPool.h"
#include "moela/Runtime/Weights.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>

namespace moela {
namespace {

using plan::StepParams;

/// The step's RoPE, if its family has one.
const plan::Rope *stepRope(const plan::Step &step) {
  switch (step.params_type()) {
  case StepParams::RopeParams:
    return step.params_as_RopeParams()->rope();
  case StepParams::GemmParams:
    return step.params_as_GemmParams()->rope();
  case StepParams::KvAppendParams:
    return step.params_as_KvAppendParams()->rope();
  default:
    return nullptr;
  }
}

const plan::Operand &input(const plan::Step &step, size_t i) {
  return *step.inputs()->Get(flatbuffers::uoffset_t(i));
}
const plan::Operand &output(const plan::Step &step, size_t i) {
  return *step.outputs()->Get(flatbuffers::uoffset_t(i));
}
uint32_t weightIndex(const plan::Step &step, size_t i) {
  return step.weights()->Get(flatbuffers::uoffset_t(i));
}

bool sameView(const plan::Operand &a, const plan::Operand &b) {
  return a.buffer() == b.buffer() && a.col_offset() == b.col_offset() &&
         a.cols() == b.cols();
}

} // namespace

std::unique_ptr<Backend> makeHostBackend() {
  return std::make_unique<HostBackend>();
}

std::vector<host::Weight> HostBackend::BoundWeight::experts() const {
  std::vector<host::Weight> all;
  for (size_t e = 0; e < data.size(); ++e)
    all.push_back(matrix(e));
  return all;
}

// ---- prepare
// ------------------------------------------------------------------

void HostBackend::bindWeights(WeightSource &source) {
  const plan::Plan &root = plan_->root();
  const size_t count = root.weights() ? root.weights()->size() : 0;
  weights_.assign(count, {});
  // One load task per matrix (an expert set has one per expert).
  std::vector<std::pair<uint32_t, int>> tasks;
  for (uint32_t i = 0; i < count; ++i) {
    BoundWeight &w = weights_[i];
    w.shape = plan_->weightShape(i);
    const int matrices = std::max(1, w.shape.experts);
    w.data.resize(size_t(matrices));
    for (int e = 0; e < matrices; ++e)
      tasks.push_back({i, w.shape.experts ? e : -1});
  }
  // Loads run in parallel (WeightSource is thread-safe); the error of the
  // first weight in plan order is reported, whichever thread met it first.
  std::mutex mutex;
  std::exception_ptr firstError;
  int64_t firstErrorTask = int64_t(tasks.size());
  parallelFor(int64_t(tasks.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      try {
        const auto [index, expert] = tasks[size_t(t)];
        BoundWeight &w = weights_[index];
        std::vector<float> &dst = w.data[size_t(std::max(expert, 0))];
        dst.reserve(size_t(w.shape.rows * w.shape.cols));
        for (const TensorSpec &spec : plan_->tensorSpecs(index, expert)) {
          std::vector<float> part = source.loadF32(spec);
          if (int64_t(part.size()) != spec.numel())
            fail("tensor '", spec.name, "': the weight source returned ",
                 part.size(), " values for shape ", shapeString(spec.shape));
          dst.insert(dst.end(), part.begin(), part.end());
        }
      } catch (...) {
        // Errors of the weight source pass through; anything else (out of
        // memory) becomes a moela::Error naming the weight.
        std::exception_ptr error = std::current_exception();
        try {
          std::rethrow_exception(error);
        } catch (const Error &) {
        } catch (const std::exception &e) {
          error = std::make_exception_ptr(
              Error("host backend: binding weight " +
                    std::to_string(tasks[size_t(t)].first) +
                    " as float32: " + e.what()));
        } catch (...) {
        }
        std::lock_guard<std::mutex> lock(mutex);
        if (t < firstErrorTask) {
          firstError = error;
          firstErrorTask = t;
        }
      }
    }
  });
  if (firstError)
    std::rethrow_exception(firstError);
}

void HostBackend::prepare(const Plan &plan, WeightSource &weights, int slots,
                          int maxSeqLen) {
  if (slots < 1 || maxSeqLen < 1)
    fail("host backend: needs slots >= 1 and maxSeqLen >= 1, got ", slots,
         " and ", maxSeqLen);
  plan_ = &plan;
  slots_ = slots;
  maxSeqLen_ = maxSeqLen;
  programs_.clear();
  bindWeights(weights);

  kvCache_.clear();
  if (const plan::KvCache *kv = plan.root().kv_cache()) {
    const size_t perLayer = size_t(slots) * size_t(maxSeqLen) *
                            size_t(kv->latent_dim() + kv->rope_dim());
    try {
      kvCache_.assign(size_t(kv->layers()), std::vector<float>(perLayer));
    } catch (const std::bad_alloc &) {
      fail("host backend: out of memory for the KV cache (", kv->layers(),
           " layers x ", perLayer * sizeof(float), " bytes for ", slots,
           " slots of ", maxSeqLen, " positions)");
    }
  }

  for (const plan::Program *program : *plan.root().programs()) {
    ProgramState &state = programs_[program->name()->str()];
    state.program = program;
    const host::BufferLayout layout =
        host::layoutBuffers(*program, reuseBuffers_);
    try {
      state.floatArena.assign(layout.floatElements, 0.0f);
      state.intArena.assign(layout.intElements, 0);
    } catch (const std::bad_alloc &) {
      fail("host backend: out of memory for the buffers of program '",
           program->name()->str(), "' (",
           layout.floatElements * sizeof(float) +
               layout.intElements * sizeof(int32_t),
           " bytes)");
    }
    for (size_t i = 0; i < program->buffers()->size(); ++i) {
      Buffer buffer;
      buffer.spec = program->buffers()->Get(flatbuffers::uoffset_t(i));
      if (buffer.spec->dtype() == plan::DType::I32)
        buffer.ints = state.intArena.data() + layout.offset[i];
      else
        buffer.floats = state.floatArena.data() + layout.offset[i];
      state.buffers.push_back(buffer);
    }
    if (program->steps())
      for (const plan::Step *step : *program->steps()) {
        StepState s;
        if (const plan::Rope *rope = stepRope(*step)) {
          RopeSpec spec = toRopeSpec(*rope);
          s.invFreq = ropeInvFreq(spec);
          s.magnitude = ropeMagnitude(spec);
        }
        state.steps.push_back(std::move(s));
      }
  }
}

// ---- run --------------------------------------------------------------------

host::Mat HostBackend::mat(ProgramState &p, const plan::Operand &op) const {
  Buffer &b = p.buffers[op.buffer()];
  return {b.floats + op.col_offset(), b.rows, int64_t(op.cols()),
          b.spec->cols()};
}

host::IMat HostBackend::imat(ProgramState &p, const plan::Operand &op) const {
  Buffer &b = p.buffers[op.buffer()];
  return {b.ints + op.col_offset(), b.rows, int64_t(op.cols()), b.spec->cols()};
}

host::KvLayer HostBackend::kvLayer(int layer) {
  const plan::KvCache &kv = *plan_->root().kv_cache();
  return {kvCache_[size_t(layer)].data(), slots_, maxSeqLen_, kv.latent_dim(),
          kv.rope_dim(), kv.dtype() == plan::DType::BF16};
}

void HostBackend::checkCacheIndices(host::CIMat positions,
                                    host::CIMat seqIds) const {
  for (int64_t t = 0; t < positions.rows; ++t) {
    const int32_t pos = *positions.row(t), seq = *seqIds.row(t);
    if (pos < 0 || pos >= maxSeqLen_)
      fail("position ", pos, " of token ", t, " out of range [0, ", maxSeqLen_,
           ") (maxSeqLen)");
    if (seq < 0 || seq >= slots_)
      fail("sequence slot ", seq, " of token ", t, " out of range [0, ", slots_,
           ") (slots)");
  }
}

StepOutputs HostBackend::run(const std::string &name, const StepInputs &in) {
  if (!plan_)
    fail("host backend: run('", name, "') before prepare()");
  auto found = programs_.find(name);
  if (found == programs_.end()) {
    plan_->program(name); // throws, listing the programs the plan has
    fail("host backend: program '", name, "' was not prepared");
  }
  ProgramState &p = found->second;
  const plan::Program &program = *p.program;

  const int64_t tokens = int64_t(in.tokens.size());
  const int64_t logitRows = int64_t(in.logitRows.size());
  const std::string where = "program '" + name + "': ";
  if (tokens < 1)
    fail(where, "needs at least 1 token, got 0");
  if (tokens > program.max_tokens())
    fail(where, tokens, " tokens exceed max_tokens ", program.max_tokens());
  if (logitRows > program.max_logit_rows())
    fail(where, logitRows, " logit rows exceed max_logit_rows ",
         program.max_logit_rows());
  if (int64_t(in.positions.size()) != tokens ||
      int64_t(in.seqIds.size()) != tokens)
    fail(where, tokens, " tokens but ", in.positions.size(), " positions and ",
         in.seqIds.size(), " sequence ids");
  for (int64_t t = 0; t < tokens; ++t) {
    if (in.positions[t] < 0 || in.positions[t] >= maxSeqLen_)
      fail(where, "position ", in.positions[t], " of token ", t,
           " out of range [0, ", maxSeqLen_, ") (maxSeqLen)");
    if (in.seqIds[t] < 0 || in.seqIds[t] >= slots_)
      fail(where, "sequence slot ", in.seqIds[t], " of token ", t,
           " out of range [0, ", slots_, ") (slots)");
  }
  for (int64_t r = 0; r < logitRows; ++r)
    if (in.logitRows[r] < 0 || in.logitRows[r] >= tokens)
      fail(where, "logit row ", in.logitRows[r], " out of range [0, ", tokens,
           ") (tokens)");

  for (Buffer &b : p.buffers)
    b.rows = b.spec->row_factor() *
             (b.spec->row_kind() == plan::RowKind::PerToken      ? tokens
              : b.spec->row_kind() == plan::RowKind::PerLogitRow ? logitRows
                                                                 : 1);
  const std::vector<int32_t> *sources[] = {&in.tokens, &in.positions,
                                           &in.seqIds, &in.logitRows};
  for (size_t i = 0; i < 4; ++i)
    std::copy(sources[i]->begin(), sources[i]->end(),
              p.buffers[program.inputs()->Get(flatbuffers::uoffset_t(i))].ints);

  if (program.steps())
    for (size_t i = 0; i < program.steps()->size(); ++i) {
      const plan::Step &step = *program.steps()->Get(flatbuffers::uoffset_t(i));
      try {
        execute(p, step, p.steps[i]);
      } catch (const Error &e) {
        fail(plan_->origin(), ": program '", name, "' step ", i, " '",
             step.name() ? step.name()->str() : std::string(), "' (",
             stepFamilyName(step.params_type()), "): ", e.what());
      }
    }

  StepOutputs result;
  const Buffer &out = p.buffers[program.outputs()->Get(0)];
  result.logits.assign(out.floats, out.floats + out.rows * out.spec->cols());
  if (program.outputs()->size() > 1) {
    const Buffer &drafts = p.buffers[program.outputs()->Get(1)];
    result.drafts.assign(drafts.ints, drafts.ints + drafts.rows);
  }
  return result;
}

std::vector<float>
HostBackend::bufferContents(const std::string &program,
                            const std::string &buffer) const {
  auto found = programs_.find(program);
  if (found == programs_.end())
    fail("host backend: no prepared program '", program, "'");
  for (const Buffer &b : found->second.buffers) {
    if (b.spec->name()->str() != buffer)
      continue;
    const size_t n = size_t(b.rows * b.spec->cols());
    if (b.spec->dtype() == plan::DType::I32)
      return std::vector<float>(b.ints, b.ints + n);
    return std::vector<float>(b.floats, b.floats + n);
  }
  fail("host backend: program '", program, "' has no buffer '", buffer, "'");
}

// ---- steps ------------------------------------------------------------------

void HostBackend::execute(ProgramState &p, const plan::Step &step,
                          const StepState &state) {
  auto in = [&](size_t i) -> host::CMat { return mat(p, input(step, i)); };
  auto inI = [&](size_t i) -> host::CIMat { return imat(p, input(step, i)); };
  auto out = [&](size_t i) { return mat(p, output(step, i)); };
  auto weight = [&](size_t i) -> const BoundWeight & {
    return weights_[weightIndex(step, i)];
  };
  const int64_t rows = p.buffers[input(step, 0).buffer()].rows; // of input 0

  switch (step.params_type()) {
  case StepParams::EmbeddingParams:
    host::embedding(inI(0), weight(0).matrix(), out(0));
    return;

  case StepParams::RmsNormParams: {
    const auto *params = step.params_as_RmsNormParams();
    if (params->residual()) {
      host::CMat r = in(1);
      host::Mat sum = out(1);
      host::rmsNorm(in(0), &r, weight(0).matrix().data, params->eps(), out(0),
                    &sum);
    } else {
      host::rmsNorm(in(0), nullptr, weight(0).matrix().data, params->eps(),
                    out(0), nullptr);
    }
    return;
  }

  case StepParams::AddParams:
    host::add(in(0), in(1), out(0));
    return;

  case StepParams::SiluMulParams:
    host::siluMul(in(0), in(1), out(0));
    return;

  case StepParams::RopeParams: {
    const plan::Rope &rope = *step.params_as_RopeParams()->rope();
    host::Mat y = out(0);
    if (!sameView(input(step, 0), output(step, 0))) {
      host::CMat x = in(0);
      for (int64_t t = 0; t < x.rows; ++t)
        std::copy(x.row(t), x.row(t) + x.cols, y.row(t));
    }
    host::RopeTable table;
    table.build(state.invFreq, state.magnitude, inI(1));
    host::applyRope(y, table, rope.heads(), rope.head_dim(), rope.offset());
    return;
  }

  case StepParams::GemmParams: {
    const auto *params = step.params_as_GemmParams();
    const host::Weight w = weight(0).matrix();
    size_t next = 1;
    host::CIMat positions;
    host::CMat residual;
    if (params->rope())
      positions = inI(next++);
    if (params->residual())
      residual = in(next++);
    host::Mat c = out(0);
    if (!params->silu_mul() && !params->rope()) {
      host::gemm(in(0), w, c, params->residual() ? &residual : nullptr);
      return;
    }
    // Epilogue in order: silu_mul, rope, + r, computed in scratch so that c
    // may be r's view.
    std::vector<float> &acc = scratch_;
    acc.resize(size_t(rows * w.rows));
    host::Mat a{acc.data(), rows, w.rows, w.rows}; // [T, N]
    host::gemm(in(0), w, a);
    if (params->silu_mul()) {
      host::Mat g{acc.data(), rows, w.rows / 2, w.rows};
      host::CMat u{acc.data() + w.rows / 2, rows, w.rows / 2, w.rows};
      host::siluMul(g, u, g);
      a.cols = w.rows / 2; // [T, N/2], row stride N
    }
    if (const plan::Rope *rope = params->rope()) {
      host::RopeTable table;
      table.build(state.invFreq, state.magnitude, positions);
      host::applyRope(a, table, rope->heads(), rope->head_dim(),
                      rope->offset());
    }
    if (params->residual()) {
      host::add(a, residual, c);
    } else {
      for (int64_t t = 0; t < rows; ++t)
        std::copy(a.row(t), a.row(t) + a.cols, c.row(t));
    }
    return;
  }

  case StepParams::KvAppendParams: {
    const auto *params = step.params_as_KvAppendParams();
    checkCacheIndices(inI(2), inI(3));
    host::RopeTable table;
    if (params->rope())
      table.build(state.invFreq, state.magnitude, inI(2));
    host::kvAppend(in(0), in(1), inI(2), inI(3),
                   params->normalize() ? weight(0).matrix().data : nullptr,
                   params->eps(), params->rope() ? &table : nullptr,
                   kvLayer(params->layer()));
    return;
  }

  case StepParams::MlaAttentionParams: {
    const auto *params = step.params_as_MlaAttentionParams();
    checkCacheIndices(inI(1), inI(2));
    host::MlaDims dims;
    dims.heads = params->heads();
    dims.nope = params->nope_dim();
    dims.rope = params->rope_dim();
    dims.v = params->v_dim();
    dims.latent = params->latent_dim();
    dims.scale = params->scale();
    if (params->form() == plan::AttentionForm::Expanded)
      host::mlaAttentionExpanded(in(0), inI(1), inI(2), weight(0).matrix(),
                                 dims, kvLayer(params->layer()), out(0),
                                 scratch_);
    else
      host::mlaAttentionAbsorbed(in(0), inI(1), inI(2), weight(0).matrix(),
                                 dims, kvLayer(params->layer()), out(0));
    return;
  }

  case StepParams::MlaLatentAttentionParams: {
    const auto *params = step.params_as_MlaLatentAttentionParams();
    checkCacheIndices(inI(2), inI(3));
    const int64_t latStride =
        params->q_lat_stride() ? params->q_lat_stride() : params->latent_dim();
    const int64_t peStride =
        params->q_pe_stride() ? params->q_pe_stride() : params->rope_dim();
    host::mlaLatentAttention(in(0), latStride, in(1), peStride, inI(2), inI(3),
                             params->heads(), params->scale(),
                             kvLayer(params->layer()), out(0));
    return;
  }

  case StepParams::KvGatherParams:
    checkCacheIndices(inI(0), inI(1));
    host::kvGather(inI(0), inI(1),
                   kvLayer(step.params_as_KvGatherParams()->layer()), out(0));
    return;

  case StepParams::MlaPrefillAttentionParams: {
    const auto *params = step.params_as_MlaPrefillAttentionParams();
    host::MlaDims dims;
    dims.heads = params->heads();
    dims.nope = params->nope_dim();
    dims.rope = params->rope_dim();
    dims.v = params->v_dim();
    dims.scale = params->scale();
    host::mlaPrefillAttention(in(0), in(1), in(2), inI(3), dims, out(0));
    return;
  }

  case StepParams::HeadGemmParams: {
    const auto *params = step.params_as_HeadGemmParams();
    const host::Weight w = weight(0).matrix();
    host::HeadGemmShape shape;
    shape.heads = params->heads();
    shape.headRows = params->head_rows();
    shape.rowOffset = params->row_offset();
    shape.rows = params->rows();
    shape.transpose = params->transpose();
    const int64_t inLen = shape.transpose ? shape.rows : w.cols;
    const int64_t outLen = shape.transpose ? w.cols : shape.rows;
    shape.inStride = params->in_stride() ? params->in_stride() : inLen;
    shape.outStride = params->out_stride() ? params->out_stride() : outLen;
    host::headGemm(in(0), w, shape, out(0));
    return;
  }

  case StepParams::RouteParams: {
    const auto *params = step.params_as_RouteParams();
    host::RouteConfig config;
    config.scoring = params->scoring() == plan::ScoringFunc::Sigmoid
                         ? ScoringFunc::Sigmoid
                         : ScoringFunc::Softmax;
    config.method = params->method() == plan::TopkMethod::NoauxTc
                        ? TopkMethod::NoauxTc
                    : params->method() == plan::TopkMethod::GroupLimitedGreedy
                        ? TopkMethod::GroupLimitedGreedy
                        : TopkMethod::Greedy;
    config.experts = params->experts();
    config.topK = params->top_k();
    config.groups = params->groups();
    config.topkGroups = params->topk_groups();
    config.normTopkProb = params->norm_topk_prob();
    config.scaling = params->scaling();
    host::CMat logits = in(0);
    size_t nextWeight = 0;
    if (params->fused_gate()) { // logits [T, E] = x @ gate^T
      std::vector<float> &buffer = scratch_;
      buffer.resize(size_t(rows * config.experts));
      host::Mat l{buffer.data(), rows, config.experts, config.experts};
      host::gemm(in(0), weight(nextWeight++).matrix(), l);
      logits = l;
    }
    const float *bias =
        params->has_bias() ? weight(nextWeight).matrix().data : nullptr;
    host::route(logits, bias, config, imat(p, output(step, 0)), out(1));
    return;
  }

  case StepParams::MoeExpertsParams:
    host::moeExperts(in(0), inI(1), weight(0).experts(), weight(1).experts(),
                     out(0), scratch_);
    return;

  case StepParams::MoeDispatchParams:
    host::moeDispatch(in(0), inI(1),
                      step.params_as_MoeDispatchParams()->experts(), out(0),
                      imat(p, output(step, 1)), imat(p, output(step, 2)));
    return;

  case StepParams::GroupedGemmParams:
    host::groupedGemm(in(0), inI(1), weight(0).experts(),
                      step.params_as_GroupedGemmParams()->silu_mul(), out(0),
                      scratch_);
    return;

  case StepParams::MoeCombineParams: {
    const auto *params = step.params_as_MoeCombineParams();
    size_t next = 2;
    host::CIMat perm;
    host::CMat shared, residual;
    if (params->permuted())
      perm = inI(next++);
    if (params->shared())
      shared = in(next++);
    if (params->residual())
      residual = in(next++);
    host::moeCombine(in(0), in(1), params->permuted() ? &perm : nullptr,
                     params->shared() ? &shared : nullptr,
                     params->residual() ? &residual : nullptr, params->top_k(),
                     out(0));
    return;
  }

  case StepParams::GatherRowsParams:
    host::gatherRows(in(0), inI(1), out(0));
    return;

  case StepParams::ArgmaxParams:
    host::argmax(in(0), imat(p, output(step, 0)));
    return;

  case StepParams::NextTokensParams:
    host::nextTokens(inI(0), inI(1), inI(2), inI(3), inI(4),
                     imat(p, output(step, 0)));
    return;

  case StepParams::ConcatParams:
    host::concat(in(0), in(1), out(0));
    return;

  case StepParams::NONE:
    break;
  }
  fail("unknown step family");
}

} // namespace moela
