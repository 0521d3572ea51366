//===- PlanVerify.cpp - moela's semantic rules for a plan -----------------===//
//
// The flatbuffers Verifier only proves that the bytes can be read safely. This
// file checks what the backends rely on: every index in range, every step with
// the operands its family documents in plan.fbs (counts, I32 or float buffers,
// widths that agree with its parameters and weights, rows that agree with each
// other), every view inside its buffer, and no output overwriting an input it
// still has to read. Each rule fails with one line naming program, step and
// rule.
//
//===----------------------------------------------------------------------===//
#include "PlanVerify.h"

#include "moela/Runtime/Error.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <utility>

namespace moela {
namespace {

const char *rowKindName(plan::RowKind kind) {
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

bool isValidDType(plan::DType t) {
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
      return program_.buffers()->Get(o.buffer())->dtype() == plan::DType::F8E4M3;
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

/// Rope parameters: even dim inside each head.
void checkRope(const StepChecker &s, const plan::Rope &rope) {
  if (rope.dim() <= 0 || rope.dim() % 2 != 0)
    s.error("rope dim ", rope.dim(), " must be even and > 0");
  if (rope.heads() <= 0 || rope.head_dim() <= 0)
    s.error("rope heads ", rope.heads(), " and head_dim ", rope.head_dim(),
            " must be > 0");
  if (rope.offset() < 0 || rope.offset() + rope.dim() > rope.head_dim())
    s.error("rope slice [", rope.offset(), ", ", rope.offset() + rope.dim(),
            ") outside head_dim ", rope.head_dim());
  if (!(rope.theta() > 0))
    s.error("rope theta ", rope.theta(), " must be > 0");
  if (const plan::Yarn *y = rope.yarn())
    if (!(y->factor() > 0) || y->original_max_position_embeddings() <= 0 ||
        !(y->beta_fast() > 0) || !(y->beta_slow() > 0))
      s.error("yarn factor, original_max_position_embeddings, beta_fast and "
              "beta_slow must be > 0");
}

/// A Rope that applies to a [T, heads*head_dim] operand.
void checkRopeOn(const StepChecker &s, const plan::Rope &rope, const Op &op) {
  checkRope(s, rope);
  s.cols(op, int64_t(rope.heads()) * rope.head_dim(), "rope heads*head_dim");
}

void checkFloat(const StepChecker &s, double v, const char *what) {
  if (!std::isfinite(v) || v < 0)
    s.error(what, " ", v, " must be finite and >= 0");
}

/// Checks the layer index against the plan's KV cache; returns the cache.
const plan::KvCache &kvCacheFor(const StepChecker &s, const plan::Plan &plan,
                                int layer) {
  const plan::KvCache *kv = plan.kv_cache();
  if (!kv)
    s.error("the plan has no kv_cache");
  if (layer < 0 || layer >= kv->layers())
    s.error("layer ", layer, " out of range (kv_cache has ", kv->layers(),
            " layers)");
  return *kv;
}

/// The span of a per-head strided operand: (heads-1)*stride + width.
int64_t span(int heads, int stride, int width) {
  return int64_t(heads - 1) * (stride ? stride : width) + width;
}

void checkStepFamily(StepChecker &s, const plan::Plan &plan,
                     const ModelConfig &config) {
  using T = plan::StepParams;
  const plan::Step &step = s.step();
  if (!step.params())
    s.error("has no parameters");
  switch (step.params_type()) {
  case T::EmbeddingParams: {
    s.expect({"tokens"}, {"h"}, 1);
    const WeightShape &w = s.weight(0, "embed", false, 2);
    s.i32Vector(s.in("tokens"));
    s.floating(s.out("h"));
    s.cols(s.out("h"), w.cols, "embed columns");
    s.rowsOf(s.out("h"), s.in("tokens"));
    return;
  }
  case T::RmsNormParams: {
    const auto *p = step.params_as_RmsNormParams();
    checkFloat(s, p->eps(), "eps");
    if (p->residual())
      s.expect({"x", "r"}, {"y", "sum"}, 1);
    else
      s.expect({"x"}, {"y"}, 1);
    const WeightShape &w = s.weight(0, "w", false, 1);
    std::vector<std::string> ins = {"x"}, outs = {"y"};
    if (p->residual()) {
      ins.push_back("r");
      outs.push_back("sum");
    }
    for (const auto &r : ins) {
      s.floating(s.in(r));
      s.cols(s.in(r), w.rows, "norm weight length");
      s.rowsOf(s.in(r), s.in("x"));
    }
    for (const auto &r : outs) {
      s.floating(s.out(r));
      s.cols(s.out(r), w.rows, "norm weight length");
      s.rowsOf(s.out(r), s.in("x"));
    }
    s.allowInPlace({"x", "r"});
    return;
  }
  case T::AddParams:
  case T::SiluMulParams: {
    bool add = step.params_type() == T::AddParams;
    std::string a = add ? "a" : "g", b = add ? "b" : "u";
    s.expect({a, b}, {"y"}, 0);
    for (const Op *op : {&s.in(a), &s.in(b), &s.out("y")}) {
      s.floating(*op);
      s.cols(*op, s.in(a).operand.cols(), "same width as input 0");
      s.rowsOf(*op, s.in(a));
    }
    s.allowInPlace({a, b});
    return;
  }
  case T::RopeParams: {
    const auto *p = step.params_as_RopeParams();
    s.expect({"x", "positions"}, {"y"}, 0);
    if (!p->rope())
      s.error("has no rope");
    s.floating(s.in("x"));
    s.floating(s.out("y"));
    checkRopeOn(s, *p->rope(), s.in("x"));
    s.cols(s.out("y"), s.in("x").operand.cols(), "same width as x");
    s.i32Vector(s.in("positions"));
    s.rowsOf(s.in("positions"), s.in("x"));
    s.rowsOf(s.out("y"), s.in("x"));
    s.allowInPlace({"x"});
    return;
  }
  case T::GemmParams: {
    const auto *p = step.params_as_GemmParams();
    std::vector<std::string> ins = {"a"};
    if (p->rope())
      ins.push_back("positions");
    if (p->residual())
      ins.push_back("r");
    s.expect(ins, {"c"}, 1);
    const WeightShape &w = s.weight(0, "W", false, 2);
    if (p->silu_mul() && w.rows % 2 != 0)
      s.error("silu_mul needs an even number of weight rows, got ", w.rows);
    int64_t n = p->silu_mul() ? w.rows / 2 : w.rows;
    s.floating(s.in("a"));
    s.floating(s.out("c"));
    s.cols(s.in("a"), w.cols, "weight columns K");
    s.cols(s.out("c"), n,
           p->silu_mul() ? "weight rows N/2 (silu_mul)" : "weight rows N");
    s.rowsOf(s.out("c"), s.in("a"));
    if (p->rope()) {
      checkRopeOn(s, *p->rope(), s.out("c"));
      s.i32Vector(s.in("positions"));
      s.rowsOf(s.in("positions"), s.in("a"));
    }
    if (p->residual()) {
      s.floating(s.in("r"));
      s.cols(s.in("r"), n, "same width as c");
      s.rowsOf(s.in("r"), s.in("a"));
      s.allowInPlace({"r"});
    }
    return;
  }
  case T::KvAppendParams: {
    const auto *p = step.params_as_KvAppendParams();
    s.expect({"latent", "k_pe", "positions", "seq_ids"}, {},
             p->normalize() ? 1 : 0);
    const plan::KvCache &kv = kvCacheFor(s, plan, p->layer());
    if (kv.rope_dim() <= 0)
      s.error("needs a kv_cache with rope_dim > 0");
    if (p->normalize()) {
      checkFloat(s, p->eps(), "eps");
      s.weight(0, "kv_a_layernorm", false, 1);
      s.weightRows(0, "kv_a_layernorm", kv.latent_dim(), "kv_cache latent_dim");
    }
    if (p->rope()) {
      checkRope(s, *p->rope());
      if (p->rope()->dim() != kv.rope_dim())
        s.error("rope dim ", p->rope()->dim(), " != kv_cache rope_dim ",
                kv.rope_dim());
    }
    s.floating(s.in("latent"));
    s.cols(s.in("latent"), kv.latent_dim(), "kv_cache latent_dim");
    s.floating(s.in("k_pe"));
    s.cols(s.in("k_pe"), kv.rope_dim(), "kv_cache rope_dim");
    for (const char *r : {"k_pe", "positions", "seq_ids"})
      s.rowsOf(s.in(r), s.in("latent"));
    s.i32Vector(s.in("positions"));
    s.i32Vector(s.in("seq_ids"));
    return;
  }
  case T::MlaAttentionParams: {
    const auto *p = step.params_as_MlaAttentionParams();
    s.expect({"q", "positions", "seq_ids"}, {"o"}, 1);
    const plan::KvCache &kv = kvCacheFor(s, plan, p->layer());
    if (p->heads() <= 0 || p->nope_dim() < 0 || p->v_dim() <= 0)
      s.error("heads ", p->heads(), ", nope_dim ", p->nope_dim(), ", v_dim ",
              p->v_dim(), " must be > 0");
    if (p->latent_dim() != kv.latent_dim() || p->rope_dim() != kv.rope_dim())
      s.error("latent_dim ", p->latent_dim(), " and rope_dim ", p->rope_dim(),
              " must equal the kv_cache's ", kv.latent_dim(), " and ",
              kv.rope_dim());
    if (p->form() != plan::AttentionForm::Absorbed &&
        p->form() != plan::AttentionForm::Expanded)
      s.error("unknown attention form ", int(p->form()));
    checkFloat(s, p->scale(), "scale");
    s.weight(0, "kv_b", false, 2);
    s.weightRows(0, "kv_b", int64_t(p->heads()) * (p->nope_dim() + p->v_dim()),
                 "heads*(nope_dim+v_dim)");
    s.weightCols(0, "kv_b", p->latent_dim(), "latent_dim");
    s.floating(s.in("q"));
    s.floating(s.out("o"));
    s.cols(s.in("q"), int64_t(p->heads()) * (p->nope_dim() + p->rope_dim()),
           "heads*(nope_dim+rope_dim)");
    s.cols(s.out("o"), int64_t(p->heads()) * p->v_dim(), "heads*v_dim");
    s.rowsOf(s.out("o"), s.in("q"));
    for (const char *r : {"positions", "seq_ids"}) {
      s.i32Vector(s.in(r));
      s.rowsOf(s.in(r), s.in("q"));
    }
    return;
  }
  case T::MlaLatentAttentionParams: {
    const auto *p = step.params_as_MlaLatentAttentionParams();
    s.expect({"q_lat", "q_pe", "positions", "seq_ids"}, {"o_lat"}, 0);
    const plan::KvCache &kv = kvCacheFor(s, plan, p->layer());
    if (p->heads() <= 0)
      s.error("heads ", p->heads(), " must be > 0");
    if (p->latent_dim() != kv.latent_dim() || p->rope_dim() != kv.rope_dim())
      s.error("latent_dim ", p->latent_dim(), " and rope_dim ", p->rope_dim(),
              " must equal the kv_cache's ", kv.latent_dim(), " and ",
              kv.rope_dim());
    if ((p->q_lat_stride() && p->q_lat_stride() < p->latent_dim()) ||
        (p->q_pe_stride() && p->q_pe_stride() < p->rope_dim()) ||
        p->q_lat_stride() < 0 || p->q_pe_stride() < 0)
      s.error("q_lat_stride ", p->q_lat_stride(), " / q_pe_stride ",
              p->q_pe_stride(), " smaller than the head width");
    checkFloat(s, p->scale(), "scale");
    for (const char *r : {"q_lat", "q_pe"})
      s.floating(s.in(r));
    s.floating(s.out("o_lat"));
    s.cols(s.in("q_lat"), span(p->heads(), p->q_lat_stride(), p->latent_dim()),
           "(heads-1)*q_lat_stride + latent_dim");
    if (p->rope_dim() > 0)
      s.cols(s.in("q_pe"), span(p->heads(), p->q_pe_stride(), p->rope_dim()),
             "(heads-1)*q_pe_stride + rope_dim");
    s.cols(s.out("o_lat"), int64_t(p->heads()) * p->latent_dim(),
           "heads*latent_dim");
    for (const char *r : {"q_pe", "positions", "seq_ids"})
      s.rowsOf(s.in(r), s.in("q_lat"));
    s.rowsOf(s.out("o_lat"), s.in("q_lat"));
    s.i32Vector(s.in("positions"));
    s.i32Vector(s.in("seq_ids"));
    return;
  }
  case T::KvGatherParams: {
    s.expect({"positions", "seq_ids"}, {"rows"}, 0);
    const plan::KvCache &kv =
        kvCacheFor(s, plan, step.params_as_KvGatherParams()->layer());
    s.floating(s.out("rows"));
    s.cols(s.out("rows"), int64_t(kv.latent_dim()) + kv.rope_dim(),
           "kv_cache latent_dim + rope_dim");
    for (const char *r : {"positions", "seq_ids"}) {
      s.i32Vector(s.in(r));
      s.rowsOf(s.in(r), s.out("rows"));
    }
    return;
  }
  case T::MlaPrefillAttentionParams: {
    const auto *p = step.params_as_MlaPrefillAttentionParams();
    s.expect({"q", "kv", "k_pe", "positions"}, {"o"}, 0);
    // Its keys are the step's own rows: right only for fresh sequences.
    if (!s.program().fresh_sequences())
      s.error("attends over the step's own tokens only, so its program must "
              "have fresh_sequences");
    if (p->heads() <= 0 || p->nope_dim() <= 0 || p->rope_dim() < 0 ||
        p->v_dim() <= 0)
      s.error("heads ", p->heads(), ", nope_dim ", p->nope_dim(), ", v_dim ",
              p->v_dim(), " must be > 0 and rope_dim ", p->rope_dim(), " >= 0");
    checkFloat(s, p->scale(), "scale");
    const int64_t h = p->heads();
    s.cols(s.in("q"), h * (p->nope_dim() + p->rope_dim()),
           "heads*(nope_dim+rope_dim)");
    s.cols(s.in("kv"), h * (p->nope_dim() + p->v_dim()),
           "heads*(nope_dim+v_dim)");
    s.cols(s.in("k_pe"), p->rope_dim(), "rope_dim");
    s.cols(s.out("o"), h * p->v_dim(), "heads*v_dim");
    for (const char *r : {"q", "kv", "k_pe", "o"})
      s.floating(r[0] == 'o' ? s.out(r) : s.in(r));
    for (const char *r : {"kv", "k_pe", "positions"})
      s.rowsOf(s.in(r), s.in("q"));
    s.rowsOf(s.out("o"), s.in("q"));
    s.i32Vector(s.in("positions"));
    return;
  }
  case T::HeadGemmParams: {
    const auto *p = step.params_as_HeadGemmParams();
    s.expect({"x"}, {"y"}, 1);
    const WeightShape &w = s.weight(0, "W", false, 2);
    if (p->heads() <= 0 || p->rows() <= 0 || p->row_offset() < 0 ||
        p->row_offset() + p->rows() > p->head_rows())
      s.error("head rows [", p->row_offset(), ", ", p->row_offset() + p->rows(),
              ") must lie inside head_rows ", p->head_rows(), " (heads ",
              p->heads(), ")");
    s.weightRows(0, "W", int64_t(p->heads()) * p->head_rows(),
                 "heads*head_rows");
    int64_t inLen = p->transpose() ? p->rows() : w.cols;
    int64_t outLen = p->transpose() ? w.cols : p->rows();
    if (p->in_stride() < 0 || (p->in_stride() && p->in_stride() < inLen) ||
        p->out_stride() < 0 || (p->out_stride() && p->out_stride() < outLen))
      s.error("in_stride ", p->in_stride(), " / out_stride ", p->out_stride(),
              " smaller than the per-head width ", inLen, " / ", outLen);
    s.floating(s.in("x"));
    s.floating(s.out("y"));
    s.cols(s.in("x"), span(p->heads(), p->in_stride(), int(inLen)),
           "(heads-1)*in_stride + per-head input");
    s.cols(s.out("y"), span(p->heads(), p->out_stride(), int(outLen)),
           "(heads-1)*out_stride + per-head output");
    s.rowsOf(s.out("y"), s.in("x"));
    return;
  }
  case T::RouteParams: {
    const auto *p = step.params_as_RouteParams();
    s.expect({p->fused_gate() ? "x" : "logits"}, {"idx", "w"},
             size_t(p->fused_gate()) + size_t(p->has_bias()));
    const int e = p->experts(), k = p->top_k();
    if (e <= 0 || k <= 0 || k > e)
      s.error("needs 0 < top_k <= experts, got top_k ", k, ", experts ", e);
    if (p->scoring() != plan::ScoringFunc::Softmax &&
        p->scoring() != plan::ScoringFunc::Sigmoid)
      s.error("unknown scoring function ", int(p->scoring()));
    if (p->method() != plan::TopkMethod::Greedy &&
        p->method() != plan::TopkMethod::GroupLimitedGreedy &&
        p->method() != plan::TopkMethod::NoauxTc)
      s.error("unknown topk method ", int(p->method()));
    if (p->method() != plan::TopkMethod::Greedy) {
      const int g = p->groups(), kg = p->topk_groups();
      if (g <= 0 || e % g != 0)
        s.error("needs experts % groups == 0, got experts ", e, ", groups ", g);
      if (kg <= 0 || kg > g)
        s.error("needs 0 < topk_groups <= groups, got topk_groups ", kg,
                ", groups ", g);
      if (k > kg * (e / g))
        s.error("top_k ", k, " exceeds the experts of the kept groups ",
                kg * (e / g));
    }
    if (!std::isfinite(p->scaling()))
      s.error("scaling ", p->scaling(), " must be finite");
    const Op &x = s.in(p->fused_gate() ? "x" : "logits");
    s.floating(x);
    size_t wi = 0;
    if (p->fused_gate()) {
      s.weight(0, "gate", false, 2);
      s.weightRows(0, "gate", e, "experts");
      s.weightCols(0, "gate", x.operand.cols(), "x columns");
      ++wi;
    } else {
      s.cols(x, e, "experts");
    }
    if (p->has_bias()) {
      s.weight(wi, "bias", false, 1);
      s.weightRows(wi, "bias", e, "experts");
    }
    s.i32(s.out("idx"));
    s.floating(s.out("w"));
    for (const char *r : {"idx", "w"}) {
      s.cols(s.out(r), k, "top_k");
      s.rowsOf(s.out(r), x);
    }
    return;
  }
  case T::MoeExpertsParams: {
    const auto *p = step.params_as_MoeExpertsParams();
    s.expect({"x", "idx"}, {"y"}, 2);
    const int e = p->experts(), k = p->top_k();
    if (e <= 0 || k <= 0 || k > e || p->intermediate() <= 0)
      s.error("needs 0 < top_k <= experts and intermediate > 0, got top_k ", k,
              ", experts ", e, ", intermediate ", p->intermediate());
    const WeightShape &gu = s.weight(0, "gate_up", true, 2);
    const WeightShape &down = s.weight(1, "down", true, 2);
    if (gu.experts != e || down.experts != e)
      s.error("weight expert sets have ", gu.experts, " and ", down.experts,
              " experts, expected ", e);
    const Op &x = s.in("x");
    s.floating(x);
    s.weightRows(0, "gate_up", 2 * int64_t(p->intermediate()),
                 "2*intermediate");
    s.weightCols(0, "gate_up", x.operand.cols(), "x columns");
    s.weightRows(1, "down", x.operand.cols(), "x columns");
    s.weightCols(1, "down", p->intermediate(), "intermediate");
    s.i32(s.in("idx"));
    s.cols(s.in("idx"), k, "top_k");
    s.rowsOf(s.in("idx"), x);
    s.floating(s.out("y"));
    s.cols(s.out("y"), x.operand.cols(), "x columns");
    s.rowsOf(s.out("y"), x, k, "top_k");
    return;
  }
  case T::MoeDispatchParams: {
    const auto *p = step.params_as_MoeDispatchParams();
    s.expect({"x", "idx"}, {"x_sorted", "offsets", "perm"}, 0);
    const int e = p->experts(), k = p->top_k();
    if (e <= 0 || k <= 0 || k > e)
      s.error("needs 0 < top_k <= experts, got top_k ", k, ", experts ", e);
    const Op &x = s.in("x");
    s.floating(x);
    s.i32(s.in("idx"));
    s.cols(s.in("idx"), k, "top_k");
    s.rowsOf(s.in("idx"), x);
    s.floating(s.out("x_sorted"));
    s.cols(s.out("x_sorted"), x.operand.cols(), "x columns");
    s.rowsOf(s.out("x_sorted"), x, k, "top_k");
    s.i32Vector(s.out("offsets"));
    s.fixedRows(s.out("offsets"), int64_t(e) + 1, "experts + 1");
    s.i32Vector(s.out("perm"));
    s.rowsOf(s.out("perm"), x, k, "top_k");
    return;
  }
  case T::GroupedGemmParams: {
    const auto *p = step.params_as_GroupedGemmParams();
    s.expect({"x_sorted", "offsets"}, {"y"}, 1);
    const WeightShape &w = s.weight(0, "W", true, 2);
    if (p->experts() <= 0 || w.experts != p->experts())
      s.error("weight expert set has ", w.experts, " experts, expected ",
              p->experts());
    if (p->silu_mul() && w.rows % 2 != 0)
      s.error("silu_mul needs an even number of weight rows, got ", w.rows);
    const Op &x = s.in("x_sorted");
    s.floating(x);
    s.cols(x, w.cols, "weight columns K");
    s.i32Vector(s.in("offsets"));
    s.fixedRows(s.in("offsets"), int64_t(p->experts()) + 1, "experts + 1");
    s.floating(s.out("y"));
    s.cols(s.out("y"), p->silu_mul() ? w.rows / 2 : w.rows,
           p->silu_mul() ? "weight rows N/2 (silu_mul)" : "weight rows N");
    s.rowsOf(s.out("y"), x);
    return;
  }
  case T::MoeCombineParams: {
    const auto *p = step.params_as_MoeCombineParams();
    std::vector<std::string> ins = {"y", "w"};
    if (p->permuted())
      ins.push_back("perm");
    if (p->shared())
      ins.push_back("shared");
    if (p->residual())
      ins.push_back("r");
    s.expect(ins, {"out"}, 0);
    const int k = p->top_k();
    if (k <= 0)
      s.error("top_k ", k, " must be > 0");
    const Op &out = s.out("out");
    s.floating(out);
    s.floating(s.in("y"));
    s.cols(s.in("y"), out.operand.cols(), "out columns");
    s.rowsOf(s.in("y"), out, k, "top_k");
    s.floating(s.in("w"));
    s.cols(s.in("w"), k, "top_k");
    s.rowsOf(s.in("w"), out);
    if (p->permuted()) {
      s.i32Vector(s.in("perm"));
      s.rowsOf(s.in("perm"), out, k, "top_k");
    }
    for (const std::string &r : ins) {
      if (r != "shared" && r != "r")
        continue;
      s.floating(s.in(r));
      s.cols(s.in(r), out.operand.cols(), "out columns");
      s.rowsOf(s.in(r), out);
    }
    s.allowInPlace({"r"});
    return;
  }
  case T::GatherRowsParams: {
    s.expect({"x", "rows"}, {"y"}, 0);
    s.floating(s.in("x"));
    s.i32Vector(s.in("rows"));
    s.floating(s.out("y"));
    s.cols(s.out("y"), s.in("x").operand.cols(), "x columns");
    s.rowsOf(s.out("y"), s.in("rows"));
    return;
  }
  case T::ArgmaxParams: {
    s.expect({"logits"}, {"ids"}, 0);
    s.floating(s.in("logits"));
    s.i32Vector(s.out("ids"));
    s.rowsOf(s.out("ids"), s.in("logits"));
    return;
  }
  case T::NextTokensParams: {
    s.expect({"tokens", "positions", "seq_ids", "logit_rows", "ids"}, {"next"},
             0);
    for (const char *r :
         {"tokens", "positions", "seq_ids", "logit_rows", "ids"})
      s.i32Vector(s.in(r));
    s.i32Vector(s.out("next"));
    for (const char *r : {"positions", "seq_ids"})
      s.rowsOf(s.in(r), s.in("tokens"));
    s.rowsOf(s.in("ids"), s.in("logit_rows"));
    s.rowsOf(s.out("next"), s.in("tokens"));
    return;
  }
  case T::ConcatParams: {
    s.expect({"a", "b"}, {"ab"}, 0);
    for (const Op *op : {&s.in("a"), &s.in("b"), &s.out("ab")})
      s.floating(*op);
    s.cols(s.out("ab"),
           int64_t(s.in("a").operand.cols()) + s.in("b").operand.cols(),
           "a's columns + b's");
    s.rowsOf(s.in("b"), s.in("a"));
    s.rowsOf(s.out("ab"), s.in("a"));
    return;
  }
  case T::NONE:
    break;
  }
  (void)config;
  s.error("unknown step family ", int(step.params_type()));
}

class PlanVerifier {
public:
  PlanVerifier(const plan::Plan &plan, const ModelConfig &config,
               const std::string &origin)
      : plan_(plan), config_(config), origin_(origin) {}

  std::vector<WeightShape> run() {
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
      if (program->fresh_sequences() && !names.count("extend"))
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
      WeightShape shape;
      shape.experts = w.experts();
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
        double elements = 1;
        for (int64_t d : *t.shape()) {
          if (d <= 0)
            fail(where(), ": part '", name, "' has shape ",
                 shapeString(*t.shape()), " with a dimension <= 0");
          elements *= double(d);
        }
        if (elements > double(int64_t(1) << 40))
          fail(where(), ": part '", name, "' of shape ",
               shapeString(*t.shape()), " is larger than 2^40 elements");
        if (t.quantize_at_load() &&
            (t.dtype() != plan::DType::F8E4M3 || !t.scale_name() || t.shape()->size() != 2))
          fail(where(), ": part '", name,
               "' is quantized at load but is not a 2-D FP8 tensor with a scale name");
        if (w.experts() > 0 && name.find("{e}") == std::string::npos)
          fail(where(), ": part '", name,
               "' of an expert set must contain \"{e}\"");
        int rank = int(t.shape()->size());
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
        shape.rows += rows;
      }
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
    if (kv->dtype() != plan::DType::F32 && kv->dtype() != plan::DType::BF16)
      fail(origin_, ": kv_cache dtype ", plan::EnumNameDType(kv->dtype()),
           " is not supported (F32, BF16)");
    if (kv->layers() > config_.numHiddenLayers + config_.numNextnPredictLayers)
      fail(origin_, ": kv_cache has ", kv->layers(),
           " layers, more than the model's num_hidden_layers + "
           "num_nextn_predict_layers = ",
           config_.numHiddenLayers + config_.numNextnPredictLayers);
  }

  /// An F8 buffer (W8A8 activations, spec 3.4) has an F32 scales buffer
  /// with its rows and one column per 128 of its columns; no other buffer
  /// has one.
  void checkScales(const std::string &where, const plan::Program &program,
                   size_t i) {
    const auto *buffers = program.buffers();
    const plan::Buffer &b = *buffers->Get(i);
    const std::string name = "buffer " + std::to_string(i) + " '" +
                             (b.name() ? b.name()->str() : std::string()) + "'";
    if (b.dtype() != plan::DType::F8E4M3) {
      if (b.scales() != -1)
        fail(where, ": ", name, " is not F8 but names scales buffer ",
             b.scales());
      return;
    }
    if (b.scales() < 0 || size_t(b.scales()) >= buffers->size() ||
        size_t(b.scales()) == i)
      fail(where, ": F8 ", name, " needs a scales buffer, got index ",
           b.scales(), " (program has ", buffers->size(), " buffers)");
    const plan::Buffer &s = *buffers->Get(b.scales());
    const int64_t blocks = (b.cols() + 127) / 128;
    if (s.dtype() != plan::DType::F32 || s.row_kind() != b.row_kind() ||
        s.row_factor() != b.row_factor() || s.cols() != blocks)
      fail(where, ": scales of F8 ", name, " must be F32 with its rows and ",
           blocks, " columns (one per 128)");
  }

  void checkProgram(const plan::Program &program) {
    const std::string where =
        origin_ + ": program '" + program.name()->str() + "'";
    if (program.max_tokens() < 1)
      fail(where, ": max_tokens ", program.max_tokens(), " must be >= 1");
    if (program.max_logit_rows() < 1)
      fail(where, ": max_logit_rows ", program.max_logit_rows(),
           " must be >= 1");
    const auto *buffers = program.buffers();
    if (!buffers || buffers->size() == 0)
      fail(where, ": has no buffers");
    for (size_t i = 0; i < buffers->size(); ++i) {
      const plan::Buffer &b = *buffers->Get(i);
      std::string name = b.name() ? b.name()->str() : std::string();
      if (!isValidDType(b.dtype()))
        fail(where, ": buffer ", i, " '", name, "' has unknown dtype ",
             int(b.dtype()));
      if (b.row_kind() < plan::RowKind::PerToken ||
          b.row_kind() > plan::RowKind::Fixed)
        fail(where, ": buffer ", i, " '", name, "' has unknown row kind ",
             int(b.row_kind()));
      if (b.row_factor() < 1 || b.cols() < 1)
        fail(where, ": buffer ", i, " '", name,
             "' needs row_factor >= 1 and cols >= 1, got ", b.row_factor(),
             " and ", b.cols());
      // Sizes stay far from overflow: at most 2^40 elements per buffer.
      const double rows =
          double(b.row_factor()) * (b.row_kind() == plan::RowKind::PerToken
                                        ? program.max_tokens()
                                    : b.row_kind() == plan::RowKind::PerLogitRow
                                        ? program.max_logit_rows()
                                        : 1);
      if (rows * double(b.cols()) > double(int64_t(1) << 40))
        fail(where, ": buffer ", i, " '", name, "' of ", rows, " x ", b.cols(),
             " elements is larger than 2^40 elements");
      if (!b.name())
        fail(where, ": buffer ", i, " has no name");
      checkScales(where, program, i);
    }

    // Inputs: tokens, positions, seq_ids [T]; logit_rows [R]. Output: logits
    // [R, V].
    static const char *const inputNames[] = {"tokens", "positions", "seq_ids",
                                             "logit_rows"};
    if (!program.inputs() || program.inputs()->size() != 4)
      fail(where,
           ": needs 4 inputs (tokens, positions, seq_ids, logit_rows), "
           "got ",
           program.inputs() ? program.inputs()->size() : 0);
    for (size_t i = 0; i < 4; ++i) {
      uint32_t index = program.inputs()->Get(i);
      if (index >= buffers->size())
        fail(where, ": input ", i, " (", inputNames[i], ") buffer index ",
             index, " out of range (program has ", buffers->size(),
             " buffers)");
      const plan::Buffer &b = *buffers->Get(index);
      plan::RowKind kind =
          i < 3 ? plan::RowKind::PerToken : plan::RowKind::PerLogitRow;
      if (b.dtype() != plan::DType::I32 || b.cols() != 1 ||
          b.row_kind() != kind || b.row_factor() != 1)
        fail(where, ": input ", i, " (", inputNames[i], ") buffer '",
             b.name()->str(), "' must be I32 with 1 column, ",
             rowKindName(kind), " rows and row_factor 1");
    }
    const size_t outputs = program.outputs() ? program.outputs()->size() : 0;
    if (outputs != 1 && outputs != 2)
      fail(where, ": needs 1 output (logits) or 2 (logits, MTP drafts), got ",
           outputs);
    if (outputs == 2) {
      uint32_t draftIndex = program.outputs()->Get(1);
      if (draftIndex >= buffers->size())
        fail(where, ": output buffer index ", draftIndex,
             " out of range (program has ", buffers->size(), " buffers)");
      const plan::Buffer &d = *buffers->Get(draftIndex);
      if (d.dtype() != plan::DType::I32 || d.cols() != 1 ||
          d.row_kind() != plan::RowKind::PerLogitRow || d.row_factor() != 1)
        fail(where, ": output 1 (drafts) buffer '", d.name()->str(),
             "' must be I32 with 1 column, PerLogitRow rows and row_factor 1");
    }
    uint32_t outIndex = program.outputs()->Get(0);
    if (outIndex >= buffers->size())
      fail(where, ": output buffer index ", outIndex,
           " out of range (program has ", buffers->size(), " buffers)");
    const plan::Buffer &out = *buffers->Get(outIndex);
    if (out.dtype() != plan::DType::F32 ||
        out.row_kind() != plan::RowKind::PerLogitRow || out.row_factor() != 1 ||
        out.cols() != config_.vocabSize)
      fail(where, ": output buffer '", out.name()->str(),
           "' must be F32 with PerLogitRow rows, row_factor 1 and vocab_size ",
           config_.vocabSize, " columns, got ", out.cols(), " columns");

    const size_t numWeights = shapes_.size();
    const size_t numKernels = plan_.kernels() ? plan_.kernels()->size() : 0;
    if (!program.steps())
      return;
    for (size_t i = 0; i < program.steps()->size(); ++i) {
      const plan::Step &step = *program.steps()->Get(i);
      StepChecker s(program, step, int(i), shapes_, origin_);
      s.checkIndices(numWeights, numKernels);
      checkStepFamily(s, plan_, config_);
      s.checkAliasing();
    }
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
