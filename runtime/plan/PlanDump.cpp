//===- PlanDump.cpp - Human-readable and JSON listings of a plan ----------===//
//
// Both listings share stepParamsJson(), so the text form prints exactly the
// parameters the JSON form holds; operands and weights are named by the role
// their family declares (StepFamilies.cpp).
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Plan.h"

#include "moela/Runtime/Error.h"

#include <flatbuffers/minireflect.h>
#include <nlohmann/json.hpp>

#include <ostream>
#include <sstream>

namespace moela {
namespace {

using nlohmann::json;

std::string str(const flatbuffers::String *s) {
  return s ? s->str() : std::string();
}

/// A flatbuffers table as JSON, by its mini-reflection type table: every
/// field present in the buffer (the plan writer stores defaults too), enums
/// by name, nested tables as objects. So the dump needs no code per family:
/// a step's parameters are declared once, by their plan.fbs table.
class JsonVisitor : public flatbuffers::IterationVisitor {
public:
  json result = json::object();

  void StartSequence() override {
    objects_.push_back(json::object());
    keys_.push_back(key_);
  }
  void EndSequence() override {
    json done = std::move(objects_.back());
    objects_.pop_back();
    const std::string key = std::move(keys_.back());
    keys_.pop_back();
    if (objects_.empty())
      result = std::move(done);
    else
      objects_.back()[key] = std::move(done);
  }
  void Field(size_t, size_t, flatbuffers::ElementaryType, bool,
             const flatbuffers::TypeTable *, const char *name,
             const uint8_t *) override {
    key_ = name ? name : "?";
  }
  void Bool(bool v) override { set(v); }
  void Char(int8_t v, const char *name) override { setEnum(v, name); }
  void UChar(uint8_t v, const char *name) override { setEnum(v, name); }
  void Short(int16_t v, const char *name) override { setEnum(v, name); }
  void UShort(uint16_t v, const char *name) override { setEnum(v, name); }
  void Int(int32_t v, const char *name) override { setEnum(v, name); }
  void UInt(uint32_t v, const char *name) override { setEnum(v, name); }
  void Long(int64_t v) override { set(v); }
  void ULong(uint64_t v) override { set(v); }
  void Float(float v) override { set(v); }
  void Double(double v) override { set(v); }
  void String(const flatbuffers::String *v) override { set(str(v)); }

private:
  void set(json v) { objects_.back()[key_] = std::move(v); }
  template <typename T> void setEnum(T v, const char *name) {
    name ? set(name) : set(v);
  }

