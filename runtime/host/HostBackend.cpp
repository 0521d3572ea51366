//===- HostBackend.cpp - The CPU backend: every step in fp32 --------------===//
#include "HostBackend.h"

#include "BufferLayout.h"
#include "kernels/Abi.h"

#include "moela/Runtime/CheckedInt.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/Rope.h"
#include "moela/Runtime/StepFamily.h"
#include "moela/Runtime/ThreadPool.h"
#include "moela/Runtime/Weights.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <optional>

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

bool sameView(const plan::Operand &a, const plan::Operand &b) {
  return a.buffer() == b.buffer() && a.col_offset() == b.col_offset() &&
         a.cols() == b.cols();
}

} // namespace

std::unique_ptr<Backend> makeHostBackend() {
  return std::make_unique<HostBackend>();
}

std::unique_ptr<Backend> makeHostBackend(Communicator &comm) {
  return std::make_unique<HostBackend>(comm);
}

HostBackend::HostBackend()
    : ownComm_(makeSingleProcessCommunicator()), comm_(ownComm_.get()) {}

HostBackend::HostBackend(Communicator &comm) : comm_(&comm) {}

std::vector<host::Weight> HostBackend::BoundWeight::experts() const {
  std::vector<host::Weight> all(size_t(std::max(globalExperts, 1)),
                                host::Weight{nullptr, shape.rows, shape.cols});
  for (size_t e = 0; e < data.size(); ++e)
    all[size_t(firstExpert) + e] = matrix(e);
  return all;
}

host::Weight HostBackend::BoundWeight::matrix(size_t expert) const {
  const Matrix &m = data[expert];
  if (!m.rows.empty())
    return {nullptr, shape.rows, shape.cols, m.rows.data(), int(m.rows.size())};
  return {m.f32.data(), shape.rows, shape.cols};
}

// ---- prepare ----------------------------------------------------------------

void HostBackend::bindMatrix(WeightSource &source, uint32_t index, int expert) {
  BoundWeight &w = weights_[index];
  Matrix &m = w.data[size_t(std::max(expert, 0))];
  const std::vector<TensorSpec> specs =
      plan_->tensorSpecs(index, expert, comm_->rank());
  if (w.shape.rank != 2) { // vectors: float32
    m.f32.reserve(size_t(w.shape.rows * w.shape.cols));
    for (const TensorSpec &spec : specs) {
      std::vector<float> part = source.loadF32(spec);
      if (int64_t(part.size()) != spec.numel())
        fail("tensor '", spec.name, "': the weight source returned ",
             part.size(), " values for shape ", shapeString(spec.shape));
      m.f32.insert(m.f32.end(), part.begin(), part.end());
    }
    return;
  }
  // Matrices as stored: each part a window of what the source returned.
  bool allF32 = true;
  int64_t row0 = 0;
  for (const TensorSpec &spec : specs) {
    RawWindow part = source.loadRawWindow(spec);
    const TensorSpec &got = part.raw.spec;
    const int64_t rows = spec.shape[0], cols = spec.shape[1];
    const bool fits =
        got.shape.size() == 2 && part.rowOffset >= 0 && part.colOffset >= 0 &&
        part.rowOffset + rows <= got.shape[0] &&
        part.colOffset + cols <= got.shape[1] &&
        part.raw.data.size() == size_t(got.numel()) * dtypeSize(got.dtype);
    const bool scaled = !part.raw.scales.empty();
    if (!fits || (scaled && (got.dtype != DType::F8E4M3 ||
                             got.scaleShape != fp8ScaleShape(got.shape) ||
                             int64_t(part.raw.scales.size()) !=
                                 got.scaleShape[0] * got.scaleShape[1])))
      fail("tensor '", spec.name, "': the weight source returned ",
           got.typeString(), " (", part.raw.data.size(), " bytes, ",
           part.raw.scales.size(), " scales) for ", spec.typeString());
    host::StoredRows r;
    r.dtype = got.dtype;
    r.ld = got.shape[1];
    r.r0 = part.rowOffset;
    r.c0 = part.colOffset;
    r.scaleLd = scaled ? got.scaleShape[1] : 0;
    r.row0 = row0;
    r.rows = rows;
    row0 += rows;
    allF32 = allF32 && got.dtype == DType::F32 && r.r0 == 0 && r.c0 == 0 &&
             r.ld == cols;
    m.rows.push_back(r);
    m.stored.push_back(std::move(part.raw));
  }
  // The vectors' buffers stay put when `stored` grows: point at them now.
  for (size_t i = 0; i < m.rows.size(); ++i) {
    m.rows[i].data = m.stored[i].data.data();
    m.rows[i].scales =
        m.stored[i].scales.empty() ? nullptr : m.stored[i].scales.data();
  }
  if (!allF32)
    return;
  // Float32 parts (sources without stored dtypes, F32 checkpoints): one
  // dense matrix, read without conversion.
  m.f32.resize(size_t(w.shape.rows * w.shape.cols));
  host::Weight parts{nullptr, w.shape.rows, w.shape.cols, m.rows.data(),
                     int(m.rows.size())};
  parts.toF32(0, w.shape.rows, 0, w.shape.cols, m.f32.data(), w.shape.cols);
  m.rows.clear();
  m.stored.clear();
}

