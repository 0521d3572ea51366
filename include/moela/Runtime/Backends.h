//===- Backends.h - Choosing the backend that runs a plan -----------------===//
#ifndef MOELA_RUNTIME_BACKENDS_H
#define MOELA_RUNTIME_BACKENDS_H

#include "moela/Runtime/Backend.h"

#include <memory>
#include <string>

namespace moela {

/// The backend called `name`: "host", "cuda", or "auto" (CUDA when a device
/// is present and the plan has kernels for it, else the host; `note` then
/// says in one line why the host runs). Throws Error for an unknown name or
/// an unavailable "cuda".
std::unique_ptr<Backend> createBackend(const std::string &name,
                                       const Plan &plan, std::string *note);

/// Whether a CUDA device is usable; `why` says why not.
bool cudaAvailable(std::string *why);

} // namespace moela

#endif // MOELA_RUNTIME_BACKENDS_H
