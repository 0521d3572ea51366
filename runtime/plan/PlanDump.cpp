//===- PlanDump.cpp - Human-readable and JSON listings of a plan ----------===//
//
// Both listings share stepParamsJson(), so the text form prints exactly the
// parameters the JSON form holds.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Plan.h"

#include "moela/Runtime/Error.h"

#include <nlohmann/json.hpp>

#include <ostream>
#include <sstream>

namespace moela {
namespace {

using nlohmann::json;

std::string str(const flatbuffers::String *s) {
  return s ? s->str() : std::string();
}

json ropeJson(const plan::Rope *r) {
  if (!r)
    return nullptr;
  json j = {{"theta", r->theta()},   {"dim", r->dim()},
            {"heads", r->heads()},   {"head_dim", r->head_dim()},
            {"offset", r->offset()}, {"yarn", r->yarn() != nullptr}};
  if (const plan::Yarn *y = r->yarn())
    j["yarn_factor"] = y->factor();
  return j;
}

/// The family's parameters, without tiles (those are the CUDA backend's).
json stepParamsJson(const plan::Step &step) {
  using T = plan::StepParams;
  switch (step.params_type()) {
  case T::RmsNormParams: {
    const auto *p = step.params_as_RmsNormParams();
    return {{"eps", p->eps()},
            {"residual", p->residual()},
            {"quantize", p->quantize()}};
  }
  case T::RopeParams:
    return {{"rope", ropeJson(step.params_as_RopeParams()->rope())}};
  case T::GemmParams: {
    const auto *p = step.params_as_GemmParams();
    json j = {{"silu_mul", p->silu_mul()}, {"residual", p->residual()}};
    if (p->rope())
      j["rope"] = ropeJson(p->rope());
    return j;
  }
  case T::KvAppendParams: {
    const auto *p = step.params_as_KvAppendParams();
    return {{"layer", p->layer()},
            {"normalize", p->normalize()},
            {"eps", p->eps()},
            {"rope", ropeJson(p->rope())}};
  }
  case T::MlaAttentionParams: {
    const auto *p = step.params_as_MlaAttentionParams();
    return {{"layer", p->layer()},
            {"heads", p->heads()},
            {"nope_dim", p->nope_dim()},
            {"rope_dim", p->rope_dim()},
            {"v_dim", p->v_dim()},
            {"latent_dim", p->latent_dim()},
            {"scale", p->scale()},
            {"form", plan::EnumNameAttentionForm(p->form())}};
  }
  case T::MlaLatentAttentionParams: {
    const auto *p = step.params_as_MlaLatentAttentionParams();
    return {{"layer", p->layer()},
            {"heads", p->heads()},
            {"latent_dim", p->latent_dim()},
            {"rope_dim", p->rope_dim()},
            {"scale", p->scale()},
            {"q_lat_stride", p->q_lat_stride()},
            {"q_pe_stride", p->q_pe_stride()}};
  }
  case T::KvGatherParams:
    return {{"layer", step.params_as_KvGatherParams()->layer()}};
  case T::MlaPrefillAttentionParams: {
    const auto *p = step.params_as_MlaPrefillAttentionParams();
    return {{"heads", p->heads()},
            {"nope_dim", p->nope_dim()},
            {"rope_dim", p->rope_dim()},
            {"v_dim", p->v_dim()},
            {"scale", p->scale()}};
  }
  case T::HeadGemmParams: {
    const auto *p = step.params_as_HeadGemmParams();
    return {{"heads", p->heads()},           {"head_rows", p->head_rows()},
            {"row_offset", p->row_offset()}, {"rows", p->rows()},
            {"transpose", p->transpose()},   {"in_stride", p->in_stride()},
            {"out_stride", p->out_stride()}};
  }
  case T::RouteParams: {
    const auto *p = step.params_as_RouteParams();
    return {{"scoring", plan::EnumNameScoringFunc(p->scoring())},
            {"method", plan::EnumNameTopkMethod(p->method())},
            {"experts", p->experts()},
            {"top_k", p->top_k()},
            {"groups", p->groups()},
            {"topk_groups", p->topk_groups()},
            {"norm_topk_prob", p->norm_topk_prob()},
            {"scaling", p->scaling()},
            {"fused_gate", p->fused_gate()},
            {"has_bias", p->has_bias()}};
  }
  case T::MoeExpertsParams: {
    const auto *p = step.params_as_MoeExpertsParams();
    return {{"experts", p->experts()},
            {"top_k", p->top_k()},
            {"intermediate", p->intermediate()}};
  }
  case T::MoeDispatchParams: {
    const auto *p = step.params_as_MoeDispatchParams();
    return {{"experts", p->experts()}, {"top_k", p->top_k()}};
  }
  case T::GroupedGemmParams: {
    const auto *p = step.params_as_GroupedGemmParams();
    return {{"experts", p->experts()}, {"silu_mul", p->silu_mul()}};
  }
  case T::MoeCombineParams: {
    const auto *p = step.params_as_MoeCombineParams();
    return {{"top_k", p->top_k()},
            {"permuted", p->permuted()},
            {"shared", p->shared()},
            {"residual", p->residual()}};
  }
  default:
    return json::object();
  }
}

json operandsJson(const flatbuffers::Vector<const plan::Operand *> *ops) {
  json j = json::array();
  if (ops)
    for (const plan::Operand *o : *ops)
      j.push_back({{"buffer", o->buffer()},
                   {"col_offset", o->col_offset()},
                   {"cols", o->cols()}});
  return j;
}

/// "name[off:+cols]" for each operand.
std::string
operandsText(const plan::Program &program,
             const flatbuffers::Vector<const plan::Operand *> *ops) {
  if (!ops || ops->size() == 0)
    return "-";
  std::string s;
  for (const plan::Operand *o : *ops) {
    if (!s.empty())
      s += ' ';
    s += str(program.buffers()->Get(o->buffer())->name()) + "[" +
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
  }
  if (w.experts() > 0)
    s += " x" + std::to_string(w.experts()) + " experts";
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
       << plan::EnumNameDType(kv->dtype()) << "\n";

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
      os << "    " << i << " " << stepFamilyName(s->params_type()) << " "
         << str(s->name()) << "  in: " << operandsText(*p, s->inputs())
         << "  out: " << operandsText(*p, s->outputs());
      if (s->weights() && s->weights()->size()) {
        os << "  w:";
        for (uint32_t w : *s->weights())
          os << " " << firstTensorName(root, w);
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
  if (const plan::KvCache *kv = root.kv_cache())
    j["kv_cache"] = {{"layers", kv->layers()},
                     {"latent_dim", kv->latent_dim()},
                     {"rope_dim", kv->rope_dim()},
                     {"dtype", plan::EnumNameDType(kv->dtype())}};

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
        json weights = json::array();
        if (s->weights())
          for (uint32_t w : *s->weights())
            weights.push_back(w);
        steps.push_back({{"name", str(s->name())},
                         {"family", stepFamilyName(s->params_type())},
                         {"params", stepParamsJson(*s)},
                         {"inputs", operandsJson(s->inputs())},
                         {"outputs", operandsJson(s->outputs())},
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
        parts.push_back(part);
      }
      weights.push_back({{"parts", parts}, {"experts", w->experts()}});
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
