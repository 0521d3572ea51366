//===- Pipelines.cpp - The default pipeline: model IR -> planned kernels --===//
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

llvm::ArrayRef<llvm::StringRef> moela::optionalPassNames() {
  static const llvm::StringRef names[] = {
      "moela-mla-expand-prefill", "moela-fuse-rope",
      "moela-fuse-qkv-a",         "moela-mla-fuse-kv-append",
      "moela-mla-absorb",         "moela-fuse-swiglu",
      "moela-fuse-router",        "moela-moe-dispatch",
      "moela-fuse-add-norm",      "moela-tile"};
  return names;
}

void moela::buildDefaultPipeline(OpPassManager &pm,
                                 const PipelineOptions &options) {
  auto enabled = [&](llvm::StringRef name) {
    return !llvm::is_contained(options.disable, name.str());
  };
  if (options.mtp)
    pm.addPass(createMtpDraftPass());
  if (options.ranks > 1) {
    // docs/parallel.md: per-rank shapes from here on.
    pm.addPass(createShardAttentionPass({options.ranks, options.target}));
    pm.addPass(createShardMlpPass({options.ranks, options.target}));
    pm.addPass(createShardMoePass({options.ranks, options.target, options.ep}));
    pm.addPass(createShardVocabPass({options.ranks, options.target}));
  }
  pm.addPass(createMlaSelectFormPass());
  pm.addPass(createLowerToKernelPass());
  if (enabled("moela-mla-expand-prefill"))
    pm.addPass(createMlaExpandPrefillPass());

  OpPassManager &fpm = pm.nest<func::FuncOp>();
  if (enabled("moela-fuse-rope"))
    fpm.addPass(createFuseRopePass());
  if (enabled("moela-fuse-qkv-a"))
    fpm.addPass(createFuseQkvAPass());
  if (enabled("moela-mla-fuse-kv-append"))
    fpm.addPass(createMlaFuseKvAppendPass());
  if (enabled("moela-mla-absorb"))
    fpm.addPass(createMlaAbsorbPass());
  if (enabled("moela-fuse-swiglu"))
    fpm.addPass(createFuseSwiGluPass());
  // The fused router computes the routing logits in f32 (docs/model.md §3.2)
  // but reads the whole gate weight once per token: everywhere on the host; on
  // a GPU only in decode (few tokens, the gate stays in L2), while prefill
  // streams it once per step in a GEMM.
  if (enabled("moela-fuse-router")) {
    static const std::string decodeOnly[] = {abi::kDecode};
    FuseRouterPassOptions router; // its `functions` is an ArrayRef
    if (options.target != CompileTarget::host)
      router.functions = decodeOnly;
    fpm.addPass(createFuseRouterPass(router));
  }
  if (enabled("moela-moe-dispatch"))
    fpm.addPass(createMoeDispatchPass());
  if (enabled("moela-fuse-add-norm")) {
    FuseAddNormPassOptions norm;
    norm.quantize = options.quantizeActivations;
    fpm.addPass(createFuseAddNormPass(norm));
  }
  if (enabled("moela-tile")) {
    TilePassOptions tile;
    tile.target = options.target;
    tile.gemmKernel = options.gemmKernel;
    tile.maxPrefillTokens = options.maxPrefillTokens;
    fpm.addPass(createTilePass(tile));
  }

  pm.addPass(createSamplePass());
  if (options.ranks > 1) // docs/parallel.md: where it moves fewer bytes
    pm.addPass(createSampleVocabParallelPass({options.sampleCandidatesAlways}));
  PlanMemoryPassOptions memory;
  memory.maxPrefillTokens = options.maxPrefillTokens;
  memory.maxBatch = options.maxBatch;
  memory.target = options.target;
  pm.addPass(createPlanMemoryPass(memory));
}

void moela::registerPipelines() {
  PassPipelineRegistration<PipelineOptions>(
      "moela-default",
      "The default pipeline: select MLA forms, lower to kernels, fuse, tile "
      "and "
      "plan memory",
      buildDefaultPipeline);
}
