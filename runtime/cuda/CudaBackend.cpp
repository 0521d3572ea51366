//===- CudaBackend.cpp - Running a plan's cubins on one GPU ---------------===//
#include "CudaBackendImpl.h"

#include "moela/Runtime/CheckedInt.h"
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/CudaBackend.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Rope.h"
#include "moela/Runtime/Weights.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace moela {

bool planHasCudaKernels(const Plan &plan) {
  const auto *kernels = plan.root().kernels();
  if (!kernels || kernels->size() == 0)
    return false;
  for (const plan::Kernel *k : *kernels)
    if (!k->cubin() || k->cubin()->size() == 0)
      return false;
  return true;
}

std::unique_ptr<Backend> makeCudaBackend(Communicator *comm) {
  return std::make_unique<cuda::CudaBackend>(comm);
}

namespace cuda {

namespace {

size_t planDTypeSize(plan::DType t) { return dtypeSize(static_cast<DType>(t)); }

/// The key of a RoPE table: everything that changes its frequencies.
std::string ropeKey(const plan::Rope &r) {
  std::ostringstream os;
  os << r.theta() << "/" << r.dim();
  if (const plan::Yarn *y = r.yarn())
    os << "/" << y->factor() << "/" << y->original_max_position_embeddings()
       << "/" << y->beta_fast() << "/" << y->beta_slow() << "/" << y->mscale()
       << "/" << y->mscale_all_dim();
  return os.str();
}

/// Every Rope table referenced by the steps of a program.
template <typename F> void forEachRope(const plan::Program &program, F f) {
  if (!program.steps())
    return;
  for (const plan::Step *step : *program.steps()) {
    if (auto *p = step->params_as_RopeParams(); p && p->rope())
      f(*p->rope());
    if (auto *p = step->params_as_GemmParams(); p && p->rope())
      f(*p->rope());
    if (auto *p = step->params_as_KvAppendParams(); p && p->rope())
      f(*p->rope());
  }
}

} // namespace

CudaBackend::CudaBackend(Communicator *comm)
    : driver(Driver::get()), comm_(comm) {
  std::string why;
  const int devices = Driver::deviceCount(&why);
  if (devices == 0)
    fail("CUDA backend: ", why);
  // One device per rank of a node (more ranks than devices share them).
  const int ordinal = comm && comm->size() > 1 ? localRank(*comm) % devices : 0;
  check(driver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
  check(driver.cuDevicePrimaryCtxRetain(&context, device),
        "cuDevicePrimaryCtxRetain");
  check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  check(driver.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING),
        "cuStreamCreate");
}

CudaBackend::~CudaBackend() {
  driver.cuCtxSetCurrent(context);
  for (auto &[name, state] : programs)
    for (auto &[key, exec] : state.graphs)
      driver.cuGraphExecDestroy(exec);
  for (CUmodule m : modules)
    if (m) // null when loading stopped at a failing kernel
      driver.cuModuleUnload(m);
  if (nccl_)
    Nccl::get().ncclCommDestroy(nccl_);
  if (stream)
    driver.cuStreamDestroy(stream);
  // Device buffers are freed by their destructors while the context lives;
  // the primary context is released last (after members, see below).
  arena = DeviceBuffer();
  kvCache = DeviceBuffer();
  blockTables = DeviceBuffer();
  workspace = DeviceBuffer();
  weights_.clear();
  ropeTables.clear();
  staging = PinnedBuffer();
  driver.cuDevicePrimaryCtxRelease(device);
}

void CudaBackend::prepare(const Plan &plan, WeightSource &weights,
                          const KvCacheShape &kvShape) {
  if (!planHasCudaKernels(plan))
    fail(plan.origin(), ": the plan has no CUDA kernels; compile it with "
                        "--target=sm_90a");
  check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  plan_ = &plan;
  if (plan.worldSize() > 1)
    initNccl(plan.worldSize());
  if (kvShape.pages < 1 || kvShape.sequences < 1 || kvShape.maxSeqLen < 1)
    fail("CUDA backend: needs a KV cache of pages >= 1, sequences >= 1 and "
         "maxSeqLen >= 1, got ",
         kvShape.pages, ", ", kvShape.sequences, " and ", kvShape.maxSeqLen);
  kvShape_ = kvShape;
  loadKernels();
  uploadWeights(weights);
  prepareRopeTables();

  // One arena for every program, the largest layout (the verifier bounds
  // them all, BufferRules.cpp).
  size_t arenaBytes = 0;
  std::string largest;
  programs.clear();
  for (const plan::Program *program : *plan.root().programs()) {
    if (program->arena_bytes() > arenaBytes) {
      arenaBytes = program->arena_bytes();
      largest = program->name()->str();
    }
    programs[program->name()->str()].program = program;
  }
  arena = DeviceBuffer(arenaBytes, plan.origin() +
                                       ": the activation arena of program '" +
                                       largest + "'");

  const plan::KvCache &kv = *plan.root().kv_cache();
  if (kv.dtype() != plan::DType::BF16 && kv.dtype() != plan::DType::F8E4M3)
    fail("CUDA backend: the kernels keep the latent KV cache in BF16 or "
         "F8E4M3, the plan asks for ",
         plan::EnumNameDType(kv.dtype()),
         " (compile with --kv-dtype=bf16 or fp8)");
  // A layer: the rows [pages * 64, R + Dr], then for e4m3 their scales
  // [pages * 64, kvFp8Scales(R + Dr)] f32.
  const int width = kv.latent_dim() + kv.rope_dim(); // the plan bounds both
  const CheckedInt rows = CheckedInt(kvShape.pages) * abi::kKvPageTokens;
  const CheckedInt rowsBytes =
      rows * width * int64_t(planDTypeSize(kv.dtype()));
  CheckedInt layerBytes = rowsBytes;
  if (kv.dtype() == plan::DType::F8E4M3)
    layerBytes =
        layerBytes + rows * abi::kvFp8Scales(width) * int64_t(sizeof(float));
  layerBytes = layerBytes.roundUp(256); // aligned layers
  const CheckedInt cacheBytes = layerBytes * kv.layers();
  if (cacheBytes.overflowed())
    fail("CUDA backend: the KV cache of ", plan.origin(), " (", kv.layers(),
         " layers of ", kvShape.pages,
         " pages) is larger than "
         "2^63 bytes");
  kvRowsBytes = *rowsBytes.get();
  kvLayerBytes = *layerBytes.get();
  kvCache = DeviceBuffer(size_t(*cacheBytes.get()),
                         plan.origin() + ": the KV cache (" +
                             std::to_string(kv.layers()) + " layers of " +
                             std::to_string(kvShape.pages) + " pages)");
  const size_t tableBytes = sizeof(int32_t) * size_t(kvShape.sequences) *
                            size_t(kvShape.pagesPerSequence());
  blockTables = DeviceBuffer(tableBytes, "the KV block tables");

  // Workspace: the largest any step asks for (CudaSteps.cpp), at max rows.
  size_t workspaceBytes = 0;
  for (auto &[name, state] : programs)
    workspaceBytes =
        std::max(workspaceBytes, stepWorkspaceBytes(*state.program));
  workspace =
      DeviceBuffer(workspaceBytes, plan.origin() + ": the steps' workspace");

  // Staging for the block tables, the 4 input vectors and the sampling
  // words, the logits, the drafts and the sampled ids and logprobs.
  size_t stagingBytes = 0;
  for (auto &[name, state] : programs) {
    const plan::Program &p = *state.program;
    size_t in =
        4 * sizeof(int32_t) * std::max(p.max_tokens(), p.max_logit_rows()) +
        sizeof(int32_t) * p.max_logit_rows() * abi::kSamplingWords;
    size_t out = sizeof(float) * p.max_logit_rows() *
                 (plan.config().vocabSize + 1 + 2 * abi::kSampleCols);
    stagingBytes = std::max(stagingBytes, in + out);
  }
  stagingBytes += tableBytes;
  staging = PinnedBuffer(stagingBytes);
}

void CudaBackend::loadKernels() {
  const auto &kernels = *plan_->root().kernels();
  modules.assign(kernels.size(), nullptr);
  functions.assign(kernels.size(), nullptr);
  for (size_t i = 0; i < kernels.size(); ++i) {
    const plan::Kernel &k = *kernels[i];
    std::string what =
        "loading kernel " + k.name()->str() + " (" + k.arch()->str() + ")";
    check(driver.cuModuleLoadData(&modules[i], k.cubin()->data()),
          what.c_str());
    check(driver.cuModuleGetFunction(&functions[i], modules[i],
                                     k.name()->c_str()),
          what.c_str());
    if (k.dynamic_shared_bytes() > 0)
      check(driver.cuFuncSetAttribute(
                functions[i], CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                k.dynamic_shared_bytes()),
            what.c_str());
  }
}

void CudaBackend::uploadWeights(WeightSource &source) {
  const auto *weights = plan_->root().weights();
  weights_.clear();
  weights_.resize(weights ? weights->size() : 0);
  for (uint32_t i = 0; i < weights_.size(); ++i)
    uploadWeight(i, source);
}

/// Uploads weight `index` part by part; an expert set puts its experts back
/// to back so that a kernel reaches expert e at data + e * expert_stride.
void CudaBackend::uploadWeight(uint32_t index, WeightSource &source) {
  const plan::Weight &w = *plan_->root().weights()->Get(index);
  const int experts = std::max(1, w.experts());
  const size_t parts = w.parts()->size();
  std::vector<DeviceWeight> &bound = weights_[index];
  bound.resize(parts);
  for (size_t p = 0; p < parts; ++p) {
    DeviceWeight &dw = bound[p];
    for (int e = 0; e < experts; ++e) {
      // This rank's slice, or under expert parallelism its experts.
      TensorSpec spec = plan_->tensorSpecs(index, w.experts() > 0 ? e : -1,
                                           comm_ ? comm_->rank() : 0)[p];
      RawTensor raw = source.loadRaw(spec);
      // F16 has no kernel: widen it to F32 once, here.
      if (raw.spec.dtype == DType::F16) {
        std::vector<float> wide = toF32(raw);
        raw.data.assign(reinterpret_cast<uint8_t *>(wide.data()),
                        reinterpret_cast<uint8_t *>(wide.data() + wide.size()));
        raw.spec.dtype = DType::F32;
      }
      if (e == 0) {
        dw.dtype = static_cast<plan::DType>(raw.spec.dtype);
        int rows = static_cast<int>(spec.shape[0]);
        int cols = spec.shape.size() > 1 ? static_cast<int>(spec.shape[1]) : 1;
        const std::string what = plan_->origin() + ": weight " +
                                 std::to_string(index) + " '" + spec.name + "'";
        dw.data = DeviceBuffer(raw.data.size() * experts, what);
        if (!raw.scales.empty())
          dw.scales = DeviceBuffer(raw.scales.size() * sizeof(float) * experts,
                                   what + " (scales)");
        dw.view.rows = rows;
        dw.view.cols = cols;
        dw.view.scale_ld = spec.scaleShape.size() > 1
                               ? static_cast<int>(spec.scaleShape[1])
                               : 0;
        dw.view.expert_stride = static_cast<long long>(rows) * cols;
        dw.view.scale_expert_stride = static_cast<long long>(raw.scales.size());
      }
      check(driver.cuMemcpyHtoD(dw.data.get() + raw.data.size() * e,
                                raw.data.data(), raw.data.size()),
            ("uploading " + spec.name).c_str());
      if (!raw.scales.empty())
        check(driver.cuMemcpyHtoD(
                  dw.scales.get() + raw.scales.size() * sizeof(float) * e,
                  raw.scales.data(), raw.scales.size() * sizeof(float)),
              ("uploading " + spec.scaleName).c_str());
    }
    dw.view.data = dw.data.pointer();
    dw.view.scales = dw.scales.bytes()
                         ? static_cast<const float *>(dw.scales.pointer())
                         : nullptr;
  }
}

void CudaBackend::prepareRopeTables() {
  ropeTables.clear();
  for (const plan::Program *program : *plan_->root().programs())
    forEachRope(*program, [&](const plan::Rope &r) {
      std::string key = ropeKey(r);
      if (ropeTables.count(key))
        return;
      std::vector<float> freq = ropeInvFreq(toRopeSpec(r));
      DeviceBuffer table(freq.size() * sizeof(float),
                         "cuMemAlloc (rope table)");
      table.upload(freq.data(), freq.size() * sizeof(float),
                   "uploading a rope table");
      ropeTables.emplace(key, std::move(table));
    });
}

kernels::Rope CudaBackend::rope(const plan::Rope *r) const {
  kernels::Rope out{};
  if (!r)
    return out; // dim = 0: none
  out.inv_freq =
      static_cast<const float *>(ropeTables.at(ropeKey(*r)).pointer());
  out.magnitude = ropeMagnitude(toRopeSpec(*r));
  out.heads = r->heads();
  out.head_dim = r->head_dim();
  out.offset = r->offset();
  out.dim = r->dim();
  return out;
}

kernels::KvPages CudaBackend::cacheLayer(int layer) const {
  kernels::KvPages pages{};
  const CUdeviceptr base = kvCache.get() + layer * kvLayerBytes;
  pages.data = reinterpret_cast<void *>(base);
  if (plan_->root().kv_cache()->dtype() == plan::DType::F8E4M3)
    pages.scales = reinterpret_cast<float *>(base + kvRowsBytes);
  pages.block_tables = static_cast<const int *>(blockTables.pointer());
  pages.pages_per_seq = kvShape_.pagesPerSequence();
  return pages;
}

StepOutputs CudaBackend::run(const std::string &name, const StepInputs &in) {
  if (!plan_)
    fail("cuda backend: run('", name, "') before prepare()");
  auto found = programs.find(name);
  if (found == programs.end())
    plan_->program(name); // throws, naming the programs the plan has
  ProgramState &state = found->second;
  const plan::Program &program = *state.program;
  const int tokens = static_cast<int>(in.tokens.size());
  const int logitRows = static_cast<int>(in.logitRows.size());
  checkStepInputs(program, in, kvShape_);
  check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent");

  // Block tables, then the inputs: staged in pinned memory, copied into the
  // fixed table buffer and their arena buffers.
  auto *stage = static_cast<int32_t *>(staging.get());
  std::memcpy(stage, in.blockTables.data(),
              in.blockTables.size() * sizeof(int32_t));
  check(driver.cuMemcpyHtoDAsync(blockTables.get(), stage,
                                 in.blockTables.size() * sizeof(int32_t),
                                 stream),
        "copying the block tables");
  stage += in.blockTables.size();
  const std::vector<int32_t> *sources[abi::kNumProgramInputs] = {
      &in.tokens, &in.positions, &in.seqIds, &in.logitRows};
  for (int i = 0; i < abi::kNumProgramInputs; ++i) {
    const plan::Buffer &b = *program.buffers()->Get(program.inputs()->Get(i));
    std::memcpy(stage, sources[i]->data(),
                sources[i]->size() * sizeof(int32_t));
    check(driver.cuMemcpyHtoDAsync(arena.get() + b.offset(), stage,
                                   sources[i]->size() * sizeof(int32_t),
                                   stream),
          "copying the step's inputs");
    stage += sources[i]->size();
  }
  const bool samples = programSamples(program);
  if (samples) {
    const std::vector<int32_t> words = samplingInput(in);
    const plan::Buffer &b =
        *program.buffers()->Get(program.inputs()->Get(abi::kSampling));
    std::memcpy(stage, words.data(), words.size() * sizeof(int32_t));
    check(driver.cuMemcpyHtoDAsync(arena.get() + b.offset(), stage,
                                   words.size() * sizeof(int32_t), stream),
          "copying the sampling parameters");
    stage += words.size();
  }

  // The decode step replays a CUDA graph per (T, R): launch gaps vanish.
  if (useGraphs && name == abi::kDecode) {
    CUgraphExec &exec = state.graphs[{tokens, logitRows}];
    if (!exec) {
      check(driver.cuStreamBeginCapture(stream,
                                        CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
            "cuStreamBeginCapture");
      launchSteps(state, tokens, logitRows);
      CUgraph graph = nullptr;
      check(driver.cuStreamEndCapture(stream, &graph), "cuStreamEndCapture");
      check(driver.cuGraphInstantiate(&exec, graph, 0), "cuGraphInstantiate");
      driver.cuGraphDestroy(graph);
    }
    check(driver.cuGraphLaunch(exec, stream), "cuGraphLaunch");
  } else {
    launchSteps(state, tokens, logitRows);
  }

  // Outputs: the logits only when asked (a sampling plan's step returns its
  // tokens: kSampleCols ids and logprobs per row instead of V logits).
  const bool logits = in.wantLogits || !samples;
  const bool drafts = programHasDrafts(program);
  auto fetch = [&](int output, size_t bytes, const char *what) {
    const plan::Buffer &b =
        *program.buffers()->Get(program.outputs()->Get(output));
    void *at = stage;
    check(driver.cuMemcpyDtoHAsync(at, arena.get() + b.offset(), bytes, stream),
          what);
    stage += bytes / sizeof(int32_t);
    return at;
  };
  const size_t values =
      size_t(logitRows) *
      program.buffers()->Get(program.outputs()->Get(abi::kLogits))->cols();
  const size_t sampled = size_t(logitRows) * abi::kSampleCols;
  const int outputs = int(program.outputs()->size());
  void *logitsAt =
      logits ? fetch(abi::kLogits, sizeof(float) * values, "copying the logits")
             : nullptr;
  void *draftsAt = drafts ? fetch(abi::kDrafts, sizeof(int32_t) * logitRows,
                                  "copying the drafts")
                          : nullptr;
  void *idsAt = samples ? fetch(outputs - 2, sizeof(int32_t) * sampled,
                                "copying the sampled ids")
                        : nullptr;
  void *lpAt = samples ? fetch(outputs - 1, sizeof(float) * sampled,
                               "copying the sampled logprobs")
                       : nullptr;
  waitForStream("running the step");
  StepOutputs result;
  if (logits && plan_->logitsSharded()) { // the rank's columns: gather
    const int64_t cols = int64_t(values) / std::max(logitRows, 1);
    result.logits.resize(values * size_t(comm_->size()));
    allGatherColumns(*comm_, static_cast<const float *>(logitsAt), logitRows,
                     cols, cols, result.logits.data(), cols * comm_->size());
  } else if (logits) {
    const float *l = static_cast<const float *>(logitsAt);
    result.logits.assign(l, l + values);
  }
  if (drafts) {
    const int32_t *d = static_cast<const int32_t *>(draftsAt);
    result.drafts.assign(d, d + logitRows);
  }
  if (samples) {
    const int32_t *ids = static_cast<const int32_t *>(idsAt);
    const float *lp = static_cast<const float *>(lpAt);
    result.sampledIds.assign(ids, ids + sampled);
    result.sampledLogprobs.assign(lp, lp + sampled);
  }
  return result;
}

void CudaBackend::launchSteps(const ProgramState &state, int tokens,
                              int logitRows) {
  const plan::Program &program = *state.program;
  for (const plan::Step *step : *program.steps())
    launchStep(*step, program, tokens, logitRows);
}

} // namespace cuda
} // namespace moela
