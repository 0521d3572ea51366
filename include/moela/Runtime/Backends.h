//===- Backends.h - Choosing the backend that runs a plan -----------------===//
#ifndef MOELA_RUNTIME_BACKENDS_H
#define MOELA_RUNTIME_BACKENDS_H

#include "moela/Runtime/Backend.h"

#include <memory>
#include <string>

namespace moela {

/// Which backend runs a plan: Auto is CUDA when a device is present and the
/// plan has kernels for it, else the host.
enum class BackendChoice { Auto, Host, Cuda };

/// "host", "cuda" or "auto"; throws Error naming --backend otherwise.
BackendChoice parseBackendChoice(const std::string &name);

class Communicator;

/// The chosen backend; with Auto on the host, `note` says in one line why.
/// Throws Error when Cuda is chosen and unavailable. A multi-device plan
/// (world_size > 1) runs as rank comm->rank() of `comm` (which must outlive
/// the backend): on the host, or on CUDA with NCCL.
std::unique_ptr<Backend> createBackend(BackendChoice choice, const Plan &plan,
                                       std::string *note,
                                       Communicator *comm = nullptr);

/// Whether a CUDA device is usable; `why` says why not.
bool cudaAvailable(std::string *why);

} // namespace moela

#endif // MOELA_RUNTIME_BACKENDS_H
