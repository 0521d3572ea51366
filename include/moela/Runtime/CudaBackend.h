//===- CudaBackend.h - The GPU backend: a plan's cubins on one device -----===//
#ifndef MOELA_RUNTIME_CUDABACKEND_H
#define MOELA_RUNTIME_CUDABACKEND_H

#include "moela/Runtime/Backend.h"

#include <memory>

namespace moela {

class Communicator;
class Plan;

/// A backend that runs every step of a plan with its CUDA kernel on device 0
/// (driver API through dlopen; one memory arena; decode captured in a CUDA
/// graph). Throws Error when no device is usable. With a communicator of N
/// ranks it runs rank comm->rank() of a plan compiled for N ranks on device
/// local rank % devices, its collectives through NCCL (loaded with dlopen);
/// `comm` must outlive the backend.
std::unique_ptr<Backend> makeCudaBackend(Communicator *comm = nullptr);

/// Whether every step of `plan` has a kernel with a cubin.
bool planHasCudaKernels(const Plan &plan);

} // namespace moela

#endif // MOELA_RUNTIME_CUDABACKEND_H
