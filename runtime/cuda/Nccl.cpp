//===- Nccl.cpp - dlopen("libnccl.so.2"), its version and errors ----------===//
#include "Nccl.h"

#include "moela/Runtime/Error.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <optional>

namespace moela::cuda {

const char *ncclResultName(ncclResult_t r) {
  switch (r) {
#define MOELA_NCCL_RESULT(name, value, text)                                   \
  case name:                                                                   \
    return #name;
#include "NcclResults.def"
  }
  return "ncclResult?";
}

std::string ncclVersionString(int code) {
  // NCCL_VERSION(X, Y, Z) is X*10000 + Y*100 + Z since 2.9, X*1000 + Y*100 +
  // Z before.
  const int major = code >= 10000 ? code / 10000 : code / 1000;
  const int minor = code >= 10000 ? code / 100 % 100 : code / 100 % 10;
  return std::to_string(major) + "." + std::to_string(minor) + "." +
         std::to_string(code % 100);
}

Nccl Nccl::open(const std::string &library) {
  // RTLD_GLOBAL is not needed: every entry point is looked up here.
  void *handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    fail("NCCL: cannot open ", library, " (", dlerror(),
         "); multi-device plans on the CUDA backend need NCCL 2.18 or newer "
         "(MOELA_NCCL_LIBRARY names another library)");
  Nccl n;
  n.path = library;
#define MOELA_NCCL_FN(name, ret, params)                                       \
  n.name = reinterpret_cast<decltype(n.name)>(dlsym(handle, #name));           \
  if (!n.name)                                                                 \
    fail("NCCL: ", library, " lacks ", #name,                                  \
         " (moela needs NCCL 2.18 or newer)");
#include "NcclFunctions.def"
#undef MOELA_NCCL_FN
  if (ncclResult_t r = n.ncclGetVersion(&n.version); r != ncclSuccess)
    fail("NCCL: ", library, ": ncclGetVersion failed: ", ncclResultName(r));
  if (n.version < kMinNcclVersion)
    fail("NCCL: ", library, " is version ", ncclVersionString(n.version),
         "; moela needs 2.18 or newer");
  return n;
}

const Nccl &Nccl::get() {
  // Loaded once; a failure is remembered and reported on every call.
  static std::mutex mutex;
  static std::optional<Nccl> loaded;
  static std::string error;
  std::lock_guard<std::mutex> lock(mutex);
  if (!loaded && error.empty()) {
    const char *custom = std::getenv("MOELA_NCCL_LIBRARY");
    try {
      loaded = open(custom && *custom ? custom : "libnccl.so.2");
    } catch (const Error &e) {
      error = e.what();
    }
  }
  if (!loaded)
    throw Error(error);
  return *loaded;
}

void check(ncclResult_t result, const std::string &what) {
  if (result == ncclSuccess)
    return;
  const char *text = Nccl::get().ncclGetErrorString(result);
  fail("NCCL: ", what, ": ", ncclResultName(result), " (", text ? text : "",
       ")");
}

} // namespace moela::cuda
