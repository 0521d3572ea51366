//===- StepFamily.h - Each plan step family declared once -----------------===//
//
// A step family (a plan.fbs StepParams member) is declared once, in
// runtime/plan/StepFamilies.cpp: the roles of its inputs, outputs and
// weights in plan order, the element types they allow, the parameter that
// makes an optional one present, and the inputs an output may overwrite in
// place. Everyone who writes or reads steps goes through this declaration
// (docs/architecture.md, "The compiler-runtime contract"):
//   - the plan writer (lib/Plan) sets operands by role; StepBuilder orders
//   them;
//   - the verifier (runtime/plan) checks counts and element types generically
//     and its per-family rules ask for operands by role;
//   - --dump-plan names every operand by its role;
//   - the host and CUDA backends read operands by role through StepOperands.
// Parameters are declared by the plan.fbs tables themselves.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_STEPFAMILY_H
#define MOELA_RUNTIME_STEPFAMILY_H

#include "plan_generated.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moela {

/// What an operand or weight is to its step (StepRoles.def).
enum class Role : uint8_t {
#define ROLE(enumerator, name) enumerator,
#include "moela/Runtime/StepRoles.def"
  Count
};
constexpr int kNumRoles = static_cast<int>(Role::Count);
static_assert(kNumRoles <= 64, "role sets are 64-bit masks");

/// "positions", "W", ...
const char *roleName(Role role);

/// The element types an operand's buffer may have.
enum class Elem : uint8_t {
  Float,     // F32, BF16 or F16
  FloatOrF8, // also F8E4M3 with block scales (W8A8, docs/model.md §3.4)
  I32,       // an I32 matrix
  I32Vector, // an I32 vector [n]: one column
};

/// When an operand or weight is present: always, or when a parameter of the
/// step is set (or, negated, unset).
struct Presence {
  const char *param = nullptr; // null: always present
  bool (*isSet)(const plan::Step &) = nullptr;
  bool negated = false;

  bool holds(const plan::Step &step) const {
    return !isSet || isSet(step) != negated;
  }
};

struct OperandDecl {
  Role role;
  Elem elem;
  Presence when;
};

struct WeightDecl {
  Role role;
  int rank;       // of the checkpoint tensors: 1 or 2
  bool expertSet; // one matrix per routed expert
  Presence when;
};

/// The operand list of a step family, in plan order.
struct StepFamily {
  plan::StepParams type;
  const char *name; // "Gemm"
  std::vector<OperandDecl> inputs;
  std::vector<OperandDecl> outputs;
  std::vector<WeightDecl> weights;
  /// Inputs an output may overwrite, as the very same view (element-wise).
  std::vector<Role> inPlace;
};

/// Every family, in StepParams order.
const std::vector<StepFamily> &stepFamilies();
/// The declaration of `type`; throws moela::Error for an unknown family.
const StepFamily &stepFamily(plan::StepParams type);
/// The same, or null (for code built without exceptions).
const StepFamily *findStepFamily(plan::StepParams type);
/// "Gemm", "MlaAttention", ...; "None" / "unknown" outside the union.
const char *stepFamilyName(plan::StepParams type);

/// Role sets, one bit per Role.
using RoleSet = uint64_t;
constexpr RoleSet roleBit(Role role) {
  return RoleSet(1) << static_cast<int>(role);
}

/// Which operand of a step plays which role: the step's declaration resolved
/// against its parameters. Reading a role the step does not have is an error,
/// so a backend that disagrees with the declaration fails loudly.
class StepOperands {
public:
  /// Throws moela::Error when the step's operand and weight counts differ from
  /// what its declaration and parameters give (the verifier reports this with
  /// the roles listed before any backend sees the step). `consumer` names the
  /// reader in audits ("host backend").
  StepOperands(const plan::Step &step, const char *consumer);
  ~StepOperands();
  StepOperands(const StepOperands &) = delete;
  StepOperands &operator=(const StepOperands &) = delete;

  const plan::Step &step() const { return step_; }
  const StepFamily &family() const { return family_; }

  bool hasIn(Role role) const { return in_[index(role)] >= 0; }
  bool hasOut(Role role) const { return out_[index(role)] >= 0; }
  bool hasWeight(Role role) const { return weight_[index(role)] >= 0; }

  const plan::Operand &in(Role role) const;
  const plan::Operand &out(Role role) const;
  /// The plan weight index (into Plan.weights).
  uint32_t weight(Role role) const;
  /// The position of a role in the step's inputs / outputs / weights.
  int inIndex(Role role) const { return in_[index(role)]; }
  int outIndex(Role role) const { return out_[index(role)]; }
  int weightIndex(Role role) const { return weight_[index(role)]; }

  /// The roles present, and those read so far, per list.
  struct Audit {
    const char *consumer;
    plan::StepParams family;
    RoleSet present[3]; // inputs, outputs, weights
    RoleSet read[3];
  };
  Audit audit() const;

private:
  static int index(Role role) { return static_cast<int>(role); }

  const plan::Step &step_;
  const StepFamily &family_;
  const char *consumer_;
  int8_t in_[kNumRoles], out_[kNumRoles], weight_[kNumRoles];
  mutable RoleSet read_[3] = {0, 0, 0};
};

/// The plan writer's side: operands and weights set by role, in any order,
/// come out in the order the family declares. It throws nothing (the
/// compiler is built without exceptions): a role the family does not declare
/// in that list, or one set twice, is kept as error().
class StepBuilder {
public:
  explicit StepBuilder(const StepFamily &family) : family_(family) {}

  void in(Role role, const plan::Operand &operand);
  void out(Role role, const plan::Operand &operand);
  void weight(Role role, uint32_t index);

  std::vector<plan::Operand> inputs() const;
  std::vector<plan::Operand> outputs() const;
  std::vector<uint32_t> weights() const;
  /// Empty, or what was wrong first.
  const std::string &error() const { return error_; }

private:
  template <typename Decl, typename Value>
  void add(const std::vector<Decl> &decls, const char *list,
           std::vector<std::pair<Role, Value>> &set, Role role,
           const Value &value);

  const StepFamily &family_;
  std::vector<std::pair<Role, plan::Operand>> in_, out_;
  std::vector<std::pair<Role, uint32_t>> weight_;
  std::string error_;
};

/// Tests observe which roles each consumer reads (StepRolesTest): when set,
/// the hook sees every StepOperands as it is destroyed. Not for production.
using RoleAuditHook = void (*)(const StepOperands::Audit &);
void setRoleAuditHook(RoleAuditHook hook);

} // namespace moela

#endif // MOELA_RUNTIME_STEPFAMILY_H
