//===- KernelPrograms.h - What a kernel-IR program is -----------*- C++ -*-===//
//
// The facts about the programs of a planned module that the passes, the plan
// writer and the memory report share: which programs run prefill-sized
// steps, how many KV cache layers the module appends to, and the model
// position an op's location names (docs/plan-format.md).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_DIALECTS_KERNEL_KERNELPROGRAMS_H
#define MOELA_DIALECTS_KERNEL_KERNELPROGRAMS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Location.h"

#include <string>

namespace moela::kernel {

/// A function attribute: every sequence of a step of this program starts in
/// that step at position 0 (plan.fbs Program.fresh_sequences); set by
/// moela-mla-expand-prefill.
constexpr llvm::StringLiteral kFreshSequencesAttr = "moela.fresh_sequences";

/// Whether `func` runs prefill-sized steps (@prefill, or @extend for chunks
/// that continue sequences): up to max-prefill-tokens rows, not max-batch.
bool isPrefillProgram(mlir::func::FuncOp func);

/// Layers of the latent KV cache a planned module uses: one per decoder
/// layer (`mainLayers`), and one for an MTP module run in the programs.
int64_t kvCacheLayers(mlir::ModuleOp module, int64_t mainLayers);

/// How a multi-device module is split over its ranks (docs/parallel.md):
/// the module attribute `moela.layout` that the sharding passes write and the
/// plan writer copies into the plan (plan.fbs Layout, Plan.world_size).
struct Layout {
  int64_t ranks = 1;          // world size; 1 = one device
  int64_t tp = 1;             // ranks attention and dense layers are split over
  bool ep = false;            // routed experts partitioned over the ranks
  bool vocabParallel = false; // embedding and lm_head rows split
  bool logitsSharded = false; // the logits result holds the rank's columns
                              // (moela-sample-vocab-parallel)
};
constexpr llvm::StringLiteral kLayoutAttr = "moela.layout";

/// The module's layout (one rank when it has none).
Layout readLayout(mlir::ModuleOp module);
void writeLayout(mlir::ModuleOp module, const Layout &layout);

/// The model position a location names ("layers.1.attn.q_proj"); fused
/// locations join their names with "+"; "" when there is none.
std::string locationName(mlir::Location loc);

} // namespace moela::kernel

#endif // MOELA_DIALECTS_KERNEL_KERNELPROGRAMS_H
