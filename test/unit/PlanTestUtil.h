//===- PlanTestUtil.h - Building small plans in unit tests ----------------===//
//
// PlanDesc is a plain C++ description of a plan (weights, programs, buffers,
// steps) that build() serialises with a FlatBufferBuilder; tests edit the
// description (or the bytes) to produce every kind of broken plan. MapWeights
// is a WeightSource over tensors the test chose, so that reference
// computations use the very same numbers.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_UNIT_PLANTESTUTIL_H
#define MOELA_TEST_UNIT_PLANTESTUTIL_H

#include "kernels/Abi.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/ModelConfig.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Weights.h"

#include "plan_generated.h"

#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace moela::test {

using ParamsFn =
    std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder &)>;

struct TensorDesc {
  std::string name;
  std::vector<int64_t> shape;
  plan::DType dtype = plan::DType::F32;
  std::string scaleName; // FP8 block scales; empty = none
  std::vector<int64_t> scaleShape;
  bool quantizeAtLoad = false;
  int shardDim = -1; // multi-device plans: the slice of each rank
  int shardParts = 1;
};

struct WeightDesc {
  std::vector<TensorDesc> parts;
  int experts = 0;
  int expertParts = 1; // expert parallelism: experts per rank x parts
};

struct BufferDesc {
  std::string name;
  int64_t cols = 1;
  plan::RowKind kind = plan::RowKind::PerToken;
  int64_t factor = 1;
  plan::DType dtype = plan::DType::F32;
  int scales = -1; // F8: the buffer of its block scales
};

struct StepDesc {
  std::string name;
  plan::StepParams type = plan::StepParams::NONE;
  ParamsFn params;
  std::vector<plan::Operand> inputs, outputs;
  std::vector<uint32_t> weights;
  int kernel = -1;
};

/// The standard buffers every program starts with.
enum : uint32_t {
  kTokens = 0,
  kPositions = 1,
  kSeqIds = 2,
  kLogitRows = 3,
  kLogits = 4
};

struct ProgramDesc {
  std::string name;
  int maxTokens = 8;
  int maxLogitRows = 8;
  std::vector<BufferDesc> buffers;
  std::vector<uint32_t> inputs, outputs;
  std::vector<StepDesc> steps;
  bool freshSequences = false;

  /// tokens, positions, seq_ids, logit_rows and logits [R, vocab].
  static ProgramDesc standard(std::string name, int maxTokens, int maxLogitRows,
                              int64_t vocab) {
    ProgramDesc p;
    p.name = std::move(name);
    p.maxTokens = maxTokens;
    p.maxLogitRows = maxLogitRows;
    p.add("tokens", 1, plan::RowKind::PerToken, 1, plan::DType::I32);
    p.add("positions", 1, plan::RowKind::PerToken, 1, plan::DType::I32);
    p.add("seq_ids", 1, plan::RowKind::PerToken, 1, plan::DType::I32);
    p.add("logit_rows", 1, plan::RowKind::PerLogitRow, 1, plan::DType::I32);
    p.add("logits", vocab, plan::RowKind::PerLogitRow);
    p.inputs = {kTokens, kPositions, kSeqIds, kLogitRows};
    p.outputs = {kLogits};
    return p;
  }

  uint32_t add(std::string bufferName, int64_t cols,
               plan::RowKind kind = plan::RowKind::PerToken, int64_t factor = 1,
               plan::DType dtype = plan::DType::F32) {
    buffers.push_back({std::move(bufferName), cols, kind, factor, dtype});
    return uint32_t(buffers.size() - 1);
  }
  /// Bytes of `d` at max_tokens / max_logit_rows, aligned as plans are.
  uint64_t bufferBytes(const BufferDesc &d) const {
    const int64_t rows =
        d.factor * (d.kind == plan::RowKind::PerToken      ? maxTokens
                    : d.kind == plan::RowKind::PerLogitRow ? maxLogitRows
                                                           : 1);
    const uint64_t raw =
        uint64_t(rows * d.cols) * dtypeSize(static_cast<DType>(d.dtype));
    return (raw + abi::kBufferAlign - 1) / abi::kBufferAlign *
           abi::kBufferAlign;
  }
  /// The whole of buffer b, or columns [offset, offset + cols).
  plan::Operand op(uint32_t b) const {
    return plan::Operand(b, 0, uint32_t(buffers[b].cols));
  }
  plan::Operand op(uint32_t b, uint32_t offset, uint32_t cols) const {
    return plan::Operand(b, offset, cols);
  }
};

/// A RoPE as plan.fbs describes it.
struct RopeDesc {
  double theta = 10000.0;
  int dim = 0;
  int heads = 1;
  int headDim = 0;
  int offset = 0;
  YarnConfig yarn; // enabled = false: plain

  flatbuffers::Offset<plan::Rope>
  build(flatbuffers::FlatBufferBuilder &b) const {
    flatbuffers::Offset<plan::Yarn> y;
    if (yarn.enabled)
      y = plan::CreateYarn(b, yarn.factor, yarn.originalMaxPositionEmbeddings,
                           yarn.betaFast, yarn.betaSlow, yarn.mscale,
                           yarn.mscaleAllDim);
    return plan::CreateRope(b, theta, dim, y, heads, headDim, offset);
  }
};

struct PlanDesc {
  uint32_t schemaVersion = kPlanSchemaVersion;
  ModelConfig config;
  std::string target = "host";
  std::vector<WeightDesc> weights;
  std::vector<ProgramDesc> programs;
  bool hasKvCache = false;
  int kvLayers = 1, kvLatent = 0, kvRope = 0;
  plan::DType kvDtype = plan::DType::F32;
  int kvPageTokens = abi::kKvPageTokens;
  std::vector<std::string> kernels; // names of (empty) CUDA kernels
  int worldSize = 1;

