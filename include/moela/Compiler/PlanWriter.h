//===- PlanWriter.h - Planned kernel IR -> plan file ------------*- C++ -*-===//
#ifndef MOELA_COMPILER_PLANWRITER_H
#define MOELA_COMPILER_PLANWRITER_H

#include "moela/Runtime/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moela {

/// A CUDA kernel compiled for the plan (lib/Codegen).
struct CompiledKernel {
  std::string name;   // extern "C" entry point
  std::string family; // device template family
  std::string arch;   // e.g. sm_90a
  std::string source; // the CUDA C++ given to NVRTC
  std::vector<uint8_t> cubin;
  int registers = 0, spillBytes = 0, sharedBytes = 0, dynamicSharedBytes = 0;
  int threads = 0;
};

struct PlanWriterOptions {
  std::string target = "sm_90a"; // "host" or a CUDA arch
  std::string pipeline;          // textual pass pipeline, recorded in the plan
  std::string generator = "moela-compile";
  /// Kernels to embed; a kernel op refers to one by its `kernel.kernel` index.
  std::vector<CompiledKernel> kernels;
  /// The FP8 weights are quantized at load from a higher-precision checkpoint
  /// (--weight-dtype=fp8 on a checkpoint without quantization_config).
  bool quantizeWeightsAtLoad = false;
  /// Element type of the latent KV cache: "f32", "bf16" or "fp8" (e4m3 rows
  /// with a f32 scale per 128 columns).
  std::string kvDtype = "bf16";
};

/// Serializes a module of planned kernel IR (after moela-plan-memory) with
/// its programs, buffers, weights and kernels. Emits a diagnostic on the
/// offending op and fails for IR the plan cannot express.
mlir::FailureOr<std::vector<uint8_t>>
writePlan(mlir::ModuleOp module, const ModelConfig &config,
          const PlanWriterOptions &options);

} // namespace moela

#endif // MOELA_COMPILER_PLANWRITER_H
