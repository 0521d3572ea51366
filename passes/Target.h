//===- Target.h - What the tiling pass knows about a GPU target -*- C++ -*-===//
#ifndef MOELA_PASSES_TARGET_H
#define MOELA_PASSES_TARGET_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>

namespace moela {

/// The facts of a CUDA target that tile shapes depend on.
struct TargetDescription {
  llvm::StringRef arch;      // NVRTC --gpu-architecture
  int smCount;               // streaming multiprocessors
  int64_t sharedMemPerBlock; // bytes, after cudaFuncSetAttribute opt-in
  int tensorCoreGeneration;  // 8 = mma.sync (Ampere), 9 = wgmma (Hopper)
};

/// The description of `name` ("sm_90a"), or null for an unknown target.
const TargetDescription *lookupTarget(llvm::StringRef name);

} // namespace moela

#endif // MOELA_PASSES_TARGET_H
