//===- Backends.cpp - host, cuda or auto ----------------------------------===//
#include "moela/Runtime/Backends.h"

#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/CudaBackend.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/Plan.h"

#include "cuda/CudaDriver.h"
#include "cuda/Nccl.h"

namespace moela {

bool cudaAvailable(std::string *why) {
  return cuda::Driver::deviceCount(why) > 0;
}

BackendChoice parseBackendChoice(const std::string &name) {
  if (name == "auto")
    return BackendChoice::Auto;
  if (name == "host")
    return BackendChoice::Host;
  if (name == "cuda")
    return BackendChoice::Cuda;
  fail("--backend must be host, cuda or auto, got '", name, "'");
}

std::unique_ptr<Backend> createBackend(BackendChoice choice, const Plan &plan,
                                       std::string *note, Communicator *comm) {
  if (plan.worldSize() > 1 && !comm)
    fail(plan.origin(), " was compiled for ", plan.worldSize(),
         " ranks and needs a communicator (mpirun)");
  if (choice == BackendChoice::Host)
    return comm ? makeHostBackend(*comm) : makeHostBackend();
  std::string why;
  bool device = cudaAvailable(&why);
  bool usable = device && planHasCudaKernels(plan);
  if (device && !usable)
    why = "the plan has no CUDA kernels; compile it with --target=sm_90a";
  if (usable && plan.worldSize() > 1) {
    try {
      cuda::Nccl::get(); // multi-device plans on GPUs need NCCL
    } catch (const Error &e) {
      usable = false;
      why = e.what();
      if (choice == BackendChoice::Cuda)
        throw;
    }
  }
  // Every rank must pick the same backend, or their collectives never meet.
  if (choice == BackendChoice::Auto && comm && comm->size() > 1) {
    float ranksUsable = usable ? 1.0f : 0.0f;
    comm->allReduceSum(&ranksUsable, 1);
    if (usable && ranksUsable < float(comm->size())) {
      usable = false;
      why = "another rank cannot run the CUDA backend";
    }
  }
  if (usable)
    return makeCudaBackend(comm);
  if (choice == BackendChoice::Cuda)
    fail("--backend cuda: ", device ? why : "no CUDA device (" + why + ")");
  *note = (device ? why : "no CUDA device (" + why + ")") +
          "; running on the host backend";
  return comm ? makeHostBackend(*comm) : makeHostBackend();
}

} // namespace moela
