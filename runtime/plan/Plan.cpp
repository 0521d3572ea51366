//===- Plan.cpp - Opening and checking a compiled plan --------------------===//
//
// Order of checks: file identifier (is it a plan at all), flatbuffers Verifier
// (can it be read safely; PlanStructure.cpp names the part it rejects),
// schema version (does this runtime understand it),
// then the semantic rules of PlanVerify.cpp. Each failure is one line that
// names the file.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Plan.h"

#include "PlanVerify.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Weights.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace moela {
namespace {

/// The 4 identifier bytes, printable characters as is, others as \xNN.
std::string printableIdentifier(const uint8_t *id) {
  static const char hex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 4; ++i) {
    if (std::isprint(id[i]) && id[i] != '\'' && id[i] != '\\') {
      s += char(id[i]);
    } else {
      s += "\\x";
      s += hex[id[i] >> 4];
      s += hex[id[i] & 15];
    }
  }
  return s;
}

} // namespace

Plan Plan::load(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path, ": cannot open plan file (", std::strerror(errno), ")");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad())
    fail(path, ": cannot read plan file");
  return fromBytes(std::move(bytes), path);
}

Plan Plan::fromBytes(std::vector<uint8_t> bytes, const std::string &origin) {
  // A flatbuffer starts with the root offset and the 4-byte file identifier.
  if (bytes.size() < 8)
    fail(origin, ": not a moela plan (", bytes.size(),
         " bytes, too short for a plan header)");
  if (!flatbuffers::BufferHasIdentifier(bytes.data(), plan::PlanIdentifier()))
    fail(origin, ": not a moela plan (file identifier '",
         printableIdentifier(bytes.data() + 4), "', expected '",
         plan::PlanIdentifier(), "')");

  // Generous limits: a whole-model plan has thousands of steps and large
  // cubins.
  flatbuffers::Verifier::Options options;
  options.max_depth = 64;
  options.max_tables = 100'000'000;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), options);
  if (!plan::VerifyPlanBuffer(verifier)) {
    const std::string at =
        locatePlanCorruption(bytes.data(), bytes.size(), options);
    fail(origin,
         ": corrupt or truncated plan: the flatbuffers verifier "
         "rejects ",
         at.empty() ? "it" : at,
         " (an offset, size or alignment outside the file's ", bytes.size(),
         " bytes)");
  }

  Plan result;
  result.origin_ = origin;
  result.bytes_ = std::move(bytes);
  result.root_ = plan::GetPlan(result.bytes_.data());
  const plan::Plan &root = *result.root_;
  if (root.schema_version() != kPlanSchemaVersion)
    fail(origin, ": plan schema version ", root.schema_version(),
         ", but this runtime reads version ", kPlanSchemaVersion,
         "; recompile the model with a matching moela-compile");
  if (!root.model())
    fail(origin, ": the plan has no model config");
  result.config_ = toModelConfig(*root.model());
  result.weightShapes_ =
      verifyPlanSemantics(root, result.config_, result.origin_);
  return result;
}

std::string verifyPlanBytes(const std::vector<uint8_t> &bytes,
                            const std::string &origin) {
  try {
    Plan::fromBytes(bytes, origin);
    return {};
  } catch (const std::exception &e) {
    return e.what();
  }
}

bool Plan::hasProgram(const std::string &name) const {
  for (const plan::Program *p : *root_->programs())
    if (p->name()->str() == name)
      return true;
  return false;
}

const plan::Program &Plan::program(const std::string &name) const {
  std::string names;
  for (const plan::Program *p : *root_->programs()) {
    if (p->name()->str() == name)
      return *p;
    names += (names.empty() ? "" : ", ") + p->name()->str();
  }
  fail(origin_, ": no program '", name, "' (the plan has: ", names, ")");
}

const WeightShape &Plan::weightShape(uint32_t index) const {
  if (index >= weightShapes_.size())
    fail(origin_, ": weight index ", index, " out of range (plan has ",
         weightShapes_.size(), " weights)");
  return weightShapes_[index];
}

std::vector<TensorSpec> Plan::tensorSpecs(uint32_t index, int expert,
                                          int rank) const {
  const WeightShape &shape = weightShape(index);
  const plan::Weight &w = *root_->weights()->Get(index);
  if (shape.experts > 0 && (expert < 0 || expert >= shape.experts))
    fail(origin_, ": weight ", index, " is a set of ", shape.experts,
         " experts; expert ", expert, " out of range");
  if (rank < 0 || rank >= root_->world_size())
    fail(origin_, ": rank ", rank, " out of range for a world of ",
         root_->world_size());
  // Expert e's tensors are named with "{e}" replaced by its checkpoint index:
  // under expert parallelism rank r's experts come after those of ranks < r.
  auto expand = [&](std::string name) {
    if (shape.experts == 0)
      return name;
    const std::string e = std::to_string(
        expert + (w.expert_parts() > 1 ? rank * shape.experts : 0));
    for (size_t at; (at = name.find("{e}")) != std::string::npos;)
      name.replace(at, 3, e);
    return name;
  };
  std::vector<TensorSpec> specs;
  for (const plan::TensorRef *t : *w.parts()) {
    TensorSpec spec;
    spec.name = expand(t->name()->str());
    spec.dtype = static_cast<DType>(t->dtype());
    spec.shape.assign(t->shape()->begin(), t->shape()->end());
    spec.quantizeAtLoad = t->quantize_at_load();
    if (t->shard_dim() >= 0 && t->shard_parts() > 1) {
      spec.sliceDim = t->shard_dim();
      spec.sliceParts = t->shard_parts();
      spec.sliceOffset = rank * spec.shape[spec.sliceDim];
    }
    if (t->scale_name()) {
      spec.scaleName = expand(t->scale_name()->str());
      if (t->scale_shape())
        spec.scaleShape.assign(t->scale_shape()->begin(),
                               t->scale_shape()->end());
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

RopeSpec toRopeSpec(const plan::Rope &rope) {
  RopeSpec spec;
  spec.theta = rope.theta();
  spec.dim = rope.dim();
  spec.yarn = toYarnConfig(rope.yarn());
  return spec;
}

} // namespace moela
