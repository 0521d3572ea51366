//===- PlanVerify.cpp - moela's semantic rules for a plan -----------------===//
//
// The flatbuffers Verifier only proves that the bytes can be read safely. This
// file checks what the backends rely on at the plan's level: weights and their
// scales, the KV cache, the programs' buffers, inputs and outputs, and that
// the programs agree with each other (MTP drafts, an @extend for a fresh-only
// @prefill). Each step is then checked by StepChecker (every index in range,
// every view inside its buffer, no output overwriting an input it still has to
// read) and by its family's rule in StepRules.cpp. Each rule fails with one
// line naming program, step and rule.
//
//===----------------------------------------------------------------------===//
#include "PlanVerify.h"
#include "kernels/Abi.h"

#include "StepChecker.h"

#include "moela/Runtime/CheckedInt.h"

#include <algorithm>
#include <set>
#include <string>

namespace moela {
namespace {

using namespace planverify;

/// Sizes stay far from overflow: a weight part has at most 2^40 elements.
constexpr int64_t kMaxWeightElements = int64_t(1) << 40;

class PlanVerifier {
public:
  PlanVerifier(const plan::Plan &plan, const ModelConfig &config,
               const std::string &origin)
      : plan_(plan), config_(config), origin_(origin) {}

  std::vector<WeightShape> run() {
    if (plan_.world_size() < 1)
      fail(origin_, ": world_size ", plan_.world_size(), " must be >= 1");
    checkWeights();
    checkKvCache();
    if (!plan_.programs() || plan_.programs()->size() == 0)
      fail(origin_, ": the plan has no programs");
    std::set<std::string> names;
    for (size_t i = 0; i < plan_.programs()->size(); ++i) {
      const plan::Program &program = *plan_.programs()->Get(i);
      if (!program.name() || program.name()->size() == 0)
        fail(origin_, ": program ", i, " has no name");
      if (!names.insert(program.name()->str()).second)
        fail(origin_, ": two programs are called '", program.name()->str(),
             "'");
      checkProgram(program);
    }
    // The host backend allocates every program's buffers at once.
    CheckedInt total = 0;
    for (const plan::Program *program : *plan_.programs())
      total = total + CheckedInt(int64_t(program->arena_bytes()));
    if (!total.fitsIn(kMaxActivationBytes))
      fail(origin_, ": the programs' arenas take ", total,
           " bytes together, more than the limit of ", kMaxActivationBytes,
           " bytes of activations");
    // Drafts come from every program or from none (the engine speculates
    // across prefill and decode).
    for (const plan::Program *program : *plan_.programs())
      if (program->outputs() && plan_.programs()->Get(0)->outputs() &&
          program->outputs()->size() !=
              plan_.programs()->Get(0)->outputs()->size())
        fail(origin_, ": program '", program->name()->str(), "' has ",
             program->outputs()->size(), " outputs but program '",
             plan_.programs()->Get(0)->name()->str(), "' has ",
             plan_.programs()->Get(0)->outputs()->size(),
             " (MTP drafts come from all programs or none)");
    // A chunk that continues a sequence needs a program without that
    // restriction (moela-mla-expand-prefill makes @extend).
    for (const plan::Program *program : *plan_.programs())
      if (program->fresh_sequences() && !names.count(abi::kExtend))
        fail(origin_, ": program '", program->name()->str(),
             "' has fresh_sequences but the plan has no 'extend' program for "
             "chunks that continue a sequence");
    return shapes_;
  }

private:
  void checkWeights() {
    const auto *weights = plan_.weights();
    size_t n = weights ? weights->size() : 0;
    for (size_t i = 0; i < n; ++i) {
      const plan::Weight &w = *weights->Get(i);
      auto where = [&] {
        std::string first =
            w.parts() && w.parts()->size() && w.parts()->Get(0)->name()
                ? w.parts()->Get(0)->name()->str()
                : std::string();
        return origin_ + ": weight " + std::to_string(i) + " '" + first + "'";
      };
      if (!w.parts() || w.parts()->size() == 0)
        fail(where(), ": has no parts");
      if (w.experts() < 0)
        fail(where(), ": experts ", w.experts(), " must be >= 0");
      // Expert parallelism splits a set over every rank or not at all.
      const int worldSize = plan_.world_size();
      if (w.expert_parts() != 1 && w.expert_parts() != worldSize)
        fail(where(), ": expert_parts ", w.expert_parts(),
             " must be 1 or world_size ", worldSize);
      if (w.expert_parts() > 1 && w.experts() == 0)
        fail(where(), ": expert_parts ", w.expert_parts(),
             " on a weight that is not an expert set");
      WeightShape shape;
      shape.experts = w.experts();
      shape.expertParts = w.expert_parts();
      CheckedInt rowsSum = 0, elements = 0;
      for (size_t j = 0; j < w.parts()->size(); ++j) {
        const plan::TensorRef &t = *w.parts()->Get(j);
        if (!t.name() || t.name()->size() == 0)
          fail(where(), ": part ", j, " has no name");
        std::string name = t.name()->str();
        if (!isValidDType(t.dtype()))
          fail(where(), ": part '", name, "' has unknown dtype ",
               int(t.dtype()));
        if (!t.shape() || t.shape()->size() < 1 || t.shape()->size() > 2)
          fail(where(), ": part '", name,
               "' must have a shape of 1 or 2 dimensions");
        for (int64_t d : *t.shape())
          if (d <= 0)
            fail(where(), ": part '", name, "' has shape ",
                 shapeString(*t.shape()), " with a dimension <= 0");
        elements = elements + checkedProduct(*t.shape());
        if (!checkedProduct(*t.shape()).fitsIn(kMaxWeightElements))
          fail(where(), ": part '", name, "' of shape ",
               shapeString(*t.shape()), " is larger than 2^40 elements");
        if (t.quantize_at_load() && (t.dtype() != plan::DType::F8E4M3 ||
                                     !t.scale_name() || t.shape()->size() != 2))
          fail(where(), ": part '", name,
               "' is quantized at load but is not a 2-D FP8 tensor with a "
               "scale name");
        if (w.experts() > 0 && name.find("{e}") == std::string::npos)
          fail(where(), ": part '", name,
               "' of an expert set must contain \"{e}\"");
        int rank = int(t.shape()->size());
        // A sharded tensor is cut over every rank along one of its dims.
        if (t.shard_parts() != 1 && t.shard_parts() != worldSize)
          fail(where(), ": part '", name, "' has shard_parts ", t.shard_parts(),
               ", must be 1 or world_size ", worldSize);
        if (t.shard_dim() < -1 || t.shard_dim() >= rank)
          fail(where(), ": part '", name, "' has shard_dim ", t.shard_dim(),
               ", must be -1 or a dim of its ", rank, "-D shape");
        if (t.shard_parts() > 1 && t.shard_dim() < 0)
          fail(where(), ": part '", name, "' has shard_parts ", t.shard_parts(),
               " but no shard_dim");
        // The checkpoint holds every rank's slice.
        if (!(checkedProduct(*t.shape()) * t.shard_parts())
                 .fitsIn(kMaxWeightElements))
          fail(where(), ": part '", name, "' of shape ",
               shapeString(*t.shape()), " x ", t.shard_parts(),
               " shard parts is larger than 2^40 elements");
        int64_t rows = t.shape()->Get(0);
        int64_t cols = rank == 2 ? t.shape()->Get(1) : 1;
        if (j == 0) {
          shape.rank = rank;
          shape.cols = cols;
        } else if (rank != shape.rank || cols != shape.cols) {
          fail(where(), ": part '", name, "' of shape ",
               shapeString(*t.shape()),
               " cannot be concatenated by rows with the first part");
        }
        rowsSum = rowsSum + rows;
      }
      if (!rowsSum.fitsIn(kMaxWeightElements))
        fail(where(), ": its parts have ", rowsSum,
             " rows together, more than 2^40");
      shape.rows = *rowsSum.get();
      // Expert sets are allocated whole.
      const CheckedInt total = elements * std::max(1, w.experts());
      if (!total.fitsIn(kMaxWeightElements))
        fail(where(), ": ", std::max(1, w.experts()), " x ", elements,
             " elements is more than 2^40");
      shapes_.push_back(shape);
    }
  }

