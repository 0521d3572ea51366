//===- EmuKernelRegistry.h - Emulated kernels by entry-point name ---------===//
//
// The emulated CUDA driver (EmuDriver.cpp) resolves cuModuleGetFunction(name)
// here instead of in the module's cubin. The entries are generated at build
// time (gen-emu-kernels.py) from the kernels of the plans and of the kernel
// cases under test (test/kernels): each compiles its CUDA instantiation
// against CudaEmu.h and runs it with emu::launch. The device side lives in its
// own translation units, so this header sees neither cuda.h nor CudaEmu.h.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUKERNELREGISTRY_H
#define MOELA_TEST_EMU_EMUKERNELREGISTRY_H

#include <cstddef>

namespace emu::driver {

/// One emulated __global__ function.
struct Kernel {
  const char *name;    // the extern "C" entry point, as in the plan
  unsigned maxThreads; // its __launch_bounds__ (threads per block)
  size_t argsBytes;    // sizeof its by-value args struct
  /// Runs the launch to completion; throws (emu::Error) when it fails.
  void (*run)(const unsigned grid[3], const unsigned block[3],
              unsigned sharedBytes, const void *args);
};

/// Adds `count` kernels (called by the generated files' static initialisers).
bool registerKernels(const Kernel *kernels, size_t count);
/// The kernel named `name`, or nullptr.
const Kernel *findKernel(const char *name);
/// How many kernels are registered.
size_t kernelCount();

/// Tells the emulator that [p, p + bytes) is device memory, or no longer is:
/// a cp.async that reads outside every such range fails its launch.
void trackDeviceMemory(const void *p, size_t bytes);
void untrackDeviceMemory(const void *p);

} // namespace emu::driver

#endif // MOELA_TEST_EMU_EMUKERNELREGISTRY_H
