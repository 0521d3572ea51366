//===- plan.cpp - Fuzzes loading, verifying and dumping a plan ------------===//
//
// Bytes either fail Plan::fromBytes with one moela::Error or give a plan the
// backends may trust: every weight's tensors resolve and both dumps print it.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Plan.h"
#include "FuzzFiles.h"
#include "moela/Runtime/Error.h"

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    moela::Plan plan = moela::Plan::fromBytes(
        std::vector<uint8_t>(data, data + size), "fuzz.plan");
    std::ostringstream text, json;
    moela::dumpPlan(plan, text);
    moela::dumpPlanJson(plan, json);
    if (const auto *weights = plan.root().weights())
      for (uint32_t w = 0; w < weights->size(); ++w)
        for (int rank : {0, plan.worldSize() - 1})
          plan.tensorSpecs(w, plan.weightShape(w).experts ? 0 : -1, rank);
  } catch (const moela::Error &) {
  }
  return 0;
}