  std::vector<json> objects_;
  std::vector<std::string> keys_;
  std::string key_;
};

/// The family's parameters, as their plan.fbs table holds them.
json stepParamsJson(const plan::Step &step) {
  const flatbuffers::TypeTable *params = plan::StepParamsTypeTable();
  const int64_t index =
      flatbuffers::LookupEnum(static_cast<int64_t>(step.params_type()),
                              params->values, params->num_elems);
  if (!step.params() || index <= 0 || size_t(index) >= params->num_elems)
    return json::object();
  const flatbuffers::TypeCode code = params->type_codes[index];
  JsonVisitor visitor;
  flatbuffers::IterateObject(static_cast<const uint8_t *>(step.params()),
                             params->type_refs[code.sequence_ref](), &visitor);
  return visitor.result;
}

/// The role each operand and weight of `step` plays, in plan order.
struct StepRoles {
  std::vector<Role> inputs, outputs, weights;
};
StepRoles stepRoles(const plan::Step &step) {
  const StepOperands ops(step, "--dump-plan");
  StepRoles roles;
  roles.inputs.resize(step.inputs() ? step.inputs()->size() : 0);
  roles.outputs.resize(step.outputs() ? step.outputs()->size() : 0);
  roles.weights.resize(step.weights() ? step.weights()->size() : 0);
  for (const OperandDecl &d : ops.family().inputs)
    if (ops.hasIn(d.role)) {
      ops.in(d.role);
      roles.inputs[size_t(ops.inIndex(d.role))] = d.role;
    }
  for (const OperandDecl &d : ops.family().outputs)
    if (ops.hasOut(d.role)) {
      ops.out(d.role);
      roles.outputs[size_t(ops.outIndex(d.role))] = d.role;
    }
  for (const WeightDecl &d : ops.family().weights)
    if (ops.hasWeight(d.role)) {
      ops.weight(d.role);
      roles.weights[size_t(ops.weightIndex(d.role))] = d.role;
    }
  return roles;
}

json operandsJson(const flatbuffers::Vector<const plan::Operand *> *ops,
                  const std::vector<Role> &roles) {
  json j = json::array();
  if (ops)
    for (size_t i = 0; i < ops->size(); ++i) {
      const plan::Operand *o = ops->Get(flatbuffers::uoffset_t(i));
      j.push_back({{"role", roleName(roles[i])},
                   {"buffer", o->buffer()},
                   {"col_offset", o->col_offset()},
                   {"cols", o->cols()}});
    }
  return j;
}

/// "role=name[off:+cols]" for each operand.
std::string operandsText(const plan::Program &program,
                         const flatbuffers::Vector<const plan::Operand *> *ops,
                         const std::vector<Role> &roles) {
  if (!ops || ops->size() == 0)
    return "-";
  std::string s;
  for (size_t i = 0; i < ops->size(); ++i) {
    const plan::Operand *o = ops->Get(flatbuffers::uoffset_t(i));
    if (!s.empty())
      s += ' ';
    s += std::string(roleName(roles[i])) + "=" +
         str(program.buffers()->Get(o->buffer())->name()) + "[" +
         std::to_string(o->col_offset()) + ":+" + std::to_string(o->cols()) +
         "]";
  }
  return s;
}

std::string firstTensorName(const plan::Plan &root, uint32_t index) {
  return str(root.weights()->Get(index)->parts()->Get(0)->name());
}

std::string floatText(double v) {
  std::ostringstream os;
  os.precision(7);
  os << v;
  return os.str();
}

/// Compact "k=v" text of a params object (nested objects in parentheses).
std::string paramsText(const json &j) {
  std::string s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string item;
    if (it->is_boolean())
      item = it->get<bool>() ? it.key() : ""; // false flags are left out
    else if (it->is_object())
      item = it.key() + "=(" + paramsText(*it) + ")";
    else if (it->is_string())
      item = it.key() + "=" + it->get<std::string>();
    else if (it->is_number_float()) // float fields: 7 significant digits
      item = it.key() + "=" + floatText(it->get<double>());
    else if (!it->is_null())
      item = it.key() + "=" + it->dump();
    if (!item.empty())
      s += (s.empty() ? "" : " ") + item;
  }
  return s;
}

json modelJson(const ModelConfig &c) {
  json j = {{"architecture", c.architecture},
            {"vocab_size", c.vocabSize},
            {"hidden_size", c.hiddenSize},
            {"intermediate_size", c.intermediateSize},
            {"moe_intermediate_size", c.moeIntermediateSize},
            {"num_hidden_layers", c.numHiddenLayers},
            {"num_attention_heads", c.numAttentionHeads},
            {"q_lora_rank", c.qLoraRank},
            {"kv_lora_rank", c.kvLoraRank},
            {"qk_nope_head_dim", c.qkNopeHeadDim},
            {"qk_rope_head_dim", c.qkRopeHeadDim},
            {"v_head_dim", c.vHeadDim},
            {"n_routed_experts", c.nRoutedExperts},
            {"num_experts_per_tok", c.numExpertsPerTok},
            {"n_shared_experts", c.nSharedExperts},
            {"first_k_dense_replace", c.firstKDenseReplace},
            {"n_group", c.nGroup},
            {"topk_group", c.topkGroup},
            {"topk_method", toString(c.topkMethod)},
            {"scoring_func", toString(c.scoringFunc)},
            {"norm_topk_prob", c.normTopkProb},
            {"routed_scaling_factor", c.routedScalingFactor},
            {"rms_norm_eps", c.rmsNormEps},
            {"rope_theta", c.ropeTheta},
            {"yarn", c.yarn.enabled},
            {"fp8", c.fp8.enabled},
            {"torch_dtype", c.torchDtype}};
  if (c.yarn.enabled)
    j["yarn_factor"] = c.yarn.factor;
  return j;
}

std::string weightText(const plan::Weight &w) {
  std::string s;
  for (const plan::TensorRef *t : *w.parts()) {
    if (!s.empty())
      s += " ; ";
    s += str(t->name()) + " " + plan::EnumNameDType(t->dtype()) + " " +
         shapeString(*t->shape());
    if (t->quantize_at_load())
      s += " (quantized at load)";
    if (t->shard_parts() > 1)
      s += " (shard of " + std::to_string(t->shard_parts()) + " along dim " +
           std::to_string(t->shard_dim()) + ")";
  }
  if (w.experts() > 0)
    s += " x" + std::to_string(w.experts()) + " experts";
  if (w.expert_parts() > 1)
    s += " (each of " + std::to_string(w.expert_parts()) + " ranks)";
  return s;
}

/// "world_size 2: tp 2, ep, vocab parallel" (the split of a multi-device
/// plan; "world_size 1" for one device).
std::string worldText(const plan::Plan &root) {
  std::string s = "world_size " + std::to_string(root.world_size());
  if (const plan::Layout *l = root.layout()) {
    s += ": tp " + std::to_string(l->tp());
    if (l->ep())
      s += ", ep";
    if (l->vocab_parallel())
      s += ", vocab parallel";
    if (l->logits_sharded())
      s += ", sharded logits";
  }
  return s;
}

} // namespace

