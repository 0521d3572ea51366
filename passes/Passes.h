//===- Passes.h - moela passes ----------------------------------*- C++ -*-===//
#ifndef MOELA_PASSES_PASSES_H
#define MOELA_PASSES_PASSES_H

#include "Kernel/KernelOps.h"
#include "Kernel/KernelPrograms.h"
#include "MLA/MLAOps.h"
#include "MoE/MoEOps.h"
#include "NN/NNOps.h"
#include "passes/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace moela {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// The rewrite patterns of the pattern-driven passes, one function per pass,
/// for drivers other than the passes themselves.
void populateFuseRopePatterns(mlir::RewritePatternSet &patterns);
void populateMlaFuseKvAppendPatterns(mlir::RewritePatternSet &patterns);
void populateMlaAbsorbPatterns(mlir::RewritePatternSet &patterns);
void populateFuseSwiGluPatterns(mlir::RewritePatternSet &patterns);
/// Fuses the router GEMM everywhere (moela-fuse-router's `functions` limits
/// the pass, not the pattern).
void populateFuseRouterPatterns(mlir::RewritePatternSet &patterns);
void populateMoeDispatchPatterns(mlir::RewritePatternSet &patterns);
/// The residual-add fusion only; moela-fuse-add-norm's `quantize` marking is
/// not a pattern.
void populateFuseAddNormPatterns(mlir::RewritePatternSet &patterns);

/// Options of the default pipeline ("moela-default").
struct PipelineOptions : public mlir::PassPipelineOptions<PipelineOptions> {
  Option<CompileTarget> target{*this, "target", llvm::cl::desc("host | sm_90a"),
                               llvm::cl::init(kDefaultCompileTarget),
                               compileTargetNames()};
  Option<int64_t> maxPrefillTokens{
      *this, "max-prefill-tokens",
      llvm::cl::desc("tokens per prefill step (longer prompts are chunked)"),
      llvm::cl::init(2048)};
  Option<int64_t> maxBatch{*this, "max-batch",
                           llvm::cl::desc("sequences per decode step"),
                           llvm::cl::init(64)};
  ListOption<std::string> disable{
      *this, "disable",
      llvm::cl::desc(
          "optional passes to leave out, by name (e.g. moela-fuse-rope)")};
  Option<bool> quantizeActivations{
      *this, "quantize-activations",
      llvm::cl::desc("FP8 activations with block scales into FP8 GEMMs "
                     "(docs/model.md §3.4)"),
      llvm::cl::init(false)};
  Option<bool> mtp{
      *this, "mtp",
      llvm::cl::desc("run MTP module 0 in the main programs: greedy drafts "
                     "for speculative decoding (moela-mtp-draft)"),
      llvm::cl::init(false)};
  Option<int64_t> ranks{
      *this, "ranks",
      llvm::cl::desc("ranks to split the model over (moela-compile --tp): "
                     "attention heads, dense and shared-expert MLPs, vocab"),
      llvm::cl::init(1)};
  Option<bool> ep{*this, "ep",
                  llvm::cl::desc("with ranks > 1, partition the routed "
                                 "experts over the ranks (moela-shard-moe ep)"),
                  llvm::cl::init(false)};
  Option<bool> sampleCandidatesAlways{
      *this, "sample-candidates-always",
      llvm::cl::desc("with ranks > 1, sample from the ranks' candidates even "
                     "where gathering the logits is cheaper (tests)"),
      llvm::cl::init(false)};
  Option<kernel::GemmEngine> gemmKernel{
      *this, "gemm-kernel",
      llvm::cl::desc("mma | wgmma: the engine of kernel.gemm on sm_90a "
                     "(moela-tile gemm-kernel)"),
      llvm::cl::init(kernel::GemmEngine::mma), gemmEngineNames()};
};

/// The passes of the default pipeline that may be disabled, in order.
llvm::ArrayRef<llvm::StringRef> optionalPassNames();

/// Builds the default pipeline from the model IR to planned kernel IR.
void buildDefaultPipeline(mlir::OpPassManager &pm,
                          const PipelineOptions &options);
void registerPipelines();

} // namespace moela

#endif // MOELA_PASSES_PASSES_H
