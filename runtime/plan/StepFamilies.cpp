//===- StepFamilies.cpp - The operand roles of every step family ----------===//
//
// The one declaration of each family's operands (StepFamily.h). A family's
// semantics and shapes are documented with its params table in
// runtime/schema/plan.fbs; its verifier rule is in StepRules.cpp.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/StepFamily.h"

#include "moela/Runtime/Error.h"

#include <algorithm>
#include <atomic>

namespace moela {
namespace {

/// Whether a field of the step's params is set (true, or a present table).
template <typename Params, auto Field> bool isSet(const plan::Step &step) {
  const Params *p = step.template params_as<Params>();
  return p && static_cast<bool>((p->*Field)());
}

} // namespace

// Presence of an optional operand: IF(Gemm, rope) is "when GemmParams.rope is
// set", UNLESS(...) the opposite.
#define IF(family, field)                                                      \
  Presence {                                                                   \
    #field, &isSet<plan::family##Params, &plan::family##Params::field>, false  \
  }
#define UNLESS(family, field)                                                  \
  Presence {                                                                   \
    #field, &isSet<plan::family##Params, &plan::family##Params::field>, true   \
  }

const std::vector<StepFamily> &stepFamilies() {
  using P = plan::StepParams;
  using R = Role;
  constexpr Elem F = Elem::Float, F8 = Elem::FloatOrF8, I = Elem::I32,
                 V = Elem::I32Vector;
  const Presence always;
  static const std::vector<StepFamily> families = {
      {P::EmbeddingParams,
       "Embedding",
       {{R::Tokens, V, always}},
       {{R::Hidden, F, always}},
       {{R::EmbedTable, 2, false, always}}},
      {P::RmsNormParams,
       "RmsNorm",
       {{R::X, F, always}, {R::Residual, F, IF(RmsNorm, residual)}},
       {{R::Y, F8, always}, {R::Sum, F, IF(RmsNorm, residual)}},
       {{R::NormWeight, 1, false, always}},
       {R::X, R::Residual}},
      {P::AddParams,
       "Add",
       {{R::A, F, always}, {R::B, F, always}},
       {{R::Y, F, always}},
       {},
       {R::A, R::B}},
      {P::SiluMulParams,
       "SiluMul",
       {{R::GateAct, F, always}, {R::UpAct, F, always}},
       {{R::Y, F, always}},
       {},
       {R::GateAct, R::UpAct}},
      {P::RopeParams,
       "Rope",
       {{R::X, F, always}, {R::Positions, V, always}},
       {{R::Y, F, always}},
       {},
       {R::X}},
      {P::GemmParams,
       "Gemm",
       {{R::A, F8, always},
        {R::Positions, V, IF(Gemm, rope)},
        {R::Residual, F, IF(Gemm, residual)}},
       {{R::C, F, always}},
       {{R::Matrix, 2, false, always}},
       {R::Residual}},
      {P::KvAppendParams,
       "KvAppend",
       {{R::Latent, F, always},
        {R::KPe, F, always},
        {R::Positions, V, always},
        {R::SeqIds, V, always}},
       {},
       {{R::KvNorm, 1, false, IF(KvAppend, normalize)}}},
      {P::MlaAttentionParams,
       "MlaAttention",
       {{R::Q, F, always}, {R::Positions, V, always}, {R::SeqIds, V, always}},
       {{R::O, F, always}},
       {{R::KvB, 2, false, always}}},
      {P::MlaLatentAttentionParams,
       "MlaLatentAttention",
       {{R::QLat, F, always},
        {R::QPe, F, always},
        {R::Positions, V, always},
        {R::SeqIds, V, always}},
       {{R::OLat, F, always}}},
      {P::HeadGemmParams,
       "HeadGemm",
       {{R::X, F, always}},
       {{R::Y, F, always}},
       {{R::Matrix, 2, false, always}}},
      {P::RouteParams,
       "Route",
       {{R::X, F, IF(Route, fused_gate)},
        {R::Logits, F, UNLESS(Route, fused_gate)}},
       {{R::ExpertIds, I, always}, {R::ExpertWeights, F, always}},
       {{R::GateMatrix, 2, false, IF(Route, fused_gate)},
        {R::GateBias, 1, false, IF(Route, has_bias)}}},
      {P::MoeExpertsParams,
       "MoeExperts",
       {{R::X, F, always}, {R::ExpertIds, I, always}},
       {{R::Y, F, always}},
       {{R::GateUp, 2, true, always}, {R::Down, 2, true, always}}},
      {P::MoeDispatchParams,
       "MoeDispatch",
       {{R::X, F, always}, {R::ExpertIds, I, always}},
       {{R::XSorted, F, always},
        {R::Offsets, V, always},
        {R::Perm, V, always}}},
      {P::GroupedGemmParams,
       "GroupedGemm",
       {{R::XSorted, F, always}, {R::Offsets, V, always}},
       {{R::Y, F, always}},
       {{R::Matrix, 2, true, always}}},
      {P::MoeCombineParams,
       "MoeCombine",
       {{R::Y, F, always},
        {R::ExpertWeights, F, always},
        {R::Perm, V, IF(MoeCombine, permuted)},
        {R::SharedOut, F, IF(MoeCombine, shared)},
        {R::Residual, F, IF(MoeCombine, residual)}},
       {{R::Out, F, always}},
       {},
       {R::Residual}},
      {P::GatherRowsParams,
       "GatherRows",
       {{R::X, F, always}, {R::RowIds, V, always}},
       {{R::Y, F, always}}},
      {P::ArgmaxParams,
       "Argmax",
       {{R::Logits, F, always}},
       {{R::Ids, V, always}}},
      {P::SampleParams,
       "Sample",
       {{R::Logits, F, always}, {R::Sampling, I, always}},
       {{R::Ids, I, always}, {R::Logprobs, F, always}}},
      {P::SampleCandidatesParams,
       "SampleCandidates",
       {{R::Logits, F, always}, {R::Sampling, I, always}},
       {{R::Candidates, F, always}}},
      {P::KvGatherParams,
       "KvGather",
       {{R::Positions, V, always}, {R::SeqIds, V, always}},
       {{R::CacheRows, F, always}}},
      {P::MlaPrefillAttentionParams,
       "MlaPrefillAttention",
       {{R::Q, F, always},
        {R::Kv, F, always},
        {R::KPe, F, always},
        {R::Positions, V, always}},
       {{R::O, F, always}}},
      {P::NextTokensParams,
       "NextTokens",
       {{R::Tokens, V, always},
        {R::Positions, V, always},
        {R::SeqIds, V, always},
        {R::LogitRows, V, always},
        {R::Ids, V, always}},
       {{R::Next, V, always}}},
      {P::ConcatParams,
       "Concat",
       {{R::A, F, always}, {R::B, F, always}},
       {{R::AB, F, always}}},
      {P::AllReduceParams,
       "AllReduce",
       {{R::X, F, always}},
       {{R::Y, F, always}},
       {},
       {R::X}},
      {P::AllGatherParams,
       "AllGather",
       {{R::X, F, always}},
       {{R::Y, F, always}}},
  };
  return families;
}

#undef IF
#undef UNLESS

const char *roleName(Role role) {
  static const char *const names[] = {
#define ROLE(enumerator, name) name,
#include "moela/Runtime/StepRoles.def"
  };
  const int i = static_cast<int>(role);
  return i >= 0 && i < kNumRoles ? names[i] : "?";
}

const StepFamily *findStepFamily(plan::StepParams type) {
  for (const StepFamily &f : stepFamilies())
    if (f.type == type)
      return &f;
  return nullptr;
}

const StepFamily &stepFamily(plan::StepParams type) {
  if (const StepFamily *f = findStepFamily(type))
    return *f;
  fail("unknown step family ", static_cast<int>(type));
}

const char *stepFamilyName(plan::StepParams type) {
  if (type == plan::StepParams::NONE)
    return "None";
  const StepFamily *f = findStepFamily(type);
  return f ? f->name : "unknown";
}

// ---- StepOperands -----------------------------------------------------------

namespace {
std::atomic<RoleAuditHook> auditHook{nullptr};

template <typename Decl>
size_t resolve(const std::vector<Decl> &decls, const plan::Step &step,
               int8_t (&slots)[kNumRoles]) {
  std::fill(std::begin(slots), std::end(slots), int8_t(-1));
  size_t n = 0;
  for (const Decl &d : decls)
    if (d.when.holds(step))
      slots[static_cast<int>(d.role)] = static_cast<int8_t>(n++);
  return n;
}

template <typename Decl>
RoleSet presentRoles(const std::vector<Decl> &decls, const plan::Step &step) {
  RoleSet set = 0;
  for (const Decl &d : decls)
    if (d.when.holds(step))
      set |= roleBit(d.role);
  return set;
}
} // namespace

StepOperands::StepOperands(const plan::Step &step, const char *consumer)
    : step_(step), family_(stepFamily(step.params_type())),
      consumer_(consumer) {
  const size_t ins = resolve(family_.inputs, step, in_);
  const size_t outs = resolve(family_.outputs, step, out_);
  const size_t weights = resolve(family_.weights, step, weight_);
  auto size = [](const auto *v) { return v ? size_t(v->size()) : size_t(0); };
  if (size(step.inputs()) != ins || size(step.outputs()) != outs ||
      size(step.weights()) != weights)
    fail(family_.name, " step '", step.name() ? step.name()->str() : "",
         "' has ", size(step.inputs()), " inputs, ", size(step.outputs()),
         " outputs and ", size(step.weights()),
         " weights; its declaration "
         "and parameters give ",
         ins, ", ", outs, " and ", weights);
}

StepOperands::~StepOperands() {
  if (RoleAuditHook hook = auditHook.load())
    hook(audit());
}

const plan::Operand &StepOperands::in(Role role) const {
  const int i = in_[index(role)];
  if (i < 0)
    fail(family_.name, " step has no input '", roleName(role), "'");
  read_[0] |= roleBit(role);
  return *step_.inputs()->Get(flatbuffers::uoffset_t(i));
}

const plan::Operand &StepOperands::out(Role role) const {
  const int i = out_[index(role)];
  if (i < 0)
    fail(family_.name, " step has no output '", roleName(role), "'");
  read_[1] |= roleBit(role);
  return *step_.outputs()->Get(flatbuffers::uoffset_t(i));
}

uint32_t StepOperands::weight(Role role) const {
  const int i = weight_[index(role)];
  if (i < 0)
    fail(family_.name, " step has no weight '", roleName(role), "'");
  read_[2] |= roleBit(role);
  return step_.weights()->Get(flatbuffers::uoffset_t(i));
}

StepOperands::Audit StepOperands::audit() const {
  Audit a;
  a.consumer = consumer_;
  a.family = family_.type;
  a.present[0] = presentRoles(family_.inputs, step_);
  a.present[1] = presentRoles(family_.outputs, step_);
  a.present[2] = presentRoles(family_.weights, step_);
  for (int i = 0; i < 3; ++i)
    a.read[i] = read_[i];
  return a;
}

void setRoleAuditHook(RoleAuditHook hook) { auditHook.store(hook); }

// ---- StepBuilder ------------------------------------------------------------

template <typename Decl, typename Value>
void StepBuilder::add(const std::vector<Decl> &decls, const char *list,
                      std::vector<std::pair<Role, Value>> &set, Role role,
                      const Value &value) {
  const bool declared =
      std::any_of(decls.begin(), decls.end(),
                  [&](const Decl &d) { return d.role == role; });
  const bool again =
      std::any_of(set.begin(), set.end(),
                  [&](const auto &entry) { return entry.first == role; });
  if ((!declared || again) && error_.empty())
    error_ = std::string(family_.name) +
             (declared ? " sets " : " declares no ") + list + " '" +
             roleName(role) + (declared ? "' twice" : "'");
  set.push_back({role, value});
}

namespace {
template <typename Decl, typename Value>
std::vector<Value> ordered(const std::vector<Decl> &decls,
                           const std::vector<std::pair<Role, Value>> &set) {
  std::vector<Value> values;
  for (const Decl &d : decls)
    for (const auto &entry : set)
      if (entry.first == d.role)
        values.push_back(entry.second);
  return values;
}
} // namespace

void StepBuilder::in(Role role, const plan::Operand &operand) {
  add(family_.inputs, "input", in_, role, operand);
}
void StepBuilder::out(Role role, const plan::Operand &operand) {
  add(family_.outputs, "output", out_, role, operand);
}
void StepBuilder::weight(Role role, uint32_t index) {
  add(family_.weights, "weight", weight_, role, index);
}
std::vector<plan::Operand> StepBuilder::inputs() const {
  return ordered(family_.inputs, in_);
}
std::vector<plan::Operand> StepBuilder::outputs() const {
  return ordered(family_.outputs, out_);
}
std::vector<uint32_t> StepBuilder::weights() const {
  return ordered(family_.weights, weight_);
}

} // namespace moela