void dumpPlan(const Plan &plan, std::ostream &os) {
  const plan::Plan &root = plan.root();
  const ModelConfig &c = plan.config();
  os << "plan " << plan.origin() << ": schema " << root.schema_version()
     << ", target " << str(root.target()) << ", generator '"
     << str(root.generator()) << "'\n";
  if (root.pipeline())
    os << "pipeline: " << str(root.pipeline()) << "\n";
  os << "model: " << c.architecture << " V=" << c.vocabSize
     << " D=" << c.hiddenSize << " layers=" << c.numHiddenLayers
     << " H=" << c.numAttentionHeads << " Rq=" << c.qLoraRank
     << " R=" << c.kvLoraRank << " Dn=" << c.qkNopeHeadDim
     << " Dr=" << c.qkRopeHeadDim << " Dv=" << c.vHeadDim
     << " F=" << c.intermediateSize << " Fm=" << c.moeIntermediateSize
     << " E=" << c.nRoutedExperts << " K=" << c.numExpertsPerTok
     << " shared=" << c.nSharedExperts << " dense=" << c.firstKDenseReplace
     << " groups=" << c.nGroup << "/" << c.topkGroup << " "
     << toString(c.topkMethod) << " " << toString(c.scoringFunc)
     << (c.normTopkProb ? " norm_topk_prob" : "")
     << " scaling=" << c.routedScalingFactor
     << (c.yarn.enabled ? " yarn=" + std::to_string(c.yarn.factor) : "")
     << (c.fp8.enabled ? " fp8" : "") << "\n";
  if (const plan::KvCache *kv = root.kv_cache())
    os << "kv_cache: layers " << kv->layers() << ", latent " << kv->latent_dim()
       << ", rope " << kv->rope_dim() << ", "
       << plan::EnumNameDType(kv->dtype()) << ", pages of " << kv->page_tokens()
       << " tokens\n";
  os << worldText(root) << "\n";

  for (const plan::Program *p : *root.programs()) {
    os << "\nprogram '" << str(p->name()) << "': max_tokens " << p->max_tokens()
       << ", max_logit_rows " << p->max_logit_rows() << ", arena "
       << p->arena_bytes() << " bytes, "
       << (p->steps() ? p->steps()->size() : 0) << " steps"
       << (p->fresh_sequences() ? ", fresh sequences" : "") << "\n";
    os << "  buffers:\n";
    for (size_t i = 0; i < p->buffers()->size(); ++i) {
      const plan::Buffer *b = p->buffers()->Get(i);
      std::string rows = b->row_kind() == plan::RowKind::PerToken      ? "T"
                         : b->row_kind() == plan::RowKind::PerLogitRow ? "R"
                                                                       : "";
      rows = b->row_factor() == 1 && !rows.empty()
                 ? rows
                 : std::to_string(b->row_factor()) +
                       (rows.empty() ? "" : "*" + rows);
      os << "    " << i << " " << str(b->name()) << " "
         << plan::EnumNameDType(b->dtype()) << " [" << rows << ", " << b->cols()
         << "] offset " << b->offset() << " bytes " << b->bytes();
      if (b->scales() >= 0)
        os << " scales " << b->scales();
      os << "\n";
    }
    os << "  inputs:";
    for (uint32_t i : *p->inputs())
      os << " " << str(p->buffers()->Get(i)->name());
    os << "; output:";
    for (uint32_t i : *p->outputs())
      os << " " << str(p->buffers()->Get(i)->name());
    os << "\n  steps:\n";
    if (!p->steps())
      continue;
    for (size_t i = 0; i < p->steps()->size(); ++i) {
      const plan::Step *s = p->steps()->Get(i);
      const StepRoles roles = stepRoles(*s);
      os << "    " << i << " " << stepFamilyName(s->params_type()) << " "
         << str(s->name())
         << "  in: " << operandsText(*p, s->inputs(), roles.inputs)
         << "  out: " << operandsText(*p, s->outputs(), roles.outputs);
      if (s->weights() && s->weights()->size()) {
        os << "  w:";
        for (size_t w = 0; w < s->weights()->size(); ++w)
          os << " " << roleName(roles.weights[w]) << "="
             << firstTensorName(root,
                                s->weights()->Get(flatbuffers::uoffset_t(w)));
      }
      std::string params = paramsText(stepParamsJson(*s));
      if (!params.empty())
        os << "  " << params;
      if (s->kernel() >= 0)
        os << "  kernel " << s->kernel();
      os << "\n";
    }
  }

  os << "\nweights:\n";
  if (root.weights())
    for (size_t i = 0; i < root.weights()->size(); ++i)
      os << "  " << i << " " << weightText(*root.weights()->Get(i)) << "\n";
  os << "kernels:\n";
  if (root.kernels())
    for (size_t i = 0; i < root.kernels()->size(); ++i) {
      const plan::Kernel *k = root.kernels()->Get(i);
      os << "  " << i << " " << str(k->name()) << " " << str(k->family()) << " "
         << str(k->arch()) << " cubin " << (k->cubin() ? k->cubin()->size() : 0)
         << " bytes, " << k->registers() << " registers, " << k->spill_bytes()
         << " spill bytes, " << k->shared_bytes() << " shared bytes\n";
    }
}

