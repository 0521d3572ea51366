//===- PlanStructure.cpp - Where the flatbuffers Verifier rejects a plan --===//
//
// flatbuffers::Verifier answers only yes or no (its limits, max_depth and
// max_tables, cannot be reached by this schema, which is not recursive: a
// plan nests 7 tables deep). When it says no, this walks the plan again in
// the Verifier's own order, each field with a fresh Verifier over the whole
// buffer, and names the first field that fails: "programs[2] 'decode'
// steps[17]". Nothing is read before the Verifier has accepted its bytes.
//
//===----------------------------------------------------------------------===//
#include "PlanVerify.h"

#include <string>

namespace moela {
namespace {

using flatbuffers::Table;
using flatbuffers::Verifier;
using flatbuffers::voffset_t;

class Locator {
public:
  Locator(const uint8_t *data, size_t size, const Verifier::Options &options)
      : data_(data), size_(size), options_(options) {}

  std::string run() const {
    Verifier v = fresh();
    const flatbuffers::uoffset_t rootOffset = v.VerifyOffset(0);
    if (!rootOffset)
      return "the root offset";
    const plan::Plan *root =
        reinterpret_cast<const plan::Plan *>(data_ + rootOffset);
    using P = plan::Plan;
    if (!header(root))
      return "the root table";
    if (!scalar<uint32_t>(root, P::VT_SCHEMA_VERSION))
      return "schema_version";
    if (!string(root, P::VT_GENERATOR, [&] { return root->generator(); }))
      return "generator";
    if (!table(root, P::VT_MODEL, [&] { return root->model(); }))
      return "model";
    if (!string(root, P::VT_TARGET, [&] { return root->target(); }))
      return "target";
    if (!string(root, P::VT_PIPELINE, [&] { return root->pipeline(); }))
      return "pipeline";
    if (std::string at = tables(root, P::VT_PROGRAMS, "programs",
                                [&] { return root->programs(); });
        !at.empty())
      return at;
    if (std::string at = tables(root, P::VT_WEIGHTS, "weights",
                                [&] { return root->weights(); });
        !at.empty())
      return at;
    if (!table(root, P::VT_KV_CACHE, [&] { return root->kv_cache(); }))
      return "kv_cache";
    if (std::string at = tables(root, P::VT_KERNELS, "kernels",
                                [&] { return root->kernels(); });
        !at.empty())
      return at;
    if (!scalar<int32_t>(root, P::VT_WORLD_SIZE))
      return "world_size";
    if (!table(root, P::VT_LAYOUT, [&] { return root->layout(); }))
      return "layout";
    return "";
  }

private:
  Verifier fresh() const { return Verifier(data_, size_, options_); }
  static const Table *asTable(const void *t) {
    return reinterpret_cast<const Table *>(t);
  }
  bool header(const void *t) const {
    Verifier v = fresh();
    return asTable(t)->VerifyTableStart(v);
  }
  /// The header of `t` and its offset field `field` (then safe to follow).
  bool offset(const void *t, voffset_t field) const {
    Verifier v = fresh();
    return asTable(t)->VerifyTableStart(v) &&
           asTable(t)->VerifyOffset(v, field);
  }
  template <typename T> bool scalar(const void *t, voffset_t field) const {
    Verifier v = fresh();
    return asTable(t)->VerifyTableStart(v) &&
           asTable(t)->VerifyField<T>(v, field, sizeof(T));
  }
  template <typename Get>
  bool string(const void *t, voffset_t field, Get get) const {
    Verifier v = fresh();
    return offset(t, field) && v.VerifyString(get());
  }
  template <typename Get>
  bool table(const void *t, voffset_t field, Get get) const {
    Verifier v = fresh();
    return offset(t, field) && v.VerifyTable(get());
  }
  /// A vector of tables: "" when sound, else "name" or "name[i]..." with
  /// the element's own first bad field where it is a program.
  template <typename Get>
  std::string tables(const void *t, voffset_t field, const char *name,
                     Get get) const {
    Verifier v = fresh();
    if (!offset(t, field) || !v.VerifyVector(get()))
      return name;
    const auto *vec = get();
    if (!vec)
      return "";
    for (flatbuffers::uoffset_t i = 0; i < vec->size(); ++i) {
      Verifier e = fresh();
      if (e.VerifyTable(vec->Get(i)))
        continue;
      return std::string(name) + "[" + std::to_string(i) + "]" +
             inside(vec->Get(i));
    }
    return "";
  }

  template <typename T> std::string inside(const T *) const { return ""; }
  /// A program's first bad field: its name, a buffer, the inputs or
  /// outputs, or a step.
  std::string inside(const plan::Program *p) const {
    using P = plan::Program;
    if (!header(p))
      return "";
    std::string name;
    if (string(p, P::VT_NAME, [&] { return p->name(); }) && p->name())
      name = " '" + p->name()->str() + "'";
    else
      return " name";
    auto vector = [&](voffset_t field, auto get) {
      Verifier v = fresh();
      return offset(p, field) && v.VerifyVector(get());
    };
    if (std::string at =
            tables(p, P::VT_BUFFERS, "buffers", [&] { return p->buffers(); });
        !at.empty())
      return name + " " + at;
    if (!vector(P::VT_INPUTS, [&] { return p->inputs(); }))
      return name + " inputs";
    if (!vector(P::VT_OUTPUTS, [&] { return p->outputs(); }))
      return name + " outputs";
    if (std::string at =
            tables(p, P::VT_STEPS, "steps", [&] { return p->steps(); });
        !at.empty())
      return name + " " + at;
    return name;
  }

  const uint8_t *data_;
  size_t size_;
  Verifier::Options options_;
};

} // namespace

std::string
locatePlanCorruption(const uint8_t *data, size_t size,
                     const flatbuffers::Verifier::Options &options) {
  return Locator(data, size, options).run();
}

} // namespace moela