  void checkKvCache() {
    const plan::KvCache *kv = plan_.kv_cache();
    if (!kv)
      return;
    if (kv->layers() <= 0 || kv->latent_dim() <= 0 || kv->rope_dim() < 0 ||
        kv->rope_dim() % 2 != 0)
      fail(origin_,
           ": kv_cache needs layers > 0, latent_dim > 0 and an even "
           "rope_dim >= 0, got ",
           kv->layers(), ", ", kv->latent_dim(), ", ", kv->rope_dim());
    // The cache holds the model's latent and rope key: no other sizes.
    if (kv->latent_dim() != config_.kvLoraRank ||
        kv->rope_dim() != config_.qkRopeHeadDim)
      fail(origin_, ": kv_cache latent_dim ", kv->latent_dim(),
           " and rope_dim ", kv->rope_dim(),
           " must equal the model's kv_lora_rank ", config_.kvLoraRank,
           " and qk_rope_head_dim ", config_.qkRopeHeadDim);
    if (kv->dtype() != plan::DType::F32 && kv->dtype() != plan::DType::BF16 &&
        kv->dtype() != plan::DType::F8E4M3)
      fail(origin_, ": kv_cache dtype ", plan::EnumNameDType(kv->dtype()),
           " is not supported (F32, BF16, F8E4M3)");
    // Pages are a runtime-kernel fact: a plan of another page size would
    // be read with the wrong block tables.
    if (kv->page_tokens() != abi::kKvPageTokens)
      fail(origin_, ": kv_cache page_tokens ", kv->page_tokens(),
           " is not this runtime's page size ", abi::kKvPageTokens,
           " (recompile the model)");
    if (kv->layers() > config_.numHiddenLayers + config_.numNextnPredictLayers)
      fail(origin_, ": kv_cache has ", kv->layers(),
           " layers, more than the model's num_hidden_layers + "
           "num_nextn_predict_layers = ",
           config_.numHiddenLayers + config_.numNextnPredictLayers);
  }

