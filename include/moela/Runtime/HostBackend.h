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

class Communicator;

/// A new host backend. The Plan given to prepare() must outlive its runs.
/// Without a communicator it runs single-device plans (a world of one);
/// with one, rank comm.rank() of a plan compiled for comm.size() ranks: it
/// binds that rank's slices and experts and runs AllReduce / AllGather steps
/// through `comm`, which must outlive the backend.
std::unique_ptr<Backend> makeHostBackend();
std::unique_ptr<Backend> makeHostBackend(Communicator &comm);

} // namespace moela

#endif // MOELA_RUNTIME_HOSTBACKEND_H
