//===- Plan.h - Opening and checking a compiled plan ----------------------===//
//
// A plan file (runtime/schema/plan.fbs) is read whole, checked with the
// flatbuffers Verifier and then with moela's own semantic rules (indices in
// range, operand counts per step family, column views inside their buffers,
// operand widths against the step's parameters and weights, schema version),
// so that the backends can trust it.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_PLAN_H
#define MOELA_RUNTIME_PLAN_H

#include "moela/Runtime/ModelConfig.h"
#include "moela/Runtime/Rope.h"
#include "moela/Runtime/StepFamily.h"
#include "moela/Runtime/Weights.h"

#include "plan_generated.h"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace moela {

/// Bumped whenever a reader must know about a schema change (plan.fbs).
constexpr uint32_t kPlanSchemaVersion = 7;

/// The most activation memory a plan may declare, all its programs' arenas
/// together (64 GiB; DeepSeek-V3 at 2048 prefill tokens takes 1.4 GB). The
/// verifier proves it before any backend allocates (BufferRules.cpp).
constexpr int64_t kMaxActivationBytes = int64_t(64) << 30;

/// The matrix a Weight binds: its parts' rows concatenated. A 1-D tensor [n]
/// is n rows of one column. For an expert set this is one expert's matrix.
struct WeightShape {
  int64_t rows = 0;
  int64_t cols = 0;
  int rank = 0;    // of the parts: 1 or 2
  int experts = 0; // 0 = a single matrix, else an expert set of that many
  /// Expert parallelism: `experts` per rank of a layer's experts * parts.
  int expertParts = 1;
  /// The layer's experts, which the steps' params count.
  int64_t totalExperts() const { return int64_t(experts) * expertParts; }
};

class Plan {
public:
  /// Reads and verifies `path`; throws moela::Error naming the file and the
  /// broken rule (not a plan, truncated, wrong version, index out of range...).
  static Plan load(const std::string &path);
  /// Verifies an in-memory plan; `origin` names it in errors.
  static Plan fromBytes(std::vector<uint8_t> bytes, const std::string &origin);

  Plan(Plan &&) = default;
  Plan &operator=(Plan &&) = default;
  Plan(const Plan &) = delete;
  Plan &operator=(const Plan &) = delete;

  const plan::Plan &root() const { return *root_; }
  const ModelConfig &config() const { return config_; }
  /// The program called `name`; throws if the plan has none.
  const plan::Program &program(const std::string &name) const;
  bool hasProgram(const std::string &name) const;
  /// The bound shape of weight `index` (checked against every step using it).
  const WeightShape &weightShape(uint32_t index) const;
  /// The checkpoint tensors of weight `index` as rank `rank` binds them (one
  /// per part; expert sets expanded for the rank's expert `expert`, i.e. "{e}"
  /// replaced by its checkpoint index; sharded tensors sliced for the rank).
  std::vector<TensorSpec> tensorSpecs(uint32_t index, int expert = -1,
                                      int rank = 0) const;
  /// Ranks that run the plan together (1 for a single-device plan).
  int worldSize() const { return root_->world_size(); }
  /// Whether the programs' logits output holds only the rank's vocab
  /// columns (docs/parallel.md): the backends gather them when asked for.
  bool logitsSharded() const {
    return root_->layout() && root_->layout()->logits_sharded();
  }
  const std::string &origin() const { return origin_; }

private:
  Plan() = default;

  std::vector<uint8_t> bytes_; // the whole file; root_ points into it
  const plan::Plan *root_ = nullptr;
  ModelConfig config_;
  std::vector<WeightShape> weightShapes_;
  std::string origin_;
};

/// The plan's ModelConfig and Yarn tables from a config, and back
/// (runtime/plan/PlanConfig.cpp: the one mapping). Yarn absent: disabled.
flatbuffers::Offset<plan::ModelConfig>
writeModelConfig(flatbuffers::FlatBufferBuilder &fbb,
                 const ModelConfig &config);
flatbuffers::Offset<plan::Yarn> writeYarn(flatbuffers::FlatBufferBuilder &fbb,
                                          const YarnConfig &yarn);
ModelConfig toModelConfig(const plan::ModelConfig &config);
YarnConfig toYarnConfig(const plan::Yarn *yarn);
/// A step's RoPE.
RopeSpec toRopeSpec(const plan::Rope &rope);

/// The rows of buffer `b` in a run of `tokens` tokens and `logitRows` logit
/// rows (its RowKind times its row_factor).
inline int64_t bufferRows(const plan::Buffer &b, int64_t tokens,
                          int64_t logitRows) {
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

/// Verifies plan bytes as Plan::fromBytes does, without throwing (for the
/// compiler, built without exceptions): the error, or "" for a good plan.
std::string verifyPlanBytes(const std::vector<uint8_t> &bytes,
                            const std::string &origin);

/// Human-readable listing: config, programs with their steps (operands by
/// role) and buffers, weights, kernels.
void dumpPlan(const Plan &plan, std::ostream &os);
/// The same as JSON; has a "kernels" array of {name, family, arch, cubin_bytes,
/// ...}.
void dumpPlanJson(const Plan &plan, std::ostream &os);

} // namespace moela

#endif // MOELA_RUNTIME_PLAN_H