  void checkProgram(const plan::Program &program) {
    const std::string where =
        origin_ + ": program '" + program.name()->str() + "'";
    checkBuffers(program, where);
    const auto *buffers = program.buffers();

    // Inputs: tokens, positions, seq_ids [T]; logit_rows [R]; with a Sample
    // step (moela-sample) sampling [R, kSamplingWords]. Outputs: logits
    // [R, V], MTP drafts [R], then the Sample step's ids and logprobs.
    static const char *const inputNames[] = {"tokens", "positions", "seq_ids",
                                             "logit_rows", "sampling"};
    const size_t inputs = program.inputs() ? program.inputs()->size() : 0;
    if (inputs != abi::kNumProgramInputs &&
        inputs != abi::kNumProgramInputs + 1)
      fail(where,
           ": needs 4 inputs (tokens, positions, seq_ids, logit_rows) or 5 "
           "(and sampling), got ",
           inputs);
    auto checkIo = [&](const char *what, size_t i, const char *name,
                       uint32_t index, plan::DType dtype, int64_t cols,
                       plan::RowKind kind) {
      if (index >= buffers->size())
        fail(where, ": ", what, " ", i, " (", name, ") buffer index ", index,
             " out of range (program has ", buffers->size(), " buffers)");
      const plan::Buffer &b = *buffers->Get(index);
      if (b.dtype() != dtype || b.cols() != cols || b.row_kind() != kind ||
          b.row_factor() != 1)
        fail(where, ": ", what, " ", i, " (", name, ") buffer '",
             b.name()->str(), "' must be ", plan::EnumNameDType(dtype),
             " with ", cols, " column", cols == 1 ? "" : "s", ", ",
             rowKindName(kind), " rows and row_factor 1");
    };
    for (size_t i = 0; i < inputs; ++i)
      checkIo("input", i, inputNames[i], program.inputs()->Get(i),
              plan::DType::I32, i == abi::kSampling ? abi::kSamplingWords : 1,
              i < abi::kLogitRows ? plan::RowKind::PerToken
                                  : plan::RowKind::PerLogitRow);
    const bool sampled = inputs > abi::kNumProgramInputs;
    const size_t outputs = program.outputs() ? program.outputs()->size() : 0;
    const size_t sampleOutputs = sampled ? 2 : 0;
    if (outputs != 1 + sampleOutputs && outputs != 2 + sampleOutputs)
      fail(where, ": needs ", 1 + sampleOutputs,
           sampled ? " outputs (logits" : " output (logits",
           sampled ? ", ids, logprobs" : "", ") or ", 2 + sampleOutputs,
           " (logits, MTP drafts", sampled ? ", ids, logprobs" : "", "), got ",
           outputs);
    if (outputs - sampleOutputs == 2)
      checkIo("output", 1, "drafts", program.outputs()->Get(1),
              plan::DType::I32, 1, plan::RowKind::PerLogitRow);
    if (sampled) {
      checkIo("output", outputs - 2, "ids", program.outputs()->Get(outputs - 2),
              plan::DType::I32, abi::kSampleCols, plan::RowKind::PerLogitRow);
      checkIo("output", outputs - 1, "logprobs",
              program.outputs()->Get(outputs - 1), plan::DType::F32,
              abi::kSampleCols, plan::RowKind::PerLogitRow);
    }
    uint32_t outIndex = program.outputs()->Get(0);
    if (outIndex >= buffers->size())
      fail(where, ": output buffer index ", outIndex,
           " out of range (program has ", buffers->size(), " buffers)");
    const plan::Buffer &out = *buffers->Get(outIndex);
    // A plan whose logits are sharded returns the rank's vocab columns.
    const bool sharded = plan_.layout() && plan_.layout()->logits_sharded();
    const int64_t logitCols =
        sharded ? config_.vocabSize / plan_.world_size() : config_.vocabSize;
    if (sharded &&
        (plan_.world_size() < 2 || config_.vocabSize % plan_.world_size() != 0))
      fail(where, ": layout.logits_sharded needs a vocab_size (",
           config_.vocabSize, ") divisible by world_size ", plan_.world_size(),
           " >= 2");
    if (out.dtype() != plan::DType::F32 ||
        out.row_kind() != plan::RowKind::PerLogitRow || out.row_factor() != 1 ||
        out.cols() != logitCols)
      fail(where, ": output buffer '", out.name()->str(),
           "' must be F32 with PerLogitRow rows, row_factor 1 and ",
           sharded ? "vocab_size / world_size " : "vocab_size ", logitCols,
           " columns, got ", out.cols(), " columns");

    const size_t numWeights = shapes_.size();
    const size_t numKernels = plan_.kernels() ? plan_.kernels()->size() : 0;
    if (program.steps())
      for (size_t i = 0; i < program.steps()->size(); ++i) {
        const plan::Step &step = *program.steps()->Get(i);
        StepChecker s(program, step, int(i), shapes_, origin_);
        s.checkIndices(numWeights, numKernels);
        checkStepFamily(s, plan_, config_);
        s.checkAliasing();
      }
    // Last: it follows the (now checked) buffer indices of every step.
    checkArena(program, where);
  }

  const plan::Plan &plan_;
  const ModelConfig &config_;
  const std::string &origin_;
  std::vector<WeightShape> shapes_;
};

} // namespace

std::vector<WeightShape> verifyPlanSemantics(const plan::Plan &plan,
                                             const ModelConfig &config,
                                             const std::string &origin) {
  return PlanVerifier(plan, config, origin).run();
}

} // namespace moela
