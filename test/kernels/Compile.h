//===- Compile.h - NVRTC over many kernels at once ------------------------===//
//
// The compile check and the GPU's runner compile a family's (or a group's)
// kernels for sm_90a before anything else, on all cores: NVRTC programs are
// independent.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_COMPILE_H
#define MOELA_TEST_KERNELS_COMPILE_H

#include "Kernel.h"

#include "moela/Runtime/Nvrtc.h"

#include <string>
#include <vector>

namespace moela::cases {

struct Compiled {
  NvrtcResult result;
  std::string error; // the exception's text when it did not compile
};

/// Every kernel's source() compiled with NVRTC for sm_90a, through the
/// kernel cache (defaultKernelCacheDir) when `cached`, else for real.
std::vector<Compiled> compileAll(const std::vector<Kernel> &kernels,
                                 bool cached);

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_COMPILE_H