  uint32_t addWeight(std::vector<TensorDesc> parts, int experts = 0) {
    weights.push_back({std::move(parts), experts});
    return uint32_t(weights.size() - 1);
  }

  std::vector<uint8_t> build() const {
    flatbuffers::FlatBufferBuilder b;
    auto model = writeModelConfig(b, config);

    std::vector<flatbuffers::Offset<plan::Weight>> ws;
    for (const WeightDesc &w : weights) {
      std::vector<flatbuffers::Offset<plan::TensorRef>> parts;
      for (const TensorDesc &t : w.parts) {
        flatbuffers::Offset<flatbuffers::String> scaleName;
        flatbuffers::Offset<flatbuffers::Vector<int64_t>> scaleShape;
        if (!t.scaleName.empty()) {
          scaleName = b.CreateString(t.scaleName);
          scaleShape = b.CreateVector(t.scaleShape);
        }
        parts.push_back(plan::CreateTensorRef(
            b, b.CreateString(t.name), t.dtype, b.CreateVector(t.shape),
            scaleName, scaleShape, t.quantizeAtLoad, t.shardDim, t.shardParts));
      }
      ws.push_back(plan::CreateWeight(b, b.CreateVector(parts), w.experts,
                                      w.expertParts));
    }

    std::vector<flatbuffers::Offset<plan::Program>> ps;
    for (const ProgramDesc &p : programs) {
      // Each buffer its own bytes in the arena, as the verifier requires.
      std::vector<flatbuffers::Offset<plan::Buffer>> bufs;
      uint64_t arena = 0;
      for (const BufferDesc &d : p.buffers) {
        const uint64_t bytes = p.bufferBytes(d);
        bufs.push_back(plan::CreateBuffer(b, b.CreateString(d.name), d.dtype,
                                          d.kind, d.factor, d.cols, arena,
                                          bytes, d.scales));
        arena += bytes;
      }
      std::vector<flatbuffers::Offset<plan::Step>> steps;
      for (const StepDesc &s : p.steps) {
        auto params = s.params ? s.params(b) : flatbuffers::Offset<void>();
        steps.push_back(plan::CreateStep(b, b.CreateString(s.name), s.type,
                                         params,
                                         b.CreateVectorOfStructs(s.inputs),
                                         b.CreateVectorOfStructs(s.outputs),
                                         b.CreateVector(s.weights), s.kernel));
      }
      ps.push_back(plan::CreateProgram(
          b, b.CreateString(p.name), p.maxTokens, p.maxLogitRows,
          b.CreateVector(bufs), b.CreateVector(p.inputs),
          b.CreateVector(p.outputs), b.CreateVector(steps), arena,
          p.freshSequences));
    }

    std::vector<flatbuffers::Offset<plan::Kernel>> ks;
    for (const std::string &k : kernels)
      ks.push_back(plan::CreateKernel(b, b.CreateString(k),
                                      b.CreateString("gemm"),
                                      b.CreateString("sm_90a")));
    flatbuffers::Offset<plan::KvCache> kv;
    if (hasKvCache)
      kv = plan::CreateKvCache(b, kvLayers, kvLatent, kvRope, kvDtype,
                               kvPageTokens);
    auto root = plan::CreatePlan(
        b, schemaVersion, b.CreateString("moela-test"), model,
        b.CreateString(target), b.CreateString("test"), b.CreateVector(ps),
        b.CreateVector(ws), kv, b.CreateVector(ks), worldSize);
    plan::FinishPlanBuffer(b, root);
    return std::vector<uint8_t>(b.GetBufferPointer(),
                                b.GetBufferPointer() + b.GetSize());
  }
};

/// A WeightSource over float32 tensors the test chose.
class MapWeights : public WeightSource {
public:
  void set(const std::string &name, std::vector<int64_t> shape,
           std::vector<float> values) {
    tensors_[name] = {std::move(shape), std::move(values)};
  }
  /// Random N(0, scale^2) values for `name`; returns them.
  const std::vector<float> &random(const std::string &name,
                                   std::vector<int64_t> shape,
                                   std::mt19937 &rng, float scale = 1.0f) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> values(static_cast<size_t>(n));
    for (float &v : values)
      v = dist(rng);
    set(name, std::move(shape), std::move(values));
    return get(name);
  }
  const std::vector<float> &get(const std::string &name) const {
    return tensors_.at(name).values;
  }

  std::vector<float> loadF32(const TensorSpec &spec) override {
    auto it = tensors_.find(spec.name);
    if (it == tensors_.end())
      fail("tensor '", spec.name, "' not in the test weights");
    if (it->second.shape != spec.shape)
      fail("tensor '", spec.name, "': shape ", shapeString(it->second.shape),
           ", plan expects ", shapeString(spec.shape));
    return it->second.values;
  }
  RawTensor loadRaw(const TensorSpec &spec) override {
    RawTensor raw;
    raw.spec = spec;
    std::vector<float> values = loadF32(spec);
    raw.data.resize(values.size() * sizeof(float));
    std::memcpy(raw.data.data(), values.data(), raw.data.size());
    return raw;
  }
  std::string describe() const override { return "test weights"; }

private:
  struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> values;
  };
  std::map<std::string, Tensor> tensors_;
};

/// A small model config: only the fields the plan checks matter.
inline ModelConfig testConfig(int64_t vocab) {
  ModelConfig c;
  c.architecture = "DeepseekV3ForCausalLM";
  c.modelType = "deepseek_v3";
  c.vocabSize = vocab;
  c.hiddenSize = 16;
  c.numHiddenLayers = 1;
  c.numAttentionHeads = 2;
  return c;
}

} // namespace moela::test

#endif // MOELA_TEST_UNIT_PLANTESTUTIL_H
