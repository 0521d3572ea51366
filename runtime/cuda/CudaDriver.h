//===- CudaDriver.h - The CUDA driver API, loaded with dlopen -------------===//
//
// moela never links libcuda: binaries must start on machines without a GPU
// driver. The driver is opened at run time and every entry point the CUDA
// backend uses is looked up once; a missing library or symbol becomes a
// one-line moela::Error.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_CUDA_CUDADRIVER_H
#define MOELA_RUNTIME_CUDA_CUDADRIVER_H

#include <cuda.h>

#include <string>

namespace moela::cuda {

struct Driver {
#define MOELA_CUDA_FN(name) decltype(&::name) name = nullptr;
#include "CudaDriverFunctions.def"
#undef MOELA_CUDA_FN

  /// The process-wide driver; throws Error if libcuda.so.1 or an entry point
  /// is missing, or cuInit fails.
  static const Driver &get();
  /// Number of CUDA devices, or 0 with `why` set when there is no usable one.
  static int deviceCount(std::string *why);
};

/// Throws Error "<what>: <driver error name> (<description>)" unless ok.
void check(CUresult result, const char *what);

} // namespace moela::cuda

#endif // MOELA_RUNTIME_CUDA_CUDADRIVER_H
