//===- CudaEmitter.h - Kernel IR -> CUDA C++ -> NVRTC cubins ----*- C++ -*-===//
#ifndef MOELA_COMPILER_CUDAEMITTER_H
#define MOELA_COMPILER_CUDAEMITTER_H

#include "moela/Compiler/PlanWriter.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <string>
#include <vector>

namespace moela {

struct CodegenOptions {
  std::string arch = "sm_90a";
  std::string cacheDir; // "" = no NVRTC cache
  bool compile = true;  // false: sources only (for --emit=cuda)
  unsigned jobs = 0;    // parallel NVRTC compilations (0 = all cores)
  /// Called after each kernel compiles (done of total), one call at a time.
  std::function<void(size_t done, size_t total)> onKernelDone;
};

/// For every kernel op of a planned kernel-IR module (after
/// moela-plan-memory): instantiates its device template from
/// runtime/kernels with the element types of its buffers, its tile and its
/// epilogue flags; deduplicates identical instantiations; compiles each
/// unique one with NVRTC (in parallel, cached); and records on the op the
/// index of its kernel (`kernel.kernel`). A kernel that fails to compile is
/// reported by name with its NVRTC log.
mlir::FailureOr<std::vector<CompiledKernel>>
emitCudaKernels(mlir::ModuleOp module, const CodegenOptions &options);

} // namespace moela

#endif // MOELA_COMPILER_CUDAEMITTER_H
