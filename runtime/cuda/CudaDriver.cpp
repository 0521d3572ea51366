//===- CudaDriver.cpp - dlopen("libcuda.so.1") and its entry points -------===//
//
// MOELA_CUDA_DRIVER=PATH opens that library instead of libcuda.so.1: the
// tests run the CUDA backend on an emulated driver (test/emu/EmuDriver.cpp).
//
//===----------------------------------------------------------------------===//
#include "CudaDriver.h"

#include "moela/Runtime/Error.h"

#include <dlfcn.h>

#include <cstdlib>

namespace moela::cuda {
namespace {

// cuda.h maps most names to versioned symbols (cuMemAlloc -> cuMemAlloc_v2):
// stringify after expansion to look up the symbol the header means.
#define MOELA_STR(x) #x
#define MOELA_XSTR(x) MOELA_STR(x)

struct Loaded {
  Driver driver;
  std::string error; // empty when usable
};

const Loaded &load() {
  static const Loaded loaded = [] {
    Loaded l;
    const char *custom = std::getenv("MOELA_CUDA_DRIVER");
    const std::string lib = custom && *custom ? custom : "libcuda.so.1";
    void *handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      l.error = custom && *custom
                    ? "MOELA_CUDA_DRIVER: cannot open " + lib + ": " + dlerror()
                    : "libcuda.so.1 not found (no NVIDIA driver)";
      return l;
    }
#define MOELA_CUDA_FN(name)                                                    \
  l.driver.name = reinterpret_cast<decltype(l.driver.name)>(                   \
      dlsym(handle, MOELA_XSTR(name)));                                        \
  if (!l.driver.name && l.error.empty())                                       \
    l.error =                                                                  \
        lib + " lacks " + MOELA_XSTR(name) + " (driver too old for CUDA 13)";
#include "CudaDriverFunctions.def"
#undef MOELA_CUDA_FN
    if (l.error.empty()) {
      CUresult r = l.driver.cuInit(0);
      if (r != CUDA_SUCCESS) {
        const char *name = nullptr;
        l.driver.cuGetErrorName(r, &name);
        l.error =
            std::string("cuInit failed: ") + (name ? name : "unknown error");
      }
    }
    return l;
  }();
  return loaded;
}

} // namespace

const Driver &Driver::get() {
  const Loaded &l = load();
  if (!l.error.empty())
    fail("CUDA: ", l.error);
  return l.driver;
}

int Driver::deviceCount(std::string *why) {
  const Loaded &l = load();
  if (!l.error.empty()) {
    *why = l.error;
    return 0;
  }
  int count = 0;
  if (l.driver.cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0) {
    *why = "the driver reports no CUDA device";
    return 0;
  }
  return count;
}

void check(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return;
  const Driver &d = Driver::get();
  const char *name = nullptr, *text = nullptr;
  d.cuGetErrorName(result, &name);
  d.cuGetErrorString(result, &text);
  fail("CUDA: ", what, ": ", name ? name : "?", " (", text ? text : "", ")");
}

} // namespace moela::cuda
