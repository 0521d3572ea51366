//===- Target.h - What a plan is compiled for -------------------*- C++ -*-===//
//
// The GPU targets and their facts (SMs, shared memory, tensor-core
// generation) are abi::kTargets (runtime/kernels/Abi.h); a CompileTarget
// names one of them, or the host. moela-compile parses --target once into a
// CompileTarget (and --gemm-kernel into a kernel::GemmEngine), and the passes
// take them as typed options.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_PASSES_TARGET_H
#define MOELA_PASSES_TARGET_H

#include "Kernel/KernelDialect.h"
#include "passes/EnumNames.h"
#include "runtime/kernels/Abi.h"

#include <optional>

namespace moela {

/// The host backend alone, or abi::kTargets[value] (whose plans also run on
/// the host backend).
enum class CompileTarget : int {
  host = -1,
  sm_90a = 0,
};

/// abi::kTargets lists the default first.
constexpr CompileTarget kDefaultCompileTarget = CompileTarget(0);

/// The GPU facts of `target`; null for the host.
const abi::Target *gpuTarget(CompileTarget target);

/// "host", or the GPU target's architecture ("sm_90a").
llvm::StringRef compileTargetName(CompileTarget target);

/// Every CompileTarget with its name (the values of --target and of the
/// passes' `target` options).
EnumNames<CompileTarget> compileTargetNames();

/// The target called `name`, if any.
std::optional<CompileTarget> parseCompileTarget(llvm::StringRef name);

/// Every GEMM engine with its name (the values of --gemm-kernel and of
/// moela-tile's `gemm-kernel`).
EnumNames<kernel::GemmEngine> gemmEngineNames();

} // namespace moela

#endif // MOELA_PASSES_TARGET_H