void HostBackend::bindWeights(WeightSource &source) {
  const plan::Plan &root = plan_->root();
  const size_t count = root.weights() ? root.weights()->size() : 0;
  weights_.assign(count, {});
  // One load task per matrix (an expert set has one per expert).
  std::vector<std::pair<uint32_t, int>> tasks;
  const int rank = comm_->rank();
  for (uint32_t i = 0; i < count; ++i) {
    BoundWeight &w = weights_[i];
    w.shape = plan_->weightShape(i);
    const plan::Weight &declared = *root.weights()->Get(i);
    const int expertParts = std::max(1, declared.expert_parts());
    w.globalExperts = w.shape.experts * expertParts;
    w.firstExpert = expertParts > 1 ? rank * w.shape.experts : 0;
    w.globalRows = w.shape.rows;
    if (declared.parts() && declared.parts()->size() == 1) {
      const plan::TensorRef &t = *declared.parts()->Get(0);
      if (t.shard_dim() == 0 && t.shard_parts() > 1) {
        w.firstRow = rank * w.shape.rows;
        w.globalRows = w.shape.rows * t.shard_parts();
      }
    }
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
        bindMatrix(source, index, expert);
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
                    std::to_string(tasks[size_t(t)].first) + ": " + e.what()));
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

void HostBackend::prepare(const Plan &plan, WeightSource &weights,
                          const KvCacheShape &kv) {
  if (kv.pages < 1 || kv.sequences < 1 || kv.maxSeqLen < 1)
    fail("host backend: needs a KV cache of pages >= 1, sequences >= 1 and "
         "maxSeqLen >= 1, got ",
         kv.pages, ", ", kv.sequences, " and ", kv.maxSeqLen);
  if (plan.worldSize() != comm_->size())
    fail("host backend: ", plan.origin(), " was compiled for ",
         plan.worldSize(), " rank", plan.worldSize() == 1 ? "" : "s",
         ", the communicator (", comm_->describe(), ") has ", comm_->size());
  plan_ = &plan;
  kvShape_ = kv;
  programs_.clear();
  bindWeights(weights);

  kvCache_.clear();
  if (const plan::KvCache *cache = plan.root().kv_cache()) {
    // [pages * 64, R + Dr] f32 per layer; the plan bounds R + Dr and the
    // layers, the caller the pages.
    const CheckedInt perLayer =
        CheckedInt(kv.pages) * abi::kKvPageTokens *
        (CheckedInt(cache->latent_dim()) + cache->rope_dim());
    const CheckedInt bytes =
        perLayer * cache->layers() * CheckedInt(sizeof(float));
    auto outOfMemory = [&] {
      fail("host backend: out of memory for the KV cache of ", plan.origin(),
           " (", cache->layers(), " layers x ", perLayer * sizeof(float),
           " bytes for ", kv.pages, " pages of ", abi::kKvPageTokens,
           " tokens = ", bytes, " bytes)");
    };
    if (bytes.overflowed())
      outOfMemory();
    try {
      kvCache_.assign(size_t(cache->layers()),
                      std::vector<float>(size_t(*perLayer.get())));
    } catch (const std::bad_alloc &) {
      outOfMemory();
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
      // Name the largest buffer: usually the one to shrink (max tokens).
      size_t largest = 0;
      for (size_t i = 0; i < layout.elements.size(); ++i)
        if (layout.elements[i] > layout.elements[largest])
          largest = i;
      fail("host backend: out of memory for the buffers of program '",
           program->name()->str(), "' of ", plan.origin(), " (",
           layout.floatElements * sizeof(float) +
               layout.intElements * sizeof(int32_t),
           " bytes; the largest, buffer ", largest, " '",
           program->buffers()
               ->Get(flatbuffers::uoffset_t(largest))
               ->name()
               ->str(),
           "', ", layout.elements[largest] * sizeof(float), " bytes)");
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
  host::KvLayer l;
  l.data = kvCache_[size_t(layer)].data();
  l.pages = kvShape_.pages;
  l.latent = kv.latent_dim();
  l.rope = kv.rope_dim();
  l.bf16 = kv.dtype() == plan::DType::BF16;
  l.fp8 = kv.dtype() == plan::DType::F8E4M3;
  l.blockTables = blockTables_.data();
  l.pagesPerSeq = kvShape_.pagesPerSequence();
  return l;
}

void HostBackend::checkCacheIndices(host::CIMat positions,
                                    host::CIMat seqIds) const {
  for (int64_t t = 0; t < positions.rows; ++t) {
    const int32_t pos = *positions.row(t), seq = *seqIds.row(t);
    if (pos < 0 || pos >= kvShape_.maxSeqLen)
      fail("position ", pos, " of token ", t, " out of range [0, ",
           kvShape_.maxSeqLen, ") (maxSeqLen)");
    if (seq < 0 || seq >= kvShape_.sequences)
      fail("sequence slot ", seq, " of token ", t, " out of range [0, ",
           kvShape_.sequences, ") (slots)");
    if (blockTables_[size_t(seq) * kvShape_.pagesPerSequence() +
                     pos / abi::kKvPageTokens] < 0)
      fail("token ", t, " (sequence ", seq, ", position ", pos,
           ") has no page allocated");
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

  checkStepInputs(program, in, kvShape_);
  blockTables_ = in.blockTables;
  const int64_t tokens = int64_t(in.tokens.size());
  const int64_t logitRows = int64_t(in.logitRows.size());

  for (Buffer &b : p.buffers)
    b.rows = bufferRows(*b.spec, tokens, logitRows);
  const std::vector<int32_t> *sources[abi::kNumProgramInputs] = {
      &in.tokens, &in.positions, &in.seqIds, &in.logitRows};
  for (int i = 0; i < abi::kNumProgramInputs; ++i)
    std::copy(sources[i]->begin(), sources[i]->end(),
              p.buffers[program.inputs()->Get(flatbuffers::uoffset_t(i))].ints);
  const bool samples = programSamples(program);
  if (samples) {
    const std::vector<int32_t> words = samplingInput(in);
    std::copy(words.begin(), words.end(),
              p.buffers[program.inputs()->Get(abi::kSampling)].ints);
  }

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
  const Buffer &out = p.buffers[program.outputs()->Get(abi::kLogits)];
  if ((in.wantLogits || !samples) && plan_->logitsSharded()) {
    const int64_t cols = out.spec->cols(), all = cols * comm_->size();
    result.logits.resize(size_t(out.rows * all));
    allGatherColumns(*comm_, out.floats, out.rows, cols, cols,
                     result.logits.data(), all);
  } else if (in.wantLogits || !samples) {
    result.logits.assign(out.floats, out.floats + out.rows * out.spec->cols());
  }
  if (samples) {
    const uint32_t n = program.outputs()->size();
    const Buffer &ids = p.buffers[program.outputs()->Get(n - 2)];
    const Buffer &lp = p.buffers[program.outputs()->Get(n - 1)];
    result.sampledIds.assign(ids.ints, ids.ints + ids.rows * ids.spec->cols());
    result.sampledLogprobs.assign(lp.floats,
                                  lp.floats + lp.rows * lp.spec->cols());
  }
  if (programHasDrafts(program)) {
    const Buffer &drafts = p.buffers[program.outputs()->Get(abi::kDrafts)];
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
  using R = Role;
  const StepOperands ops(step, "host backend");
  auto in = [&](Role r) -> host::CMat { return mat(p, ops.in(r)); };
  auto inI = [&](Role r) -> host::CIMat { return imat(p, ops.in(r)); };
  auto out = [&](Role r) { return mat(p, ops.out(r)); };
  auto outI = [&](Role r) { return imat(p, ops.out(r)); };
  auto weight = [&](Role r) -> const BoundWeight & {
    return weights_[ops.weight(r)];
  };
  auto optional = [&](Role r) {
    return ops.hasIn(r) ? std::optional<host::CMat>(in(r)) : std::nullopt;
  };

  switch (step.params_type()) {
  case StepParams::EmbeddingParams: {
    const BoundWeight &table = weight(R::EmbedTable);
    host::embeddingShard(inI(R::Tokens), table.matrix(), table.firstRow,
                         table.globalRows, out(R::Hidden));
    return;
  }

  case StepParams::RmsNormParams: {
    const auto *params = step.params_as_RmsNormParams();
    const float *w = weight(R::NormWeight).matrix().data;
    if (params->residual()) {
      host::CMat r = in(R::Residual);
      host::Mat sum = out(R::Sum);
      host::rmsNorm(in(R::X), &r, w, params->eps(), out(R::Y), &sum);
    } else {
      host::rmsNorm(in(R::X), nullptr, w, params->eps(), out(R::Y), nullptr);
    }
    return;
  }

  case StepParams::AddParams:
    host::add(in(R::A), in(R::B), out(R::Y));
    return;

  case StepParams::SiluMulParams:
    host::siluMul(in(R::GateAct), in(R::UpAct), out(R::Y));
    return;

  case StepParams::RopeParams: {
    const plan::Rope &rope = *step.params_as_RopeParams()->rope();
    host::Mat y = out(R::Y);
    if (!sameView(ops.in(R::X), ops.out(R::Y))) {
      host::CMat x = in(R::X);
      for (int64_t t = 0; t < x.rows; ++t)
        std::copy(x.row(t), x.row(t) + x.cols, y.row(t));
    }
    host::RopeTable table;
    table.build(state.invFreq, state.magnitude, inI(R::Positions));
    host::applyRope(y, table, rope.heads(), rope.head_dim(), rope.offset());
    return;
  }

  case StepParams::GemmParams: {
    const auto *params = step.params_as_GemmParams();
    const host::Weight w = weight(R::Matrix).matrix();
    const host::CMat a = in(R::A);
    const std::optional<host::CMat> residual = optional(R::Residual);
    host::Mat c = out(R::C);
    if (!params->silu_mul() && !params->rope()) {
      host::gemm(a, w, c, residual ? &*residual : nullptr);
      return;
    }
    // Epilogue in order: silu_mul, rope, + r, computed in scratch so that c
    // may be r's view.
    std::vector<float> &acc = scratch_;
    acc.resize(size_t(a.rows * w.rows));
    host::Mat t{acc.data(), a.rows, w.rows, w.rows}; // [T, N]
    host::gemm(a, w, t);
    if (params->silu_mul()) {
      host::Mat g{acc.data(), a.rows, w.rows / 2, w.rows};
      host::CMat u{acc.data() + w.rows / 2, a.rows, w.rows / 2, w.rows};
      host::siluMul(g, u, g);
      t.cols = w.rows / 2; // [T, N/2], row stride N
    }
    if (const plan::Rope *rope = params->rope()) {
      host::RopeTable table;
      table.build(state.invFreq, state.magnitude, inI(R::Positions));
      host::applyRope(t, table, rope->heads(), rope->head_dim(),
                      rope->offset());
    }
    if (residual) {
      host::add(t, *residual, c);
    } else {
      for (int64_t r = 0; r < a.rows; ++r)
        std::copy(t.row(r), t.row(r) + t.cols, c.row(r));
    }
    return;
  }

  case StepParams::KvAppendParams: {
    const auto *params = step.params_as_KvAppendParams();
    const host::CIMat positions = inI(R::Positions), seqIds = inI(R::SeqIds);
    checkCacheIndices(positions, seqIds);
    host::RopeTable table;
    if (params->rope())
      table.build(state.invFreq, state.magnitude, positions);
    host::kvAppend(in(R::Latent), in(R::KPe), positions, seqIds,
                   params->normalize() ? weight(R::KvNorm).matrix().data
                                       : nullptr,
                   params->eps(), params->rope() ? &table : nullptr,
                   kvLayer(params->layer()));
    return;
  }

  case StepParams::MlaAttentionParams: {
    const auto *params = step.params_as_MlaAttentionParams();
    const host::CIMat positions = inI(R::Positions), seqIds = inI(R::SeqIds);
    checkCacheIndices(positions, seqIds);
    host::MlaDims dims;
    dims.heads = params->heads();
    dims.nope = params->nope_dim();
    dims.rope = params->rope_dim();
    dims.v = params->v_dim();
    dims.latent = params->latent_dim();
    dims.scale = params->scale();
    const host::Weight kvB = weight(R::KvB).matrix();
    if (params->form() == plan::AttentionForm::Expanded)
      host::mlaAttentionExpanded(in(R::Q), positions, seqIds, kvB, dims,
                                 kvLayer(params->layer()), out(R::O), scratch_);
    else
      host::mlaAttentionAbsorbed(in(R::Q), positions, seqIds, kvB, dims,
                                 kvLayer(params->layer()), out(R::O));
    return;
  }

  case StepParams::MlaLatentAttentionParams: {
    const auto *params = step.params_as_MlaLatentAttentionParams();
    const host::CIMat positions = inI(R::Positions), seqIds = inI(R::SeqIds);
    checkCacheIndices(positions, seqIds);
    const int64_t peStride =
        params->q_pe_stride() ? params->q_pe_stride() : params->rope_dim();
    host::mlaLatentAttention(in(R::QLat), params->latent_dim(), in(R::QPe),
                             peStride, positions, seqIds, params->heads(),
                             params->scale(), kvLayer(params->layer()),
                             out(R::OLat));
    return;
  }

  case StepParams::KvGatherParams: {
    const host::CIMat positions = inI(R::Positions), seqIds = inI(R::SeqIds);
    checkCacheIndices(positions, seqIds);
    host::kvGather(positions, seqIds,
                   kvLayer(step.params_as_KvGatherParams()->layer()),
                   out(R::CacheRows));
    return;
  }

  case StepParams::MlaPrefillAttentionParams: {
    const auto *params = step.params_as_MlaPrefillAttentionParams();
    host::MlaDims dims;
    dims.heads = params->heads();
    dims.nope = params->nope_dim();
    dims.rope = params->rope_dim();
    dims.v = params->v_dim();
    dims.scale = params->scale();
    host::mlaPrefillAttention(in(R::Q), in(R::Kv), in(R::KPe),
                              inI(R::Positions), dims, out(R::O));
    return;
  }

  case StepParams::HeadGemmParams: {
    const auto *params = step.params_as_HeadGemmParams();
    const host::Weight w = weight(R::Matrix).matrix();
    host::HeadGemmShape shape;
    shape.heads = params->heads();
    shape.headRows = params->head_rows();
    shape.rowOffset = params->row_offset();
    shape.rows = params->rows();
    shape.transpose = params->transpose();
    const int64_t inLen = shape.transpose ? shape.rows : w.cols;
    shape.inStride = params->in_stride() ? params->in_stride() : inLen;
    shape.outStride = shape.transpose ? w.cols : shape.rows; // y is packed
    host::headGemm(in(R::X), w, shape, out(R::Y));
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
    host::CMat logits;
    if (params->fused_gate()) { // logits [T, E] = x @ gate^T
      const host::CMat x = in(R::X);
      std::vector<float> &buffer = scratch_;
      buffer.resize(size_t(x.rows * config.experts));
      host::Mat l{buffer.data(), x.rows, config.experts, config.experts};
      host::gemm(x, weight(R::GateMatrix).matrix(), l);
      logits = l;
    } else {
      logits = in(R::Logits);
    }
    const float *bias =
        params->has_bias() ? weight(R::GateBias).matrix().data : nullptr;
    host::route(logits, bias, config, outI(R::ExpertIds),
                out(R::ExpertWeights));
    return;
  }

  case StepParams::MoeExpertsParams:
    host::moeExperts(in(R::X), inI(R::ExpertIds), weight(R::GateUp).experts(),
                     weight(R::Down).experts(), out(R::Y), scratch_);
    return;

  case StepParams::MoeDispatchParams:
    host::moeDispatch(in(R::X), inI(R::ExpertIds),
                      step.params_as_MoeDispatchParams()->experts(),
                      out(R::XSorted), outI(R::Offsets), outI(R::Perm));
    return;

  case StepParams::GroupedGemmParams:
    host::groupedGemm(
        in(R::XSorted), inI(R::Offsets), weight(R::Matrix).experts(),
        step.params_as_GroupedGemmParams()->silu_mul(), out(R::Y), scratch_);
    return;

  case StepParams::MoeCombineParams: {
    const auto *params = step.params_as_MoeCombineParams();
    const std::optional<host::CIMat> perm =
        ops.hasIn(R::Perm) ? std::optional<host::CIMat>(inI(R::Perm))
                           : std::nullopt;
    const std::optional<host::CMat> shared = optional(R::SharedOut);
    const std::optional<host::CMat> residual = optional(R::Residual);
    host::moeCombine(in(R::Y), in(R::ExpertWeights), perm ? &*perm : nullptr,
                     shared ? &*shared : nullptr,
                     residual ? &*residual : nullptr, params->top_k(),
                     out(R::Out));
    return;
  }

  case StepParams::GatherRowsParams:
    host::gatherRows(in(R::X), inI(R::RowIds), out(R::Y));
    return;

  case StepParams::ArgmaxParams:
    host::argmax(in(R::Logits), outI(R::Ids));
    return;

  case StepParams::SampleParams: {
    const int parts = step.params_as_SampleParams()->candidate_parts();
    if (parts > 0)
      host::sampleFromCandidates(in(R::Logits), parts, inI(R::Sampling),
                                 outI(R::Ids), out(R::Logprobs));
    else
      host::sample(in(R::Logits), inI(R::Sampling), outI(R::Ids),
                   out(R::Logprobs));
    return;
  }

  case StepParams::SampleCandidatesParams: {
    // This rank's logit columns start at vocabulary id rank * columns.
    const host::CMat logits = in(R::Logits);
    host::sampleCandidates(logits, inI(R::Sampling),
                           (comm_ ? comm_->rank() : 0) * logits.cols,
                           out(R::Candidates));
    return;
  }

  case StepParams::NextTokensParams:
    host::nextTokens(inI(R::Tokens), inI(R::Positions), inI(R::SeqIds),
                     inI(R::LogitRows), inI(R::Ids), outI(R::Next));
    return;

  case StepParams::ConcatParams:
    host::concat(in(R::A), in(R::B), out(R::AB));
    return;

  case StepParams::AllReduceParams:
    host::allReduce(*comm_, in(R::X), out(R::Y));
    return;

  case StepParams::AllGatherParams:
    host::allGather(*comm_, in(R::X), out(R::Y));
    return;

  case StepParams::NONE:
    break;
  }
  fail("unknown step family");
}

} // namespace moela
