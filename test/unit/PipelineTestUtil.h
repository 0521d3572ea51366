//===- PipelineTestUtil.h - Compile a config and run it on the host -------===//
//
// The whole path as a user takes it: moela-compile's driver writes a plan to
// a temporary file, the runtime loads it and the host backend runs it.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_UNIT_PIPELINETESTUTIL_H
#define MOELA_TEST_UNIT_PIPELINETESTUTIL_H

#include "moela/Compiler/Driver.h"
#include "moela/InitAll.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Generation.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Weights.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace moela::test {

/// The pipeline options a test compiles with, passed through a global
/// because runCompiler takes a plain function to configure the pass manager.
inline std::vector<std::string> &disabledPasses() {
  static std::vector<std::string> passes;
  return passes;
}

/// Compiles `config` for `target` with the default pipeline minus `disable`;
/// returns the plan's path (in the test's temporary folder).
/// Compiles `options` (whose output is set here) to a temporary plan file.
inline std::string compilePlan(CompileOptions options) {
  static int counter = 0;
  options.output = (std::filesystem::temp_directory_path() /
                    ("moela-test-" + std::to_string(::getpid()) + "-" +
                     std::to_string(counter++) + ".plan"))
                       .string();
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  EXPECT_EQ(runCompiler(options, context), 0) << "compiling " << options.input;
  return options.output;
}

inline std::string compilePlan(const std::string &config,
                               const std::string &target,
                               const std::vector<std::string> &disable = {},
                               int64_t maxPrefillTokens = 2048,
                               const std::string &kernelCache = "",
                               const std::string &activationDtype = "bf16") {
  CompileOptions options;
  options.input = config;
  options.target = target;
  options.disable = disable;
  options.maxPrefillTokens = maxPrefillTokens;
  options.maxBatch = 8;
  options.cacheDir = kernelCache;
  options.activationDtype = activationDtype;
  return compilePlan(options);
}

/// max_i |got[i] - want[i]| over want's elements (logits against an oracle).
inline double maxAbsDiff(const std::vector<float> &got,
                         const std::vector<double> &want) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(double(got[i]) - want[i]));
  return worst;
}

/// A plan loaded with a host backend and an engine over `weights`.
struct HostRun {
  HostRun(const std::string &planPath, WeightSource &weights, int slots,
          int maxSeqLen = 256, KvCacheOptions kv = {})
      : plan(Plan::load(planPath)), backend(makeHostBackend()),
        engine(plan, *backend, weights, slots, maxSeqLen, kv) {}
  Plan plan;
  std::unique_ptr<Backend> backend;
  Engine engine;
};

} // namespace moela::test

#endif // MOELA_TEST_UNIT_PIPELINETESTUTIL_H
