//===- CudaBackend.cpp - The GPU backend ----------------------------------===//
#include "moela/Runtime/CudaBackend.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"

namespace moela {

bool planHasCudaKernels(const Plan &plan) {
  const auto *kernels = plan.root().kernels();
  return kernels && kernels->size() > 0;
}

std::unique_ptr<Backend> makeCudaBackend() {
  fail("the CUDA backend is not part of this build yet");
}

} // namespace moela
