//===- Pipelines.cpp - The default pipeline: model IR -> planned kernels --===//
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void moela::buildDefaultPipeline(OpPassManager &pm,
                                 const PipelineOptions &options) {
  pm.addPass(createMlaSelectFormPass());
  pm.addPass(createLowerToKernelPass());
  PlanMemoryPassOptions memory;
  memory.maxPrefillTokens = options.maxPrefillTokens;
  memory.maxBatch = options.maxBatch;
  memory.target = options.target;
  pm.addPass(createPlanMemoryPass(memory));
}

void moela::registerPipelines() {
  PassPipelineRegistration<PipelineOptions>(
      "moela-default",
      "The default pipeline: select MLA forms, lower to kernels, fuse, tile and "
      "plan memory",
      buildDefaultPipeline);
}
