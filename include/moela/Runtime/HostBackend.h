//===- HostBackend.h - The CPU backend: every step in fp32 ----------------===//
//
// The host backend runs every step family of a plan on the CPU in float32,
// multi-threaded (moela::parallelFor). It is the numerical reference the CUDA
// backend is checked against, and what runs where there is no GPU. It ignores
// what only matters on a GPU: tiles, kernels, buffer storage dtypes and FP8
// activation quantization.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_HOSTBACKEND_H
#define MOELA_RUNTIME_HOSTBACKEND_H

#include "moela/Runtime/Backend.h"

#include <memory>

namespace moela {

/// A new host backend. The Plan given to prepare() must outlive its runs.
std::unique_ptr<Backend> makeHostBackend();

} // namespace moela

#endif // MOELA_RUNTIME_HOSTBACKEND_H