void dumpPlanJson(const Plan &plan, std::ostream &os) {
  const plan::Plan &root = plan.root();
  json j;
  j["schema_version"] = root.schema_version();
  j["generator"] = str(root.generator());
  j["target"] = str(root.target());
  j["pipeline"] = str(root.pipeline());
  j["model"] = modelJson(plan.config());
  j["world_size"] = root.world_size();
  if (const plan::Layout *l = root.layout())
    j["layout"] = {{"tp", l->tp()},
                   {"ep", l->ep()},
                   {"vocab_parallel", l->vocab_parallel()},
                   {"logits_sharded", l->logits_sharded()}};
  if (const plan::KvCache *kv = root.kv_cache())
    j["kv_cache"] = {{"layers", kv->layers()},
                     {"latent_dim", kv->latent_dim()},
                     {"rope_dim", kv->rope_dim()},
                     {"dtype", plan::EnumNameDType(kv->dtype())},
                     {"page_tokens", kv->page_tokens()}};

  json programs = json::array();
  for (const plan::Program *p : *root.programs()) {
    json buffers = json::array();
    for (const plan::Buffer *b : *p->buffers()) {
      json buffer = {{"name", str(b->name())},
                     {"dtype", plan::EnumNameDType(b->dtype())},
                     {"row_kind", plan::EnumNameRowKind(b->row_kind())},
                     {"row_factor", b->row_factor()},
                     {"cols", b->cols()},
                     {"offset", b->offset()},
                     {"bytes", b->bytes()}};
      if (b->scales() >= 0)
        buffer["scales"] = b->scales();
      buffers.push_back(std::move(buffer));
    }
    json steps = json::array();
    if (p->steps())
      for (const plan::Step *s : *p->steps()) {
        const StepRoles roles = stepRoles(*s);
        json weights = json::array();
        if (s->weights())
          for (size_t w = 0; w < s->weights()->size(); ++w)
            weights.push_back(
                {{"role", roleName(roles.weights[w])},
                 {"weight", s->weights()->Get(flatbuffers::uoffset_t(w))}});
        steps.push_back({{"name", str(s->name())},
                         {"family", stepFamilyName(s->params_type())},
                         {"params", stepParamsJson(*s)},
                         {"inputs", operandsJson(s->inputs(), roles.inputs)},
                         {"outputs", operandsJson(s->outputs(), roles.outputs)},
                         {"weights", weights},
                         {"kernel", s->kernel()}});
      }
    json inputs = json::array(), outputs = json::array();
    for (uint32_t i : *p->inputs())
      inputs.push_back(i);
    for (uint32_t i : *p->outputs())
      outputs.push_back(i);
    programs.push_back({{"name", str(p->name())},
                        {"max_tokens", p->max_tokens()},
                        {"max_logit_rows", p->max_logit_rows()},
                        {"buffers", buffers},
                        {"inputs", inputs},
                        {"outputs", outputs},
                        {"steps", steps},
                        {"arena_bytes", p->arena_bytes()},
                        {"fresh_sequences", p->fresh_sequences()}});
  }
  j["programs"] = programs;

  json weights = json::array();
  if (root.weights())
    for (const plan::Weight *w : *root.weights()) {
      json parts = json::array();
      for (const plan::TensorRef *t : *w->parts()) {
        json shape = json::array();
        for (int64_t d : *t->shape())
          shape.push_back(d);
        json part = {{"name", str(t->name())},
                     {"dtype", plan::EnumNameDType(t->dtype())},
                     {"shape", shape}};
        if (t->scale_name())
          part["scale_name"] = str(t->scale_name());
        if (t->quantize_at_load())
          part["quantize_at_load"] = true;
        if (t->shard_parts() > 1) {
          part["shard_dim"] = t->shard_dim();
          part["shard_parts"] = t->shard_parts();
        }
        parts.push_back(part);
      }
      weights.push_back({{"parts", parts},
                         {"experts", w->experts()},
                         {"expert_parts", w->expert_parts()}});
    }
  j["weights"] = weights;

  json kernels = json::array();
  if (root.kernels())
    for (const plan::Kernel *k : *root.kernels())
      kernels.push_back(
          {{"name", str(k->name())},
           {"family", str(k->family())},
           {"arch", str(k->arch())},
           {"cubin_bytes", k->cubin() ? k->cubin()->size() : 0},
           {"source_bytes", k->source() ? k->source()->size() : 0},
           {"registers", k->registers()},
           {"spill_bytes", k->spill_bytes()},
           {"shared_bytes", k->shared_bytes()},
           {"dynamic_shared_bytes", k->dynamic_shared_bytes()},
           {"threads", k->threads()}});
  j["kernels"] = kernels;
  // A plan's strings are not checked for UTF-8: show a bad byte as U+FFFD
  // rather than fail the whole dump.
  os << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

} // namespace moela
