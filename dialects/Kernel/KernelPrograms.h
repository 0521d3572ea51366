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

/// The model position a location names ("layers.1.attn.q_proj"); fused
/// locations join their names with "+"; "" when there is none.
std::string locationName(mlir::Location loc);

} // namespace moela::kernel

#endif // MOELA_DIALECTS_KERNEL_KERNELPROGRAMS_H
