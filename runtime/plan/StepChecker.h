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

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"

#include <set>
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

/// One operand of a step, with the label its family gives it in errors.
struct Op {
  plan::Operand operand{};
  std::string label; // "input 1 (positions)"
  std::string role;  // "positions"
};

/// Checks one step against the operand layout of its family.
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
      // A view of FP8 data starts at a scale block (spec 3.4).
      if (b->dtype() == plan::DType::F8E4M3 && o.col_offset() % 128 != 0)
        error(which, " starts at column ", o.col_offset(), " of F8 buffer '",
              b->name()->str(), "', not at a 128-column scale block");
    };
    for (size_t i = 0; i < rawIn_.size(); ++i)
      checkView(rawIn_[i], "input " + std::to_string(i));
    for (size_t i = 0; i < rawOut_.size(); ++i)
      checkView(rawOut_[i], "output " + std::to_string(i));
    // FP8 activations flow only from a quantizing RmsNorm into GEMMs.
    auto isF8 = [&](const plan::Operand &o) {
      return program_.buffers()->Get(o.buffer())->dtype() ==
             plan::DType::F8E4M3;
    };
    const auto *norm = step_.params_as_RmsNormParams();
    for (size_t i = 0; i < rawIn_.size(); ++i)
      if (isF8(rawIn_[i]) &&
          !(i == 0 && step_.params_type() == plan::StepParams::GemmParams))
        error("input ", i, " is FP8, which only a GEMM's input 0 may be");
    for (size_t i = 0; i < rawOut_.size(); ++i)
      if (isF8(rawOut_[i]) && !(i == 0 && norm && norm->quantize()))
        error("output ", i, " is FP8 but the step is no quantizing RmsNorm");
    for (size_t i = 0; i < weights_.size(); ++i)
      if (weights_[i] >= numWeights)
        error("weight ", i, " index ", weights_[i], " out of range (plan has ",
              numWeights, " weights)");
    if (step_.kernel() < -1 ||
        (step_.kernel() >= 0 && size_t(step_.kernel()) >= numKernels))
      error("kernel index ", step_.kernel(), " out of range (plan has ",
            numKernels, " kernels)");
  }

  /// Names the operands as the family documents them and checks their counts.
  void expect(const std::vector<std::string> &ins,
              const std::vector<std::string> &outs, size_t numWeights) {
    auto list = [](const std::vector<std::string> &names) {
      std::string s = "[";
      for (size_t i = 0; i < names.size(); ++i)
        s += (i ? ", " : "") + names[i];
      return s + "]";
    };
    if (rawIn_.size() != ins.size())
      error("expects ", ins.size(), " inputs ", list(ins), ", got ",
            rawIn_.size());
    if (rawOut_.size() != outs.size())
      error("expects ", outs.size(), " outputs ", list(outs), ", got ",
            rawOut_.size());
    if (weights_.size() != numWeights)
      error("expects ", numWeights, " weights, got ", weights_.size());
    for (size_t i = 0; i < ins.size(); ++i)
      in_.push_back({rawIn_[i],
                     "input " + std::to_string(i) + " (" + ins[i] + ")",
                     ins[i]});
    for (size_t i = 0; i < outs.size(); ++i)
      out_.push_back({rawOut_[i],
                      "output " + std::to_string(i) + " (" + outs[i] + ")",
                      outs[i]});
  }

  const Op &in(const std::string &role) const { return find(in_, role); }
  const Op &out(const std::string &role) const { return find(out_, role); }

  /// Weight `i`, which must (or must not) be an expert set.
  const WeightShape &weight(size_t i, const char *role, bool expertSet,
                            int rank = 0) const {
    const WeightShape &s = shapes_[weights_[i]];
    if (expertSet && s.experts == 0)
      error("weight ", i, " (", role, ") must be an expert set");
    if (!expertSet && s.experts != 0)
      error("weight ", i, " (", role, ") must not be an expert set");
    if (rank && s.rank != rank)
      error("weight ", i, " (", role, ") must be ", rank, "-D, got ", s.rank,
            "-D");
    return s;
  }
  void weightRows(size_t i, const char *role, int64_t expected,
                  const char *rule) const {
    const WeightShape &s = shapes_[weights_[i]];
    if (s.rows != expected)
      error("weight ", i, " (", role, ") has ", s.rows, " rows, expected ",
            expected, " (", rule, ")");
  }
  void weightCols(size_t i, const char *role, int64_t expected,
                  const char *rule) const {
    const WeightShape &s = shapes_[weights_[i]];
    if (s.cols != expected)
      error("weight ", i, " (", role, ") has ", s.cols, " columns, expected ",
            expected, " (", rule, ")");
  }

  const plan::Buffer &buffer(const Op &op) const {
    return *program_.buffers()->Get(op.operand.buffer());
  }
  Rows rows(const Op &op) const {
    const plan::Buffer &b = buffer(op);
    return {b.row_kind(), b.row_factor()};
  }

  void cols(const Op &op, int64_t expected, const std::string &rule) const {
    if (int64_t(op.operand.cols()) != expected)
      error(op.label, " has ", op.operand.cols(), " columns, expected ",
            expected, " (", rule, ")");
  }
  void i32(const Op &op) const {
    if (buffer(op).dtype() != plan::DType::I32)
      error(op.label, " must be an I32 buffer, '", buffer(op).name()->str(),
            "' is ", plan::EnumNameDType(buffer(op).dtype()));
  }
  void floating(const Op &op) const {
    plan::DType t = buffer(op).dtype();
    if (t == plan::DType::I32 || t == plan::DType::I64)
      error(op.label, " must be a floating-point buffer, '",
            buffer(op).name()->str(), "' is ", plan::EnumNameDType(t));
  }
  /// An I32 vector [n]: one column.
  void i32Vector(const Op &op) const {
    i32(op);
    cols(op, 1, "a vector is one column");
  }
  /// rows(a) == mult * rows(b).
  void rowsOf(const Op &a, const Op &b, int64_t mult = 1,
              const char *multName = "") const {
    Rows ra = rows(a), rb = rows(b);
    Rows want{rb.kind, rb.factor * mult};
    if (!(ra == want))
      error(a.label, " has ", ra.str(), " rows, expected ", multName,
            mult == 1 ? "" : "*", "rows of ", b.label, " = ", want.str());
  }
  void fixedRows(const Op &op, int64_t n, const char *rule) const {
    Rows r = rows(op);
    if (!(r == Rows{plan::RowKind::Fixed, n}))
      error(op.label, " has ", r.str(), " rows, expected ", n, " (", rule, ")");
  }
  /// Inputs that an output may overwrite in place (as the very same view).
  const plan::Program &program() const { return program_; }

  void allowInPlace(const std::vector<std::string> &roles) {
    inPlace_.insert(roles.begin(), roles.end());
  }

  /// No output overlaps another output or an input, except the very same view
  /// of an input the family updates in place.
  void checkAliasing() const {
    auto overlap = [](const plan::Operand &a, const plan::Operand &b) {
      return a.buffer() == b.buffer() &&
             a.col_offset() < b.col_offset() + b.cols() &&
             b.col_offset() < a.col_offset() + a.cols();
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
        if (inPlace_.count(input.role) && same(out_[i].operand, input.operand))
          continue;
        error(out_[i].label, " overlaps ", input.label,
              inPlace_.count(input.role) ? " (only the very same view may)"
                                         : "");
      }
    }
  }

  const plan::Step &step() const { return step_; }

private:
  const Op &find(const std::vector<Op> &ops, const std::string &role) const {
    for (const Op &op : ops)
      if (op.role == role)
        return op;
    error("internal: no operand '", role, "'");
  }

  const plan::Program &program_;
  const plan::Step &step_;
  const std::vector<WeightShape> &shapes_;
  std::string prefix_;
  std::vector<plan::Operand> rawIn_, rawOut_;
  std::vector<uint32_t> weights_;
  std::vector<Op> in_, out_;
  std::set<std::string> inPlace_;
};

/// Checks `s` against the operand layout and parameters its family documents
/// in plan.fbs (StepRules.cpp).
void checkStepFamily(StepChecker &s, const plan::Plan &plan,
                     const ModelConfig &config);

} // namespace moela::planverify

#endif // MOELA_RUNTIME_PLAN_STEPCHECKER_H
