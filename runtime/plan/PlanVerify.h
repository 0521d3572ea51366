//===- PlanVerify.h - moela's semantic rules for a plan (internal) --------===//
#ifndef MOELA_RUNTIME_PLANVERIFY_H
#define MOELA_RUNTIME_PLANVERIFY_H

#include "moela/Runtime/Plan.h"

#include <string>
#include <vector>

namespace moela {

/// Checks everything the flatbuffers Verifier cannot: indices in range, operand
/// counts and widths per step family, views inside their buffers, row kinds,
/// weights. Throws moela::Error "<origin>: program 'P' step N 'name' (Family):
/// <rule>" on the first violation. Returns the shape of every weight.
std::vector<WeightShape> verifyPlanSemantics(const plan::Plan &plan,
                                             const ModelConfig &config,
                                             const std::string &origin);

/// The first part of the plan the flatbuffers Verifier rejects, in its own
/// order ("programs[1] 'decode' steps[3]"), or "" if it cannot tell.
std::string locatePlanCorruption(const uint8_t *data, size_t size,
                                 const flatbuffers::Verifier::Options &options);

} // namespace moela

#endif // MOELA_RUNTIME_PLANVERIFY_H
