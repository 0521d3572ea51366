//===- Explain.h - moela-compile --explain: the memory report ---*- C++ -*-===//
#ifndef MOELA_COMPILER_EXPLAIN_H
#define MOELA_COMPILER_EXPLAIN_H

#include "moela/Runtime/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

namespace moela {

/// Device bytes of a planned kernel-IR module on one rank, before anything
/// runs: weights (every tensor the programs bind, one rank's slice, in its
/// checkpoint dtype, with FP8 block scales), KV cache per token, the
/// activation arena of each program, the workspace and the collectives'
/// buffers (docs/parallel.md).
struct MemoryReport {
  int64_t weightBytes = 0, weightTensors = 0;
  /// The same weights as the host backend holds them: matrices in their
  /// checkpoint dtypes, vectors (norms, biases) as f32 (hostF32Bytes).
  int64_t hostWeightBytes = 0, hostF32Bytes = 0;
  int64_t kvBytesPerToken = 0;
  int64_t kvLayers = 0; // decoder layers, + 1 with an MTP module (--mtp)
  std::vector<std::pair<std::string, int64_t>> arenas; // program -> bytes
  std::vector<std::pair<std::string, int64_t>> maxTokens;
  int64_t workspaceBytes = 0;
  int64_t commBytes = 0;    // the largest all-reduce / all-gather result
  int64_t contextBytes = 0; // KV cache of one sequence at the full context
  bool host = false;        // a host plan: f32 buffers, no workspace
  /// What one rank needs: weights, one full-context sequence of KV cache, the
  /// largest arena, workspace and communication buffers.
  int64_t totalBytes() const;
};

/// `kvDtype`: the plan's cache, "f32", "bf16" or "fp8" (e4m3 with a f32
/// scale per 128 columns of a row).
MemoryReport computeMemoryReport(mlir::ModuleOp module,
                                 const ModelConfig &config,
                                 llvm::StringRef kvDtype);
/// Prints the report of `r`; with deviceGiB > 0 also whether it fits.
void explainMemory(mlir::ModuleOp module, const ModelConfig &config,
                   const MemoryReport &r, llvm::StringRef kvDtype,
                   double deviceGiB, llvm::raw_ostream &os);
/// "" when the report fits in deviceGiB (or deviceGiB is 0), else the
/// one-line reason with the numbers.
std::string checkDeviceMemory(const MemoryReport &r, double deviceGiB);

} // namespace moela

#endif // MOELA_COMPILER_EXPLAIN_H
