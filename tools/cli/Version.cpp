//===- Version.cpp - What every tool's --version prints -------------------===//
#include "Version.h"

#include "GitVersion.h" // generated: MOELA_VERSION, MOELA_GIT_COMMIT
#include "moela/Runtime/Plan.h"

#include <dlfcn.h>

#include <cstdlib>

namespace moela::cli {

std::string versionText(const std::string &tool,
                        const std::vector<std::string> &extra) {
  std::string text = tool + " " MOELA_VERSION " (git " MOELA_GIT_COMMIT ")\n";
  text += "plan schema: " + std::to_string(kPlanSchemaVersion) + "\n";
  for (const std::string &line : extra)
    text += line + "\n";
  return text;
}

std::string cudaDriverLine() {
  // The library the CUDA backend would open (runtime/cuda/CudaDriver.cpp).
  const char *custom = std::getenv("MOELA_CUDA_DRIVER");
  const std::string lib = custom && *custom ? custom : "libcuda.so.1";
  void *handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return "CUDA driver: not loaded (" + lib + " not found)";
  using GetVersion = int (*)(int *);
  auto getVersion =
      reinterpret_cast<GetVersion>(dlsym(handle, "cuDriverGetVersion"));
  int version = 0;
  std::string line =
      getVersion && getVersion(&version) == 0
          ? "CUDA driver: " + std::to_string(version / 1000) + "." +
                std::to_string(version % 1000 / 10) + " (" + lib + ")"
          : "CUDA driver: not loaded (" + lib + " has no cuDriverGetVersion)";
  dlclose(handle);
  return line;
}

} // namespace moela::cli
