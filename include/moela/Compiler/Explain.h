//===- Explain.h - moela-compile --explain: the memory report ---*- C++ -*-===//
#ifndef MOELA_COMPILER_EXPLAIN_H
#define MOELA_COMPILER_EXPLAIN_H

#include "moela/Runtime/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace moela {

/// Device bytes of a planned kernel-IR module, before anything runs: weights
/// (every tensor the programs bind, in its checkpoint dtype, with FP8 block
/// scales), KV cache per token, the activation arena of each program, and
/// the workspace.
struct MemoryReport {
  int64_t weightBytes = 0, weightTensors = 0;
  int64_t kvBytesPerToken = 0;
  int64_t kvLayers = 0; // decoder layers, + 1 with an MTP module (--mtp)
  std::vector<std::pair<std::string, int64_t>> arenas; // program -> bytes
  std::vector<std::pair<std::string, int64_t>> maxTokens;
  int64_t workspaceBytes = 0;
};

MemoryReport computeMemoryReport(mlir::ModuleOp module,
                                 const ModelConfig &config,
                                 int64_t kvElementBytes);
/// Prints the report; kvElementBytes: 4 for an f32 KV cache, 2 for bf16.
void explainMemory(mlir::ModuleOp module, const ModelConfig &config,
                   int64_t kvElementBytes, llvm::raw_ostream &os);

} // namespace moela

#endif // MOELA_COMPILER_EXPLAIN_H
