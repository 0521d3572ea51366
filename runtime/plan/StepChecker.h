//===- StepChecker.h - Checking one plan step's operands (internal) -------===//
//
// The machinery of the step rules (StepRules.cpp) and of the plan-level checks
// (PlanVerify.cpp): a StepChecker knows one step of one program, resolves its
// operands by role and checks their buffers, widths, rows and aliasing, and
// fails with one line naming program, step and rule.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_PLAN_STEPCHECKER_H
#define MOELA_RUNTIME_PLAN_STEPCHECKER_H

#include "kernels/Abi.h"
#include "moela/Runtime/CheckedInt.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/StepFamily.h"

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace moela::planverify {

inline const char *rowKindName(plan::RowKind kind) {
  switch (kind) {
  case plan::RowKind::PerToken:
    return "PerToken";
  case plan::RowKind::PerLogitRow:
    return "PerLogitRow";
  case plan::RowKind::Fixed:
    return "Fixed";
  }
  return "?";
}

/// A buffer's row count as a function of T and R: factor*T, factor*R or factor.
struct Rows {
  plan::RowKind kind = plan::RowKind::Fixed;
  int64_t factor = 0;

  bool operator==(const Rows &o) const {
    return kind == o.kind && factor == o.factor;
  }
  std::string str() const {
    std::string f = factor == 1 ? "" : std::to_string(factor) + "*";
    switch (kind) {
    case plan::RowKind::PerToken:
      return f + "T";
    case plan::RowKind::PerLogitRow:
      return f + "R";
    case plan::RowKind::Fixed:
      return std::to_string(factor);
    }
    return "?";
  }
};

inline bool isValidDType(plan::DType t) {
  return t >= plan::DType::F32 && t <= plan::DType::I64;
}

/// One operand of a step, with the label its role gives it in errors.
struct Op {
  plan::Operand operand{};
  std::string label; // "input 1 (positions)"
  Role role;
};

/// Checks one step against its family's declaration (StepFamilies.cpp) and
/// gives its rule (StepRules.cpp) the operands by role.
class StepChecker {
public:
  StepChecker(const plan::Program &program, const plan::Step &step, int index,
              const std::vector<WeightShape> &shapes, const std::string &origin)
      : program_(program), step_(step), shapes_(shapes) {
    std::ostringstream os;
    os << origin << ": program '" << program.name()->str() << "' step " << index
       << " '" << (step.name() ? step.name()->str() : std::string()) << "' ("
       << stepFamilyName(step.params_type()) << "): ";
    prefix_ = os.str();
    if (step.inputs())
      for (const plan::Operand *o : *step.inputs())
        rawIn_.push_back(*o);
    if (step.outputs())
      for (const plan::Operand *o : *step.outputs())
        rawOut_.push_back(*o);
    if (step.weights())
      for (uint32_t w : *step.weights())
        weights_.push_back(w);
  }

  template <typename... Parts> [[noreturn]] void error(Parts &&...parts) const {
    fail(prefix_, std::forward<Parts>(parts)...);
  }

  /// The generic rules: buffer and weight indices in range, views inside their
  /// buffers.
  void checkIndices(size_t numWeights, size_t numKernels) const {
    auto checkView = [&](const plan::Operand &o, const std::string &which) {
      const auto *buffers = program_.buffers();
      if (o.buffer() >= buffers->size())
        error(which, " buffer index ", o.buffer(),
              " out of range (program has ", buffers->size(), " buffers)");
      const plan::Buffer *b = buffers->Get(o.buffer());
      if (o.cols() == 0)
        error(which, " has 0 columns");
      if (uint64_t(o.col_offset()) + o.cols() > uint64_t(b->cols()))
        error(which, " columns [", o.col_offset(), ", ",
              uint64_t(o.col_offset()) + o.cols(), ") outside buffer '",
              b->name()->str(), "' of ", b->cols(), " columns");
      // A view of FP8 data starts at a scale block (docs/model.md §3.4).
      if (b->dtype() == plan::DType::F8E4M3 && o.col_offset() % abi::kFp8Block)
        error(which, " starts at column ", o.col_offset(), " of F8 buffer '",
              b->name()->str(), "', not at a 128-column scale block");
    };
    for (size_t i = 0; i < rawIn_.size(); ++i)
      checkView(rawIn_[i], "input " + std::to_string(i));
    for (size_t i = 0; i < rawOut_.size(); ++i)
      checkView(rawOut_[i], "output " + std::to_string(i));
    for (size_t i = 0; i < weights_.size(); ++i)
      if (weights_[i] >= numWeights)
        error("weight ", i, " index ", weights_[i], " out of range (plan has ",
              numWeights, " weights)");
    if (step_.kernel() < -1 ||
        (step_.kernel() >= 0 && size_t(step_.kernel()) >= numKernels))
      error("kernel index ", step_.kernel(), " out of range (plan has ",
            numKernels, " kernels)");
  }

  /// The declaration's rules: operand and weight counts for the step's
  /// parameters, each operand's element type, each weight's rank and kind.
  void checkDeclaration() {
    const StepFamily *family = findStepFamily(step_.params_type());
    if (!family)
      error("unknown step family ", int(step_.params_type()));
    std::vector<const OperandDecl *> ins, outs;
    std::vector<const WeightDecl *> ws;
    for (const OperandDecl &d : family->inputs)
      if (d.when.holds(step_))
        ins.push_back(&d);
    for (const OperandDecl &d : family->outputs)
      if (d.when.holds(step_))
        outs.push_back(&d);
    for (const WeightDecl &d : family->weights)
      if (d.when.holds(step_))
        ws.push_back(&d);
    auto list = [](const auto &decls) {
      std::string s = "[";
      for (size_t i = 0; i < decls.size(); ++i)
        s += (i ? ", " : "") + std::string(roleName(decls[i]->role));
      return s + "]";
    };
    auto count = [](size_t n, const char *noun) {
      return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
    };
    if (rawIn_.size() != ins.size())
      error("expects ", count(ins.size(), "input"), " ", list(ins), ", got ",
            rawIn_.size());
    if (rawOut_.size() != outs.size())
      error("expects ", count(outs.size(), "output"), " ", list(outs), ", got ",
            rawOut_.size());
    if (weights_.size() != ws.size())
      error("expects ", count(ws.size(), "weight"), " ", list(ws), ", got ",
            weights_.size());
    auto label = [](const char *list, size_t i, Role role) {
      return std::string(list) + " " + std::to_string(i) + " (" +
             roleName(role) + ")";
    };
    for (size_t i = 0; i < ins.size(); ++i) {
      in_.push_back({rawIn_[i], label("input", i, ins[i]->role), ins[i]->role});
      checkElem(in_.back(), ins[i]->elem);
    }
    for (size_t i = 0; i < outs.size(); ++i) {
      out_.push_back(
          {rawOut_[i], label("output", i, outs[i]->role), outs[i]->role});
      checkElem(out_.back(), outs[i]->elem);
    }
    for (size_t i = 0; i < ws.size(); ++i) {
      const WeightShape &w = shapes_[weights_[i]];
      const std::string which = label("weight", i, ws[i]->role);
      if (ws[i]->expertSet && w.experts == 0)
        error(which, " must be an expert set");
      if (!ws[i]->expertSet && w.experts != 0)
        error(which, " must not be an expert set");
      if (w.rank != ws[i]->rank)
        error(which, " must be ", ws[i]->rank, "-D, got ", w.rank, "-D");
    }
    inPlace_ = family->inPlace;
    operands_.emplace(step_, "plan verifier");
  }

  /// The operands by role (each read is seen by the role audit).
  const Op &in(Role role) const {
    operands_->in(role);
    return in_[size_t(operands_->inIndex(role))];
  }
  const Op &out(Role role) const {
    operands_->out(role);
    return out_[size_t(operands_->outIndex(role))];
  }
  bool hasIn(Role role) const { return operands_->hasIn(role); }

  /// The shape of the weight playing `role`.
  const WeightShape &weight(Role role) const {
    return shapes_[operands_->weight(role)];
  }
  void weightRows(Role role, CheckedInt expected, const char *rule) const {
    if (!expected.equals(weight(role).rows))
      error(weightLabel(role), " has ", weight(role).rows, " rows, expected ",
            expected, " (", rule, ")");
  }
  void weightCols(Role role, CheckedInt expected, const char *rule) const {
    if (!expected.equals(weight(role).cols))
      error(weightLabel(role), " has ", weight(role).cols,
            " columns, expected ", expected, " (", rule, ")");
  }

  const plan::Buffer &buffer(const Op &op) const {
    return *program_.buffers()->Get(op.operand.buffer());
  }
  Rows rows(const Op &op) const {
    const plan::Buffer &b = buffer(op);
    return {b.row_kind(), b.row_factor()};
  }
  bool isF8(const Op &op) const {
    return buffer(op).dtype() == plan::DType::F8E4M3;
  }

  /// The MoE families' routing shape: 0 < top_k <= experts.
  void topK(int experts, int topK) const {
    if (experts <= 0 || topK <= 0 || topK > experts)
      error("needs 0 < top_k <= experts, got top_k ", topK, ", experts ",
            experts);
  }

  void cols(const Op &op, CheckedInt expected, const std::string &rule) const {
    if (!expected.equals(op.operand.cols()))
      error(op.label, " has ", op.operand.cols(), " columns, expected ",
            expected, " (", rule, ")");
  }
  /// rows(a) == mult * rows(b).
  void rowsOf(const Op &a, const Op &b, int64_t mult = 1,
              const char *multName = "") const {
    Rows ra = rows(a), rb = rows(b);
    const CheckedInt factor = CheckedInt(rb.factor) * mult;
    Rows want{rb.kind, factor.get().value_or(0)};
    if (!factor.equals(ra.factor) || ra.kind != rb.kind)
      error(a.label, " has ", ra.str(), " rows, expected ", multName,
            mult == 1 ? "" : "*", "rows of ", b.label, " = ",
            factor.overflowed() ? "more than 2^63" : want.str());
  }
  void fixedRows(const Op &op, int64_t n, const char *rule) const {
    Rows r = rows(op);
    if (!(r == Rows{plan::RowKind::Fixed, n}))
      error(op.label, " has ", r.str(), " rows, expected ", n, " (", rule, ")");
  }
  const plan::Program &program() const { return program_; }

  /// No output overlaps another output or an input, except the very same view
  /// of an input the family declares updated in place.
  void checkAliasing() const {
    auto overlap = [](const plan::Operand &a, const plan::Operand &b) {
      return a.buffer() == b.buffer() &&
             a.col_offset() < uint64_t(b.col_offset()) + b.cols() &&
             b.col_offset() < uint64_t(a.col_offset()) + a.cols();
    };
    auto same = [](const plan::Operand &a, const plan::Operand &b) {
      return a.buffer() == b.buffer() && a.col_offset() == b.col_offset() &&
             a.cols() == b.cols();
    };
    for (size_t i = 0; i < out_.size(); ++i) {
      for (size_t j = i + 1; j < out_.size(); ++j)
        if (overlap(out_[i].operand, out_[j].operand))
          error(out_[i].label, " overlaps ", out_[j].label);
      for (const Op &input : in_) {
        if (!overlap(out_[i].operand, input.operand))
          continue;
        const bool inPlace =
            std::count(inPlace_.begin(), inPlace_.end(), input.role) != 0;
        if (inPlace && same(out_[i].operand, input.operand))
          continue;
        error(out_[i].label, " overlaps ", input.label,
              inPlace ? " (only the very same view may)" : "");
      }
    }
  }

  const plan::Step &step() const { return step_; }

private:
  void checkElem(const Op &op, Elem elem) const {
    const plan::DType t = buffer(op).dtype();
    const bool isInt = t == plan::DType::I32 || t == plan::DType::I64;
    if ((elem == Elem::I32 || elem == Elem::I32Vector) && t != plan::DType::I32)
      error(op.label, " must be an I32 buffer, '", buffer(op).name()->str(),
            "' is ", plan::EnumNameDType(t));
    if ((elem == Elem::Float || elem == Elem::FloatOrF8) && isInt)
      error(op.label, " must be a floating-point buffer, '",
            buffer(op).name()->str(), "' is ", plan::EnumNameDType(t));
    // FP8 activations flow only from a quantizing RmsNorm into GEMMs.
    if (t == plan::DType::F8E4M3 && elem != Elem::FloatOrF8)
      error(op.label,
            " is FP8, which only a GEMM's a and an RmsNorm's y may be");
    if (elem == Elem::I32Vector)
      cols(op, 1, "a vector is one column");
  }

  std::string weightLabel(Role role) const {
    return "weight " + std::to_string(operands_->weightIndex(role)) + " (" +
           roleName(role) + ")";
  }

  const plan::Program &program_;
  const plan::Step &step_;
  const std::vector<WeightShape> &shapes_;
  std::string prefix_;
  std::vector<plan::Operand> rawIn_, rawOut_;
  std::vector<uint32_t> weights_;
  std::vector<Op> in_, out_;
  std::vector<Role> inPlace_;
  std::optional<StepOperands> operands_;
};

/// The buffer table of `program` (BufferRules.cpp): every buffer's bytes
/// agree with its rows, columns and dtype, lie in the arena and are bounded.
/// `where` names the program in errors.
void checkBuffers(const plan::Program &program, const std::string &where);
/// No two buffers alive at the same step share arena bytes; needs every
/// step's buffer indices checked first.
void checkArena(const plan::Program &program, const std::string &where);

/// Checks `s` against the operand layout and parameters its family documents
/// in plan.fbs (StepRules.cpp).
void checkStepFamily(StepChecker &s, const plan::Plan &plan,
                     const ModelConfig &config);

} // namespace moela::planverify

#endif // MOELA_RUNTIME_PLAN_STEPCHECKER_H
