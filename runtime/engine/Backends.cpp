//===- Backends.cpp - host, cuda or auto ----------------------------------===//
#include "moela/Runtime/Backends.h"

#include "moela/Runtime/CudaBackend.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/Plan.h"

#include "cuda/CudaDriver.h"

namespace moela {

bool cudaAvailable(std::string *why) {
  return cuda::Driver::deviceCount(why) > 0;
}

std::unique_ptr<Backend> createBackend(const std::string &name,
                                       const Plan &plan, std::string *note) {
  if (name == "host")
    return makeHostBackend();
  if (name != "cuda" && name != "auto")
    fail("--backend must be host, cuda or auto, got '", name, "'");
  std::string why;
  bool device = cudaAvailable(&why);
  bool usable = device && planHasCudaKernels(plan);
  if (device && !usable)
    why = "the plan has no CUDA kernels; compile it with --target=sm_90a";
  if (usable)
    return makeCudaBackend();
  if (name == "cuda")
    fail("--backend cuda: ", device ? why : "no CUDA device (" + why + ")");
  *note = "no CUDA device (" + why + "); running on the host backend";
  return makeHostBackend();
}

} // namespace moela
